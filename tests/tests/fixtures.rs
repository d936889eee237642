//! `events/` holds the fixtures for `cargo lambda invoke`: built here from the same
//! builders the integration tests use, and checked to be what Lambda's event types read.
//! `VIGIL_UPDATE_FIXTURES=1 cargo nextest run -p vigil-tests fixtures` rewrites them.

use serde_json::Value;
use std::collections::BTreeMap;
use vigil_shared::aws::lambda::{ScorerHandler, env};
use vigil_tests::{DROP, events, workspace};

fn fixtures() -> Vec<(&'static str, Value)> {
    let txs = [
        events::transaction("tx-1001", "4111111111111111", "term-7", "42.10", "2018-05-01T09:30:00Z"),
        events::transaction("tx-1002", "4111111111111111", "term-7", "12500.00", "2018-05-01T09:31:00Z"),
        "{not json".to_owned(),
        events::label("tx-1001", true, "2018-05-08T09:30:00Z"),
        events::customer("cust-77", "Jane Example", &["GB29NWBK60161331926819"], "2018-04-01T00:00:00Z"),
        events::transfer(
            "tx-1003",
            "GB29NWBK60161331926819",
            "acc-ext-9",
            "Zentara Maritime Holdings",
            "9400.00",
            "2018-05-01T09:32:00Z",
        ),
    ];
    let alert = serde_json::json!({
        "id": "vigil:tx-1002", "severity": "MEDIUM", "verdict": "REVIEW", "score": 0.42,
        "transaction_id": "tx-1002", "audience": "fraud_ops", "customer_masked": "****1111", "terminal": "term-7",
        "amount": "12500.00", "currency": "USD", "at": "2018-05-01T09:31:00Z",
        "reasons": [{ "code": "RULE_AMOUNT_OVER_THRESHOLD", "detail": "12500.00 USD > 10000 USD" }],
    });
    let compliance = serde_json::json!({
        "id": "sanctions:tx-1003", "severity": "HIGH", "verdict": "BLOCK", "score": 0.97,
        "transaction_id": "tx-1003", "audience": "compliance", "channel": "transfer",
        "accounts": ["GB29NWBK60161331926819"], "amount": "9400.00", "currency": "USD",
        "list_version": "ofac:1a2b3c4d", "at": "2018-05-01T09:32:00Z",
        "reasons": [{ "code": "SANCTIONS_HIT", "detail": "payee name matches ofac:90002 `ZENTARA MARITIME HOLDINGS LLC` (programs DEMO-IRAN) with score 0.970; lists ofac:1a2b3c4d" }],
    });
    vec![
        ("scorer-kinesis.json", events::kinesis(&txs)),
        ("scorer-msk.json", events::kafka("vigil-transactions", &txs)),
        ("scorer-decisions.json", events::decision_post(&txs[1])),
        ("alerts-eventbridge.json", events::eventbridge("Vigil alert MEDIUM", alert)),
        ("alerts-eventbridge-compliance.json", events::eventbridge("Vigil alert HIGH", compliance)),
        ("producer-api.json", events::api_post(&format!("[{},{}]", txs[0], txs[1]))),
        ("producer-s3.json", events::s3_put(DROP, "incoming/2018-05-01.csv", 180)),
        // No version id: the copier backs up the current version of the object named.
        (
            "backup-object-created.json",
            serde_json::json!({
                "version": "0", "id": "7e2c8e1a-8c11-4f3e-9d6a-0a4c1f6e2b9d", "detail-type": "Object Created",
                "source": "aws.s3", "account": "123456789012", "time": "2018-05-01T09:31:05Z",
                "region": "us-east-1", "resources": [format!("arn:aws:s3:::{}", vigil_tests::LAKE)],
                "detail": {
                    "version": "0", "bucket": { "name": vigil_tests::LAKE },
                    "object": { "key": "decisions/dt=2018-05-01/batch-1.parquet", "size": 3120, "sequencer": "0" },
                    "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "PutObject",
                },
            }),
        ),
        ("backup-reconcile.json", serde_json::json!({ "action": "reconcile" })),
        ("backup-verify.json", serde_json::json!({ "action": "verify" })),
        // What the template's FraudOpsDaily schedule sends (tests/tests/report_trigger.rs runs it).
        (
            "report-trigger-scheduled.json",
            serde_json::json!({ "report": "fraud-ops", "cadence": "daily", "as_of": "2026-12-07T06:00:00Z" }),
        ),
    ]
}

