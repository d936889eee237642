//! The MSK path through a real Kafka-protocol broker (tansu): the producer publishes to a
//! three-partition topic, records are read back as the event source mapping would deliver
//! them, and the scorer scores them; a redelivered batch changes nothing. A partition's
//! records go in produce requests the broker's default limit (1 MiB) accepts, in order.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::kafka::KafkaEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use serde_json::json;
use std::collections::BTreeMap;
use vigil_shared::aws::msk::{KafkaAuth, KafkaPublisher};
use vigil_shared::intake::Publisher;
use vigil_shared::{Currency, Event};
use vigil_tests::{Aws, Expected, Kafka, Moto, events};

const TOPIC: &str = "vigil-transactions";
const PARTITIONS: i32 = 3;

/// Everything on the topic, as one MSK event (records grouped by `topic-partition`).
async fn read_back(broker: &str) -> (serde_json::Value, BTreeMap<i32, Vec<String>>) {
    let client = ClientBuilder::new(vec![broker.to_owned()]).build().await.unwrap();
    let mut groups = serde_json::Map::new();
    let mut keys = BTreeMap::new();
    for p in 0..PARTITIONS {
        let partition = client.partition_client(TOPIC, p, UnknownTopicHandling::Error).await.unwrap();
        let (records, _) = partition.fetch_records(0, 1..10_000_000, 1_000).await.unwrap();
        let mut out = Vec::new();
        for r in records {
            let key = String::from_utf8(r.record.key.clone().unwrap()).unwrap();
            keys.entry(p).or_insert_with(Vec::new).push(key);
            out.push(json!({
                "topic": TOPIC, "partition": p, "offset": r.offset,
                "timestamp": r.record.timestamp.timestamp_millis(), "timestampType": "CREATE_TIME",
                "key": STANDARD.encode(r.record.key.unwrap_or_default()),
                "value": STANDARD.encode(r.record.value.unwrap_or_default()), "headers": [],
            }));
        }
        groups.insert(format!("{TOPIC}-{p}"), out.into());
    }
    let event = json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/vigil/local",
        "bootstrapServers": broker,
        "records": groups,
    });
    (event, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_go_through_kafka_partitioned_by_customer_and_are_scored_once() {
    vigil_tests::init_logs();
    let (moto, kafka) = (Moto::start(), Kafka::start());
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    aws.create_buckets().await;
    aws.alert_bus().await;
    let admin = ClientBuilder::new(vec![kafka.broker.clone()]).build().await.unwrap();
    admin.controller_client().unwrap().create_topic(TOPIC, PARTITIONS, 1, 5_000).await.unwrap();

    let publisher =
        KafkaPublisher::connect(vec![kafka.broker.clone()], TOPIC, KafkaAuth::Plaintext).await.unwrap();
    let producer = aws.producer_to(publisher);
    // A REST body is one JSON array: its items must be JSON (invalid ones are still sent).
    let payloads: Vec<String> = events::stream(300, 40, 30, 25)
        .into_iter()
        .filter(|p| serde_json::from_str::<serde_json::Value>(p).is_ok())
        .collect();
    let expected = Expected::of(&payloads);
    assert!(expected.invalid > 0);
    let body = format!("[{}]", payloads.join(","));
    let request: ApiGatewayV2httpRequest = serde_json::from_value(events::api_post(&body)).unwrap();
    let response = producer.api(request, chrono::Utc::now()).await;
    assert_eq!(response.status_code, 200, "{:?}", response.body);

    let (event, keys) = read_back(&kafka.broker).await;
    let on_topic: usize = keys.values().map(Vec::len).sum();
    assert_eq!(on_topic, expected.valid, "every valid transaction published once");
    assert!(keys.len() > 1, "spread over partitions");
    for (p, ks) in &keys {
        for k in ks {
            assert!(
                keys.iter().all(|(q, other)| q == p || !other.contains(k)),
                "customer {k} on one partition"
            );
        }
    }

    let scorer = aws.scorer();
    let batch: KafkaEvent = serde_json::from_value(event.clone()).unwrap();
    scorer.kafka(batch, chrono::Utc::now()).await.unwrap();
    assert_eq!(aws.counted("c#").await, expected.customers);
    let before = aws.items().await.len();
    let again: KafkaEvent = serde_json::from_value(event).unwrap();
    scorer.kafka(again, chrono::Utc::now()).await.unwrap();
    assert_eq!(aws.counted("c#").await, expected.customers, "a redelivered Kafka batch counts nothing twice");
    assert_eq!(aws.items().await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_megabyte_for_one_partition_goes_in_ordered_requests_under_the_broker_limit() {
    vigil_tests::init_logs();
    let kafka = Kafka::start();
    let admin = ClientBuilder::new(vec![kafka.broker.clone()]).build().await.unwrap();
    admin.controller_client().unwrap().create_topic("vigil-one", 1, 1, 5_000).await.unwrap();
    let publisher =
        KafkaPublisher::connect(vec![kafka.broker.clone()], "vigil-one", KafkaAuth::Plaintext).await.unwrap();
    // One customer: every record on one partition, in this order.
    let start = chrono::DateTime::parse_from_rfc3339("2018-04-01T00:00:00Z").unwrap();
    let events: Vec<Event> = (0..8_000)
        .map(|i| {
            let at = (start + chrono::Duration::seconds(i)).to_rfc3339();
            let json = events::transaction(&format!("tx-{i:06}"), "c1", "p1", "12.50", &at);
            Event::from_json(json.as_bytes(), Currency::USD, chrono::Utc::now()).unwrap()
        })
        .collect();
    let total: usize = events.iter().map(|e| e.to_json().len()).sum();
    assert!(total > 1 << 20, "{total} bytes: more than one request may carry");

    publisher.publish(&events).await.unwrap();

    // tansu accepts requests of any size, but keeps each one as a record batch, and a
    // fetch for one byte returns exactly one batch: the requests can be told apart.
    let partition = admin.partition_client("vigil-one", 0, UnknownTopicHandling::Error).await.unwrap();
    let (mut offset, mut requests, mut values) = (0, Vec::new(), Vec::new());
    loop {
        let (batch, _) = partition.fetch_records(offset, 1..2, 1_000).await.unwrap();
        let Some(last) = batch.last() else { break };
        offset = last.offset + 1;
        let bytes: usize = batch
            .iter()
            .map(|r| r.record.key.as_ref().map_or(0, Vec::len) + r.record.value.as_ref().map_or(0, Vec::len))
            .sum();
        requests.push(bytes);
        values.extend(batch.into_iter().map(|r| r.record.value.unwrap_or_default()));
    }
    assert!(requests.len() >= 2, "{requests:?}");
    assert!(requests.iter().all(|&b| b < 1 << 20), "each produce request under 1 MiB: {requests:?}");
    let sent: Vec<Vec<u8>> = events.iter().map(|e| e.to_json().into_bytes()).collect();
    assert_eq!(values.len(), sent.len());
    assert!(values == sent, "the partition holds the records in input order");
}
