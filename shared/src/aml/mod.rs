//! AML transaction monitoring: account flows (transfers, cash) judged against
//! money-laundering typologies from compact per-account state.
//!
//! [`FlowEvent`] → [`AmlEngine`] (per-account [`AccountState`] behind an [`AmlStore`]) →
//! weighted [`typology`] hits → a [`Decision`](crate::Decision), [`AmlAlert`]s for the
//! compliance audience naming every account of the pattern, and [`CtrFiling`]s.

mod alert;
mod config;
mod engine;
mod event;
mod state;
mod store;
pub mod typology;

pub use crate::alert::Audience;
pub use alert::{AmlAlert, CashOwner, CtrFiling};
pub use config::{
    AmlConfig, AmlConfigError, CtrConfig, CycleConfig, DormantConfig, FanConfig, GatherScatterConfig,
    GeographyConfig, PassThroughConfig, SplitConfig, StructuringConfig, TokenPaymentConfig, UnusualConfig,
    VelocityConfig,
};
pub use engine::{AmlEngine, AmlError, AmlMonitor, AmlOutcome};
pub use event::{
    AccountProfile, Bic, CashDirection, CashMovement, CountryCode, FieldError, FlowEvent, PartyName,
    RiskRating, Transfer,
};
pub use state::{AccountState, CashDay, FLOWS_MAX, TAG_PATH_MAX, TAGS_MAX, day_of};
pub use store::{AmlStore, AmlStoreError, MemoryAmlStore};
