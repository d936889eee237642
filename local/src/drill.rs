//! `vigil drill`: the pipeline on the local stack under the failures Lambda and AWS really
//! produce, and its judge: what the stored state must hold after a stream of events, read
//! from the events themselves, against what the state table holds, read back item by item.
//! Every accepted transaction must have its decision record and be counted exactly once in
//! its terminal's hour and (within the customer's 30-day window) its customer's hour; every
//! label's final verdict must be on its record and in the fraud counts.

use crate::chaos::{Chaos, Rates};
use crate::e2e::{self, Report, RunError};
use crate::moto;
use crate::stack::{LocalStack, describe};
use aws_config::SdkConfig;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use vigil_shared::features::{CustomerState, hour_of};
use vigil_shared::privacy::Privacy;
use vigil_shared::store::{Label, RecordState};
use vigil_shared::{Currency, Event};

/// What the events imply.
#[derive(Debug, Default)]
pub struct Expected {
    /// Transaction id → (customer, terminal, epoch seconds).
    pub transactions: BTreeMap<String, (String, String, i64)>,
    /// Transaction id → the label that wins (the latest known).
    pub labels: BTreeMap<String, Label>,
}

impl Expected {
    /// From the payloads the producer accepted (the same validation as the pipeline's),
    /// customers named by their tokens under `privacy` (the stack's keys), as stored.
    pub fn of(payloads: &[String], privacy: &Privacy) -> Expected {
        let now = chrono::Utc::now();
        let mut e = Expected::default();
        for p in payloads {
            match Event::from_json(p.as_bytes(), Currency::USD, now).map(|event| privacy.tokenise(event)) {
                Ok(Event::Transaction(tx)) => {
                    let at = tx.at.timestamp();
                    e.transactions.entry(tx.id.to_string()).or_insert((
                        tx.customer.as_str().to_owned(),
                        tx.terminal.as_str().to_owned(),
                        at,
                    ));
                }
                Ok(Event::Label(l)) => {
                    let label = Label::of(&l);
                    let id = l.transaction_id.to_string();
                    if label.replaces(e.labels.get(&id).copied()) {
                        e.labels.insert(id, label);
                    }
                }
                // The drill's traffic is card payments and labels.
                Ok(Event::Flow(_) | Event::Customer(_)) | Err(_) => {}
            }
        }
        e
    }

    fn fraud(&self, id: &str) -> bool {
        Label::is_fraud(self.labels.get(id).copied())
    }
}

/// What the state table holds.
#[derive(Debug, Default)]
pub struct Stored {
    /// Transaction id → its record's state.
    pub records: HashMap<String, RecordState>,
    /// Customer → hour → transactions.
    pub customers: HashMap<String, BTreeMap<i64, u64>>,
    /// Customer → transactions confirmed as fraud.
    pub customer_frauds: HashMap<String, BTreeSet<String>>,
    /// Terminal → hour → (transactions, frauds).
    pub terminals: HashMap<String, BTreeMap<i64, (i64, i64)>>,
}

