//! The decision API (`POST /v1/decisions`) on moto, as template.yaml deploys it: the
//! decision function (the scorer binary with a stream to hand off to) beside the stream
//! scorer, the producer for labels, and the rest of the pipeline.

use std::time::{Duration, Instant};
use vigil_local::LocalStack;
use vigil_local::drill::{Expected, Stored, judge};
use vigil_local::e2e::{self, Options, decision_request};
use vigil_shared::aws::lambda::ScorerHandler;
use vigil_shared::metrics::MetricsSink;
use vigil_tests::{Moto, events, init_logs};

const OPS: &str = "ops@example.com";

/// The stack, with the decision API's store budget in milliseconds: generous where a test
/// needs recorded (not degraded) decisions on a loaded machine, the template's own (150)
/// where it tests the budget.
async fn stack(moto: &Moto, budget: u32) -> (aws_config::SdkConfig, LocalStack) {
    let budget = budget.to_string();
    let parameters = [("AlertEmail", OPS), ("AlertLeaseSeconds", "2"), ("DecisionBudgetMs", budget.as_str())];
    vigil_tests::template_stack(moto, &parameters).await
}

/// The decision function as Lambda builds it from the template's environment.
async fn decider(config: &aws_config::SdkConfig, stack: &LocalStack) -> ScorerHandler {
    let env = stack.environment(&stack.function("decision").expect("DecisionFunction")).unwrap();
    let mut h = ScorerHandler::from_vars(config, &env).await.expect("decision function configures");
    h.metrics = MetricsSink::Off;
    h
}

