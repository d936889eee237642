//! Lambda events in the exact shapes the services deliver them (as documented and as
//! `aws_lambda_events` reads them), built around Vigil payloads. `events/` holds copies
//! for `cargo lambda invoke`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A transaction as the wire carries it.
pub fn transaction(id: &str, customer: &str, terminal: &str, amount: &str, at: &str) -> String {
    json!({
        "transaction_id": id, "customer_id": customer, "terminal_id": terminal,
        "amount": amount, "currency": "USD", "timestamp": at,
    })
    .to_string()
}

/// A transfer between accounts, with the payee's name as the payer typed it.
pub fn transfer(id: &str, payer: &str, payee: &str, payee_name: &str, amount: &str, at: &str) -> String {
    json!({
        "type": "transaction", "channel": "transfer", "transaction_id": id,
        "payer_account": payer, "payee_account": payee, "payee_name": payee_name,
        "amount": amount, "currency": "USD", "timestamp": at,
    })
    .to_string()
}

/// A customer's profile: the accounts they own.
pub fn customer(id: &str, name: &str, accounts: &[&str], updated_at: &str) -> String {
    json!({
        "type": "customer", "customer_id": id, "name": name, "country": "GB",
        "risk_rating": "medium", "accounts": accounts, "updated_at": updated_at,
    })
    .to_string()
}

pub fn label(id: &str, fraud: bool, known_at: &str) -> String {
    json!({ "type": "label", "transaction_id": id, "fraud": fraud, "known_at": known_at }).to_string()
}

/// `n` transactions over `customers` and `terminals`, one every 7 s from 2018-04-01,
/// with every `bad_every`-th record malformed in a rotating way (0: none). Amounts are
/// deterministic and now and then above the 10,000 review threshold.
pub fn stream(n: usize, customers: usize, terminals: usize, bad_every: usize) -> Vec<String> {
    let start = chrono::DateTime::parse_from_rfc3339("2018-04-01T00:00:00Z").unwrap();
    (0..n)
        .map(|i| {
            let at = (start + chrono::Duration::seconds(7 * i as i64)).to_rfc3339();
            let id = format!("tx-{i:06}");
            if bad_every > 0 && i % bad_every == bad_every - 1 {
                return match (i / bad_every) % 4 {
                    0 => "{not json".to_owned(),
                    1 => transaction(&id, &format!("c{}", i % customers), "p1", "-5.00", &at),
                    2 => transaction(&id, "", "p1", "10.00", &at),
                    _ => transaction(&id, "c1", "p1", "10.00", "yesterday"),
                };
            }
            let cents = (i * 7919) % 30_000 + 100;
            let amount = if i % 997 == 0 {
                "12500.00".to_owned()
            } else {
                format!("{}.{:02}", cents / 100, cents % 100)
            };
            let customer = format!("c{}", (i * 31) % customers);
            let terminal = format!("p{}", (i * 17 + i / 50) % terminals);
            transaction(&id, &customer, &terminal, &amount, &at)
        })
        .collect()
}

/// Kinesis sequence numbers increase along the shard.
pub fn sequence_number(i: usize) -> String {
    format!("49590338271490256608559692538361571095921575989136{i:06}")
}

/// A Kinesis batch as the event source mapping delivers it.
pub fn kinesis(payloads: &[String]) -> Value {
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let seq = sequence_number(i);
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("pk-{}", i % 16),
                    "sequenceNumber": seq,
                    "data": STANDARD.encode(p),
                    "approximateArrivalTimestamp": 1_700_000_000.5 + i as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/vigil-scorer"),
                "awsRegion": REGION,
                "eventSourceARN": format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{}", crate::STREAM),
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An MSK batch: records grouped by `topic-partition`, values base64.
pub fn kafka(topic: &str, payloads: &[String]) -> Value {
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "topic": topic, "partition": 0, "offset": i, "timestamp": 1_700_000_000_000i64 + i as i64,
                "timestampType": "CREATE_TIME", "key": STANDARD.encode(format!("k{i}")),
                "value": STANDARD.encode(p), "headers": [],
            })
        })
        .collect();
    json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": format!("arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/vigil/abcd1234-0123-4567-89ab-cdef01234567-1"),
        "bootstrapServers": "b-1.vigil.abcd12.c1.kafka.us-east-1.amazonaws.com:9098",
        "records": { format!("{topic}-0"): records },
    })
}

/// An alert as the EventBridge rule delivers it to the alerts function.
pub fn eventbridge(detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "vigil",
        "account": ACCOUNT,
        "time": "2018-05-01T09:30:05Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    })
}

/// An S3 ObjectCreated notification for `bucket/key` (key URL-encoded, as S3 sends it).
pub fn s3_put(bucket: &str, key: &str, size: usize) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2018-05-01T09:30:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "AWS:AIDAEXAMPLE" },
        "requestParameters": { "sourceIPAddress": "10.0.0.1" },
        "responseElements": { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD" },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "vigil-intake",
            "bucket": { "name": bucket, "ownerIdentity": { "principalId": "A3NL1KOZZKExample" }, "arn": format!("arn:aws:s3:::{bucket}") },
            "object": { "key": key.replace(' ', "+"), "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5" },
        },
    }]})
}

/// `POST /transactions` through an HTTP API (payload format 2.0).
pub fn api_post(body: &str) -> Value {
    vigil_local::e2e::api_request(body)
}

/// `POST /v1/decisions` as API Gateway hands it to the decision function.
pub fn decision_post(body: &str) -> Value {
    vigil_local::e2e::decision_request(body)
}
