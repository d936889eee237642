//! `vigil drill --local-aws`: the deployed pipeline on the local stack, as `vigil demo
//! --local-aws` runs it, under the failures Lambda and AWS really produce — then the stored
//! state read back and judged against what the events imply.

use crate::generate::Spec;
use crate::local::{create_stack, local_aws, runtime, stream};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use vigil_local::chaos::{Chaos, Rates};
use vigil_local::drill::{Expected, Findings, Stored, judge};
use vigil_local::e2e::{self, Options, Report};
use vigil_local::moto;

pub struct Drill {
    pub transactions: usize,
    pub seed: u64,
}

/// Transactions per second offered to the producer API.
const RATE: f64 = 200.0;

/// Where the drill strikes, and how often.
fn rates() -> Rates {
    Rates { kill_scorer: 0.15, redeliver: 0.1, kill_alerts_after_publish: 0.25 }
}

/// Service faults at the protocol (see `infra/local/moto_server.py`): throttling that the
/// SDK's retries mostly absorb (what they do not becomes a batch item failure and a retry
/// from the checkpoint), transactions cancelled by a conflicting writer, and calls applied
/// but answered with an error (the caller cannot tell: a timeout after the fact).
fn faults(seed: u64) -> Value {
    json!({ "seed": seed, "rules": [
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "conflict", "rate": 0.05 },
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "error_after", "rate": 0.02 },
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "throttle", "rate": 0.03 },
        { "target": "DynamoDB_20120810.BatchGetItem", "fault": "throttle", "rate": 0.05 },
        { "target": "DynamoDB_20120810.PutItem", "fault": "throttle", "rate": 0.03 },
        { "target": "DynamoDB_20120810.UpdateItem", "fault": "throttle", "rate": 0.03 },
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
fn harden(payloads: Vec<String>, seed: u64) -> Result<Vec<String>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut events: Vec<Value> = Vec::with_capacity(payloads.len() + payloads.len() / 10);
    let mut labels = Vec::new();
    for p in payloads {
        let mut event: Value = serde_json::from_str(&p).context("a demo payload")?;
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
        let known_at: DateTime<Utc> = label["known_at"].as_str().unwrap_or_default().parse()?;
        let later = |days: i64| (known_at + Duration::days(days)).to_rfc3339();
        // A third arrive before their transaction (another shard, ahead of it).
        let at = if rng.random_bool(0.33) { rng.random_range(0..=tx) } else { rng.random_range(tx + 1..=events.len()) };
        let fraud = label["fraud"] == json!(true);
        events.insert(at, label);
        if fraud && rng.random_bool(0.25) {
            let cleared = json!({ "type": "label", "transaction_id": id, "fraud": false, "known_at": later(3) });
            let at = rng.random_range(at + 1..=events.len());
            events.insert(at, cleared);
            if rng.random_bool(0.3) {
                let again = json!({ "type": "label", "transaction_id": id, "fraud": true, "known_at": later(6) });
                events.insert(rng.random_range(at + 1..=events.len()), again);
            }
        }
    }
    Ok(events.iter().map(Value::to_string).collect())
}

/// `vigil drill --local-aws`.
pub fn run(spec: &Spec, drill: &Drill) -> Result<()> {
    let payloads = harden(stream(spec, drill.transactions)?, drill.seed)?;
    let (_moto, endpoint) = local_aws()?;
    let started = std::time::Instant::now();
    runtime()?.block_on(async {
        let config = moto::config(&endpoint).await;
        println!("Vigil drill on a local AWS ({endpoint}): creating the stack from template.yaml…");
        let stack = create_stack(&config).await?;
        let injected = moto::set_faults(&endpoint, &faults(drill.seed)).map_err(anyhow::Error::msg)?;
        let chaos = Arc::new(Chaos::new(rates(), drill.seed));
        println!(
            "Posting {} events (hot terminal, labels ahead of their transactions, corrections, repeats); \
             killing {:.0} % of scorer invocations mid-save or at random, redelivering {:.0} % of batches, \
             killing {:.0} % of alert invocations after they published; service faults: {} rules",
            payloads.len(),
            chaos.rates.kill_scorer * 100.0,
            chaos.rates.redeliver * 100.0,
            chaos.rates.kill_alerts_after_publish * 100.0,
            injected["rules"].as_array().map_or(0, Vec::len)
        );
        let options = Options {
            request_size: 20,
            // Paced, so that batches stay small and many invocations meet the faults.
            rate: Some(RATE),
            drain_timeout: std::time::Duration::from_secs(150),
            ops_endpoint: crate::local::OPS.to_owned(),
            chaos: Some(chaos.clone()),
        };
        let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await?;
        let faults = moto::faults(&endpoint).map_err(anyhow::Error::msg)?;
        moto::set_faults(&endpoint, &json!({ "rules": [] })).map_err(anyhow::Error::msg)?;

        let table = stack.resources.get("StateTable").map(|p| p.reference.clone()).context("no StateTable")?;
        let stored = Stored::read(&aws_sdk_dynamodb::Client::new(&config), &table).await.map_err(anyhow::Error::msg)?;
        let findings = judge(&Expected::of(&payloads), &stored);
        print_report(&report, &findings, &chaos, &faults, started.elapsed());
        let received: std::collections::BTreeSet<&str> =
            report.alerts.iter().map(|a| a.transaction_id.as_str()).collect();
        let delivered = findings.alerts.iter().filter(|id| received.contains(id.as_str())).count();
        let alerts_lost = findings.alerts.len() - delivered;
        let dead = report.dead_lettered + report.dead_letters.values().sum::<usize>();
        println!(
            "drill: {} transactions, {} counted once, {} lost, {} counted twice, {} dead-lettered; \
             {} alerts, {} delivered, {} lost",
            findings.transactions,
            findings.counted_once,
            findings.lost,
            findings.counted_twice,
            dead,
            findings.alerts.len(),
            delivered,
            alerts_lost
        );
        if !findings.exact() || dead > 0 || alerts_lost > 0 {
            bail!("the drill found state that is not exactly what the events imply (see above)");
        }
        Ok(())
    })
}

fn print_report(r: &Report, f: &Findings, chaos: &Chaos, faults: &Value, took: std::time::Duration) {
    println!("\nInjected");
    println!(
        "  scorer invocations killed: {} ({} after DynamoDB transactions were answered); batches redelivered: {}; \
         alert invocations killed after publishing: {}",
        chaos.scorer_kills.load(Ordering::SeqCst),
        chaos.scorer_kills_mid_save.load(Ordering::SeqCst),
        chaos.redeliveries.load(Ordering::SeqCst),
        chaos.alert_kills.load(Ordering::SeqCst),
    );
    for rule in faults["rules"].as_array().into_iter().flatten() {
        println!(
            "  {} {}: {}",
            rule["target"].as_str().unwrap_or_default(),
            rule["fault"].as_str().unwrap_or_default(),
            rule["injected"]
        );
    }
    println!("\nAccounting (state read back from the table)");
    println!(
        "  producer: {} submitted = {} accepted + {} refused; scorer: {} records in {} invocations",
        r.submitted, r.accepted, r.rejected, r.scored, r.scorer_invocations
    );
    println!(
        "  labels: {} wrong or not in the fraud counts; {} still waiting for a transaction that was scored",
        f.label_errors, f.labels_waiting
    );
    println!(
        "  alerts: {} in the ops inbox, {} repeats (at least once: a repeat carries the same alert id); \
         dead letters: {:?}",
        r.alerts.len(),
        r.duplicate_alerts,
        r.dead_letters
    );
    println!("  {:.0} s in all\n", took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

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
