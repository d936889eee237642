//! The scorer's handler on real Kinesis and Kafka events against moto: every record ends
//! scored or quarantined, a replayed batch changes nothing, a fault mid-batch is retried
//! to the same state, and shards racing on the same terminals lose no update.

use aws_lambda_events::kafka::KafkaEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use std::sync::atomic::Ordering;
use std::time::Instant;
use vigil_tests::{Aws, Expected, Moto, QUARANTINE, events};

async fn setup() -> (Moto, Aws, String) {
    vigil_tests::init_logs();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    aws.create_buckets().await;
    let tap = aws.alert_bus().await;
    (moto, aws, tap)
}

fn kinesis(payloads: &[String]) -> KinesisEvent {
    serde_json::from_value(events::kinesis(payloads)).expect("a Kinesis event")
}

async fn quarantined_lines(aws: &Aws) -> usize {
    let mut lines = 0;
    for key in aws.keys(QUARANTINE, "quarantine/").await {
        lines += String::from_utf8(aws.object(QUARANTINE, &key).await).unwrap().lines().count();
    }
    lines
}

/// Every stored item: a write anywhere changes one (at least its `ttl`).
async fn versions(aws: &Aws) -> Vec<(String, String)> {
    let sorted = |item: std::collections::HashMap<_, _>| {
        item.into_iter().collect::<std::collections::BTreeMap<_, _>>()
    };
    aws.items().await.into_iter().map(|(pk, item)| (pk, format!("{:?}", sorted(item)))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10k_batch_is_scored_or_quarantined_record_by_record_and_a_replay_changes_nothing() {
    let (_moto, aws, tap) = setup().await;
    let payloads = events::stream(10_000, 2_000, 3_000, 100);
    let expected = Expected::of(&payloads);
    assert_eq!((expected.valid, expected.invalid), (9_900, 100));
    let handler = aws.scorer();

    aws.calls.reset();
    let started = Instant::now();
    let response = handler.kinesis(kinesis(&payloads), chrono::Utc::now()).await;
    let wall = started.elapsed();
    let calls = aws.calls.counts();
    println!("10k batch: {wall:?}, {} AWS calls: {calls:?}", aws.calls.total());
    println!(
        "time waiting on moto per operation (8 requests in flight, served one at a time): {:?}",
        aws.calls.waited()
    );
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(aws.calls.total() < 1_000, "batched: {calls:?}");
    let used = handler.pipeline.scorer.store().usage();
    let per_tx = |x: f64| x / expected.valid as f64;
    println!(
        "per transaction: {:.2} write units, {:.2} read units (computed from item sizes; moto reports none), \
         {:.3} DynamoDB calls ({} TransactWriteItems, {} BatchGetItem), {:.3} AWS calls in all",
        per_tx(used.write_units),
        per_tx(used.read_units),
        per_tx((used.transactions + used.batch_gets) as f64),
        used.transactions,
        used.batch_gets,
        per_tx(aws.calls.total() as f64),
    );
    assert!(per_tx(used.write_units) < 8.0, "a transaction's writes stay small: {used:?}");

    let items = aws.items().await;
    let records = items.keys().filter(|k| k.starts_with("tx#")).count();
    assert_eq!(records, expected.valid, "one decision record per valid transaction");
    assert_eq!(
        quarantined_lines(&aws).await,
        expected.invalid,
        "every bad record quarantined with its reason"
    );
    assert_eq!(aws.lake_rows("decisions/").await, expected.valid as i64, "every decision in the lake");
    assert_eq!(aws.counted("c#").await, expected.customers);
    assert_eq!(aws.counted("t#").await, expected.terminals);

    let alerts = aws.drain(&tap).await;
    let flagged = items
        .iter()
        .filter(|(k, _)| k.starts_with("tx#"))
        .filter(|(_, i)| !i["s"].as_s().unwrap().contains("\"verdict\":\"ACCEPT\""))
        .count();
    assert!(flagged > 0, "the batch has amounts over the review threshold");
    assert_eq!(alerts.len(), flagged, "one alert event per REVIEW or BLOCK");

    let before = versions(&aws).await;
    let lake_objects = aws.keys(vigil_tests::LAKE, "").await;
    let replay = handler.kinesis(kinesis(&payloads), chrono::Utc::now()).await;
    assert!(replay.batch_item_failures.is_empty());
    assert_eq!(versions(&aws).await, before, "a replayed batch writes no state");
    assert_eq!(aws.keys(vigil_tests::LAKE, "").await, lake_objects, "and overwrites its own lake objects");
    assert_eq!(aws.lake_rows("decisions/").await, expected.valid as i64);
    assert_eq!(quarantined_lines(&aws).await, expected.invalid);
    assert_eq!(aws.drain(&tap).await.len(), flagged, "alerts are resent for the fan-out to dedupe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_mid_batch_reports_the_first_record_and_the_retry_counts_everything_once() {
    let (_moto, aws, _tap) = setup().await;
    let payloads = events::stream(3_000, 400, 600, 50);
    let expected = Expected::of(&payloads);
    let handler = aws.scorer();

    aws.calls.reset();
    aws.calls.fail_after.store(2, Ordering::SeqCst);
    aws.calls.armed.store(true, Ordering::SeqCst);
    let failed = handler.kinesis(kinesis(&payloads), chrono::Utc::now()).await;
    let failures: Vec<_> = failed.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failures, [Some(events::sequence_number(0))], "retry from the first record");
    let written = aws.items().await.keys().filter(|k| k.starts_with("c#") || k.starts_with("t#")).count();
    assert!(written > 0, "the fault hit after part of the batch was written");

    aws.calls.armed.store(false, Ordering::SeqCst);
    let retried = handler.kinesis(kinesis(&payloads), chrono::Utc::now()).await;
    assert!(retried.batch_item_failures.is_empty(), "{retried:?}");
    assert_eq!(aws.counted("c#").await, expected.customers, "no transaction counted twice");
    assert_eq!(aws.counted("t#").await, expected.terminals);
    assert_eq!(aws.items().await.keys().filter(|k| k.starts_with("tx#")).count(), expected.valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_racing_on_the_same_terminals_lose_no_update() {
    let (_moto, aws, _tap) = setup().await;
    let payloads = events::stream(1_200, 300, 40, 0);
    // Two shards: even and odd records, same terminals, processed at the same time.
    let (even, odd): (Vec<_>, Vec<_>) = payloads.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, String)>| v.into_iter().map(|(_, p)| p).collect::<Vec<_>>();
    let (even, odd) = (strip(even), strip(odd));
    let (a, b) = (aws.scorer(), aws.scorer());
    let mut pending = Vec::new();
    for chunk in 0..6 {
        let range = chunk * 100..(chunk + 1) * 100;
        let (e, o) = (kinesis(&even[range.clone()]), kinesis(&odd[range]));
        let (ra, rb) = tokio::join!(a.kinesis(e, chrono::Utc::now()), b.kinesis(o, chrono::Utc::now()));
        pending.extend(ra.batch_item_failures.into_iter().chain(rb.batch_item_failures).map(|_| chunk));
    }
    assert!(pending.is_empty(), "every contended batch eventually committed: {pending:?}");
    let expected = Expected::of(&payloads);
    assert_eq!(aws.counted("t#").await, expected.terminals);
    assert_eq!(aws.counted("c#").await, expected.customers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_msk_batch_is_decoded_scored_and_quarantined() {
    let (_moto, aws, _tap) = setup().await;
    let mut payloads = events::stream(200, 50, 20, 20);
    payloads.push(events::label("tx-000001", true, "2018-04-08T00:00:00Z"));
    let expected = Expected::of(&payloads);
    let event: KafkaEvent = serde_json::from_value(events::kafka("vigil-transactions", &payloads)).unwrap();
    aws.scorer().kafka(event, chrono::Utc::now()).await.expect("no redelivery");
    let items = aws.items().await;
    assert_eq!(items.keys().filter(|k| k.starts_with("tx#")).count(), expected.valid - 1);
    assert!(
        items["tx#tx-000001"]["s"].as_s().unwrap().contains("\"fraud\":true"),
        "the chargeback was applied"
    );
    assert_eq!(quarantined_lines(&aws).await, expected.invalid);
    assert_eq!(aws.lake_rows("labels/").await, 1);
}
