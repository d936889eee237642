//! What the operations team receives for a REVIEW or BLOCK decision.

use crate::decision::{Decision, Reason, Verdict};
use crate::ids::{AccountId, TerminalId, TransactionId};
use crate::money::{Amount, Currency};
use crate::transaction::Transaction;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

mod delivery;

pub use delivery::{AlertLedger, Claim, DEFAULT_LEASE, FanOut, FanOutError, Lease, fan_out};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// REVIEW: an analyst should look.
    Medium,
    /// BLOCK: refused, if the issuer asked at authorisation (the decision API); decided on
    /// the stream, it already went through: stop the card, call the customer.
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }
}

/// Who an alert is for. Fraud operations see card payments; compliance sees AML and
/// sanctions alerts, which name every account of the pattern and must not reach fraud
/// operations (tipping-off rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    FraudOps,
    Compliance,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::FraudOps => "fraud_ops",
            Audience::Compliance => "compliance",
        }
    }
}

/// An alert carries no raw customer identifier: only its masked form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable across retries and redeliveries: the ledger's key, and what subscribers drop a
    /// repeat by.
    pub id: String,
    pub severity: Severity,
    pub verdict: Verdict,
    pub score: f32,
    /// Key of the decision record.
    pub transaction_id: TransactionId,
    pub at: DateTime<Utc>,
    pub reasons: Vec<Reason>,
    /// What the alert is about, by audience (`audience` on the wire).
    #[serde(flatten)]
    pub about: About,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "audience", rename_all = "snake_case")]
pub enum About {
    /// A card payment.
    FraudOps { customer_masked: String, terminal: TerminalId, amount: Amount, currency: Currency },
    /// A transfer, cash movement or customer profile.
    Compliance {
        /// `transfer`, `cash_deposit`, `cash_withdrawal` or `customer profile`.
        channel: String,
        /// The account the alert is about first, then every account of the pattern.
        accounts: Vec<AccountId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_masked: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Amount>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        /// The sanctions lists screened against, when screening raised the alert.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list_version: Option<String>,
    },
}

impl Severity {
    pub fn of(verdict: Verdict) -> Option<Severity> {
        match verdict {
            Verdict::Accept => None,
            Verdict::Review => Some(Severity::Medium),
            Verdict::Block => Some(Severity::High),
        }
    }
}

impl Alert {
    /// The alert for `decision`, if it calls for one (ACCEPT does not).
    pub fn for_decision(decision: &Decision, tx: &Transaction) -> Option<Alert> {
        Some(Alert {
            id: format!("vigil:{}", decision.transaction_id),
            severity: Severity::of(decision.verdict)?,
            verdict: decision.verdict,
            score: decision.score,
            transaction_id: decision.transaction_id.clone(),
            at: tx.at,
            reasons: decision.reasons.clone(),
            about: About::FraudOps {
                customer_masked: tx.customer.to_string(),
                terminal: tx.terminal.clone(),
                amount: tx.amount,
                currency: tx.currency,
            },
        })
    }

    pub fn audience(&self) -> Audience {
        match self.about {
            About::FraudOps { .. } => Audience::FraudOps,
            About::Compliance { .. } => Audience::Compliance,
        }
    }

    /// Codes of the rules that fired, for subscription filter policies.
    pub fn rule_codes(&self) -> impl Iterator<Item = &str> {
        self.reasons
            .iter()
            .map(|r| r.code.as_str())
            .filter(|c| c.starts_with("RULE_") || c.starts_with("AML_") || c.starts_with("SANCTIONS_"))
    }
}

