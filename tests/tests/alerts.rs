//! The alerts function on real EventBridge events against moto: one message per alert on
//! its severity's topic, readable by an analyst, with filterable attributes and the alert
//! id; at least once (never lost, whatever step fails), and a second time only after an
//! invocation died between publishing and recording the alert.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use vigil_local::sources::{Container, Function, Progress, run_rule_target};
use vigil_local::stack::RuleTarget;
use vigil_shared::alert::{DEFAULT_LEASE, FanOut, FanOutError};
use vigil_shared::aws::Timeouts;
use vigil_shared::aws::dynamodb::DynamoAlertLedger;
use vigil_shared::aws::lambda::{AlertsHandler, HandlerError};
use vigil_shared::aws::sns::SnsNotifier;
use vigil_shared::{Alert, Decision, Reason, Verdict};
use vigil_tests::{Aws, Moto, TABLE, Topics, events};

/// The body of the PutItem that records an alert as sent.
const SENT_MARK: &str = r#""state":{"S":"sent"}"#;

fn alert(verdict: Verdict, id: &str) -> Alert {
    let tx = vigil_shared::Transaction {
        id: vigil_shared::TransactionId::parse(id).unwrap(),
        customer: vigil_shared::CustomerId::parse("4111111111111111").unwrap(),
        terminal: vigil_shared::TerminalId::parse("term-7").unwrap(),
        amount: vigil_shared::Amount::parse("12500.00").unwrap(),
        currency: vigil_shared::Currency::USD,
        at: "2018-05-01T09:30:00Z".parse().unwrap(),
    };
    let decision = Decision {
        transaction_id: tx.id.clone(),
        score: 0.97,
        verdict,
        reasons: vec![Reason {
            code: "RULE_AMOUNT_OVER_THRESHOLD".into(),
            detail: "12500.00 USD > 10000".into(),
        }],
    };
    Alert::for_decision(&decision, &tx).unwrap()
}

fn event(alert: &Alert) -> EventBridgeEvent<Alert> {
    let detail_type = vigil_shared::aws::eventbridge::detail_type(alert);
    serde_json::from_value(events::eventbridge(&detail_type, serde_json::to_value(alert).unwrap())).unwrap()
}

/// The SNS envelopes on an inbox queue.
async fn envelopes(aws: &Aws, inbox: &str) -> Vec<serde_json::Value> {
    let messages = aws.drain(inbox).await;
    messages.iter().map(|m| serde_json::from_str(m.body().unwrap()).unwrap()).collect()
}

/// The ledger's state for `alert` (`sending`, `sent`), if it has an item.
async fn ledger_state(aws: &Aws, alert: &Alert) -> Option<String> {
    let items = aws.items().await;
    let item = items.get(&format!("alert#{}", alert.id))?;
    Some(item.get("state").and_then(|s| s.as_s().ok()).cloned().unwrap_or_default())
}