#[test]
fn fixtures_are_current_and_read_as_lambda_events() {
    let update = std::env::var_os("VIGIL_UPDATE_FIXTURES").is_some();
    for (name, value) in fixtures() {
        let path = workspace().join("events").join(name);
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        if update {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(stored, text, "{name} is stale: rerun with VIGIL_UPDATE_FIXTURES=1");
        let parsed = match name.split('-').next() {
            Some("backup") if name.contains("object") => serde_json::from_value::<
                aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value>,
            >(value)
            .map(|_| ()),
            Some("report") => {
                serde_json::from_value::<vigil_shared::report::trigger::ScheduledReport>(value).map(|_| ())
            }
            Some("backup") => {
                assert!(value["action"].is_string(), "{name}: an action");
                Ok(())
            }
            Some("scorer") if name.contains("decisions") => {
                serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(value).map(|_| ())
            }
            Some("scorer") if name.contains("kinesis") => {
                serde_json::from_value::<aws_lambda_events::kinesis::KinesisEvent>(value).map(|_| ())
            }
            Some("scorer") => {
                serde_json::from_value::<aws_lambda_events::kafka::KafkaEvent>(value).map(|_| ())
            }
            Some("alerts") => serde_json::from_value::<
                aws_lambda_events::eventbridge::EventBridgeEvent<vigil_shared::Alert>,
            >(value)
            .map(|_| ()),
            _ if name.contains("api") => {
                serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(value).map(|_| ())
            }
            _ => serde_json::from_value::<aws_lambda_events::s3::S3Event>(value).map(|_| ()),
        };
        parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace().join("events").join(name)).unwrap()).unwrap()
}

/// What `cargo lambda invoke --data-file events/…` hands each function: the raw JSON,
/// dispatched by shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_runs_through_its_function() {
    vigil_tests::init_logs();
    let moto = vigil_tests::Moto::start();
    let aws = vigil_tests::Aws::new(&moto).await;
    aws.create_table().await;
    aws.create_buckets().await;
    aws.create_stream().await;
    aws.alert_bus().await;
    let topics = aws.topics().await;

    let scorer = aws.scorer();
    let text = |name: &str| serde_json::value::RawValue::from_string(fixture(name).to_string()).unwrap();
    let answer = scorer.handle(text("scorer-kinesis.json")).await.unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
    assert!(scorer.handle(text("scorer-msk.json")).await.is_ok());
    // The stream scorer names no stream to hand decisions to: it serves none.
    let refused = scorer.handle(text("scorer-decisions.json")).await.unwrap();
    assert_eq!(refused["statusCode"], 503);
    let env = BTreeMap::from([
        (env::TABLE.to_owned(), vigil_tests::TABLE.to_owned()),
        (env::LAKE_BUCKET.to_owned(), vigil_tests::LAKE.to_owned()),
        (env::QUARANTINE_BUCKET.to_owned(), vigil_tests::QUARANTINE.to_owned()),
        (env::EVENT_BUS.to_owned(), vigil_tests::BUS.to_owned()),
        (env::STREAM.to_owned(), vigil_tests::STREAM.to_owned()),
    ])
    .into_iter()
    .chain(aws.privacy_env("fixture-token-key-0123456789abcdef").await)
    .collect::<BTreeMap<_, _>>();
    let decider = ScorerHandler::from_vars(&aws.config, &env).await.unwrap();
    let decided = decider.handle(text("scorer-decisions.json")).await.unwrap();
    assert_eq!(decided["statusCode"], 200, "{decided}");
    let body: Value = serde_json::from_str(decided["body"].as_str().unwrap()).unwrap();
    // Scored by the stream above: the recorded decision, not a second one.
    assert_eq!(
        (body["decision_id"].as_str(), body["degraded"].as_bool()),
        (Some("vigil:tx-1002"), Some(false))
    );
    assert_ne!(body["verdict"], "ACCEPT");
    assert!(scorer.handle(text("alerts-eventbridge.json")).await.is_err(), "not the scorer's");

    let alerts: aws_lambda_events::eventbridge::EventBridgeEvent<vigil_shared::Alert> =
        serde_json::from_value(fixture("alerts-eventbridge.json")).unwrap();
    aws.alerts(&topics).handle(alerts).await.unwrap();
    assert_eq!(aws.drain(&topics.medium_inbox).await.len(), 1);
    let compliance: aws_lambda_events::eventbridge::EventBridgeEvent<vigil_shared::Alert> =
        serde_json::from_value(fixture("alerts-eventbridge-compliance.json")).unwrap();
    aws.alerts(&topics).handle(compliance).await.unwrap();
    assert_eq!(aws.drain(&topics.compliance_inbox).await.len(), 1, "compliance alerts go to compliance");
    assert!(aws.drain(&topics.high_inbox).await.is_empty(), "and never to fraud operations");

    let producer = aws.producer();
    let api = producer.handle(fixture("producer-api.json")).await.unwrap();
    assert_eq!(api["statusCode"], 200);
    let csv = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n1,2018-05-01 00:00:31,596,3156,57.16\n";
    aws.s3
        .put_object()
        .bucket(DROP)
        .key("incoming/2018-05-01.csv")
        .body(csv.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let file = producer.handle(fixture("producer-s3.json")).await.unwrap();
    assert_eq!(file["published"], 1);
    // The decision handed off, the API's two, the file's one.
    assert_eq!(aws.stream_records().await.len(), 4);
}
