//! Decisions at authorisation time (`POST /v1/decisions`): a card issuer or processor asks,
//! inside its authorisation flow, whether to let a payment through, and acts on the answer.
//!
//! The transactions are scored by the same core as the stream, against the live state, and
//! recorded there (a repeat answers the recorded decision, never scores twice). At the same
//! time they are handed to the stream, so the lake, alerts and reports see them: the stream
//! consumer finds them already decided and counts nothing twice, whichever path gets there
//! first. If the state store does not answer within the budget, the answer comes from the
//! model and rules on the transaction alone, marked `degraded`, and the stream path records
//! the full decision later: the authorisation never waits on a slow store.

use crate::batch::{Quarantine, Quarantined};
use crate::decision::{Decision, Reason, Verdict};
use crate::intake::{self, Publisher};
use crate::model::FraudModel;
use crate::money::Currency;
use crate::scorer::Scorer;
use crate::store::StateStore;
use crate::transaction::RejectReason;
use crate::wire::Event;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Most transactions in one request.
pub const MAX_ITEMS: usize = 100;
/// Largest request body: 100 events of a few hundred bytes each, with room to spare.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a request may wait on each service before it goes on without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The state store's read and write: past it, the answer is degraded.
    pub state: Duration,
    /// Handing the transactions to the stream: past it, they go to the quarantine for replay
    /// (the answer waits for the hand-off: a Lambda environment is frozen once it answers,
    /// so a request still in flight then might never be sent). A second, not less: a cold
    /// environment's first PutRecords opens its connection, and one over budget costs an
    /// operator a replay, where a slower answer once per environment costs nothing.
    pub handoff: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Self { state: Duration::from_millis(150), handoff: Duration::from_millis(1_000) }
    }
}

/// The decision API: scores with the stream's core, hands off to the stream.
pub struct Desk<P> {
    pub stream: P,
    pub budget: Budget,
    /// For transactions that name no currency.
    pub currency: Currency,
    /// Card numbers become tokens before anything is scored, stored or handed on.
    pub privacy: std::sync::Arc<crate::privacy::Privacy>,
}

/// The answer for one item of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ItemAnswer {
    Decided {
        item: u64,
        transaction_id: String,
        verdict: Verdict,
        score: f32,
        reasons: Vec<Reason>,
        /// The same for every answer about a recorded decision; a degraded answer's differs
        /// (the recorded decision may differ from it).
        decision_id: String,
        model_version: String,
        /// Answered without the customer's and terminal's history (the store was too slow).
        degraded: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        degraded_reason: Option<String>,
    },
    Rejected {
        item: u64,
        code: &'static str,
        reason: String,
    },
}

/// An HTTP answer: status and JSON body, and what it held for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub decided: usize,
    pub degraded: usize,
    pub rejected: usize,
    /// Transactions the stream did not take in time: put in the quarantine for replay.
    pub handoff_failed: usize,
}

impl Answer {
    /// A request refused whole: `{"error": {"code", "reason"}}`.
    pub fn error(status: u16, code: &str, reason: String) -> Self {
        let body = json!({ "error": { "code": code, "reason": reason } });
        Answer { status, body, decided: 0, degraded: 0, rejected: 0, handoff_failed: 0 }
    }
}

/// Why the answer could not wait for the store.
fn degraded_reason(error: Option<String>, budget: Duration) -> String {
    match error {
        Some(e) => format!("state store failed ({e}): scored on the transaction alone"),
        None => format!("state store slower than {} ms: scored on the transaction alone", budget.as_millis()),
    }
}