impl Stored {
    /// Every item of `table` (a scan).
    pub async fn read(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Stored, String> {
        let mut out = Stored::default();
        let mut pages = dynamodb.scan().table_name(table).into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| describe(&e))?;
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let pk = text("pk");
            if let Some(id) = pk.strip_prefix("tx#") {
                let state = serde_json::from_str(&text("s")).map_err(|e| format!("{pk}: {e}"))?;
                out.records.insert(id.to_owned(), state);
            } else if let Some(id) = pk.strip_prefix("cf#") {
                let frauds = item.keys().filter_map(|k| k.strip_prefix("f:")).map(str::to_owned).collect();
                out.customer_frauds.insert(id.to_owned(), frauds);
            } else if let Some(id) = pk.strip_prefix("c#") {
                let state: CustomerState =
                    serde_json::from_str(&text("s")).map_err(|e| format!("{pk}: {e}"))?;
                let hours = state.buckets.iter().map(|b| (b.hour, u64::from(b.spend.count))).collect();
                out.customers.insert(id.to_owned(), hours);
            } else if let Some((terminal, week)) = pk.strip_prefix("t#").and_then(|k| k.rsplit_once('#')) {
                let week: i64 = week.parse().map_err(|_| format!("{pk}: not a week"))?;
                let hours = out.terminals.entry(terminal.to_owned()).or_default();
                for (name, value) in &item {
                    let (kind, offset) = name.split_at(1.min(name.len()));
                    let (Ok(offset), Some(n)) =
                        (offset.parse::<i64>(), value.as_n().ok().and_then(|n| n.parse::<i64>().ok()))
                    else {
                        continue;
                    };
                    let cell = hours.entry(week * 168 + offset).or_default();
                    match kind {
                        "n" => cell.0 += n,
                        "f" => cell.1 += n,
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }
}

/// How the stored state compares with what the events imply.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    pub transactions: usize,
    pub counted_once: usize,
    /// Transactions without a record, or missing from a count.
    pub lost: usize,
    /// Transactions counted more than once somewhere.
    pub counted_twice: usize,
    /// Labels whose final verdict is not on the record or not in the fraud counts.
    pub label_errors: usize,
    /// Labels still waiting for a transaction that was scored.
    pub labels_waiting: usize,
    /// REVIEW and BLOCK decisions recorded: the alerts that must be delivered.
    pub alerts: BTreeSet<String>,
}

impl Findings {
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.counted_twice == 0 && self.label_errors == 0 && self.labels_waiting == 0
    }
}

/// Counts missing from, and in excess of, what the events imply.
#[derive(Default)]
struct Gap {
    short: usize,
    excess: usize,
}

impl Gap {
    fn add(&mut self, want: i64, have: i64) {
        let gap = want.abs_diff(have) as usize;
        if have < want { self.short += gap } else { self.excess += gap }
    }
}

/// Compares cell by cell: (terminal, hour) counts and frauds, (customer, hour) counts within
/// the customer's window, records, labels.
pub fn judge(expected: &Expected, stored: &Stored) -> Findings {
    let mut f = Findings { transactions: expected.transactions.len(), ..Findings::default() };
    let mut terminals: HashMap<&str, BTreeMap<i64, (i64, i64)>> = HashMap::new();
    let mut customers: HashMap<&str, BTreeMap<i64, u64>> = HashMap::new();
    let mut customer_frauds: HashMap<&str, BTreeSet<String>> = HashMap::new();
    let mut missing_records = 0;
    for (id, (customer, terminal, at)) in &expected.transactions {
        let fraud = expected.fraud(id);
        let cell = terminals.entry(terminal).or_default().entry(hour_of(*at)).or_default();
        cell.0 += 1;
        cell.1 += i64::from(fraud);
        *customers.entry(customer).or_default().entry(hour_of(*at)).or_default() += 1;
        if fraud {
            customer_frauds.entry(customer).or_default().insert(id.clone());
        }
        match stored.records.get(id) {
            Some(RecordState::Decided(r)) => {
                if r.decision.verdict != vigil_shared::Verdict::Accept {
                    f.alerts.insert(id.clone());
                }
                if r.label != expected.labels.get(id).copied() {
                    f.label_errors += 1;
                }
            }
            Some(RecordState::Parked(_) | RecordState::Monitored(_)) | None => missing_records += 1,
        }
    }
    f.labels_waiting = expected
        .labels
        .keys()
        .filter(|id| expected.transactions.contains_key(*id))
        .filter(|id| matches!(stored.records.get(*id), Some(RecordState::Parked(_))))
        .count();

    let (mut by_terminal, mut by_customer, mut fraud_errors) = (Gap::default(), Gap::default(), 0u64);
    let mut cells: BTreeSet<(&str, i64)> = BTreeSet::new();
    for (t, hours) in &terminals {
        cells.extend(hours.keys().map(|h| (*t, *h)));
    }
    for (t, hours) in &stored.terminals {
        cells.extend(hours.iter().filter(|(_, c)| **c != (0, 0)).map(|(h, _)| (t.as_str(), *h)));
    }
    for (t, h) in cells {
        let want = terminals.get(t).and_then(|m| m.get(&h)).copied().unwrap_or_default();
        let have = stored.terminals.get(t).and_then(|m| m.get(&h)).copied().unwrap_or_default();
        by_terminal.add(want.0, have.0);
        fraud_errors += want.1.abs_diff(have.1);
    }
    for (c, hours) in &customers {
        // The stored history keeps the 30 days up to the customer's latest transaction.
        let latest = hours.keys().max().copied().unwrap_or_default();
        let oldest = latest - CustomerState::HORIZON_HOURS;
        let have = stored.customers.get(*c);
        for (h, want) in hours.range(oldest + 1..) {
            let got = have.and_then(|m| m.get(h)).copied().unwrap_or(0);
            by_customer.add(*want as i64, got as i64);
        }
        for (_, got) in have.into_iter().flatten().filter(|(h, _)| !hours.contains_key(h)) {
            by_customer.add(0, *got as i64);
        }
        let frauds = customer_frauds.get(*c).cloned().unwrap_or_default();
        let stored_frauds = stored.customer_frauds.get(*c).cloned().unwrap_or_default();
        fraud_errors += frauds.symmetric_difference(&stored_frauds).count() as u64;
    }
    f.lost = missing_records.max(by_terminal.short).max(by_customer.short);
    f.counted_twice = by_terminal.excess.max(by_customer.excess);
    f.label_errors += fraud_errors as usize;
    f.counted_once = f.transactions.saturating_sub(f.lost + f.counted_twice);
    f
}

/// Transactions per second offered to the producer API.
pub const RATE: f64 = 200.0;

/// Where the drill strikes, and how often.
pub fn rates() -> Rates {
    Rates { kill_scorer: 0.15, redeliver: 0.1, kill_alerts_after_publish: 0.25 }
}

/// Service faults at the protocol (see `infra/local/moto_server.py`): throttling that the
/// SDK's retries absorb, and bursts that outlast them (the batch reports its first record
/// failed and Lambda retries from that checkpoint, with newer records), transactions
/// cancelled by a conflicting writer, and calls applied but answered with an error (the
/// caller cannot tell: a timeout after the fact).
pub fn faults(seed: u64) -> Value {
    json!({ "seed": seed, "rules": [
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "conflict", "rate": 0.05 },
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "error_after", "rate": 0.02 },
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "throttle", "rate": 0.03 },
        { "target": "DynamoDB_20120810.BatchGetItem", "fault": "throttle", "rate": 0.05 },
        { "target": "DynamoDB_20120810.BatchGetItem", "fault": "throttle", "rate": 0.01, "burst": 3 },
        { "target": "PUT /vigil-lake-bucket/*", "fault": "throttle", "rate": 0.08, "burst": 4 },
        { "target": "DynamoDB_20120810.PutItem", "fault": "throttle", "rate": 0.03 },
        { "target": "AWSEvents.PutEvents", "fault": "throttle", "rate": 0.05 },
        { "target": "AWSEvents.PutEvents", "fault": "error_after", "rate": 0.02 },
        { "target": "sns.Publish*", "fault": "throttle", "rate": 0.05 },
        { "target": "sns.Publish*", "fault": "error_after", "rate": 0.02 },
    ]})
}

