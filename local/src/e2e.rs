//! The whole pipeline on the local stack: transactions posted to the producer's API →
//! Kinesis → scorer (behind the event source mapping stand-in) → lake + EventBridge →
//! alerts → SNS → the operations inbox (an SQS queue in place of the e-mail subscription).
//! Every transaction is accounted for, and each alert's latency measured from the
//! producer's answer to the alert showing in the inbox.

use crate::chaos::{Chaos, Tripwire, Watch};
use crate::sources::{Container, Function, Progress, run_rule_target, run_stream};
use crate::stack::{LocalStack, describe};
use crate::template::Template;
use aws_config::SdkConfig;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_shared::aws::lambda::{
    self as lambda, AlertsConfig, AlertsHandler, ProducerHandler, ScorerConfig, ScorerHandler,
};
use vigil_shared::aws::sns::SnsNotifier;
use vigil_shared::compliance::Compliance;
use vigil_shared::metrics::MetricsSink;
use vigil_shared::{Model, Policy};

/// An API Gateway (HTTP API, payload 2.0) `POST /transactions` request event.
pub fn api_request(body: &str) -> Value {
    http_request("/transactions", body)
}

/// A `POST /v1/decisions` request as API Gateway hands it to the decision function.
pub fn decision_request(body: &str) -> Value {
    http_request("/v1/decisions", body)
}

fn http_request(path: &str, body: &str) -> Value {
    let route = format!("POST {path}");
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1", "userAgent": "curl/8.5.0" },
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": route, "stage": "$default",
            "time": "01/May/2018:09:30:00 +0000", "timeEpoch": 1_525_167_000_000i64,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Events per API request.
    pub request_size: usize,
    /// Transactions per second offered to the API (`None`: as fast as it answers).
    pub rate: Option<f64>,
    /// Longest wait for the pipeline to drain after the last request.
    pub drain_timeout: Duration,
    /// The e-mail endpoint whose inbox is the operations team's.
    pub ops_endpoint: String,
    /// The compliance team's (AML and sanctions alerts), if the run watches it.
    pub compliance_endpoint: Option<String>,
    /// The drill's failures, injected around the functions.
    pub chaos: Option<Arc<Chaos>>,
    /// Card payments go through the decision API (`POST /v1/decisions`) instead of the
    /// producer; labels, transfers, cash and profiles still go through the producer.
    pub decide: bool,
}

/// Counts as the run goes, for a progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub submitted: usize,
    pub scored: usize,
    pub alerts: usize,
}

/// One alert as it reached the operations inbox.
#[derive(Debug, Clone)]
pub struct Received {
    pub alert_id: String,
    pub transaction_id: String,
    pub subject: String,
    pub message: String,
    pub severity: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub submitted: usize,
    /// Events the producer took: transactions and `labels` (chargebacks, and customer
    /// profiles: events with no decision row).
    pub accepted: usize,
    pub labels: usize,
    pub rejected: usize,
    /// Records the scorer's event source finished with, and how many of them it gave up on.
    pub scored: usize,
    pub dead_lettered: usize,
    pub scorer_invocations: usize,
    /// Scorer batches that reported a failed record, retried from that checkpoint.
    pub item_failures: usize,
    /// Decisions in the lake by verdict, and transactions accepted with no decision there.
    pub verdicts: BTreeMap<String, usize>,
    pub undecided: Vec<String>,
    /// Alerts the lake's decisions call for but the inbox never got, and repeats it got.
    pub missing_alerts: Vec<String>,
    pub duplicate_alerts: usize,
    pub alerts: Vec<Received>,
    /// Compliance alerts (AML, sanctions) as the compliance inbox got them, one per alert
    /// id; monitored transactions whose REVIEW or BLOCK reached it by no alert; repeats.
    pub compliance_alerts: Vec<Received>,
    pub missing_compliance: Vec<String>,
    pub duplicate_compliance: usize,
    /// Producer (or decision API) answer → alert in the inbox, sorted.
    pub latencies: Vec<Duration>,
    /// With `decide`: each decision request's round trip as the client saw it, sorted, and
    /// the transactions answered degraded.
    pub decision_latencies: Vec<Duration>,
    pub degraded: usize,
    pub elapsed: Duration,
    /// Messages left on the stack's dead-letter queues.
    pub dead_letters: BTreeMap<String, usize>,
}