impl<P: Publisher> Desk<P> {
    /// Answers a request body: one event object (answered with one object) or an array of
    /// up to [`MAX_ITEMS`] (answered with an array, item by item, in order).
    pub async fn decide<S: StateStore, M: FraudModel, Q: Quarantine>(
        &self,
        scorer: &Scorer<S, M>,
        quarantine: &Q,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Answer {
        if body.len() > MAX_BODY_BYTES {
            let reason = format!("the body is {} bytes; at most {MAX_BODY_BYTES}", body.len());
            return Answer::error(413, "BODY_TOO_LARGE", reason);
        }
        let intake = match intake::from_body(body, self.currency, now) {
            Ok(intake) => intake,
            Err(e) => return Answer::error(400, "MALFORMED_BODY", e.to_string()),
        };
        if intake.len() > MAX_ITEMS {
            let reason = format!("{} items; at most {MAX_ITEMS} per request", intake.len());
            return Answer::error(413, "TOO_MANY_ITEMS", reason);
        }
        let mut answers: Vec<ItemAnswer> = intake
            .refused
            .iter()
            .map(|r| ItemAnswer::Rejected {
                item: r.item,
                code: r.reason.code(),
                reason: r.reason.to_string(),
            })
            .collect();
        // Labels are not decided: they go through the producer, as chargebacks arrive.
        let (events, items): (Vec<Event>, Vec<u64>) = intake
            .events
            .into_iter()
            .zip(intake.items)
            .filter_map(|(event, item)| match event {
                Event::Transaction(_) => Some((self.privacy.tokenise(event), item)),
                Event::Label(_) | Event::Flow(_) | Event::Customer(_) => {
                    let reason = match event {
                        Event::Label(_) => RejectReason::NotATransaction,
                        _ => RejectReason::NotDecidedHere(event.channel().unwrap_or("customer")),
                    };
                    answers.push(ItemAnswer::Rejected {
                        item,
                        code: reason.code(),
                        reason: reason.to_string(),
                    });
                    None
                }
            })
            .unzip();
        let (decisions, handoff_failed) = if events.is_empty() {
            (Vec::new(), 0)
        } else {
            let (scored, handed) = futures::join!(
                tokio::time::timeout(self.budget.state, scorer.process(&events, now)),
                tokio::time::timeout(self.budget.handoff, self.stream.publish(&events)),
            );
            let decisions: Vec<Option<(Decision, Option<String>)>> = match scored {
                Ok(Ok(outcomes)) => {
                    outcomes.iter().map(|o| o.decision().cloned().map(|d| (d, None))).collect()
                }
                failed => {
                    let error = match failed {
                        Ok(Err(e)) => Some(e.to_string()),
                        _ => None,
                    };
                    let reason = degraded_reason(error, self.budget.state);
                    tracing::warn!(%reason, transactions = events.len(), "decisions degraded");
                    match scorer.score_alone(&events, now) {
                        Ok(alone) => {
                            alone.into_iter().map(|d| d.map(|d| (d, Some(reason.clone())))).collect()
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "model failed: nothing can be decided");
                            return Answer::error(
                                503,
                                "UNAVAILABLE",
                                "no decision could be made: retry".into(),
                            );
                        }
                    }
                }
            };
            let handoff_failed = match handed {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => keep_for_replay(quarantine, &events, &e.to_string()).await,
                Err(_) => {
                    let why = format!("not taken within {} ms", self.budget.handoff.as_millis());
                    keep_for_replay(quarantine, &events, &why).await
                }
            };
            (decisions, handoff_failed)
        };
        let mut answer =
            Answer { status: 200, body: Value::Null, decided: 0, degraded: 0, rejected: 0, handoff_failed };
        for ((item, event), decision) in items.iter().zip(&events).zip(decisions) {
            let Some((d, degraded)) = decision else {
                // The core answers every transaction; one without is a defect, reported as such.
                let reason = format!("transaction `{}` got no decision", event.subject());
                answers.push(ItemAnswer::Rejected { item: *item, code: "INTERNAL", reason });
                continue;
            };
            answer.decided += 1;
            answer.degraded += usize::from(degraded.is_some());
            answers.push(item_answer(*item, d, degraded, scorer.model().version()));
        }
        answer.rejected = answers.len() - answer.decided;
        answers.sort_by_key(|a| match a {
            ItemAnswer::Decided { item, .. } | ItemAnswer::Rejected { item, .. } => *item,
        });
        if answer.decided == 0 {
            answer.status = 400;
        }
        let single = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        answer.body = match (single, answers.pop()) {
            (true, Some(only)) => serde_json::to_value(only),
            (_, last) => serde_json::to_value(answers.into_iter().chain(last).collect::<Vec<_>>()),
        }
        .unwrap_or_default();
        answer
    }
}

