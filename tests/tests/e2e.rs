//! The deployed pipeline end to end on moto, built from template.yaml: producer API →
//! Kinesis → scorer → lake + EventBridge → alerts → SNS → the ops inbox.

use std::collections::BTreeMap;
use std::time::Duration;
use vigil_local::e2e::{self, Options};
use vigil_local::{LocalStack, Template};
use vigil_tests::{Moto, events, init_logs};

use vigil_tests::{COMPLIANCE, OPS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_is_decided_and_every_alert_reaches_the_ops_inbox_once() {
    init_logs();
    let moto = Moto::start();
    let (config, stack) = vigil_tests::alerting_stack(&moto).await;
    // The template's event source settings came through.
    let source = &stack.stream_sources[0];
    assert_eq!(source.function, "ScorerFunction");
    assert!(source.reports_item_failures && source.bisect && source.on_failure.is_some());
    assert_eq!(stack.rule_targets[0].function, "AlertsFunction");

    // Malformed records the API can still parse as JSON: refused per item, with reasons.
    let mut payloads: Vec<String> = events::stream(300, 40, 60, 25)
        .into_iter()
        .filter(|p| serde_json::from_str::<serde_json::Value>(p).is_ok())
        .collect();
    // Chargebacks arrive on the same API, later.
    payloads.push(events::label("tx-000001", true, "2018-04-08T00:00:00Z"));
    payloads.push(events::label("tx-000002", false, "2018-04-08T00:00:00Z"));
    let expected = vigil_tests::Expected::of(&payloads);
    let options = Options {
        request_size: 25,
        rate: None,
        drain_timeout: Duration::from_secs(90),
        ops_endpoint: OPS.to_owned(),
        compliance_endpoint: None,
        chaos: None,
        decide: false,
    };
    let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await.expect("run");

    assert_eq!(report.submitted, payloads.len());
    assert_eq!(report.accepted, expected.valid);
    assert_eq!(report.rejected, expected.invalid);
    assert!(report.rejected > 0);
    assert_eq!(report.scored, report.accepted, "the event source finished every record");
    assert!(report.undecided.is_empty(), "accepted without a decision: {:?}", report.undecided);
    assert_eq!(report.labels, 2);
    assert_eq!(report.verdicts.values().sum::<usize>(), report.accepted - report.labels);
    let alerting =
        report.verdicts.iter().filter(|(v, _)| v.as_str() != "ACCEPT").map(|(_, n)| n).sum::<usize>();
    assert!(alerting > 0, "the stream holds transactions over the review threshold");
    assert_eq!(report.alerts.len(), alerting, "missing {:?}", report.missing_alerts);
    assert_eq!(report.duplicate_alerts, 0);
    assert_eq!(report.latencies.len(), alerting);
    assert!(report.dead_letters.values().all(|n| *n == 0), "{:?}", report.dead_letters);
    assert!(report.accounted());
    let alert = &report.alerts[0];
    assert!(alert.subject.starts_with("Vigil "), "{}", alert.subject);
    assert!(alert.message.contains("****"), "the card is masked: {}", alert.message);

    // The compliance inbox got exactly the alerts a compliance rule raised.
    let aws = vigil_tests::Aws::new(&moto).await;
    let compliance = aws.drain(&stack.inboxes[COMPLIANCE]).await;
    for m in &compliance {
        let envelope: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
        let codes = envelope["MessageAttributes"]["rule_codes"]["Value"].as_str().unwrap();
        assert!(codes.contains("RULE_"), "{codes}");
    }
    let rule_alerts = compliance.len();
    let over_threshold = payloads.iter().filter(|p| p.contains("12500.00")).count();
    assert_eq!(rule_alerts, over_threshold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_is_created_as_the_template_declares_it() {
    let moto = Moto::start();
    let (config, stack) = vigil_tests::alerting_stack(&moto).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = &stack.resources["StateTable"].reference;
    let ttl = dynamodb.describe_time_to_live().table_name(table).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().unwrap().attribute_name(), Some("ttl"));
    let s3 = vigil_shared::aws::s3::client(&config);
    // Versioned: an overwrite keeps the old version. (moto's GetBucketVersioning answer
    // has a root element the SDK refuses, so this asks the way that matters.)
    for bucket in ["LakeBucket", "QuarantineBucket", "ReportsBucket", "IncomingBucket"] {
        let name = &stack.resources[bucket].reference;
        for body in ["one", "two"] {
            s3.put_object().bucket(name).key("k").body(body.as_bytes().to_vec().into()).send().await.unwrap();
        }
        let versions = s3.list_object_versions().bucket(name).prefix("k").send().await.unwrap();
        assert_eq!(versions.versions().len(), 2, "{bucket}");
    }
    assert_eq!(stack.resources["IncomingBucket"].reference, "vigil-incoming-123456789012-us-east-1");
    // Each function's environment names what was created.
    let scorer = stack.function("scorer").unwrap();
    let env = stack.environment(&scorer).unwrap();
    assert_eq!(env["VIGIL_TABLE"], *table);
    assert_eq!(env["VIGIL_EVENT_BUS"], "vigil-alerts");
    let producer = stack.environment(&stack.function("producer").unwrap()).unwrap();
    assert_eq!(producer["VIGIL_STREAM"], "vigil-transaction-stream");
    assert!(!producer.contains_key("VIGIL_KAFKA_BROKERS"));
    // Without e-mail parameters there are no subscriptions, so no inboxes.
    let bare = LocalStack::planned(
        Template::load(&vigil_local::template_path()).unwrap(),
        "other",
        &BTreeMap::new(),
    );
    assert!(!bare.unwrap().resources.contains_key("OpsHighSubscription"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_keeps_failing_is_retried_as_configured_then_named_in_the_scorer_dlq() {
    init_logs();
    let moto = Moto::start();
    let (config, stack) =
        vigil_tests::template_stack(&moto, &[("AlertEmail", OPS), ("StreamMaxRetries", "2")]).await;
    assert_eq!(stack.stream_sources[0].max_retries, Some(2));
    // The state table is gone: every batch fails on its first read.
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    dynamodb.delete_table().table_name(&stack.resources["StateTable"].reference).send().await.unwrap();

    let payloads = events::stream(30, 5, 5, 0);
    let options = Options {
        request_size: 30,
        rate: None,
        drain_timeout: Duration::from_secs(60),
        ops_endpoint: OPS.to_owned(),
        compliance_endpoint: None,
        chaos: None,
        decide: false,
    };
    let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await.expect("run");

    assert_eq!(report.accepted, 30);
    assert_eq!(report.scored, 30, "given up on, but accounted for");
    assert_eq!(report.dead_lettered, 30);
    // One first attempt and two retries per batch, each reporting the batch's first record.
    assert_eq!(report.scorer_invocations % 3, 0, "{} invocations", report.scorer_invocations);
    assert!(!report.accounted());
    let dlq = &stack.resources["ScorerDlq"].reference;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let got = sqs.receive_message().queue_url(dlq).max_number_of_messages(10).send().await.unwrap();
    let messages = got.messages.unwrap_or_default();
    assert_eq!(messages.len(), report.scorer_invocations / 3);
    let mut skipped = 0;
    for m in &messages {
        let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
        assert_eq!(body["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert!(body["KinesisBatchInfo"]["shardId"].as_str().unwrap().starts_with("shardId-"));
        skipped += body["KinesisBatchInfo"]["batchSize"].as_u64().unwrap();
    }
    assert_eq!(skipped, 30);
}