/// The demo's stream made harder: a hot terminal most customers (so every shard) also pay
/// at, large payments that raise alerts, labels that overtake their transaction,
/// corrections of confirmed frauds (and corrections of those), and payments a client sent
/// twice.
pub fn harden(payloads: Vec<String>, seed: u64) -> Result<Vec<String>, String> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut events: Vec<Value> = Vec::with_capacity(payloads.len() + payloads.len() / 10);
    let mut labels = Vec::new();
    for p in payloads {
        let mut event: Value = serde_json::from_str(&p).map_err(|e| format!("a payload: {e}"))?;
        match event["type"].as_str() {
            Some("label") => labels.push(event),
            _ => {
                if event.get("terminal_id").is_some() && rng.random_bool(0.1) {
                    event["terminal_id"] = json!("term-HOT");
                }
                // Over the 10,000 review rule: alerts for the alert path's own faults.
                if event.get("amount").is_some() && rng.random_bool(0.03) {
                    event["amount"] = json!("12500.00");
                }
                if event.get("customer_id").is_some() && rng.random_bool(0.01) {
                    events.push(event.clone());
                }
                events.push(event);
            }
        }
    }
    let position = |events: &[Value], id: &Value| events.iter().position(|e| e["transaction_id"] == *id);
    for label in labels {
        let id = label["transaction_id"].clone();
        let Some(tx) = position(&events, &id) else { continue };
        let known_at: DateTime<Utc> =
            label["known_at"].as_str().unwrap_or_default().parse().map_err(|e| format!("a label: {e}"))?;
        let later = |days: i64| (known_at + Duration::days(days)).to_rfc3339();
        // A third arrive before their transaction (another shard, ahead of it).
        let at = if rng.random_bool(0.33) {
            rng.random_range(0..=tx)
        } else {
            rng.random_range(tx + 1..=events.len())
        };
        let fraud = label["fraud"] == json!(true);
        events.insert(at, label);
        if fraud && rng.random_bool(0.25) {
            let cleared =
                json!({ "type": "label", "transaction_id": id, "fraud": false, "known_at": later(3) });
            let at = rng.random_range(at + 1..=events.len());
            events.insert(at, cleared);
            if rng.random_bool(0.3) {
                let again =
                    json!({ "type": "label", "transaction_id": id, "fraud": true, "known_at": later(6) });
                events.insert(rng.random_range(at + 1..=events.len()), again);
            }
        }
    }
    Ok(events.iter().map(Value::to_string).collect())
}