async fn ask(h: &ScorerHandler, body: &str) -> (i64, serde_json::Value) {
    let request = serde_json::from_value(decision_request(body)).unwrap();
    let response = h.decisions(request, chrono::Utc::now()).await;
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(&text).unwrap(),
        other => panic!("a JSON body, not {other:?}"),
    };
    (response.status_code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decided_transactions_are_counted_once_by_the_stream_and_reach_the_lake_and_the_inbox() {
    init_logs();
    let moto = Moto::start();
    let (config, stack) = stack(&moto, 2000).await;
    let mut payloads: Vec<String> = events::stream(240, 30, 40, 40)
        .into_iter()
        .filter(|p| serde_json::from_str::<serde_json::Value>(p).is_ok())
        .collect();
    payloads.push(events::label("tx-000001", true, "2018-04-08T00:00:00Z"));
    let options = Options {
        request_size: 10,
        rate: None,
        drain_timeout: Duration::from_secs(90),
        ops_endpoint: OPS.to_owned(),
        compliance_endpoint: None,
        chaos: None,
        decide: true,
    };
    let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await.expect("run");
    let expected = Expected::of(&payloads, &e2e::stack_privacy(&config, &stack).await.unwrap());
    assert!(report.rejected > 0, "bad records are refused per item");
    assert_eq!(report.labels, 1, "the label went through the producer");
    let requests = payloads.chunks(10).filter(|c| c.iter().any(|p| !p.contains(r#""type":"label""#))).count();
    assert_eq!(report.decision_latencies.len(), requests);
    assert_eq!(report.degraded, 0);
    assert!(report.accounted(), "{report:?}");
    // The stream scorer saw every decided transaction again and counted none twice.
    let stored =
        Stored::read(&aws_sdk_dynamodb::Client::new(&config), &stack.resources["StateTable"].reference)
            .await
            .unwrap();
    let findings = judge(&expected, &stored);
    assert!(findings.exact(), "{findings:?}");
    assert_eq!(findings.counted_once, expected.transactions.len());
    assert!(!report.alerts.is_empty(), "decisions over the threshold alerted through the stream path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_answers_the_same_decision_and_bad_items_get_their_own_answer() {
    let moto = Moto::start();
    let (config, stack) = stack(&moto, 2000).await;
    let h = decider(&config, &stack).await;
    let tx = events::transaction("tx-1", "c1", "t1", "12500.00", "2018-04-01T10:00:00Z");
    let (status, first) = ask(&h, &tx).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "decided");
    assert_eq!(first["transaction_id"], "tx-1");
    assert_ne!(first["verdict"], "ACCEPT", "over the review rule");
    assert_eq!(first["degraded"], false, "{first}");
    assert!(first["model_version"].as_str().is_some_and(|v| !v.is_empty()));
    let (_, again) = ask(&h, &tx).await;
    assert_eq!(again, first);

    // DynamoDB round trips: one batched read and one transaction per new decision (a customer
    // with history: its week of terminal hours, its state, its frauds), one read for a repeat.
    let store = h.pipeline.scorer.store();
    for i in 0..5 {
        let at = format!("2018-04-0{}T10:00:00Z", 2 + i);
        ask(&h, &events::transaction(&format!("tx-w{i}"), "c1", "t1", "30.00", &at)).await;
    }
    let before = store.usage();
    ask(&h, &events::transaction("tx-new", "c1", "t1", "31.00", "2018-04-08T10:00:00Z")).await;
    let new = store.usage().since(&before);
    assert_eq!((new.batch_gets, new.transactions), (1, 1), "{new:?}");
    let before = store.usage();
    ask(&h, &tx).await;
    let repeat = store.usage().since(&before);
    assert_eq!((repeat.batch_gets, repeat.transactions), (1, 0), "{repeat:?}");
    println!(
        "one decision: {:.1} read units, {:.1} write units; a repeat: {:.1} read units",
        new.read_units, new.write_units, repeat.read_units
    );

    let mixed = format!(r#"[{tx}, {{"transaction_id":"tx-2","amount":"-1"}}, "no"]"#);
    let (status, answers) = ask(&h, &mixed).await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> =
        answers.as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["decided", "rejected", "rejected"]);
    let too_many = format!("[{}]", vec![tx.as_str(); 101].join(","));
    let (status, answer) = ask(&h, &too_many).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (413, Some("TOO_MANY_ITEMS")));
    let (status, answer) = ask(&h, "{").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("MALFORMED_BODY")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_missing_table_degrades_the_answer_within_the_budget() {
    let moto = Moto::start();
    let (config, stack) = stack(&moto, 150).await;
    let h = decider(&config, &stack).await;
    let tx = |id: &str| events::transaction(id, "c1", "t1", "40.00", "2018-04-01T10:00:00Z");
    // Warm: connections open, moto's backends loaded, as past a container's first request.
    ask(&h, &tx("tx-warm")).await;

    let stall = serde_json::json!({ "seed": 1, "rules": [
        { "target": "DynamoDB_20120810.BatchGetItem", "fault": "slow", "ms": 3000, "rate": 1.0 },
    ]});
    vigil_local::moto::set_faults(&moto.endpoint, &stall).unwrap();
    let asked = Instant::now();
    let (status, answer) = ask(&h, &tx("tx-slow")).await;
    let took = asked.elapsed();
    assert_eq!((status, answer["degraded"].as_bool()), (200, Some(true)), "{answer}");
    assert!(answer["degraded_reason"].as_str().unwrap().contains("150 ms"));
    // The budget plus the stream handoff (moto serves one request at a time, and the stalled
    // read holds it): well under the function's timeout, far from the 3 s stall.
    assert!(took < Duration::from_millis(1_500), "answered after {took:?}");
    vigil_local::moto::set_faults(&moto.endpoint, &serde_json::json!({ "rules": [] })).unwrap();

    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    dynamodb.delete_table().table_name(&stack.resources["StateTable"].reference).send().await.unwrap();
    let (status, answer) = ask(&h, &tx("tx-gone")).await;
    assert_eq!((status, answer["degraded"].as_bool()), (200, Some(true)), "{answer}");
    assert!(answer["degraded_reason"].as_str().unwrap().contains("failed"), "{answer}");
}
