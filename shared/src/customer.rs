//! A customer's KYC profile (`type: "customer"` on the wire): the accounts the customer
//! owns, and what sanctions screening and AML monitoring need to know of them.

use crate::aml::{AccountProfile, CountryCode, PartyName, RiskRating};
use crate::ids::{AccountId, CustomerId, TransactionId};
use crate::privacy::Sealed;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Accounts one profile event may list: a bound on the items it writes.
pub const MAX_PROFILE_ACCOUNTS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    /// The record key that makes the profile's screening happen once: derived from its
    /// content, so a redelivered profile is a repeat and a changed one is screened again.
    pub id: TransactionId,
    pub customer: CustomerId,
    /// Screened against the sanctions lists; never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PartyName>,
    /// The name encrypted for compliance (`privacy`): what travels and is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    #[serde(default)]
    pub risk: RiskRating,
    pub accounts: Vec<AccountId>,
    pub updated_at: DateTime<Utc>,
}

impl CustomerProfile {
    /// `profile:` and 24 hex digits of the SHA-256 of every field.
    pub fn content_id(
        customer: &CustomerId,
        name: Option<&str>,
        date_of_birth: Option<NaiveDate>,
        country: Option<CountryCode>,
        risk: RiskRating,
        accounts: &[AccountId],
        updated_at: DateTime<Utc>,
    ) -> TransactionId {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update(s.as_bytes());
            h.update([0]);
        };
        field(customer.as_str());
        field(name.unwrap_or_default());
        field(&date_of_birth.map(|d| d.to_string()).unwrap_or_default());
        field(country.as_ref().map_or("", CountryCode::as_str));
        field(&format!("{risk:?}"));
        for a in accounts {
            field(a.as_str());
        }
        field(&updated_at.timestamp_millis().to_string());
        let digest = h.finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        TransactionId::parse(&format!("profile:{hex}")).unwrap_or_else(|_| unreachable!("33 safe characters"))
    }

    /// What each of the customer's accounts learns from the profile.
    pub fn account_profile(&self, opening_balance: Option<crate::money::Amount>) -> AccountProfile {
        AccountProfile {
            owner: Some(self.customer.clone()),
            country: self.country,
            risk: self.risk,
            opening_balance,
        }
    }
}
