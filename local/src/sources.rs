//! What Lambda does around the functions, done in process against the local AWS: a Kinesis
//! event source mapping (batch size and window, batch item failures, retries, bisection,
//! record age, on-failure destination) and EventBridge's asynchronous invocation (retries,
//! on-failure destination). The functions are the same handlers the binaries run.

use crate::chaos::{Chaos, Kill, Tripwire};
use crate::stack::{RuleTarget, StreamSource, describe};
use aws_lambda_events::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vigil_shared::aws::lambda::{AlertsHandler, ProducerHandler, ScorerHandler, StreamPublisher};

/// How often an idle source looks for new records or messages.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// A function as Lambda invokes it: a JSON event in, a JSON result or an error out.
pub enum Function {
    Scorer(Box<ScorerHandler>),
    Alerts(AlertsHandler),
    Producer(ProducerHandler<StreamPublisher>),
}

impl Function {
    /// The function's name in its log lines (`vigil demo --dump` files them by it).
    pub fn name(&self) -> &'static str {
        match self {
            Function::Scorer(h) if h.desk.is_some() => "decision",
            Function::Scorer(_) => "scorer",
            Function::Alerts(_) => "alerts",
            Function::Producer(_) => "producer",
        }
    }

    /// One invocation, its log lines inside a `lambda` span naming the function.
    pub async fn invoke(&self, event: Value) -> Result<Value, String> {
        use tracing::Instrument;
        let span = tracing::info_span!("lambda", function = self.name());
        self.invoke_unlogged(event).instrument(span).await
    }

    async fn invoke_unlogged(&self, event: Value) -> Result<Value, String> {
        match self {
            Function::Scorer(h) => {
                let raw = serde_json::value::to_raw_value(&event).map_err(|e| e.to_string())?;
                h.handle(raw).await.map_err(|e| e.to_string())
            }
            Function::Alerts(h) => {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                let outcome = h.handle(event).await.map_err(|e| e.to_string())?;
                Ok(json!(format!("{outcome:?}")))
            }
            Function::Producer(h) => h.handle(event).await.map_err(|e| e.to_string()),
        }
    }
}

/// Records a source has finished with (processed or sent to its on-failure destination),
/// and a flag that stops it once it is idle.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    pub done: Arc<AtomicUsize>,
    /// Batches whose function reported a record failed: retried from that checkpoint.
    pub item_failures: Arc<AtomicUsize>,
    pub dead_lettered: Arc<AtomicUsize>,
    pub invocations: Arc<AtomicUsize>,
    pub stop: Arc<AtomicBool>,
}