/// What a drill found.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub findings: Findings,
    /// The service faults, with how many of each were injected.
    pub faults: Value,
    pub alerts_delivered: usize,
    pub alerts_lost: usize,
    pub dead_lettered: usize,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.findings.exact() && self.dead_lettered == 0 && self.alerts_lost == 0
    }

    /// The drill's verdict, as its last line says it.
    pub fn summary(&self) -> String {
        let f = &self.findings;
        format!(
            "drill: {} transactions, {} counted once, {} lost, {} counted twice, {} dead-lettered; \
             {} alerts, {} delivered, {} lost",
            f.transactions,
            f.counted_once,
            f.lost,
            f.counted_twice,
            self.dead_lettered,
            f.alerts.len(),
            self.alerts_delivered,
            self.alerts_lost
        )
    }
}

/// Runs `payloads` through the stack on moto at `endpoint` under `chaos` and the service
/// faults of `seed`, then reads the state table back and judges it.
pub async fn run(
    config: &SdkConfig,
    stack: &LocalStack,
    endpoint: &str,
    payloads: &[String],
    chaos: Arc<Chaos>,
    options: Options,
) -> Result<Outcome, RunError> {
    let setup = |e: String| RunError::Setup(e);
    moto::set_faults(endpoint, &faults(options.seed)).map_err(setup)?;
    let run = e2e::Options { chaos: Some(chaos), ..options.run };
    let report = e2e::run(config, stack, payloads, &run, &|_| {}).await;
    let faults = moto::faults(endpoint).map_err(setup)?;
    moto::set_faults(endpoint, &json!({ "rules": [] })).map_err(setup)?;
    let report = report?;
    let table = stack
        .resources
        .get("StateTable")
        .map(|p| p.reference.clone())
        .ok_or(RunError::Setup("no StateTable".into()))?;
    let stored = Stored::read(&aws_sdk_dynamodb::Client::new(config), &table).await.map_err(RunError::Aws)?;
    let privacy = e2e::stack_privacy(config, stack).await?;
    let findings = judge(&Expected::of(payloads, &privacy), &stored);
    let received: BTreeSet<&str> = report.alerts.iter().map(|a| a.transaction_id.as_str()).collect();
    let alerts_delivered = findings.alerts.iter().filter(|id| received.contains(id.as_str())).count();
    let alerts_lost = findings.alerts.len() - alerts_delivered;
    // Records and events given up on, as the event sources counted them or as their queues
    // hold them (the same ones, seen twice: the larger).
    let dead_lettered = report.dead_lettered.max(report.dead_letters.values().sum::<usize>());
    Ok(Outcome { report, findings, faults, alerts_delivered, alerts_lost, dead_lettered })
}

