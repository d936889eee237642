//! Builders shared by unit tests.

use crate::{Amount, Currency, CustomerId, TerminalId, Transaction, TransactionId};

/// A USD transaction; panics on malformed test input.
pub fn tx(id: &str, customer: &str, terminal: &str, amount: &str, at: &str) -> Transaction {
    Transaction {
        id: TransactionId::parse(id).unwrap(),
        customer: CustomerId::parse(customer).unwrap(),
        terminal: TerminalId::parse(terminal).unwrap(),
        amount: Amount::parse(amount).unwrap(),
        currency: Currency::USD,
        at: at.parse().unwrap(),
    }
}
