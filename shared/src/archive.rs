//! The decision lake: every decision and label, for reports, audits and retraining.

use crate::alert::{Alert, DeliveryError};
use crate::aml::{CtrFiling, FlowEvent};
use crate::decision::Decision;
use crate::features::Features;
use crate::ids::TransactionId;
use crate::label::LabelEvent;
use crate::money::{Amount, Currency};
use crate::transaction::Transaction;
use crate::wire::Flow;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Mutex;

#[cfg(any(feature = "aws", feature = "embedded-reports"))]
pub mod compact;
#[cfg(any(feature = "aws", feature = "embedded-reports"))]
mod dir;
#[cfg(any(feature = "aws", feature = "embedded-reports"))]
pub mod parquet;
#[cfg(any(feature = "aws", feature = "embedded-reports"))]
pub use dir::DirLake;

/// When a row entered the lake, which is what a report's `as_of` compares with. Live, it
/// is the batch's processing time; a replay of history uses each event's own time (a
/// transaction ingested when it happened, a label when it became known), so `as_of`
/// works on history as it does live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    At(DateTime<Utc>),
    EventTime,
}

impl Clock {
    pub fn ingested(self, event_time: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Clock::At(now) => now,
            Clock::EventTime => event_time,
        }
    }
}

/// What decided: the model's version and a digest of the rest of the configuration
/// (thresholds, rules, feature windows, AML parameters, lists), as the audit trail
/// records them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Versions {
    pub model: String,
    pub rules: String,
}

const FNV_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;

fn fnv(mut h: u128, bytes: impl Iterator<Item = u8>) -> u128 {
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    for b in bytes {
        h = (h ^ u128::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// Names a batch by its content: the same events in the same order give the same key,
/// whichever process or attempt handles them, so a redelivered batch overwrites its own
/// lake objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BatchKey(String);

impl BatchKey {
    /// 128-bit FNV-1a over each event's kind and subject (stable across builds, unlike
    /// the std hasher).
    pub fn of<'a>(events: impl IntoIterator<Item = &'a crate::wire::Event>) -> Self {
        let mut h = FNV_OFFSET;
        for e in events {
            h = fnv(h, e.kind().bytes().chain([0]).chain(e.subject().as_str().bytes()).chain([0]));
        }
        Self(format!("{h:032x}"))
    }

    /// This key extended by `more` (the positions of records that have no content to
    /// name: quarantined ones). Extending by nothing keeps the key.
    pub fn and<'a>(self, more: impl IntoIterator<Item = &'a str>) -> Self {
        let mut more = more.into_iter().peekable();
        if more.peek().is_none() {
            return self;
        }
        let mut h = fnv(FNV_OFFSET, self.0.bytes());
        for m in more {
            h = fnv(h, m.bytes().chain([0]));
        }
        Self(format!("{h:032x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One decision as the lake's `decisions` table holds it, whatever the channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LakeRow<'a> {
    pub transaction_id: &'a TransactionId,
    /// `card`, `transfer`, `cash_deposit`, `cash_withdrawal`.
    pub channel: &'static str,
    /// The card holder and the terminal (card payments).
    pub customer: Option<&'a str>,
    pub terminal: Option<&'a str>,
    /// The paying account (transfers) or the account cash moved on.
    pub account: Option<&'a str>,
    /// The payee account (transfer), the branch or ATM (cash).
    pub counterparty: Option<&'a str>,
    pub counterparty_country: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub amount: Amount,
    pub currency: Currency,
    pub decision: &'a Decision,
    /// What the model saw (a new card decision; a redelivered one has them in its first row).
    pub features: Option<&'a Features>,
    /// The sanctions lists screened against (transfers, profiles).
    pub list_version: Option<&'a str>,
}

impl<'a> LakeRow<'a> {
    pub fn card(tx: &'a Transaction, decision: &'a Decision) -> Self {
        LakeRow {
            transaction_id: &tx.id,
            channel: "card",
            customer: Some(tx.customer.as_str()),
            terminal: Some(tx.terminal.as_str()),
            account: None,
            counterparty: None,
            counterparty_country: None,
            at: tx.at,
            amount: tx.amount,
            currency: tx.currency,
            decision,
            features: None,
            list_version: None,
        }
    }

    pub fn flow(flow: &'a Flow, decision: &'a Decision) -> Self {
        let (account, counterparty, country) = match &flow.event {
            FlowEvent::Transfer(t) => {
                (t.payer.as_str(), Some(t.payee.as_str()), t.payee_country.as_ref().map(|c| c.as_str()))
            }
            FlowEvent::Cash(c) => (c.account.as_str(), c.location.as_ref().map(|l| l.as_str()), None),
        };
        LakeRow {
            transaction_id: flow.event.id(),
            channel: flow.channel(),
            customer: None,
            terminal: None,
            account: Some(account),
            counterparty,
            counterparty_country: country,
            at: flow.event.at(),
            amount: flow.amount(),
            currency: flow.currency,
            decision,
            features: None,
            list_version: None,
        }
    }
}

/// What one batch adds to the lake.
#[derive(Debug, Clone, Copy)]
pub struct Lake<'a> {
    pub decisions: &'a [LakeRow<'a>],
    pub labels: &'a [&'a LabelEvent],
    pub filings: &'a [&'a CtrFiling],
    pub alerts: &'a [Alert],
    /// Each record the batch quarantined: its position and reject code.
    pub quarantined: &'a [(String, &'static str)],
    pub versions: &'a Versions,
    pub clock: Clock,
}

impl Lake<'_> {
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
            && self.labels.is_empty()
            && self.filings.is_empty()
            && self.alerts.is_empty()
            && self.quarantined.is_empty()
    }
}

pub trait DecisionArchive: Send + Sync {
    /// Stores one batch's rows under its key, once: storing the same batch again keeps
    /// what the first attempt stored (and so its `ingested_at`). A batch that returns in
    /// another shape (bisected, restarted at a checkpoint) repeats rows under another
    /// key; the reports' views keep each row's first ingestion (`infra/reports`).
    fn put(
        &self,
        batch: &BatchKey,
        lake: &Lake<'_>,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Decisions, labels and CTR filings archived under each batch key.
pub type Batches = std::collections::BTreeMap<String, (Vec<Decision>, Vec<LabelEvent>, Vec<CtrFiling>)>;

/// In-process archive for tests: what each batch key holds.
#[derive(Debug, Default)]
pub struct MemoryArchive(Mutex<Batches>);

impl MemoryArchive {
    pub fn batches(&self) -> Batches {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl DecisionArchive for MemoryArchive {
    async fn put(&self, batch: &BatchKey, lake: &Lake<'_>) -> Result<(), DeliveryError> {
        let row = (
            lake.decisions.iter().map(|r| r.decision.clone()).collect(),
            lake.labels.iter().map(|l| (*l).clone()).collect(),
            lake.filings.iter().map(|f| (*f).clone()).collect(),
        );
        self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(batch.as_str().to_owned()).or_insert(row);
        Ok(())
    }
}
