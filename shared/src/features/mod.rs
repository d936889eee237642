//! Online feature engineering: one transaction at a time, from compact state.

mod engine;
mod state;

pub use engine::{FEATURE_NAMES, FeatureEngine, Features, N_FEATURES};
pub use state::{CustomerState, FRAUD_RETENTION_DAYS, TerminalState, hour_of};
