//! The compliance half of the scorer: AML typologies over account flows and sanctions
//! screening of payees and customers, combined into one [`Decision`] with reasons, alerts
//! for the compliance audience naming every account of the pattern, and CTR filings.
//!
//! Pure: the scorer's planner hands it the states a flow touches and writes them back.

use crate::alert::{About, Alert, Severity};
use crate::aml::{AccountState, AmlAlert, AmlEngine, CashDay, CashOwner, CtrFiling, FlowEvent};
use crate::customer::CustomerProfile;
use crate::decision::{Decision, Reason, Verdict};
use crate::ids::{AccountId, TransactionId};
use crate::sanctions::{Schema, Screener};
use crate::wire::Flow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A screening score at or above which a match is blocked rather than reviewed: near
/// certain identity (the matcher's own threshold, 0.82, only asks for a look).
pub const DEFAULT_BLOCK_AT: f64 = 0.95;

/// What monitoring found on one transfer, cash movement or profile: stored with its
/// record, so a redelivery repeats the same decision and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filings: Vec<CtrFiling>,
    /// The sanctions lists the payee or customer was screened against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_version: Option<String>,
}

/// The lists a container screens against, loaded once at cold start.
pub struct Screening {
    pub screener: Screener,
    pub block_at: f64,
}

/// AML monitoring and screening as one deployment configures them.
pub struct Compliance {
    pub aml: AmlEngine,
    /// `None` when the deployment has no lists: nothing is screened, and decisions say so.
    pub screening: Option<Arc<Screening>>,
}

impl Default for Compliance {
    fn default() -> Self {
        let aml = AmlEngine::new(crate::aml::AmlConfig::default())
            .unwrap_or_else(|_| unreachable!("the default configuration is valid"));
        Self { aml, screening: None }
    }
}

/// A screening hit as the decision and the alert carry it.
struct Match {
    verdict: Verdict,
    score: f32,
    reason: Reason,
}

impl Compliance {
    pub fn list_version(&self) -> Option<String> {
        self.screening.as_ref().map(|s| s.screener.version().as_str().to_owned())
    }

    /// Screens `name` (a payee's or a customer's); `None` below the threshold.
    fn screen(&self, whose: &str, name: &str, schema: Option<Schema>) -> Option<Match> {
        let screening = self.screening.as_ref()?;
        let hit = screening.screener.screen(name, schema)?;
        let verdict = if hit.score >= screening.block_at { Verdict::Block } else { Verdict::Review };
        let programs = hit.programs().join(", ");
        // The listed name is public list data; the screened name is never repeated.
        let detail = format!(
            "{whose} name matches {} `{}` (programs {}) with score {:.3}; lists {}",
            hit.entry_id(),
            hit.matched_name,
            if programs.is_empty() { "none listed" } else { &programs },
            hit.score,
            hit.list_version,
        );
        Some(Match {
            verdict,
            score: hit.score as f32,
            reason: Reason { code: "SANCTIONS_HIT".into(), detail },
        })
    }

    /// Judges a transfer or cash movement on the states it touches (`payee` is `None` for
    /// cash and for a transfer between an account and itself; `cash` holds the owner's
    /// business day for cash).
    pub fn flow(
        &self,
        flow: &Flow,
        account: &mut AccountState,
        payee: Option<&mut AccountState>,
        cash: Option<(&CashOwner, &mut CashDay)>,
    ) -> Finding {
        let (outcome, screened) = match (&flow.event, payee, cash) {
            (FlowEvent::Transfer(t), Some(payee), _) => {
                let screened = t.payee_name.as_ref().and_then(|n| self.screen("payee", n.as_str(), None));
                (self.aml.transfer(t, account, payee), screened)
            }
            (FlowEvent::Cash(c), _, Some((owner, day))) => (self.aml.cash(c, owner, account, day), None),
            (event, _, _) => {
                account.touch(event.at().timestamp());
                (self.aml.quiet(event.id(), event.at()), None)
            }
        };
        let decision = outcome.decision;
        let subject = match &flow.event {
            FlowEvent::Transfer(t) => &t.payer,
            FlowEvent::Cash(c) => &c.account,
        };
        let context =
            Context { channel: flow.channel(), at: flow.event.at(), amount: Some(flow), customer: None };
        let mut finding = self.combine(decision, &outcome.alerts, screened, vec![subject.clone()], &context);
        finding.filings = outcome.filings;
        finding
    }

    /// Screens a customer's profile; its accounts learn their owner (the caller writes them).
    pub fn profile(&self, profile: &CustomerProfile) -> Finding {
        let screened =
            profile.name.as_ref().and_then(|n| self.screen("customer", n.as_str(), Some(Schema::Person)));
        let quiet = Decision {
            transaction_id: profile.id.clone(),
            score: 0.0,
            verdict: Verdict::Accept,
            reasons: Vec::new(),
        };
        let context = Context {
            channel: "customer profile",
            at: profile.updated_at,
            amount: None,
            customer: Some(profile.customer.to_string()),
        };
        self.combine(quiet, &[], screened, profile.accounts.clone(), &context)
    }

    /// The AML decision with the screening match folded in: the stricter verdict, the
    /// higher score, every reason; one compliance alert per AML subject, and one for the
    /// match, about `screened_accounts`.
    fn combine(
        &self,
        mut decision: Decision,
        aml: &[AmlAlert],
        screened: Option<Match>,
        screened_accounts: Vec<AccountId>,
        context: &Context<'_>,
    ) -> Finding {
        let mut alerts: Vec<Alert> = aml
            .iter()
            .map(|a| {
                context.alert(
                    a.id.clone(),
                    a.verdict,
                    a.score,
                    &a.transaction_id,
                    a.reasons.clone(),
                    a.participants.clone(),
                    None,
                )
            })
            .collect();
        let list_version = self.list_version();
        if let Some(m) = screened {
            decision.verdict = decision.verdict.max(m.verdict);
            decision.score = decision.score.max(m.score);
            decision.reasons.insert(0, m.reason.clone());
            let id = format!("sanctions:{}", decision.transaction_id);
            alerts.push(context.alert(
                id,
                m.verdict,
                m.score,
                &decision.transaction_id,
                vec![m.reason],
                screened_accounts,
                list_version.clone(),
            ));
        }
        alerts.retain(|a| a.verdict != Verdict::Accept);
        Finding { decision, alerts, filings: Vec::new(), list_version }
    }
}

/// What every alert of one event shares.
struct Context<'a> {
    channel: &'static str,
    at: DateTime<Utc>,
    amount: Option<&'a Flow>,
    /// The customer a profile is about, masked.
    customer: Option<String>,
}

impl Context<'_> {
    #[allow(clippy::too_many_arguments)]
    fn alert(
        &self,
        id: String,
        verdict: Verdict,
        score: f32,
        transaction_id: &TransactionId,
        reasons: Vec<Reason>,
        accounts: Vec<AccountId>,
        list_version: Option<String>,
    ) -> Alert {
        Alert {
            id,
            severity: Severity::of(verdict).unwrap_or(Severity::Medium),
            verdict,
            score,
            transaction_id: transaction_id.clone(),
            at: self.at,
            reasons,
            about: About::Compliance {
                channel: self.channel.to_owned(),
                accounts,
                customer_masked: self.customer.clone(),
                amount: self.amount.map(Flow::amount),
                currency: self.amount.map(|f| f.currency),
                list_version,
            },
        }
    }
}