impl Report {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }

    /// A decision request's round trip at `p`.
    pub fn decision_percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.decision_latencies, p)
    }

    /// True when every accepted transaction has a decision and every alert arrived once.
    pub fn accounted(&self) -> bool {
        self.undecided.is_empty()
            && self.missing_alerts.is_empty()
            && self.missing_compliance.is_empty()
            && self.duplicate_alerts == 0
            && self.dead_lettered == 0
            && self.dead_letters.values().all(|n| *n == 0)
    }
}

/// A request body: the payloads (JSON texts) as one array.
fn json_array(payloads: &[&String]) -> String {
    let items: Vec<&str> = payloads.iter().map(|p| p.as_str()).collect();
    format!("[{}]", items.join(","))
}

/// The value at `p` (0–1) of `sorted`, nearest rank.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let n = sorted.len();
    (n > 0).then(|| sorted[((n as f64 * p).ceil() as usize).clamp(1, n) - 1])
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Aws(String),
}

/// The stack's functions, built as their binaries build them, from their environment; with
/// `watched`, the alerts function's SNS client reports each publish answered to a tripwire
/// (the drill kills invocations between publishing and marking sent).
async fn functions(
    config: &SdkConfig,
    stack: &LocalStack,
    watched: bool,
) -> Result<HashMap<String, Arc<Container>>, RunError> {
    let setup = |e: &dyn std::fmt::Display| RunError::Setup(e.to_string());
    let mut out = HashMap::new();
    for name in ["scorer", "alerts", "producer", "decision"] {
        let resource = stack.function(name).ok_or_else(|| RunError::Setup(format!("no function {name}")))?;
        let env = stack.environment(&resource).map_err(|e| setup(&e))?;
        // Metrics off: in process, EMF lines would go to the terminal, not to CloudWatch.
        let mut tripwire = None;
        let function = match name {
            // The decision function runs the scorer binary, with a stream to hand off to.
            "scorer" | "decision" => {
                let mut h = ScorerHandler::from_vars(config, &env).await.map_err(|e| setup(&e))?;
                h.metrics = MetricsSink::Off;
                Function::Scorer(Box::new(h))
            }
            "alerts" => {
                let mut h = AlertsHandler::from_vars(config, &env).map_err(|e| setup(&e))?;
                h.metrics = MetricsSink::Off;
                if watched {
                    let at = AlertsConfig::from_vars(&env).map_err(|e| setup(&e))?;
                    let t = Arc::new(Tripwire::default());
                    let sns = aws_sdk_sns::config::Builder::from(config)
                        .interceptor(Watch { tripwire: t.clone(), operation: "" })
                        .build();
                    h.notifier =
                        SnsNotifier::new(aws_sdk_sns::Client::from_conf(sns), at.topic_medium, at.topic_high);
                    tripwire = Some(t);
                }
                Function::Alerts(h)
            }
            _ => {
                let mut h = ProducerHandler::from_vars(config, &env).await.map_err(|e| setup(&e))?;
                h.metrics = MetricsSink::Off;
                Function::Producer(h)
            }
        };
        out.insert(resource.id, Arc::new(Container { function, tripwire }));
    }
    Ok(out)
}

/// Builds the scorer a stream source invokes, one per shard as Lambda runs them; with
/// `watched`, its DynamoDB client reports each transaction answered to a tripwire (the
/// drill kills invocations mid-save).
async fn scorer_containers(
    config: &SdkConfig,
    stack: &LocalStack,
    function: &str,
    watched: bool,
) -> Result<Arc<dyn Fn() -> Result<Container, String> + Send + Sync>, RunError> {
    let resource = stack
        .template
        .resource(function)
        .filter(|r| Template::binary(r) == Some("scorer"))
        .ok_or_else(|| RunError::Setup(format!("{function}: a stream source must invoke the scorer")))?;
    let env = stack.environment(&resource).map_err(|e| RunError::Setup(e.to_string()))?;
    let at = ScorerConfig::from_vars(&env).map_err(|e| RunError::Setup(e.to_string()))?;
    // Lists load once here, not per container: the stack shares one copy.
    let s3 = vigil_shared::aws::s3::client(config);
    let screening = lambda::screening(&s3, &env).await.map_err(|e| RunError::Setup(e.to_string()))?;
    // The token key from the stack's secret, data keys from its KMS key: what each
    // container reads at cold start (the same secret gives every container the same tokens).
    let privacy = lambda::privacy(config, &env).await.map_err(|e| RunError::Setup(e.to_string()))?;
    let config = config.clone();
    Ok(Arc::new(move || {
        let tripwire = watched.then(|| Arc::new(Tripwire::default()));
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&config);
        if let Some(t) = &tripwire {
            dynamodb = dynamodb.interceptor(Watch { tripwire: t.clone(), operation: "TransactWriteItems" });
        }
        let model = Model::embedded().map_err(|e| e.to_string())?;
        let compliance =
            Compliance { aml: lambda::aml(&env).map_err(|e| e.to_string())?, screening: screening.clone() };
        let mut h = ScorerHandler::new(
            aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            vigil_shared::aws::s3::client(&config),
            aws_sdk_eventbridge::Client::new(&config),
            at.clone(),
            model,
            Policy { compliance, ..Policy::default() },
            privacy.clone(),
        );
        h.metrics = MetricsSink::Off;
        Ok(Container { function: Function::Scorer(Box::new(h)), tripwire })
    }))
}