/// How the drill runs the pipeline.
pub struct Options {
    pub run: e2e::Options,
    /// Seeds the service faults.
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_shared::store::DecisionRecord;

    fn tx(id: &str, customer: &str, minute: u32) -> String {
        format!(
            r#"{{"transaction_id":"{id}","customer_id":"{customer}","terminal_id":"p1","amount":"5","timestamp":"2018-04-01T00:{minute:02}:00Z"}}"#
        )
    }

    fn stored_for(expected: &Expected) -> Stored {
        let mut s = Stored::default();
        for (id, (customer, terminal, at)) in &expected.transactions {
            let record: DecisionRecord = serde_json::from_value(serde_json::json!({
                "decision": {"transaction_id": id, "score": 0.1, "verdict": "ACCEPT", "reasons": []},
                "customer": customer, "terminal": terminal, "at": "2018-04-01T00:00:00Z", "amount": "5",
                "label": expected.labels.get(id),
            }))
            .unwrap();
            s.records.insert(id.clone(), RecordState::Decided(record));
            *s.customers.entry(customer.clone()).or_default().entry(hour_of(*at)).or_default() += 1;
            let cell = s.terminals.entry(terminal.clone()).or_default().entry(hour_of(*at)).or_default();
            cell.0 += 1;
            cell.1 += i64::from(expected.fraud(id));
            if expected.fraud(id) {
                s.customer_frauds.entry(customer.clone()).or_default().insert(id.clone());
            }
        }
        s
    }

    #[test]
    fn exact_state_is_judged_exact_and_each_kind_of_error_is_found() {
        let label =
            r#"{"type":"label","transaction_id":"t2","fraud":true,"known_at":"2018-04-08T00:00:00Z"}"#;
        let payloads = vec![tx("t1", "c1", 1), tx("t2", "c1", 2), tx("t3", "c2", 3), label.to_owned()];
        let e = Expected::of(&payloads, &Privacy::for_tests());
        let mut s = stored_for(&e);
        let exact = judge(&e, &s);
        assert!(exact.exact(), "{exact:?}");
        assert_eq!((exact.transactions, exact.counted_once), (3, 3));

        s.terminals.get_mut("p1").unwrap().values_mut().for_each(|c| c.0 += 1);
        assert_eq!(judge(&e, &s).counted_twice, 1);
        s.terminals.get_mut("p1").unwrap().values_mut().for_each(|c| c.0 -= 2);
        assert_eq!(judge(&e, &s).lost, 1);

        let mut s = stored_for(&e);
        s.records.remove("t3");
        assert_eq!(judge(&e, &s).lost, 1);
        let mut s = stored_for(&e);
        s.customer_frauds.clear();
        assert_eq!(judge(&e, &s).label_errors, 1);
    }

    #[test]
    fn hardening_keeps_every_event_and_adds_only_labels_and_repeats() {
        let tx = |i: usize| {
            json!({"transaction_id": format!("t{i}"), "customer_id": "c1", "terminal_id": "p1", "amount": "5",
                   "timestamp": "2018-04-01T00:00:00Z"})
            .to_string()
        };
        let label = |i: usize| {
            json!({"type": "label", "transaction_id": format!("t{i}"), "fraud": true, "known_at": "2018-04-08T00:00:00Z"})
                .to_string()
        };
        let payloads: Vec<String> = (0..200).map(tx).chain((0..200).step_by(4).map(label)).collect();
        let hard = harden(payloads.clone(), 1).unwrap();
        assert_eq!(hard, harden(payloads, 1).unwrap(), "seeded");
        let count = |kind: &str| hard.iter().filter(|p| p.contains(kind)).count();
        assert!(count(r#""type":"label""#) > 50, "corrections added");
        assert!(count("term-HOT") > 0);
        let early = hard.iter().position(|p| p.contains(r#""type":"label""#)).unwrap();
        assert!(early < 200, "some labels ahead of their transaction");
    }
}
