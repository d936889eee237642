//! What AML monitoring produces: alerts for the compliance team, and CTR filings.

use super::event::CashDirection;
use crate::alert::{Audience, Severity};
use crate::decision::{Reason, Verdict};
use crate::ids::{AccountId, CustomerId, TransactionId};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An AML alert: the account it is about, and every account that took part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmlAlert {
    /// `aml:<transaction>:<subject>`: stable across retries.
    pub id: String,
    pub audience: Audience,
    pub severity: Severity,
    pub verdict: Verdict,
    pub score: f32,
    pub transaction_id: TransactionId,
    pub subject: AccountId,
    /// The whole pattern, the subject first.
    pub participants: Vec<AccountId>,
    pub at: DateTime<Utc>,
    /// Typologies that fired, strongest first.
    pub reasons: Vec<Reason>,
}

impl AmlAlert {
    pub fn typology_codes(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().map(|r| r.code.as_str())
    }
}

impl fmt::Display for AmlAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[{} AML] {} score {:.2}: account {} on transaction {}, {}",
            self.severity.as_str(),
            self.verdict,
            self.score,
            self.subject,
            self.transaction_id,
            self.at.format("%Y-%m-%d %H:%M UTC"),
        )?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        let names: Vec<&str> = self.participants.iter().map(AccountId::as_str).collect();
        write!(f, "  accounts in the pattern: {}", names.join(", "))
    }
}

/// Whose cash a CTR aggregates: the account owner's, or the account's when no owner is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashOwner {
    Customer(CustomerId),
    Account(AccountId),
}

impl CashOwner {
    /// The owner `state`'s profile names, else the account itself.
    pub fn of(account: &AccountId, state: &super::state::AccountState) -> Self {
        match &state.profile.owner {
            Some(customer) => Self::Customer(customer.clone()),
            None => Self::Account(account.clone()),
        }
    }

    /// The store key of the owner's cash-day item.
    pub fn key(&self) -> String {
        match self {
            Self::Customer(c) => format!("customer#{}", c.as_str()),
            Self::Account(a) => format!("account#{}", a.as_str()),
        }
    }
}

/// A Currency Transaction Report to file: not an alert, a regulatory record. A later cash
/// movement the same day supersedes it with the next `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrFiling {
    pub owner: CashOwner,
    pub business_day: NaiveDate,
    pub direction: CashDirection,
    pub total: Decimal,
    pub count: u32,
    /// The aggregated transactions (the first 64; `count` has them all).
    pub transactions: Vec<(TransactionId, Decimal)>,
    pub revision: u32,
}
