//! Vigil's domain: everything the Lambda functions and the `vigil` CLI share.
//!
//! Parsing ([`Transaction`], [`LabelEvent`], [`Event`]) → features ([`FeatureEngine`]
//! over a [`StateStore`]) → [`Model`] → [`Decision`] with reasons, driven batch by
//! batch by the [`Scorer`].

pub mod alert;
pub mod aml;
pub mod archive;
pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod azure;
pub mod backup;
pub mod batch;
pub mod compliance;
pub mod csvio;
pub mod customer;
pub mod decide;
pub mod decision;
pub mod eval;
pub mod features;
pub mod ids;
pub mod intake;
pub mod label;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod money;
pub mod pipeline;
pub mod privacy;
pub mod redact;
pub mod replay;
pub mod report;
pub mod rules;
pub mod sanctions;
pub mod scorer;
pub mod store;
pub mod sweep;
pub mod transaction;
pub mod wire;

#[cfg(test)]
mod test_support;

pub use alert::{Alert, Severity};
pub use decision::{Decision, Reason, Thresholds, Verdict};
pub use features::{FEATURE_NAMES, FeatureEngine, Features};
pub use ids::{AccountId, CustomerId, TerminalId, TransactionId};
pub use label::{LABEL_DELAY_DAYS, LabelEvent};
pub use model::{FraudModel, Model, ModelError, NoModel};
pub use money::{Amount, Currency};
pub use rules::{Rule, RuleHit, RuleSet};
pub use scorer::{Outcome, Policy, ScoreError, Scorer};
pub use store::{DecisionRecord, Label, MemoryStateStore, StateStore, StoreError};
pub use transaction::{RejectReason, Transaction};
pub use wire::Event;