/// The stack's tokeniser and envelope, as its scorer builds them at cold start (the token
/// key from the stack's secret, data keys from its KMS key).
pub async fn stack_privacy(
    config: &SdkConfig,
    stack: &LocalStack,
) -> Result<Arc<vigil_shared::privacy::Privacy>, RunError> {
    let scorer = stack.function("scorer").ok_or_else(|| RunError::Setup("no scorer function".into()))?;
    let env = stack.environment(&scorer).map_err(|e| RunError::Setup(e.to_string()))?;
    lambda::privacy(config, &env).await.map_err(|e| RunError::Setup(e.to_string()))
}

/// The fictional demo sanctions lists (`infra/sanctions/demo/`), uploaded where the
/// scorer's environment says its lists are, unless lists are there already.
pub async fn seed_lists(config: &SdkConfig, stack: &LocalStack) -> Result<(), RunError> {
    let setup = |e: &dyn std::fmt::Display| RunError::Setup(e.to_string());
    let scorer = stack.function("scorer").ok_or_else(|| RunError::Setup("no scorer function".into()))?;
    let env = stack.environment(&scorer).map_err(|e| setup(&e))?;
    let Some(bucket) = env.get(lambda::env::SANCTIONS_BUCKET).cloned() else { return Ok(()) };
    let s3 = vigil_shared::aws::s3::client(config);
    let lists: [(&str, &[u8]); 2] = [
        (lambda::env::SANCTIONS_SDN_KEY, include_bytes!("../../infra/sanctions/demo/sdn.csv")),
        (lambda::env::SANCTIONS_ALT_KEY, include_bytes!("../../infra/sanctions/demo/alt.csv")),
    ];
    for (var, body) in lists {
        let key = env.get(var).cloned().ok_or_else(|| RunError::Setup(format!("{var} is not set")))?;
        if s3.head_object().bucket(&bucket).key(&key).send().await.is_ok() {
            continue;
        }
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.to_vec().into())
            .send()
            .await
            .map_err(|e| RunError::Aws(describe(&e)))?;
    }
    Ok(())
}