/// The message as an analyst reads it.
impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!(
            "[{}{}] {} score {:.3}",
            self.severity.as_str(),
            match self.about {
                About::FraudOps { .. } => "",
                About::Compliance { .. } => " COMPLIANCE",
            },
            self.verdict,
            self.score
        );
        let at = self.at.format("%Y-%m-%d %H:%M UTC");
        match &self.about {
            About::FraudOps { customer_masked, terminal, amount, currency } => {
                writeln!(
                    f,
                    "{head}: card {customer_masked}, {amount} {currency} at terminal {terminal}, {at}"
                )?;
            }
            About::Compliance { channel, accounts, customer_masked, amount, currency, .. } => {
                write!(f, "{head}: {channel}")?;
                if let Some(first) = accounts.first() {
                    write!(f, ", account {first}")?;
                }
                if let Some(c) = customer_masked {
                    write!(f, ", customer {c}")?;
                }
                if let (Some(a), Some(c)) = (amount, currency) {
                    write!(f, ", {a} {c}")?;
                }
                writeln!(f, ", {at}")?;
            }
        }
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        if let About::Compliance { accounts, list_version, .. } = &self.about {
            if accounts.len() > 1 {
                let names: Vec<&str> = accounts.iter().map(AccountId::as_str).collect();
                writeln!(f, "  accounts in the pattern: {}", names.join(", "))?;
            }
            if let Some(v) = list_version {
                writeln!(f, "  screened against: {v}")?;
            }
        }
        writeln!(f, "  decision record: transaction {}", self.transaction_id)?;
        // Subscribers drop a repeat by this id: one can follow a crash between publishing
        // and recording the alert as sent (see `fan_out`).
        write!(f, "  alert id: {}", self.id)
    }
}

/// A downstream service did not take a delivery; the caller retries later.
#[derive(Debug, thiserror::Error)]
#[error("{service} unavailable: {message}")]
pub struct DeliveryError {
    pub service: &'static str,
    pub message: String,
}

/// Where the scorer sends alerts (the EventBridge bus in production).
pub trait AlertSink: Send + Sync {
    fn send(&self, alerts: &[Alert]) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// The operations team's channel (an SNS topic per severity in production).
pub trait Notifier: Send + Sync {
    fn notify(&self, alerts: &[Alert]) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// In-process sink, notifier and alert ledger for tests and the CLI.
#[derive(Debug, Default)]
pub struct MemoryAlerts {
    sent: Mutex<Vec<Alert>>,
    ledger: Mutex<std::collections::HashMap<String, delivery::Entry>>,
}

impl MemoryAlerts {
    pub fn sent(&self) -> Vec<Alert> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn push(&self, alerts: &[Alert]) {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(alerts);
    }
}

impl AlertSink for MemoryAlerts {
    async fn send(&self, alerts: &[Alert]) -> Result<(), DeliveryError> {
        self.push(alerts);
        Ok(())
    }
}

impl Notifier for MemoryAlerts {
    async fn notify(&self, alerts: &[Alert]) -> Result<(), DeliveryError> {
        self.push(alerts);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(verdict: Verdict) -> Decision {
        Decision {
            transaction_id: TransactionId::parse("tx-9").unwrap(),
            score: 0.93,
            verdict,
            reasons: vec![
                Reason { code: "RULE_AMOUNT_OVER_THRESHOLD".into(), detail: "12000 USD > 10000".into() },
                Reason { code: "tx_amount".into(), detail: "12000 (+0.40)".into() },
            ],
        }
    }

    fn tx() -> Transaction {
        crate::test_support::tx("tx-9", "4111111111111111", "term-7", "12000", "2018-05-01T09:30:00Z")
    }

    #[test]
    fn accepted_payments_raise_no_alert() {
        assert_eq!(Alert::for_decision(&decision(Verdict::Accept), &tx()), None);
    }

    #[test]
    fn an_alert_names_severity_reasons_and_record_but_masks_the_card() {
        let alert = Alert::for_decision(&decision(Verdict::Block), &tx()).unwrap();
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(alert.id, "vigil:tx-9");
        assert_eq!(alert.rule_codes().collect::<Vec<_>>(), ["RULE_AMOUNT_OVER_THRESHOLD"]);
        let text = alert.to_string();
        assert_eq!(
            text,
            "[HIGH] BLOCK score 0.930: card ****1111, 12000 USD at terminal term-7, 2018-05-01 09:30 UTC\n  \
             - RULE_AMOUNT_OVER_THRESHOLD: 12000 USD > 10000\n  - tx_amount: 12000 (+0.40)\n  \
             decision record: transaction tx-9\n  alert id: vigil:tx-9"
        );
        let json = serde_json::to_string(&alert).unwrap();
        assert!(!json.contains("4111111111111111") && !text.contains("4111111111111111"));
    }

    #[test]
    fn review_is_medium_severity() {
        let alert = Alert::for_decision(&decision(Verdict::Review), &tx()).unwrap();
        assert_eq!(alert.severity, Severity::Medium);
    }
}