fn item_answer(item: u64, d: Decision, degraded: Option<String>, model_version: &str) -> ItemAnswer {
    let suffix = if degraded.is_some() { ":degraded" } else { "" };
    ItemAnswer::Decided {
        item,
        decision_id: format!("vigil:{}{suffix}", d.transaction_id),
        transaction_id: d.transaction_id.as_str().to_owned(),
        verdict: d.verdict,
        score: d.score,
        reasons: d.reasons,
        model_version: model_version.to_owned(),
        degraded: degraded.is_some(),
        degraded_reason: degraded,
    }
}

/// Transactions the stream did not take: quarantined with the reason `HANDOFF_FAILED`, to
/// be replayed through the producer (the scorer recognises the ones already decided). How
/// many.
async fn keep_for_replay<Q: Quarantine>(quarantine: &Q, events: &[Event], why: &str) -> usize {
    let records: Vec<Quarantined> = events
        .iter()
        .map(|e| Quarantined {
            position: format!("decisions#{}", e.subject()),
            code: "HANDOFF_FAILED",
            reason: format!("the stream did not take the decided transaction: {why}"),
            payload: e.to_json().into_bytes(),
        })
        .collect();
    tracing::error!(
        transactions = records.len(),
        why,
        "handoff to the stream failed: quarantined for replay"
    );
    if let Err(e) = quarantine.put(records).await {
        tracing::error!(error = %e, transactions = events.len(), "and the quarantine failed too: only the logs hold them");
    }
    events.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::batch::MemoryQuarantine;
    use crate::ids::CustomerId;
    use crate::intake::MemoryStream;
    use crate::scorer::Outcome;
    use crate::test_support::{AmountModel, FaultyStore};
    use std::sync::atomic::Ordering;

    const TX: &str = r#"{"transaction_id":"t1","customer_id":"c1","terminal_id":"p1","amount":"950","timestamp":"2018-04-01T10:00:00Z"}"#;
    const TX2: &str = r#"{"transaction_id":"t2","customer_id":"c1","terminal_id":"p1","amount":"12.50","timestamp":"2018-04-01T11:00:00Z"}"#;
    const LABEL: &str =
        r#"{"type":"label","transaction_id":"t1","fraud":true,"known_at":"2018-04-08T10:00:00Z"}"#;

    struct Rig {
        scorer: Scorer<FaultyStore, AmountModel>,
        quarantine: MemoryQuarantine,
        desk: Desk<MemoryStream>,
    }

    fn rig() -> Rig {
        Rig {
            scorer: Scorer::new(FaultyStore::default(), AmountModel, Policy::default()),
            quarantine: MemoryQuarantine::default(),
            desk: Desk {
                stream: MemoryStream::default(),
                budget: Budget::default(),
                currency: Currency::USD,
                privacy: std::sync::Arc::new(crate::privacy::Privacy::for_tests()),
            },
        }
    }

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    impl Rig {
        async fn ask(&self, body: &str) -> Answer {
            self.desk.decide(&self.scorer, &self.quarantine, body.as_bytes(), now()).await
        }

        fn transactions_counted(&self) -> u32 {
            // Stored under its token, as everything past the edge.
            let token = crate::privacy::Privacy::for_tests().tokens.tokenise("c1");
            let c =
                self.scorer.store().inner.customer(&CustomerId::parse(&token).unwrap()).unwrap_or_default();
            c.buckets.iter().map(|b| b.spend.count).sum()
        }
    }

    #[tokio::test]
    async fn a_decision_is_recorded_answered_the_same_on_repeat_and_handed_to_the_stream() {
        let rig = rig();
        let first = rig.ask(TX).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.body["status"], "decided");
        assert_eq!(first.body["verdict"], "BLOCK");
        assert_eq!(first.body["decision_id"], "vigil:t1");
        assert_eq!(first.body["model_version"], "none");
        assert_eq!(first.body["degraded"], false);
        assert!(first.body["reasons"][0]["code"].is_string());
        let again = rig.ask(TX).await;
        assert_eq!(again.body, first.body, "a repeat answers the recorded decision");
        assert_eq!(rig.transactions_counted(), 1);
        // The stream consumer finds it decided: a duplicate, counted once.
        let streamed = rig.desk.stream.events();
        assert_eq!(streamed.len(), 2);
        let outcomes = rig.scorer.process(&streamed, now()).await.unwrap();
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Duplicate(_))));
        assert_eq!(rig.transactions_counted(), 1);
    }

    #[tokio::test]
    async fn an_array_is_answered_item_by_item_in_order() {
        let rig = rig();
        let body = format!(r#"[{TX2}, {{"transaction_id":"t3"}}, {LABEL}, 7, {TX}]"#);
        let answer = rig.ask(&body).await;
        assert_eq!(answer.status, 200);
        let items = answer.body.as_array().unwrap();
        let summary: Vec<(u64, &str, &str)> = items
            .iter()
            .map(|i| {
                let what = i["verdict"].as_str().or(i["code"].as_str()).unwrap();
                (i["item"].as_u64().unwrap(), i["status"].as_str().unwrap(), what)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, "decided", "ACCEPT"),
                (1, "rejected", "MISSING_FIELD"),
                (2, "rejected", "NOT_A_TRANSACTION"),
                (3, "rejected", "MALFORMED"),
                (4, "decided", "BLOCK"),
            ]
        );
        assert_eq!((answer.decided, answer.rejected), (2, 3));
        assert_eq!(rig.desk.stream.events().len(), 2, "only the transactions go to the stream");
    }

    #[tokio::test]
    async fn bad_and_oversize_bodies_are_refused_whole_with_a_code() {
        let rig = rig();
        let all_bad = rig.ask(r#"{"transaction_id":"t1"}"#).await;
        assert_eq!((all_bad.status, all_bad.body["code"].as_str()), (400, Some("MISSING_FIELD")));
        let not_json = rig.ask("card=4111111111111111").await;
        assert_eq!((not_json.status, not_json.body["error"]["code"].as_str()), (400, Some("MALFORMED_BODY")));
        assert!(!not_json.body.to_string().contains("4111"), "the body is not echoed");
        let many = format!("[{}]", vec![TX; MAX_ITEMS + 1].join(","));
        let too_many = rig.ask(&many).await;
        assert_eq!((too_many.status, too_many.body["error"]["code"].as_str()), (413, Some("TOO_MANY_ITEMS")));
        let huge = format!(r#"{{"transaction_id":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let too_large = rig.ask(&huge).await;
        assert_eq!(
            (too_large.status, too_large.body["error"]["code"].as_str()),
            (413, Some("BODY_TOO_LARGE"))
        );
        assert!(rig.desk.stream.events().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_store_degrades_the_answer_within_the_budget_and_records_nothing() {
        let rig = rig();
        *rig.scorer.store().slow.lock().unwrap() = Some(std::time::Duration::from_secs(5));
        let started = tokio::time::Instant::now();
        let answer = rig.ask(TX).await;
        assert_eq!(started.elapsed(), Budget::default().state, "answered at the budget, not after the store");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["degraded"], true);
        assert_eq!(answer.body["verdict"], "BLOCK", "the model and rules on the transaction alone");
        assert_eq!(answer.body["decision_id"], "vigil:t1:degraded");
        assert!(answer.body["degraded_reason"].as_str().unwrap().contains("150 ms"));
        assert_eq!(answer.degraded, 1);
        assert_eq!(rig.transactions_counted(), 0);
        assert_eq!(rig.desk.stream.events().len(), 1, "the stream path records it later");
    }

    #[tokio::test]
    async fn a_failed_store_degrades_the_answer_with_its_reason() {
        let rig = rig();
        rig.scorer.store().down.store(true, Ordering::SeqCst);
        let answer = rig.ask(TX2).await;
        assert_eq!((answer.status, answer.body["degraded"].as_bool()), (200, Some(true)));
        assert!(answer.body["degraded_reason"].as_str().unwrap().contains("throttled"));
    }

    #[tokio::test]
    async fn transactions_the_stream_refuses_are_decided_and_quarantined_for_replay() {
        let rig = rig();
        rig.desk.stream.down.store(true, Ordering::SeqCst);
        let answer = rig.ask(&format!("[{TX}, {TX2}]")).await;
        assert_eq!((answer.status, answer.decided, answer.handoff_failed), (200, 2, 2));
        let kept = rig.quarantine.records();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].code, "HANDOFF_FAILED");
        assert_eq!(kept[0].position, "decisions#t1");
        // Replayed as it is kept, it is the same transaction.
        let replayed = Event::from_json(&kept[0].payload, Currency::USD, now()).unwrap();
        assert_eq!(replayed.subject().as_str(), "t1");
    }
}