/// Runs `payloads` (stream events as JSON) through the deployed-shaped pipeline.
pub async fn run(
    config: &SdkConfig,
    stack: &LocalStack,
    payloads: &[String],
    options: &Options,
    on_progress: &(dyn Fn(Snapshot) + Sync),
) -> Result<Report, RunError> {
    let aws = |e: &(dyn std::error::Error + 'static)| RunError::Aws(describe(e));
    seed_lists(config, stack).await?;
    let functions = functions(config, stack, options.chaos.is_some()).await?;
    let kinesis = aws_sdk_kinesis::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let (stream, targets) = (Progress::default(), Progress::default());
    let mut tasks = Vec::new();
    for source in &stack.stream_sources {
        let container = scorer_containers(config, stack, &source.function, options.chaos.is_some()).await?;
        let chaos = options.chaos.clone();
        let (source, kinesis, sqs) = (source.clone(), kinesis.clone(), sqs.clone());
        tasks.push(tokio::spawn(run_stream(source, kinesis, sqs, container, stream.clone(), chaos)));
    }
    for target in &stack.rule_targets {
        let f = functions.get(&target.function).cloned();
        let f = f.ok_or_else(|| RunError::Setup(format!("{} is not a function here", target.function)))?;
        let chaos = options.chaos.clone();
        tasks.push(tokio::spawn(run_rule_target(target.clone(), sqs.clone(), f, targets.clone(), chaos)));
    }
    let inbox_url = stack
        .inboxes
        .get(&options.ops_endpoint)
        .cloned()
        .ok_or_else(|| RunError::Setup(format!("no subscription for {}", options.ops_endpoint)))?;
    let inbox = Inbox::default();
    let watcher = tokio::spawn(inbox.clone().watch(sqs.clone(), inbox_url, stream.stop.clone()));
    let compliance = Inbox::default();
    let compliance_watcher = match &options.compliance_endpoint {
        Some(endpoint) => {
            let url = stack.inboxes.get(endpoint).cloned();
            let url = url.ok_or_else(|| RunError::Setup(format!("no subscription for {endpoint}")))?;
            Some(tokio::spawn(compliance.clone().watch(sqs.clone(), url, stream.stop.clone())))
        }
        None => None,
    };

    // Submit.
    let producer = stack.function("producer").map(|f| functions[&f.id].clone());
    let producer = producer.ok_or_else(|| RunError::Setup("no producer".into()))?;
    let decider = stack.function("decision").and_then(|f| functions.get(&f.id).cloned());
    let started = Instant::now();
    let mut report = Report::default();
    let mut accepted_at: HashMap<String, Instant> = HashMap::with_capacity(payloads.len());
    let snapshot = |submitted: usize, stream: &Progress, inbox: &Inbox| Snapshot {
        submitted,
        scored: stream.done.load(Ordering::SeqCst),
        alerts: inbox.len(),
    };
    for chunk in payloads.chunks(options.request_size.max(1)) {
        if let Some(rate) = options.rate {
            let due = started + Duration::from_secs_f64(report.submitted as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let (to_decide, to_produce): (Vec<&String>, Vec<&String>) =
            chunk.iter().partition(|p| options.decide && is_card_payment(p));
        if !to_decide.is_empty() {
            let decider = decider.as_ref().ok_or_else(|| RunError::Setup("no decision function".into()))?;
            let body = json_array(&to_decide);
            let asked = Instant::now();
            let response = decider.function.invoke(decision_request(&body)).await.map_err(RunError::Aws)?;
            let now = Instant::now();
            report.decision_latencies.push(now - asked);
            let answer: Value =
                serde_json::from_str(response["body"].as_str().unwrap_or("[]")).unwrap_or_default();
            if !matches!(response["statusCode"].as_i64(), Some(200 | 400)) {
                return Err(RunError::Aws(format!(
                    "decision API answered {}: {answer}",
                    response["statusCode"]
                )));
            }
            for item in answer.as_array().into_iter().flatten() {
                match item["status"].as_str() {
                    Some("decided") => {
                        report.accepted += 1;
                        report.degraded += usize::from(item["degraded"] == true);
                        accepted_at
                            .insert(item["transaction_id"].as_str().unwrap_or_default().to_owned(), now);
                    }
                    _ => report.rejected += 1,
                }
            }
        }
        if !to_produce.is_empty() {
            let body = json_array(&to_produce);
            let response = producer.function.invoke(api_request(&body)).await.map_err(RunError::Aws)?;
            let now = Instant::now();
            let answer: Value =
                serde_json::from_str(response["body"].as_str().unwrap_or("{}")).unwrap_or_default();
            if response["statusCode"] != 200 {
                return Err(RunError::Aws(format!("producer answered {}: {answer}", response["statusCode"])));
            }
            for item in answer["results"].as_array().into_iter().flatten() {
                match item["status"].as_str() {
                    Some("accepted") => {
                        report.accepted += 1;
                        let payload = item["item"].as_u64().and_then(|i| to_produce.get(i as usize));
                        if payload.is_some_and(|p| is_undecided_kind(p)) {
                            report.labels += 1;
                        } else {
                            accepted_at
                                .insert(item["transaction_id"].as_str().unwrap_or_default().to_owned(), now);
                        }
                    }
                    _ => report.rejected += 1,
                }
            }
        }
        report.submitted += chunk.len();
        on_progress(snapshot(report.submitted, &stream, &inbox));
    }

    // Drain: every accepted record scored, then every alert its decision calls for.
    let deadline = Instant::now() + options.drain_timeout;
    while stream.done.load(Ordering::SeqCst) < report.accepted && Instant::now() < deadline {
        on_progress(snapshot(report.submitted, &stream, &inbox));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let decisions = lake_decisions(config, stack).await.map_err(RunError::Aws)?;
    let alerted = |card: bool| -> Vec<&String> {
        let wanted = |(v, channel): &(String, String)| v != "ACCEPT" && (channel == "card") == card;
        decisions.iter().filter(|(_, d)| wanted(d)).map(|(id, _)| id).collect()
    };
    let expected = alerted(true);
    // Every compliance alert by its own id, and every monitored transaction that needs one.
    let (expected_compliance, monitored) = match options.compliance_endpoint {
        Some(_) => (lake_compliance_alerts(config, stack).await.map_err(RunError::Aws)?, alerted(false)),
        None => (Vec::new(), Vec::new()),
    };
    while (expected.iter().any(|id| !inbox.has(id))
        || expected_compliance.iter().any(|id| !compliance.has_alert(id))
        || monitored.iter().any(|id| !compliance.has(id)))
        && Instant::now() < deadline
    {
        on_progress(snapshot(report.submitted, &stream, &inbox));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report.elapsed = started.elapsed();
    on_progress(snapshot(report.submitted, &stream, &inbox));
    stream.stop.store(true, Ordering::SeqCst);
    targets.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.map_err(|e| RunError::Aws(e.to_string()))?.map_err(RunError::Aws)?;
    }
    watcher.await.map_err(|e| RunError::Aws(e.to_string()))?.map_err(RunError::Aws)?;
    if let Some(w) = compliance_watcher {
        w.await.map_err(|e| RunError::Aws(e.to_string()))?.map_err(RunError::Aws)?;
    }

    report.scored = stream.done.load(Ordering::SeqCst);
    report.dead_lettered =
        stream.dead_lettered.load(Ordering::SeqCst) + targets.dead_lettered.load(Ordering::SeqCst);
    report.scorer_invocations = stream.invocations.load(Ordering::SeqCst);
    report.item_failures = stream.item_failures.load(Ordering::SeqCst);
    for (verdict, _) in decisions.values() {
        *report.verdicts.entry(verdict.clone()).or_default() += 1;
    }
    let missing_alerts = expected_compliance.iter().filter(|id| !compliance.has_alert(id)).cloned();
    let missing_transactions = monitored.iter().filter(|id| !compliance.has(id)).map(|id| (*id).clone());
    report.missing_compliance = missing_alerts.chain(missing_transactions).collect();
    let mut seen = HashSet::new();
    for (alert, _) in compliance.take() {
        // The compliance inbox also gets the card alerts its rule-code filter lets through.
        if !alert.alert_id.starts_with("aml:") && !alert.alert_id.starts_with("sanctions:") {
            continue;
        }
        if seen.insert(alert.alert_id.clone()) {
            report.compliance_alerts.push(alert);
        } else {
            report.duplicate_compliance += 1;
        }
    }
    report.undecided = accepted_at.keys().filter(|id| !decisions.contains_key(*id)).cloned().collect();
    report.missing_alerts = expected.iter().filter(|id| !inbox.has(id)).map(|id| (*id).clone()).collect();
    let received = inbox.take();
    let mut seen = HashSet::new();
    for (alert, at) in received {
        if !seen.insert(alert.transaction_id.clone()) {
            report.duplicate_alerts += 1;
            continue;
        }
        if let Some(accepted) = accepted_at.get(&alert.transaction_id) {
            report.latencies.push(at.saturating_duration_since(*accepted));
        }
        report.alerts.push(alert);
    }
    report.latencies.sort();
    report.decision_latencies.sort();
    // The template's queues are all dead-letter queues / on-failure destinations.
    for queue in stack.template.of_kind("AWS::SQS::Queue") {
        if let Some(physical) = stack.resources.get(&queue.id) {
            let id = &queue.id;
            let out = sqs
                .get_queue_attributes()
                .queue_url(&physical.reference)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .map_err(|e| aws(&e))?;
            let n = out
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            report.dead_letters.insert(id.clone(), n);
        }
    }
    Ok(report)
}

/// A label event (a chargeback) rather than a transaction.
/// What the decision API decides: card payments (`type` and `channel` as their defaults say).
fn is_card_payment(payload: &str) -> bool {
    serde_json::from_str::<Value>(payload).is_ok_and(|v| {
        matches!(v["type"].as_str(), None | Some("transaction"))
            && matches!(v["channel"].as_str(), None | Some("card"))
    })
}

/// Labels and customer profiles: events the lake's decisions table has no row for.
fn is_undecided_kind(payload: &str) -> bool {
    serde_json::from_str::<Value>(payload).is_ok_and(|v| v["type"] == "label" || v["type"] == "customer")
}

/// Every row of one lake table, as text columns.
async fn lake_rows(config: &SdkConfig, stack: &LocalStack, table: &str) -> Result<Vec<Row>, String> {
    let s3 = vigil_shared::aws::s3::client(config);
    let bucket = stack.resources.get("LakeBucket").map(|p| p.reference.clone()).ok_or("no LakeBucket")?;
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(format!("{table}/"))
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        for key in page.contents().iter().filter_map(|o| o.key()) {
            let bytes = vigil_shared::aws::s3::get(&s3, &bucket, key).await.map_err(|e| e.to_string())?;
            out.extend(vigil_shared::archive::parquet::text_rows(bytes).map_err(|e| e.to_string())?);
        }
        match page.next_continuation_token {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

type Row = Vec<(String, String)>;

fn field(row: &Row, name: &str) -> Option<String> {
    row.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Transaction id → (verdict, channel) of every decision in the lake.
async fn lake_decisions(
    config: &SdkConfig,
    stack: &LocalStack,
) -> Result<HashMap<String, (String, String)>, String> {
    let rows = lake_rows(config, stack, "decisions").await?;
    let decided = rows.iter().filter_map(|row| {
        let channel = field(row, "channel").unwrap_or_else(|| "card".into());
        Some((field(row, "transaction_id")?, (field(row, "verdict")?, channel)))
    });
    Ok(decided.collect())
}

/// The ids of the compliance alerts the lake says were sent: one transaction may raise
/// several (an AML typology and a sanctions hit).
async fn lake_compliance_alerts(config: &SdkConfig, stack: &LocalStack) -> Result<Vec<String>, String> {
    let rows = lake_rows(config, stack, "alerts").await?;
    let compliance = rows.iter().filter(|row| field(row, "audience").as_deref() == Some("compliance"));
    let mut ids: Vec<String> = compliance.filter_map(|row| field(row, "alert_id")).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The operations inbox as the run reads it: each alert with when it showed up.
#[derive(Clone, Default)]
struct Inbox {
    received: Arc<Mutex<Arrivals>>,
}

#[derive(Default)]
struct Arrivals {
    alerts: Vec<(Received, Instant)>,
    transactions: HashSet<String>,
    alert_ids: HashSet<String>,
}

impl Inbox {
    fn len(&self) -> usize {
        self.received.lock().map(|r| r.alerts.len()).unwrap_or(0)
    }

    fn has(&self, transaction_id: &str) -> bool {
        self.received.lock().is_ok_and(|r| r.transactions.contains(transaction_id))
    }

    fn has_alert(&self, alert_id: &str) -> bool {
        self.received.lock().is_ok_and(|r| r.alert_ids.contains(alert_id))
    }

    fn take(&self) -> Vec<(Received, Instant)> {
        self.received.lock().map(|mut r| std::mem::take(&mut r.alerts)).unwrap_or_default()
    }

    /// Reads SNS deliveries off the queue until `stop` is set and the queue is empty.
    async fn watch(
        self,
        sqs: aws_sdk_sqs::Client,
        url: String,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), String> {
        loop {
            let got = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await;
            let messages = got.map_err(|e| describe(&e))?.messages.unwrap_or_default();
            let now = Instant::now();
            if messages.is_empty() {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            for m in messages {
                // The SNS envelope: Subject, Message, MessageAttributes.
                let envelope: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default();
                let attribute = |name: &str| {
                    envelope["MessageAttributes"][name]["Value"].as_str().unwrap_or_default().to_owned()
                };
                let alert = Received {
                    alert_id: attribute("alert_id"),
                    transaction_id: attribute("transaction_id"),
                    severity: attribute("severity"),
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                };
                if let Ok(mut r) = self.received.lock() {
                    r.transactions.insert(alert.transaction_id.clone());
                    r.alert_ids.insert(alert.alert_id.clone());
                    r.alerts.push((alert, now));
                }
                if let Some(handle) = m.receipt_handle() {
                    let out = sqs.delete_message().queue_url(&url).receipt_handle(handle).send().await;
                    out.map_err(|e| describe(&e))?;
                }
            }
        }
    }
}
