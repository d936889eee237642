//! Everything the local stack stored, written under a directory for an auditor to search:
//! DynamoDB items, S3 objects as stored (every version), Kinesis records, messages left on
//! the queues, and the alerts the inboxes received. (Secrets Manager's token key is a
//! secret by design and is not written.)
//!
//! ```text
//! DIR/dynamodb/<table>.jsonl        one item per line, DynamoDB's JSON (`{"pk":{"S":…}}`)
//! DIR/s3/<bucket>/<key>             the newest version's bytes
//! DIR/s3/<bucket>/<key>.versions/<version id>   older versions
//! DIR/kinesis/<stream>.jsonl        {"shard","sequence","partition_key","data"} per record
//! DIR/sqs/<queue>.jsonl             the body of each message still on the queue
//! DIR/alerts/<inbox>.jsonl          each alert as its inbox received it
//! DIR/logs/<function>.jsonl         each function's log lines (written by the CLI)
//! ```

use crate::e2e::Received;
use crate::stack::{LocalStack, describe};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::path::{Component, Path, PathBuf};

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dumped {
    pub items: usize,
    pub objects: usize,
    pub records: usize,
    pub messages: usize,
    pub alerts: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, bytes).map_err(io(path))
}

fn lines(values: impl IntoIterator<Item = Value>) -> Vec<u8> {
    values.into_iter().flat_map(|v| format!("{v}\n").into_bytes()).collect()
}

/// `key` as a relative path under `root`: no absolute parts, no `..`.
fn under(root: &Path, key: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    for part in Path::new(key).components() {
        match part {
            Component::Normal(p) => out.push(p),
            _ => out.push("_"),
        }
    }
    out
}

/// DynamoDB's own JSON form of an attribute.
fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_smithy_types::Blob| STANDARD.encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => json!({ "NS": n }),
        AttributeValue::Bs(bs) => json!({ "BS": bs.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(m) => {
            json!({ "M": m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>() })
        }
        _ => json!({ "UNKNOWN": format!("{v:?}") }),
    }
}

/// Writes what `stack` holds under `dir`, and the alerts each inbox received.
pub async fn dump(
    config: &SdkConfig,
    stack: &LocalStack,
    inboxes: &[(&str, &[Received])],
    dir: &Path,
) -> Result<Dumped, String> {
    let mut d = Dumped::default();
    let physical = |kind: &str| -> Vec<String> {
        stack
            .template
            .of_kind(kind)
            .iter()
            .filter_map(|r| stack.resources.get(&r.id).map(|p| p.reference.clone()))
            .collect()
    };

    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    for table in physical("AWS::DynamoDB::Table") {
        let mut items = Vec::new();
        let mut pages = dynamodb.scan().table_name(&table).into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| describe(&e))?;
            items.push(Value::Object(item.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()));
        }
        d.items += items.len();
        write(&dir.join("dynamodb").join(format!("{table}.jsonl")), &lines(items))?;
    }

    let s3 = vigil_shared::aws::s3::client(config);
    for bucket in physical("AWS::S3::Bucket") {
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = s3
                .list_object_versions()
                .bucket(&bucket)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            for v in page.versions() {
                let (Some(key), Some(version)) = (v.key(), v.version_id()) else { continue };
                let out = s3.get_object().bucket(&bucket).key(key).version_id(version).send().await;
                let body = out.map_err(|e| describe(&e))?.body.collect().await.map_err(|e| describe(&e))?;
                let name = match v.is_latest() {
                    Some(true) => key.to_owned(),
                    _ => format!("{key}.versions/{version}"),
                };
                let path = under(&dir.join("s3").join(&bucket), &name);
                write(&path, &body.into_bytes())?;
                d.objects += 1;
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
        }
    }

    let kinesis = aws_sdk_kinesis::Client::new(config);
    for stream in physical("AWS::Kinesis::Stream") {
        let mut records = Vec::new();
        let shards = kinesis.list_shards().stream_name(&stream).send().await.map_err(|e| describe(&e))?;
        for shard in shards.shards() {
            let iterator = kinesis
                .get_shard_iterator()
                .stream_name(&stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let mut next = iterator.shard_iterator;
            while let Some(it) = next {
                let out = kinesis.get_records().shard_iterator(it).limit(10_000).send().await;
                let out = out.map_err(|e| describe(&e))?;
                for r in out.records() {
                    records.push(json!({
                        "shard": shard.shard_id(),
                        "sequence": r.sequence_number(),
                        "partition_key": r.partition_key(),
                        "data": String::from_utf8_lossy(r.data().as_ref()),
                    }));
                }
                // Caught up: moto hands out a next iterator for ever.
                next = if out.records().is_empty() { None } else { out.next_shard_iterator };
            }
        }
        d.records += records.len();
        write(&dir.join("kinesis").join(format!("{stream}.jsonl")), &lines(records))?;
    }

    let sqs = aws_sdk_sqs::Client::new(config);
    let queues = physical("AWS::SQS::Queue").into_iter().chain(stack.inboxes.values().cloned());
    for url in queues {
        let mut bodies = Vec::new();
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            bodies.extend(messages.iter().map(|m| json!({ "body": m.body() })));
        }
        d.messages += bodies.len();
        let name = url.rsplit('/').next().unwrap_or("queue");
        write(&dir.join("sqs").join(format!("{name}.jsonl")), &lines(bodies))?;
    }

    for (inbox, alerts) in inboxes {
        let rows = alerts.iter().map(|a| {
            json!({ "alert_id": a.alert_id, "transaction_id": a.transaction_id, "severity": a.severity,
                    "subject": a.subject, "message": a.message })
        });
        d.alerts += alerts.len();
        write(&dir.join("alerts").join(format!("{inbox}.jsonl")), &lines(rows))?;
    }
    Ok(d)
}

/// Splits the CLI's log file (JSON lines) into one file per function, by the `lambda`
/// span each line was written in (`function` field); lines outside one go to `vigil.jsonl`.
pub fn split_logs(all: &Path, dir: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(all).map_err(io(all))?;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Value = serde_json::from_str(line).unwrap_or_default();
        let spans = parsed["spans"].as_array().cloned().unwrap_or_default();
        let function = spans.iter().find_map(|s| s["function"].as_str()).unwrap_or("vigil").to_owned();
        let file = files.entry(function).or_default();
        file.extend_from_slice(line.as_bytes());
        file.push(b'\n');
    }
    for (function, bytes) in &files {
        write(&dir.join(format!("{function}.jsonl")), bytes)?;
    }
    Ok(text.lines().count())
}
