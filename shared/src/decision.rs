//! What Vigil decides about a transaction, and why.

use crate::features::{FEATURE_NAMES, Features};
use crate::ids::TransactionId;
use crate::model::Contribution;
use crate::rules::RuleHit;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Ordered by severity, so the strictest of several verdicts is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Accept,
    Review,
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Review => "REVIEW",
            Verdict::Block => "BLOCK",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason behind a decision: a rule that fired or a feature that drove the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// `RULE_*` codes for rules, the feature name for model reasons.
    pub code: String,
    pub detail: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// A feature value as an analyst reads it: whole numbers plain, others to 2 decimals.
struct Short(f32);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 { write!(f, "{}", self.0) } else { write!(f, "{:.2}", self.0) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub transaction_id: TransactionId,
    pub score: f32,
    pub verdict: Verdict,
    /// Strongest first: rule hits, then the model's top features.
    pub reasons: Vec<Reason>,
}

/// Score bands: alert (REVIEW) above `review`, high severity (BLOCK) above `block`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub review: f32,
    pub block: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { review: 0.7, block: 0.9 }
    }
}

impl Thresholds {
    pub fn verdict(&self, score: f32) -> Verdict {
        if score > self.block {
            Verdict::Block
        } else if score > self.review {
            Verdict::Review
        } else {
            Verdict::Accept
        }
    }

    /// Combines the model's band with rule hits: the strictest wins, and every rule hit
    /// is a reason, ahead of the model's features.
    pub fn decide(
        &self,
        transaction_id: TransactionId,
        score: f32,
        hits: Vec<RuleHit>,
        features: &Features,
        contributions: &[Contribution],
    ) -> Decision {
        let verdict = hits.iter().map(|h| h.action).fold(self.verdict(score), Verdict::max);
        let mut reasons: Vec<Reason> =
            hits.into_iter().map(|h| Reason { code: h.code.to_owned(), detail: h.detail }).collect();
        reasons.extend(contributions.iter().map(|c| Reason {
            code: FEATURE_NAMES[c.feature].to_owned(),
            detail: format!("{} (+{:.2})", Short(features.0[c.feature]), c.weight),
        }));
        Decision { transaction_id, score, verdict, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::N_FEATURES;

    #[test]
    fn bands_are_strictly_above_their_threshold() {
        let t = Thresholds::default();
        assert_eq!(t.verdict(0.0), Verdict::Accept);
        assert_eq!(t.verdict(0.7), Verdict::Accept);
        assert_eq!(t.verdict(0.700_001), Verdict::Review);
        assert_eq!(t.verdict(0.9), Verdict::Review);
        assert_eq!(t.verdict(0.900_001), Verdict::Block);
        let custom = Thresholds { review: 0.5, block: 0.6 };
        assert_eq!(custom.verdict(0.55), Verdict::Review);
    }

    #[test]
    fn the_strictest_of_model_and_rules_wins_and_rules_come_first() {
        let t = Thresholds::default();
        let id = TransactionId::parse("t1").unwrap();
        let features = Features([0.0; N_FEATURES]);
        let hit = RuleHit { code: "RULE_X", action: Verdict::Review, detail: "why".into() };
        let model_reason = [Contribution { feature: 0, weight: 0.5 }];

        let d = t.decide(id.clone(), 0.1, vec![hit.clone()], &features, &[]);
        assert_eq!(d.verdict, Verdict::Review);
        let d = t.decide(id, 0.95, vec![hit], &features, &model_reason);
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(d.reasons[0].code, "RULE_X");
        assert_eq!(d.reasons[1].code, "tx_amount");
        assert_eq!(d.reasons[1].detail, "0 (+0.50)");
        let d = t.decide(
            TransactionId::parse("t2").unwrap(),
            0.95,
            vec![],
            &Features([4.36012; N_FEATURES]),
            &model_reason,
        );
        assert_eq!(d.reasons[0].detail, "4.36 (+0.50)");
    }
}