/// moto with the state table and both topics, each with an inbox (keep the server alive).
async fn local_aws() -> (Moto, Aws, Topics) {
    vigil_tests::init_logs();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    let topics = aws.topics().await;
    (moto, aws, topics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_reaches_its_severity_topic_once_with_a_masked_card() {
    let (_moto, aws, topics) = local_aws().await;
    let handler = aws.alerts(&topics);

    let block = alert(Verdict::Block, "tx-1");
    let review = alert(Verdict::Review, "tx-2");
    assert_eq!(handler.handle(event(&block)).await.unwrap(), FanOut::Sent);
    assert_eq!(handler.handle(event(&block)).await.unwrap(), FanOut::Duplicate, "redelivery");
    assert_eq!(handler.handle(event(&review)).await.unwrap(), FanOut::Sent);

    let high = envelopes(&aws, &topics.high_inbox).await;
    let medium = envelopes(&aws, &topics.medium_inbox).await;
    assert_eq!((high.len(), medium.len()), (1, 1), "one message per alert, on its topic");
    let envelope = &high[0];
    let text = envelope["Message"].as_str().unwrap();
    assert!(
        text.starts_with("[HIGH] BLOCK score 0.970: card ****1111, 12500 USD at terminal term-7"),
        "{text}"
    );
    assert!(text.contains("decision record: transaction tx-1"));
    assert!(text.ends_with("alert id: vigil:tx-1"), "{text}");
    assert!(!envelope.to_string().contains("4111111111111111"), "no unmasked card anywhere");
    assert_eq!(envelope["Subject"], "Vigil HIGH BLOCK: transaction tx-1");
    let attributes = &envelope["MessageAttributes"];
    assert_eq!(attributes["alert_id"]["Value"], "vigil:tx-1");
    assert_eq!(attributes["severity"]["Value"], "HIGH");
    assert_eq!(attributes["verdict"]["Value"], "BLOCK");
    assert_eq!(attributes["transaction_id"]["Value"], "tx-1");
    assert_eq!(attributes["rule_codes"]["Value"], r#"["RULE_AMOUNT_OVER_THRESHOLD"]"#);
    assert_eq!(medium[0]["MessageAttributes"]["alert_id"]["Value"], "vigil:tx-2");
    assert_eq!(ledger_state(&aws, &block).await.as_deref(), Some("sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_function_dies_after_publishing_is_delivered_once_or_twice_never_zero() {
    let (_moto, aws, topics) = local_aws().await;
    let handler = aws.alerts(&topics);
    let block = alert(Verdict::Block, "tx-1");
    let t0 = chrono::Utc::now();

    // GIVEN an invocation that publishes, then dies before recording the alert as sent.
    aws.calls.fail_next(1, SENT_MARK);
    let died = handler.handle_at(event(&block), t0).await;
    assert!(matches!(died, Err(HandlerError::Alert(FanOutError::Unrecorded { .. }))), "{died:?}");
    assert_eq!(ledger_state(&aws, &block).await.as_deref(), Some("sending"), "its lease is left");

    // WHEN a retry comes while the lease is live, THEN it fails (to be retried), it is no
    // Duplicate: the lease's holder might have died before publishing.
    let early = handler.handle_at(event(&block), t0 + Duration::from_secs(10)).await;
    assert!(matches!(early, Err(HandlerError::Alert(FanOutError::LeaseHeld { .. }))), "{early:?}");

    // WHEN a retry comes after the lease, THEN it sends, and later ones are duplicates.
    let after = t0 + DEFAULT_LEASE + Duration::from_secs(1);
    assert_eq!(handler.handle_at(event(&block), after).await.unwrap(), FanOut::Sent);
    assert_eq!(handler.handle_at(event(&block), after).await.unwrap(), FanOut::Duplicate);
    assert_eq!(ledger_state(&aws, &block).await.as_deref(), Some("sent"));

    let inbox = envelopes(&aws, &topics.high_inbox).await;
    assert!((1..=2).contains(&inbox.len()), "delivered {} times", inbox.len());
    for envelope in &inbox {
        assert_eq!(
            envelope["MessageAttributes"]["alert_id"]["Value"], "vigil:tx-1",
            "subscribers can dedupe"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_failure_gives_the_lease_back_and_the_retry_sends() {
    let (_moto, aws, topics) = local_aws().await;
    let mut handler = aws.alerts(&topics);
    handler.notifier = SnsNotifier::new(aws.sns_with_calls(), &topics.medium, &topics.high);
    let block = alert(Verdict::Block, "tx-1");
    let t0 = chrono::Utc::now();

    aws.calls.fail_next(1, "Action=PublishBatch");
    let failed = handler.handle_at(event(&block), t0).await;
    assert!(matches!(failed, Err(HandlerError::Alert(FanOutError::Publish { .. }))), "{failed:?}");
    assert_eq!(ledger_state(&aws, &block).await, None, "the lease was given back");
    assert!(aws.drain(&topics.high_inbox).await.is_empty());

    // A retry one second on, well inside the lease it gave back, sends.
    let retry = handler.handle_at(event(&block), t0 + Duration::from_secs(1)).await;
    assert_eq!(retry.unwrap(), FanOut::Sent);
    assert_eq!(aws.calls.counts()["PublishBatch"], 1, "the failed publish never left");
    assert_eq!(envelopes(&aws, &topics.high_inbox).await.len(), 1);
    assert_eq!(ledger_state(&aws, &block).await.as_deref(), Some("sent"));
}

/// The local stand-in of Lambda's asynchronous retries waits out the function's lease: an
/// alert whose first invocation died after publishing is sent by the retry, not
/// dead-lettered as a retry inside the lease would leave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_retries_wait_out_the_lease_and_deliver_an_alert_whose_invocation_died() {
    let (_moto, aws, topics) = local_aws().await;
    let mut handler = aws.alerts(&topics);
    let lease = Duration::from_secs(2);
    handler.ledger = DynamoAlertLedger::new(aws.dynamodb.clone(), TABLE).with_lease(lease);
    handler.metrics = vigil_shared::metrics::MetricsSink::Off;
    let (tap, _) = aws.queue("alerts-tap").await;
    let (dead_letters, _) = aws.queue("alerts-dlq").await;
    let block = alert(Verdict::Block, "tx-1");
    aws.sqs
        .send_message()
        .queue_url(&tap)
        .message_body(serde_json::to_string(&event(&block)).unwrap())
        .send()
        .await
        .unwrap();

    aws.calls.fail_next(1, SENT_MARK);
    let target = RuleTarget {
        function: "AlertsFunction".into(),
        queue_url: tap,
        // One retry: it must not come inside the lease.
        attempts: 2,
        on_failure: Some(dead_letters.clone()),
    };
    let progress = Progress::default();
    let started = Instant::now();
    let run = tokio::spawn(run_rule_target(
        target,
        aws.sqs.clone(),
        Arc::new(Container { function: Function::Alerts(handler), tripwire: None }),
        progress.clone(),
        None,
    ));
    while progress.done.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    progress.stop.store(true, Ordering::SeqCst);
    run.await.unwrap().unwrap();

    assert_eq!(progress.done.load(Ordering::SeqCst), 1);
    assert_eq!(progress.dead_lettered.load(Ordering::SeqCst), 0);
    assert!(aws.drain(&dead_letters).await.is_empty());
    assert_eq!(progress.invocations.load(Ordering::SeqCst), 2, "one death, one retry after the lease");
    assert!(started.elapsed() > lease, "the retry came after the lease");
    let inbox = envelopes(&aws, &topics.high_inbox).await;
    assert_eq!(inbox.len(), 2, "published by both: the one duplicate the crash window allows");
    assert_eq!(ledger_state(&aws, &block).await.as_deref(), Some("sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_aws_call_fails_within_the_functions_operation_timeout() {
    vigil_tests::init_logs();
    let timeouts = Timeouts::ALERTS;
    let config = vigil_tests::config_with(&vigil_tests::stalled_endpoint(), timeouts).await;
    let vars = std::collections::BTreeMap::from([
        ("VIGIL_TABLE".to_owned(), TABLE.to_owned()),
        ("VIGIL_TOPIC_MEDIUM".to_owned(), "arn:aws:sns:us-east-1:123456789012:medium".to_owned()),
        ("VIGIL_TOPIC_HIGH".to_owned(), "arn:aws:sns:us-east-1:123456789012:high".to_owned()),
        ("VIGIL_TOPIC_COMPLIANCE".to_owned(), "arn:aws:sns:us-east-1:123456789012:compliance".to_owned()),
    ]);
    let handler = AlertsHandler::from_vars(&config, &vars).unwrap();

    let started = Instant::now();
    let outcome =
        tokio::time::timeout(timeouts.function, handler.handle(event(&alert(Verdict::Block, "tx-1"))))
            .await
            .expect("the call gave up before the function's timeout");
    let took = started.elapsed();

    let Err(HandlerError::Alert(FanOutError::Ledger(error))) = outcome else {
        panic!("expected the ledger call to fail, got {outcome:?}")
    };
    assert!(error.message.contains("timeout"), "{error}");
    assert!(took >= timeouts.attempt * 2, "attempts were retried before giving up: {took:?}");
    assert!(took < timeouts.operation + Duration::from_secs(1), "gave up at the operation timeout: {took:?}");
}

/// Each function's AWS timeouts are sized for the Lambda timeout the template gives it, and
/// the alerts lease sits between the alerts function's timeout and Lambda's first retry.
#[test]
fn aws_timeouts_and_the_alert_lease_match_the_template() {
    let template = vigil_local::Template::load(&vigil_local::template_path()).unwrap();
    let stack = vigil_local::LocalStack::planned(template.clone(), "vigil", &Default::default())
        .expect("the template resolves");
    for function in template.of_kind("AWS::Serverless::Function") {
        let timeouts = match vigil_local::Template::binary(&function) {
            // The scorer binary picks its timeouts by the role its environment gives it.
            Some("scorer") => {
                vigil_shared::aws::lambda::ScorerHandler::timeouts(&stack.environment(&function).unwrap())
            }
            Some("alerts") => Timeouts::ALERTS,
            Some("producer") => Timeouts::PRODUCER,
            Some("backup-copier") => Timeouts::BACKUP,
            Some("report-trigger") => Timeouts::REPORTS,
            other => panic!("{}: unknown binary {other:?}", function.id),
        };
        let timeout = function.properties["Timeout"].as_u64().expect("a literal Timeout");
        assert_eq!(Duration::from_secs(timeout), timeouts.function, "{}", function.id);
    }
    let lease = &template.doc["Parameters"]["AlertLeaseSeconds"];
    let default = Duration::from_secs(lease["Default"].as_u64().unwrap());
    assert_eq!(default, DEFAULT_LEASE);
    assert!(default > Timeouts::ALERTS.function, "no live invocation loses its lease");
    let max = Duration::from_secs(lease["MaxValue"].as_u64().unwrap());
    assert_eq!(max, vigil_shared::aws::lambda::MAX_ALERT_LEASE);
}