impl Progress {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A function as one shard's batches reach it: Lambda gives each shard's batches their own
/// container. The tripwire, when there is one, hears the container's DynamoDB transactions
/// answered (for the drill's kills mid-save).
pub struct Container {
    pub function: Function,
    pub tripwire: Option<Arc<Tripwire>>,
}

/// Runs a Kinesis event source mapping over every shard until `progress.stop` is set and
/// the shards have nothing more; `container` builds each shard's function, `chaos` (the
/// drill) kills and redelivers some invocations.
pub async fn run_stream(
    source: StreamSource,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    container: Arc<dyn Fn() -> Result<Container, String> + Send + Sync>,
    progress: Progress,
    chaos: Option<Arc<Chaos>>,
) -> Result<(), String> {
    let shards = kinesis.list_shards().stream_name(&source.stream).send().await.map_err(|e| describe(&e))?;
    let mut tasks = Vec::new();
    for shard in shards.shards() {
        let shard = Shard {
            source: source.clone(),
            id: shard.shard_id().to_owned(),
            kinesis: kinesis.clone(),
            sqs: sqs.clone(),
            container: container()?,
            progress: progress.clone(),
            chaos: chaos.clone(),
        };
        tasks.push(tokio::spawn(shard.run()));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

struct Shard {
    source: StreamSource,
    id: String,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    container: Container,
    progress: Progress,
    chaos: Option<Arc<Chaos>>,
}

/// Records to deliver again from a checkpoint, and the attempts they have had.
type Checkpoint = (Vec<KinesisEventRecord>, u32);

impl Shard {
    async fn run(self) -> Result<(), String> {
        let mut iterator = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.source.stream)
            .shard_id(&self.id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(|e| describe(&e))?
            .shard_iterator;
        let mut pending: VecDeque<KinesisEventRecord> = VecDeque::new();
        let mut first_seen: Option<Instant> = None;
        // After a batch item failure: the record retried from, and its attempts so far.
        let mut retrying: Option<(String, u32)> = None;
        loop {
            // Fill the batch: up to the batch size, or until the window since the first
            // record closes, or the shard has no more.
            let mut drained = false;
            while pending.len() < self.source.batch_size {
                let Some(it) = iterator.clone() else { break };
                let limit = (self.source.batch_size - pending.len()).min(10_000) as i32;
                let page = self.kinesis.get_records().shard_iterator(it).limit(limit).send().await;
                let page = page.map_err(|e| describe(&e))?;
                iterator = page.next_shard_iterator.clone();
                if page.records().is_empty() {
                    drained = true;
                    break;
                }
                first_seen.get_or_insert_with(Instant::now);
                pending.extend(page.records().iter().map(|r| self.event_record(r)));
            }
            let window_open = first_seen.is_some_and(|t| t.elapsed() < self.source.window);
            if pending.is_empty() || (drained && window_open && pending.len() < self.source.batch_size) {
                if pending.is_empty() && self.progress.stopping() {
                    return Ok(());
                }
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let batch: Vec<KinesisEventRecord> =
                pending.drain(..pending.len().min(self.source.batch_size)).collect();
            let attempts = match &retrying {
                Some((from, attempts)) if *from == batch[0].kinesis.sequence_number => *attempts,
                _ => 0,
            };
            retrying = None;
            if let Some((rest, attempts)) = self.deliver(batch, attempts).await? {
                // Lambda resumes from the checkpoint: the next batch starts at the failed record
                // and fills up with whatever came after it, newer records included.
                retrying = rest.first().map(|r| (r.kinesis.sequence_number.clone(), attempts));
                for r in rest.into_iter().rev() {
                    pending.push_front(r);
                }
            }
            first_seen = (!pending.is_empty()).then(Instant::now);
        }
    }

    fn event_record(&self, r: &aws_sdk_kinesis::types::Record) -> KinesisEventRecord {
        let arrival =
            r.approximate_arrival_timestamp().map(|t| t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9);
        serde_json::from_value(json!({
            "awsRegion": "us-east-1",
            "eventID": format!("{}:{}", self.id, r.sequence_number()),
            "eventName": "aws:kinesis:record",
            "eventSource": "aws:kinesis",
            "eventSourceARN": self.source.stream_arn,
            "eventVersion": "1.0",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/local",
            "kinesis": {
                "approximateArrivalTimestamp": arrival.unwrap_or_default(),
                "data": base64_encode(r.data().as_ref()),
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r.partition_key(),
                "sequenceNumber": r.sequence_number(),
            }
        }))
        .expect("a well-formed Kinesis record")
    }

    /// Invokes until every record of `batch` is done or a record is reported failed, as
    /// Lambda's event source mapping does: a function error retries the batch (halved when
    /// bisecting); spent retries or age send the records' range to the on-failure
    /// destination; a reported item failure checkpoints before that record and returns it
    /// and everything after it, to be retried with newer records.
    async fn deliver(
        &self,
        batch: Vec<KinesisEventRecord>,
        attempts: u32,
    ) -> Result<Option<Checkpoint>, String> {
        let mut work: VecDeque<(Vec<KinesisEventRecord>, u32)> = VecDeque::from([(batch, attempts)]);
        while let Some((records, attempts)) = work.pop_front() {
            if records.is_empty() {
                continue;
            }
            let expired = self.source.max_record_age.is_some_and(|age| {
                let oldest = records[0].kinesis.approximate_arrival_timestamp.0;
                (Utc::now() - oldest).to_std().is_ok_and(|a| a > age)
            });
            let retries_spent = self.source.max_retries.is_some_and(|max| attempts > max);
            if expired || retries_spent {
                self.dead_letter(
                    &records,
                    if expired { "RecordAgeExceeded" } else { "RetryAttemptsExhausted" },
                )
                .await?;
                continue;
            }
            let n = records.len();
            let mut event = KinesisEvent::default();
            event.records = records.clone();
            let event = serde_json::to_value(event).map_err(|e| e.to_string())?;
            self.progress.invocations.fetch_add(1, Ordering::SeqCst);
            match self.invoke(&event).await {
                Ok(response) => {
                    let failed = response["batchItemFailures"]
                        .as_array()
                        .and_then(|f| f.first())
                        .and_then(|f| f["itemIdentifier"].as_str())
                        .filter(|_| self.source.reports_item_failures);
                    match failed.and_then(|id| records.iter().position(|r| r.kinesis.sequence_number == id)) {
                        None => {
                            self.progress.done.fetch_add(n, Ordering::SeqCst);
                            self.maybe_redeliver(&event).await;
                        }
                        Some(at) => {
                            self.progress.done.fetch_add(at, Ordering::SeqCst);
                            self.progress.item_failures.fetch_add(1, Ordering::SeqCst);
                            tracing::warn!(shard = %self.id, retry_from = at, "batch item failure: retrying from it");
                            tokio::time::sleep(IDLE_POLL).await;
                            let rest =
                                records[at..].iter().cloned().chain(work.into_iter().flat_map(|(r, _)| r));
                            return Ok(Some((rest.collect(), attempts + 1)));
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(shard = %self.id, %error, records = n, "function error: retrying the batch");
                    tokio::time::sleep(IDLE_POLL).await;
                    if self.source.bisect && n > 1 {
                        let (a, b) = records.split_at(n / 2);
                        work.push_front((b.to_vec(), attempts + 1));
                        work.push_front((a.to_vec(), attempts + 1));
                    } else {
                        work.push_front((records, attempts + 1));
                    }
                }
            }
        }
        Ok(None)
    }

    /// One invocation; under the drill some are killed part-way (the future is dropped with
    /// whatever requests it had sent), which Lambda reports as a function error.
    async fn invoke(&self, event: &Value) -> Result<Value, String> {
        let kill = self.chaos.as_ref().and_then(|c| c.scorer_kill().map(|k| (c, k)));
        let Some((chaos, kill)) = kill else { return self.container.function.invoke(event.clone()).await };
        let killed = |mid_save: bool| {
            chaos.scorer_kills.fetch_add(1, Ordering::SeqCst);
            if mid_save {
                chaos.scorer_kills_mid_save.fetch_add(1, Ordering::SeqCst);
            }
            tracing::warn!(shard = %self.id, ?kill, "drill: scorer killed");
            Err("killed by the drill (as a timeout or out-of-memory stops a function)".to_owned())
        };
        match (kill, &self.container.tripwire) {
            (Kill::AfterCalls(n), Some(tripwire)) => {
                tripwire.arm(n);
                let fired = tripwire.fired();
                let outcome = tokio::select! {
                    out = self.container.function.invoke(event.clone()) => out,
                    () = fired => killed(true),
                };
                tripwire.arm(0);
                outcome
            }
            (Kill::After(_), _) | (Kill::AfterCalls(_), None) => {
                let delay = match kill {
                    Kill::After(d) => d,
                    Kill::AfterCalls(_) => Duration::from_millis(20),
                };
                tokio::select! {
                    out = self.container.function.invoke(event.clone()) => out,
                    () = tokio::time::sleep(delay) => killed(false),
                }
            }
        }
    }

    /// Under the drill, some batches that succeeded are delivered again (Lambda delivers at
    /// least once): nothing may move.
    async fn maybe_redeliver(&self, event: &Value) {
        let Some(chaos) = self.chaos.as_ref().filter(|c| c.roll(c.rates.redeliver)) else { return };
        chaos.redeliveries.fetch_add(1, Ordering::SeqCst);
        self.progress.invocations.fetch_add(1, Ordering::SeqCst);
        if let Err(error) = self.container.function.invoke(event.clone()).await {
            tracing::warn!(shard = %self.id, %error, "drill: a redelivered batch failed (its records were done)");
        }
    }

    /// What Lambda sends an on-failure destination: where the records are, not the records.
    async fn dead_letter(&self, records: &[KinesisEventRecord], condition: &str) -> Result<(), String> {
        let body = json!({
            "requestContext": { "condition": condition, "functionArn": self.source.function },
            "version": "1.0",
            "timestamp": Utc::now().to_rfc3339(),
            "KinesisBatchInfo": {
                "shardId": self.id,
                "startSequenceNumber": records[0].kinesis.sequence_number,
                "endSequenceNumber": records[records.len() - 1].kinesis.sequence_number,
                "batchSize": records.len(),
                "streamArn": self.source.stream_arn,
            }
        });
        tracing::error!(shard = %self.id, condition, records = records.len(), "records skipped to the on-failure destination");
        if let Some(url) = &self.source.on_failure {
            let out = self.sqs.send_message().queue_url(url).message_body(body.to_string()).send().await;
            out.map_err(|e| describe(&e))?;
        }
        self.progress.done.fetch_add(records.len(), Ordering::SeqCst);
        self.progress.dead_lettered.fetch_add(records.len(), Ordering::SeqCst);
        Ok(())
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One asynchronous invocation; under the drill some alerts invocations are killed as soon
/// as SNS has taken their message, before it is marked sent (the lease is left behind) —
/// first attempts only: a crash is rare, not an event's fate on every retry.
async fn invoke_killable(
    container: &Container,
    event: Value,
    first_attempt: bool,
    chaos: Option<&Chaos>,
) -> Result<Value, String> {
    let doomed = chaos.filter(|c| first_attempt && c.roll(c.rates.kill_alerts_after_publish));
    let (Some(chaos), Some(tripwire)) = (doomed, &container.tripwire) else {
        return container.function.invoke(event).await;
    };
    tripwire.arm(1);
    let fired = tripwire.fired();
    let outcome = tokio::select! {
        out = container.function.invoke(event) => out,
        () = fired => {
            chaos.alert_kills.fetch_add(1, Ordering::SeqCst);
            tracing::warn!("drill: alerts function killed after publishing");
            Err("killed by the drill after publishing, before marking the alert sent".to_owned())
        }
    };
    tripwire.arm(0);
    outcome
}

/// Invokes the function for each event a rule delivered to its tap queue, with the
/// function's retries; an event that fails them all goes to its on-failure destination.
///
/// Lambda retries a failed asynchronous invocation after about 1 minute, then 2: always
/// after the alerts function's sending lease (at most 50 s) has run out, so a retry of an
/// invocation that died holding one sends the alert. Locally the retry comes sooner, but
/// still a second after the lease the function is configured with (its
/// `VIGIL_ALERT_LEASE_SECONDS`, the template's `AlertLeaseSeconds`): sooner, it would fail
/// on the live lease and dead-letter an alert Lambda delivers. Local runs that expect
/// alert retries pass a short `AlertLeaseSeconds` (1-2 s).
pub async fn run_rule_target(
    target: RuleTarget,
    sqs: aws_sdk_sqs::Client,
    container: Arc<Container>,
    progress: Progress,
    chaos: Option<Arc<Chaos>>,
) -> Result<(), String> {
    use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
    let function = &container.function;
    let retry_after = match function {
        Function::Alerts(h) => h.ledger.lease() + Duration::from_secs(1),
        _ => Duration::from_secs(1),
    };
    let retry_after = i32::try_from(retry_after.as_secs().max(1)).unwrap_or(i32::MAX);
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&target.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            // Stop only once no retry is waiting to come back either.
            if progress.stopping() {
                let waiting = sqs
                    .get_queue_attributes()
                    .queue_url(&target.queue_url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .send()
                    .await
                    .map_err(|e| describe(&e))?;
                let waiting = waiting
                    .attributes()
                    .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                if waiting == 0 {
                    return Ok(());
                }
            }
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        for m in messages {
            let body = m.body().unwrap_or_default();
            let received: u32 = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let event: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            progress.invocations.fetch_add(1, Ordering::SeqCst);
            let done = match invoke_killable(&container, event, received == 1, chaos.as_deref()).await {
                Ok(_) => {
                    progress.done.fetch_add(1, Ordering::SeqCst);
                    true
                }
                Err(error) if received >= target.attempts => {
                    tracing::error!(%error, "event failed every attempt: to the on-failure destination");
                    if let Some(url) = &target.on_failure {
                        let record = json!({
                            "requestContext": { "condition": "RetriesExhausted", "functionArn": target.function },
                            "requestPayload": serde_json::from_str::<Value>(body).unwrap_or(Value::Null),
                            "responseContext": { "functionError": "Unhandled" },
                            "responsePayload": { "errorMessage": error },
                        });
                        let out =
                            sqs.send_message().queue_url(url).message_body(record.to_string()).send().await;
                        out.map_err(|e| describe(&e))?;
                    }
                    progress.dead_lettered.fetch_add(1, Ordering::SeqCst);
                    progress.done.fetch_add(1, Ordering::SeqCst);
                    true
                }
                Err(error) => {
                    tracing::warn!(%error, attempt = received, "function error: the event will be retried");
                    // Back on the queue after the retry delay, as Lambda retries.
                    if let Some(handle) = m.receipt_handle() {
                        let out = sqs
                            .change_message_visibility()
                            .queue_url(&target.queue_url)
                            .receipt_handle(handle);
                        out.visibility_timeout(retry_after).send().await.map_err(|e| describe(&e))?;
                    }
                    false
                }
            };
            if done && let Some(handle) = m.receipt_handle() {
                let out =
                    sqs.delete_message().queue_url(&target.queue_url).receipt_handle(handle).send().await;
                out.map_err(|e| describe(&e))?;
            }
        }
    }
}
