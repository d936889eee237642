//! The AML state port: one item per account and one per cash owner, read and written
//! whole. A transfer is one unit touching its payer's and payee's items (as a card
//! payment touches its customer's and terminal's), so it maps onto the same DynamoDB
//! design later.

use super::state::{AccountState, CashDay};
use crate::ids::AccountId;
use rustc_hash::FxHashMap;

#[derive(Debug, thiserror::Error)]
pub enum AmlStoreError {
    /// Throttled or unavailable: retry the event.
    #[error("AML store unavailable: {0}")]
    Transient(String),
}

pub trait AmlStore {
    fn account(&self, id: &AccountId) -> Result<Option<AccountState>, AmlStoreError>;
    fn put_account(&mut self, id: &AccountId, state: AccountState) -> Result<(), AmlStoreError>;
    fn cash_day(&self, owner_key: &str) -> Result<Option<CashDay>, AmlStoreError>;
    fn put_cash_day(&mut self, owner_key: &str, day: CashDay) -> Result<(), AmlStoreError>;
}

#[derive(Debug, Default)]
pub struct MemoryAmlStore {
    pub accounts: FxHashMap<AccountId, AccountState>,
    pub cash_days: FxHashMap<String, CashDay>,
}

impl AmlStore for MemoryAmlStore {
    fn account(&self, id: &AccountId) -> Result<Option<AccountState>, AmlStoreError> {
        Ok(self.accounts.get(id).cloned())
    }

    fn put_account(&mut self, id: &AccountId, state: AccountState) -> Result<(), AmlStoreError> {
        self.accounts.insert(id.clone(), state);
        Ok(())
    }

    fn cash_day(&self, owner_key: &str) -> Result<Option<CashDay>, AmlStoreError> {
        Ok(self.cash_days.get(owner_key).cloned())
    }

    fn put_cash_day(&mut self, owner_key: &str, day: CashDay) -> Result<(), AmlStoreError> {
        self.cash_days.insert(owner_key.to_owned(), day);
        Ok(())
    }
}
