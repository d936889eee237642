//! The alerts function on real EventBridge events against moto: one message per alert on
//! its severity's topic, readable by an analyst, with filterable attributes, never twice.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use vigil_shared::alert::FanOut;
use vigil_shared::{Alert, Decision, Reason, Verdict};
use vigil_tests::{Aws, Moto, events};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_reaches_its_severity_topic_once_with_a_masked_card() {
    vigil_tests::init_logs();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    let topics = aws.topics().await;
    let handler = aws.alerts(&topics);

    let block = alert(Verdict::Block, "tx-1");
    let review = alert(Verdict::Review, "tx-2");
    assert_eq!(handler.handle(event(&block)).await.unwrap(), FanOut::Sent);
    assert_eq!(handler.handle(event(&block)).await.unwrap(), FanOut::Duplicate, "redelivery");
    assert_eq!(handler.handle(event(&review)).await.unwrap(), FanOut::Sent);

    let high = aws.drain(&topics.high_inbox).await;
    let medium = aws.drain(&topics.medium_inbox).await;
    assert_eq!((high.len(), medium.len()), (1, 1), "one message per alert, on its topic");
    let envelope: serde_json::Value = serde_json::from_str(high[0].body().unwrap()).unwrap();
    let text = envelope["Message"].as_str().unwrap();
    assert!(
        text.starts_with("[HIGH] BLOCK score 0.970: card ****1111, 12500 USD at terminal term-7"),
        "{text}"
    );
    assert!(text.contains("decision record: transaction tx-1"));
    assert!(!envelope.to_string().contains("4111111111111111"), "no unmasked card anywhere");
    assert_eq!(envelope["Subject"], "Vigil HIGH BLOCK: transaction tx-1");
    assert_eq!(envelope["MessageAttributes"]["severity"]["Value"], "HIGH");
    assert_eq!(envelope["MessageAttributes"]["rule_codes"]["Value"], r#"["RULE_AMOUNT_OVER_THRESHOLD"]"#);
}
