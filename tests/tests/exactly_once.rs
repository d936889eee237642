//! Exactly once under Lambda's real retries, against moto. The scorer is killed after k of
//! its DynamoDB transactions (its invocation dropped mid-save, as a timeout, an out-of-memory
//! or a panic stops a function), then the batch comes back in each shape Lambda gives it:
//! the same batch, its bisected halves, the batch with newer records behind it, or after
//! another shard wrote the same terminals (with labels for the crashed batch's
//! transactions). Every transaction is counted once, every label once; no retry waits on
//! the crashed attempt or fails (nothing would reach the dead-letter queue).

use aws_lambda_events::kinesis::KinesisEvent;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use vigil_tests::{Aws, Moto, events};

/// What the crashed shard (A), its newer records, and another shard (B) carry.
struct Streams {
    a: Vec<String>,
    newer: Vec<String>,
    b: Vec<String>,
}

fn at(minute: usize) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2018-04-01T00:00:00Z").unwrap();
    (start + chrono::Duration::minutes(minute as i64)).to_rfc3339()
}

fn amount(i: usize) -> String {
    format!("{}.{:02}", 5 + (i * 7919) % 400, i % 100)
}

/// A: 400 transactions of 40 customers at 15 terminals, with 4 bad records and 10 labels
/// for its own earlier transactions; 50 newer ones; B: 200 transactions of 20 other
/// customers at the same terminals, and labels for 10 of A's transactions.
fn streams() -> Streams {
    let tx = |prefix: &str, i: usize, customers: usize| {
        events::transaction(
            &format!("{prefix}-{i}"),
            &format!("c{prefix}-{}", i % customers),
            &format!("p-{}", i % 15),
            &amount(i),
            &at(i),
        )
    };
    let mut a = Vec::new();
    for i in 0..400 {
        a.push(tx("a", i, 40));
        if i % 100 == 50 {
            a.push(r#"{"transaction_id":"broken","amount":"-1"}"#.to_owned());
        }
        if i % 40 == 39 {
            a.push(events::label(&format!("a-{}", i - 20), true, &at(i + 1)));
        }
    }
    let newer = (400..450).map(|i| tx("a", i, 40)).collect();
    let mut b: Vec<String> = (0..200).map(|i| tx("b", i, 20)).collect();
    for i in 300..310 {
        b.insert((i - 300) * 20, events::label(&format!("a-{i}"), true, &at(500)));
    }
    Streams { a, newer, b }
}

/// Per customer and terminal, the transactions the streams hold; per terminal, the
/// transactions labelled fraud.
struct Expected {
    customers: BTreeMap<String, u64>,
    terminals: BTreeMap<String, u64>,
    frauds: BTreeMap<String, u64>,
    transactions: usize,
}

fn expected(all: &[&[String]]) -> Expected {
    let now = chrono::Utc::now();
    let mut e = Expected {
        customers: BTreeMap::new(),
        terminals: BTreeMap::new(),
        frauds: BTreeMap::new(),
        transactions: 0,
    };
    let mut terminal_of = BTreeMap::new();
    let mut fraud = std::collections::BTreeSet::new();
    for p in all.iter().flat_map(|s| s.iter()) {
        match vigil_shared::Event::from_json(p.as_bytes(), vigil_shared::Currency::USD, now) {
            Ok(vigil_shared::Event::Transaction(tx)) => {
                e.transactions += 1;
                *e.customers.entry(format!("c#{}", vigil_tests::token(tx.customer.as_str()))).or_default() +=
                    1;
                *e.terminals.entry(format!("t#{}", tx.terminal.as_str())).or_default() += 1;
                terminal_of.insert(tx.id.to_string(), format!("t#{}", tx.terminal.as_str()));
            }
            Ok(vigil_shared::Event::Label(l)) if l.fraud => drop(fraud.insert(l.transaction_id.to_string())),
            _ => {}
        }
    }
    for id in fraud {
        *e.frauds.entry(terminal_of[&id].clone()).or_default() += 1;
    }
    e
}

fn kinesis(payloads: &[String]) -> KinesisEvent {
    serde_json::from_value(events::kinesis(payloads)).expect("a Kinesis event")
}

/// Runs a batch that must complete: no record reported for retry, and quickly (the old
/// design waited out a crashed batch's lease here, then gave up).
async fn completes(aws: &Aws, payloads: &[String], what: &str) {
    let started = Instant::now();
    let response = aws.scorer().kinesis(kinesis(payloads), chrono::Utc::now()).await;
    assert!(response.batch_item_failures.is_empty(), "{what}: {response:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{what} took {took:?}");
}

/// The whole table read back and judged against the payloads (as `vigil drill` does):
/// records, customer and terminal hours, labels on records, confirmed frauds.
async fn exactly_once(aws: &Aws, payloads: &[String], what: &str) {
    use vigil_local::drill::{Expected, Stored, judge};
    let stored = Stored::read(&aws.dynamodb, vigil_tests::TABLE).await.unwrap();
    let findings = judge(&Expected::of(payloads, &vigil_tests::privacy()), &stored);
    assert!(findings.exact(), "{what}: {findings:?}");
    assert_eq!(findings.counted_once, findings.transactions, "{what}");
}

/// moto with the table, buckets and alert bus the scorer writes to.
async fn setup() -> (Moto, Aws) {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    aws.create_buckets().await;
    aws.alert_bus().await;
    (moto, aws)
}

#[derive(Debug, Clone, Copy)]
enum Retry {
    Same,
    Bisected,
    CheckpointWithNewer,
    AfterAnotherShard,
}

async fn scenario(retry: Retry, k: usize) {
    let (_moto, aws) = setup().await;
    let s = streams();

    // The crash: the invocation stops once its k-th transaction is answered.
    aws.calls.crash_after(k);
    let handler = aws.scorer();
    tokio::select! {
        response = handler.kinesis(kinesis(&s.a), chrono::Utc::now()) => {
            panic!("k={k}: the batch finished before the crash: {response:?}")
        }
        () = aws.calls.crashed() => {}
    }
    drop(handler);
    let partial = aws.counted("t#").await.values().sum::<u64>();
    assert!(partial > 0, "k={k}: part of the batch was written before the crash");

    let what = format!("{retry:?} after a crash at k={k}");
    match retry {
        Retry::Same => completes(&aws, &s.a, &what).await,
        Retry::Bisected => {
            let (first, second) = s.a.split_at(s.a.len() / 2);
            completes(&aws, first, &what).await;
            completes(&aws, second, &what).await;
        }
        Retry::CheckpointWithNewer => {
            let with_newer: Vec<String> = s.a.iter().chain(&s.newer).cloned().collect();
            completes(&aws, &with_newer, &what).await;
        }
        Retry::AfterAnotherShard => {
            completes(&aws, &s.b, &format!("{what}: the other shard")).await;
            completes(&aws, &s.a, &what).await;
        }
    }
    // The stream goes on: whatever this shape left out arrives, and everything again.
    for rest in [&s.newer, &s.b, &s.a] {
        completes(&aws, rest, &format!("{what}: the rest")).await;
    }

    let all: Vec<String> = s.a.iter().chain(&s.newer).chain(&s.b).cloned().collect();
    exactly_once(&aws, &all, &what).await;
    let e = expected(&[&s.a, &s.newer, &s.b]);
    assert_eq!(aws.counted("c#").await, e.customers, "{what}: customers");
    assert_eq!(aws.counted("t#").await, e.terminals, "{what}: terminals");
    assert_eq!(aws.terminal_frauds().await, e.frauds, "{what}: frauds");
    let items = aws.items().await;
    let decided = items
        .iter()
        .filter(|(k, i)| k.starts_with("tx#") && i["s"].as_s().unwrap().contains(r#""state":"decided""#));
    assert_eq!(decided.count(), e.transactions, "{what}: one record per transaction");
    assert!(!items.values().any(|i| i.contains_key("parked")), "{what}: every label found its transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_batch_retried_whole_counts_everything_once() {
    vigil_tests::init_logs();
    for k in [1, 3, 5] {
        scenario(Retry::Same, k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_batch_retried_in_bisected_halves_counts_everything_once() {
    vigil_tests::init_logs();
    for k in [1, 3, 5] {
        scenario(Retry::Bisected, k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_batch_retried_with_newer_records_counts_everything_once() {
    vigil_tests::init_logs();
    for k in [1, 3, 5] {
        scenario(Retry::CheckpointWithNewer, k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_shard_is_not_held_up_by_a_crashed_batch_and_both_count_once() {
    vigil_tests::init_logs();
    for k in [1, 3, 5] {
        scenario(Retry::AfterAnotherShard, k).await;
    }
}

/// Two shards hammering one merchant terminal: every write to it conflicts now and then
/// (DynamoDB cancels a transaction whose item another one holds: injected at the protocol,
/// since moto serves one request at a time), reads are throttled now and then; each
/// conflicting transaction is resent, no batch fails, and the terminal counts every
/// transaction once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_hammering_one_terminal_through_conflicts_count_every_transaction_once() {
    vigil_tests::init_logs();
    let (moto, aws) = setup().await;
    let faults = serde_json::json!({ "seed": 7, "rules": [
        { "target": "DynamoDB_20120810.TransactWriteItems", "fault": "conflict", "rate": 0.3 },
        { "target": "DynamoDB_20120810.BatchGetItem", "fault": "throttle", "rate": 0.1 },
    ]});
    vigil_local::moto::set_faults(&moto.endpoint, &faults).unwrap();

    let shard = |prefix: &str| -> Vec<String> {
        (0..300)
            .map(|i| {
                events::transaction(
                    &format!("{prefix}-{i}"),
                    &format!("{prefix}c{}", i % 30),
                    "hot",
                    &amount(i),
                    &at(i),
                )
            })
            .collect()
    };
    let (a, b) = (shard("x"), shard("y"));
    let (left, right) = (aws.scorer(), aws.scorer());
    for chunk in 0..3 {
        let range = chunk * 100..(chunk + 1) * 100;
        let (ra, rb) = tokio::join!(
            left.kinesis(kinesis(&a[range.clone()]), chrono::Utc::now()),
            right.kinesis(kinesis(&b[range]), chrono::Utc::now())
        );
        assert!(ra.batch_item_failures.is_empty() && rb.batch_item_failures.is_empty(), "{ra:?} {rb:?}");
    }
    let injected = vigil_local::moto::faults(&moto.endpoint).unwrap();
    let conflicts =
        left.pipeline.scorer.store().usage().conflicts + right.pipeline.scorer.store().usage().conflicts;
    assert!(conflicts > 0, "conflicts were injected and resent: {injected}");
    assert_eq!(aws.counted("t#").await, BTreeMap::from([("t#hot".to_owned(), 600)]));
    assert_eq!(aws.counted("c#").await.values().sum::<u64>(), 600);
}

/// A label that arrives before its transaction waits and is applied when the transaction
/// is scored (on another shard); one whose transaction never comes is quarantined by the
/// daily sweep once its retention is over, and only then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_before_its_transaction_waits_for_it_and_one_without_is_reported() {
    vigil_tests::init_logs();
    let (_moto, aws) = setup().await;
    let labels = vec![events::label("early", true, &at(90)), events::label("never", true, &at(90))];
    let now = chrono::Utc::now();
    let handler = aws.scorer();
    assert!(handler.kinesis(kinesis(&labels), now).await.batch_item_failures.is_empty());
    let items = aws.items().await;
    assert!(items["tx#early"].contains_key("parked") && items["tx#never"].contains_key("parked"));

    let tx = vec![events::transaction("early", "c1", "p1", "25.00", &at(10))];
    assert!(aws.scorer().kinesis(kinesis(&tx), now).await.batch_item_failures.is_empty());
    assert_eq!(aws.terminal_frauds().await, BTreeMap::from([("t#p1".to_owned(), 1)]));
    assert!(aws.items().await["tx#early"]["s"].as_s().unwrap().contains(r#""fraud":true"#));

    let soon = handler.sweep(now + chrono::Duration::days(6)).await.unwrap();
    assert_eq!(soon.unmatched, 0, "still within its retention");
    let later = handler.sweep(now + chrono::Duration::days(8)).await.unwrap();
    assert_eq!(later.unmatched, 1);
    let items = aws.items().await;
    assert!(!items.contains_key("tx#never") && items.contains_key("tx#early"));
    let mut quarantined = String::new();
    for key in aws.keys(vigil_tests::QUARANTINE, "quarantine/").await {
        quarantined.push_str(&String::from_utf8(aws.object(vigil_tests::QUARANTINE, &key).await).unwrap());
    }
    assert!(
        quarantined.contains(r#""code":"LABEL_UNMATCHED""#) && quarantined.contains("never"),
        "{quarantined}"
    );
    assert!(!quarantined.contains("early"));
}

/// One customer with more transactions in a batch than a DynamoDB transaction holds: its
/// units are written in order, each on the version the one before wrote; killed between
/// them, the batch's retry writes the rest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_written_in_several_units_killed_between_them_counts_once() {
    vigil_tests::init_logs();
    let (_moto, aws) = setup().await;
    let heavy: Vec<String> = (0..100)
        .map(|i| events::transaction(&format!("h-{i}"), "heavy", &format!("p-{}", i % 7), &amount(i), &at(i)))
        .collect();
    aws.calls.crash_after(1);
    let handler = aws.scorer();
    tokio::select! {
        response = handler.kinesis(kinesis(&heavy), chrono::Utc::now()) => {
            panic!("the batch finished before the crash: {response:?}")
        }
        () = aws.calls.crashed() => {}
    }
    drop(handler);
    let first =
        aws.counted("c#").await.get(&format!("c#{}", vigil_tests::token("heavy"))).copied().unwrap_or(0);
    assert!(first > 0 && first < 100, "killed between its units: {first} written");
    completes(&aws, &heavy, "the retry").await;
    assert_eq!(aws.counted("c#").await.get(&format!("c#{}", vigil_tests::token("heavy"))), Some(&100));
    exactly_once(&aws, &heavy, "several units").await;
}
