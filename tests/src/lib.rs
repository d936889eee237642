//! Test harness: a local AWS (moto) started per test process on a free loopback port and
//! stopped on drop, the resources the functions use, and events in the shapes Lambda
//! delivers them.

pub mod events;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use vigil_local::moto::workspace;
use vigil_local::moto::{free_port, wait_for};

/// A moto server for this test (vigil-local's guard); killed when dropped.
pub struct Moto {
    _server: vigil_local::moto::Moto,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let server = vigil_local::moto::Moto::start().unwrap_or_else(|e| panic!("{e}"));
        eprintln!("moto at {}", server.endpoint);
        Moto { endpoint: server.endpoint.clone(), _server: server }
    }

    /// SDK configuration pointing every client at this server.
    pub async fn config(&self) -> SdkConfig {
        vigil_local::moto::config(&self.endpoint).await
    }
}

/// `tansu` from `VIGIL_TANSU`, the repo's tools (`infra/setup.sh`), or PATH.
fn tansu() -> PathBuf {
    vigil_local::moto::tool("VIGIL_TANSU", ".tools/tansu/bin/tansu", "tansu")
}

/// A Kafka-protocol broker (tansu, in-memory storage) for this test; killed when dropped.
pub struct Kafka {
    child: Child,
    pub broker: String,
}

impl Kafka {
    pub fn start() -> Kafka {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu ({e}); run `bash infra/setup.sh` first"));
        let kafka = Kafka { child, broker: format!("127.0.0.1:{port}") };
        wait_for(SocketAddr::from(([127, 0, 0, 1], port)), "tansu").unwrap_or_else(|e| panic!("{e}"));
        kafka
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts requests per operation and can fail DynamoDB transactions, or the next requests
/// whose body holds a text, on demand: a real fault between the SDK and the service,
/// injected where the SDK allows it.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    /// Time from sending each request to its response, summed per operation.
    waited: Arc<Mutex<BTreeMap<String, Duration>>>,
    /// While set, every TransactWriteItems after the first `fail_after` of them fails.
    pub armed: Arc<AtomicBool>,
    pub fail_after: Arc<AtomicUsize>,
    transactions: Arc<AtomicUsize>,
    /// When the `crash_at`-th TransactWriteItems answer arrives (0: never), `crashed` fires:
    /// a test then drops the invocation's future, as a killed function stops.
    crash_at: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
    crashed: Arc<tokio::sync::Notify>,
    /// Body text → how many more requests holding it fail.
    failing: Arc<Mutex<Vec<(String, usize)>>>,
}

impl Calls {
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.lock().unwrap().clone()
    }

    pub fn waited(&self) -> BTreeMap<String, Duration> {
        self.waited.lock().unwrap().clone()
    }

    pub fn total(&self) -> usize {
        self.counts().values().sum()
    }

    /// Arms the crash: it fires when the `k`-th TransactWriteItems from now has been answered.
    pub fn crash_after(&self, k: usize) {
        self.written.store(0, Ordering::SeqCst);
        self.crash_at.store(k, Ordering::SeqCst);
    }

    /// Resolves when the armed crash fires.
    pub async fn crashed(&self) {
        self.crashed.notified().await;
        self.crash_at.store(0, Ordering::SeqCst);
    }

    /// The next `times` requests whose body holds `text` fail before they are sent (as a
    /// reset connection would, or the function dying just before that call).
    pub fn fail_next(&self, times: usize, text: &str) {
        self.failing.lock().unwrap().push((text.to_owned(), times));
    }

    /// Whether this request is one [`Calls::fail_next`] asked to fail (counting it down).
    fn should_fail(&self, body: &[u8]) -> bool {
        let mut failing = self.failing.lock().unwrap();
        let hit = failing
            .iter_mut()
            .find(|(text, left)| *left > 0 && body.windows(text.len().max(1)).any(|w| w == text.as_bytes()));
        hit.map(|(_, left)| *left -= 1).is_some()
    }

    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
        self.waited.lock().unwrap().clear();
        self.transactions.store(0, Ordering::SeqCst);
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = request.body().bytes().unwrap_or_default();
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
            // Query protocol (SNS): `Action=Publish&...`.
            None if body.starts_with(b"Action=") => {
                let action = body[7..].split(|b| *b == b'&').next().unwrap_or_default();
                String::from_utf8_lossy(action).into_owned()
            }
            None => format!("S3 {}", request.method()),
        };
        if self.should_fail(body) {
            return Err(format!("injected fault: {operation} failed").into());
        }
        if operation == "TransactWriteItems" {
            let n = self.transactions.fetch_add(1, Ordering::SeqCst);
            if self.armed.load(Ordering::SeqCst) && n >= self.fail_after.load(Ordering::SeqCst) {
                return Err("injected fault: connection reset".into());
            }
        }
        *self.counts.lock().unwrap().entry(operation.clone()).or_default() += 1;
        cfg.interceptor_state().store_put(Sent(operation, Instant::now()));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Sent(operation, at)) = cfg.load::<Sent>() {
            *self.waited.lock().unwrap().entry(operation.clone()).or_default() += at.elapsed();
            if operation == "TransactWriteItems" {
                let n = self.written.fetch_add(1, Ordering::SeqCst) + 1;
                if n == self.crash_at.load(Ordering::SeqCst) {
                    self.crashed.notify_one();
                }
            }
        }
        Ok(())
    }
}

/// When a request went out, for [`Calls::waited`].
#[derive(Debug, Clone)]
struct Sent(String, Instant);

impl aws_smithy_types::config_bag::Storable for Sent {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// Names of the resources a test creates: the names the local stack gives the template's
/// resources (`tests/tests/template.rs` checks they still agree), so fixtures and local
/// invokes line up with `vigil stack`.
pub const TABLE: &str = "vigil-state-table";
pub const LAKE: &str = "vigil-lake-bucket";
pub const QUARANTINE: &str = "vigil-quarantine-bucket";
pub const DROP: &str = "vigil-incoming-123456789012-us-east-1";
pub const BUS: &str = "vigil-alerts";
pub const STREAM: &str = "vigil-transaction-stream";
/// `{TOPIC_PREFIX}medium-topic`, `{TOPIC_PREFIX}high-topic`.
pub const TOPIC_PREFIX: &str = "vigil-alerts-";

/// Clients for one moto server, counting their calls.
pub struct Aws {
    pub config: SdkConfig,
    pub calls: Calls,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl Aws {
    pub async fn new(moto: &Moto) -> Aws {
        let config = moto.config().await;
        let calls = Calls::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config).interceptor(calls.clone()).build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .interceptor(calls.clone())
                .build(),
        );
        let eventbridge = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&config).interceptor(calls.clone()).build(),
        );
        Aws {
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            kinesis: aws_sdk_kinesis::Client::new(&config),
            config,
            calls,
            dynamodb,
            s3,
            eventbridge,
        }
    }

    /// The state table as `template.yaml` declares it (keys, the `parked` index, TTL).
    pub async fn create_table(&self) {
        let template = vigil_local::Template::load(&vigil_local::template_path()).expect("template.yaml");
        let table = template.resource("StateTable").expect("StateTable in template.yaml");
        vigil_local::stack::create_table(&self.dynamodb, TABLE, &table.properties)
            .await
            .expect("create table");
    }

    pub async fn create_buckets(&self) {
        for bucket in [LAKE, QUARANTINE, DROP] {
            self.s3.create_bucket().bucket(bucket).send().await.expect("create bucket");
        }
    }

    /// Every item of the table, by key (a scan, paginated).
    pub async fn items(
        &self,
    ) -> BTreeMap<String, std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut out = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(TABLE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items.unwrap_or_default() {
                let pk = item["pk"].as_s().unwrap().clone();
                out.insert(pk, item);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return out,
            }
        }
    }

    /// Keys of the objects under `prefix` in `bucket`.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .expect("list objects");
            out.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    pub async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        vigil_shared::aws::s3::get(&self.s3, bucket, key).await.expect("get object")
    }

    /// A queue, and its ARN.
    pub async fn queue(&self, name: &str) -> (String, String) {
        vigil_local::stack::queue(&self.sqs, name).await.expect("create queue")
    }

    /// Every message on the queue now (drained).
    pub async fn drain(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receive");
            let batch = got.messages.unwrap_or_default();
            if batch.is_empty() {
                return out;
            }
            for m in &batch {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            out.extend(batch);
        }
    }
}

/// Fixed test keys (`Privacy::for_tests`): producer and scorer tokenise alike. The stack's
/// own keys (moto KMS, Secrets Manager) are what `e2e` and the privacy tests use.
pub fn privacy() -> std::sync::Arc<vigil_shared::privacy::Privacy> {
    std::sync::Arc::new(vigil_shared::privacy::Privacy::for_tests())
}

/// The token `raw` gets under [`privacy`]: what state and the lake hold instead of it.
pub fn token(raw: &str) -> String {
    vigil_shared::privacy::Privacy::for_tests().tokens.tokenise(raw)
}

impl Aws {
    /// A tokenisation-key secret (`key`) and a KMS key on moto, as the template makes them;
    /// the environment variables the functions find them by.
    pub async fn privacy_env(&self, key: &str) -> Vec<(String, String)> {
        use vigil_shared::aws::lambda::env;
        let kms = aws_sdk_kms::Client::new(&self.config);
        let created = kms.create_key().send().await.expect("a KMS key");
        let key_id = created.key_metadata.expect("key metadata").key_id;
        static SECRETS: AtomicUsize = AtomicUsize::new(0);
        let name = format!("token-key-{}", SECRETS.fetch_add(1, Ordering::SeqCst));
        let value = serde_json::json!({ "version": "1", "key": key }).to_string();
        let secrets = aws_sdk_secretsmanager::Client::new(&self.config);
        secrets.create_secret().name(&name).secret_string(value).send().await.expect("a secret");
        vec![(env::TOKEN_SECRET.to_owned(), name), (env::DATA_KEY.to_owned(), key_id)]
    }

    /// The scorer's handler on these clients, with the shipped model.
    pub fn scorer(&self) -> vigil_shared::aws::lambda::ScorerHandler {
        let at = vigil_shared::aws::lambda::ScorerConfig {
            table: TABLE.into(),
            lake_bucket: LAKE.into(),
            quarantine_bucket: QUARANTINE.into(),
            event_bus: BUS.into(),
            currency: vigil_shared::Currency::USD,
        };
        let model = vigil_shared::Model::embedded().expect("shipped model");
        let (dynamodb, s3, eventbridge) = (self.dynamodb.clone(), self.s3.clone(), self.eventbridge.clone());
        let policy = vigil_shared::Policy::default();
        vigil_shared::aws::lambda::ScorerHandler::new(dynamodb, s3, eventbridge, at, model, policy, privacy())
    }

    /// The alert bus, with a rule copying every Vigil event to a queue; the queue's URL.
    pub async fn alert_bus(&self) -> String {
        self.eventbridge.create_event_bus().name(BUS).send().await.expect("create bus");
        let (url, arn) = self.queue("bus-tap").await;
        self.eventbridge
            .put_rule()
            .name("vigil-tap")
            .event_bus_name(BUS)
            .event_pattern(r#"{"source":["vigil"]}"#)
            .send()
            .await
            .expect("put rule");
        self.eventbridge
            .put_targets()
            .rule("vigil-tap")
            .event_bus_name(BUS)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("tap").arn(arn).build().unwrap())
            .send()
            .await
            .expect("put targets");
        url
    }

    /// Transactions counted per customer (`c#<id>`: its spending history's hourly buckets)
    /// or per terminal (`t#<id>`: the `n<hour>` counters of all its week items).
    pub async fn counted(&self, prefix: &str) -> BTreeMap<String, u64> {
        if prefix == "t#" {
            return self.terminal_counters('n').await;
        }
        let mut out = BTreeMap::new();
        for (pk, item) in self.items().await.iter().filter(|(pk, _)| pk.starts_with(prefix)) {
            {
                let state: serde_json::Value = serde_json::from_str(item["s"].as_s().unwrap()).unwrap();
                let buckets = state["buckets"].as_array().unwrap();
                out.insert(pk.clone(), buckets.iter().map(|b| b["spend"]["count"].as_u64().unwrap()).sum());
            }
        }
        out
    }

    /// Confirmed frauds counted per terminal (`t#<id>`: the `f<hour>` counters of its weeks).
    pub async fn terminal_frauds(&self) -> BTreeMap<String, u64> {
        self.terminal_counters('f').await
    }

    /// Per terminal, the sum of its week items' counters `<kind><hour>`; terminals whose
    /// sum is zero are left out.
    async fn terminal_counters(&self, kind: char) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (pk, item) in self.items().await.iter().filter(|(pk, _)| pk.starts_with("t#")) {
            let terminal = pk.rsplit_once('#').map_or(pk.as_str(), |(t, _)| t).to_owned();
            let n: i64 = item
                .iter()
                .filter(|(name, _)| name.strip_prefix(kind).is_some_and(|h| h.parse::<u32>().is_ok()))
                .map(|(_, v)| v.as_n().unwrap().parse::<i64>().unwrap())
                .sum();
            if n != 0 {
                *out.entry(terminal).or_default() += u64::try_from(n).expect("no negative count");
            }
        }
        out
    }

    /// Rows in the Parquet objects under `prefix` of the lake.
    pub async fn lake_rows(&self, prefix: &str) -> i64 {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let mut rows = 0;
        for key in self.keys(LAKE, prefix).await {
            let bytes = bytes::Bytes::from(self.object(LAKE, &key).await);
            rows += SerializedFileReader::new(bytes).expect("parquet").metadata().file_metadata().num_rows();
        }
        rows
    }
}

/// For each payload, whether Vigil accepts it, and per customer / terminal how many valid
/// transactions it holds: what the AWS side must show afterwards.
pub struct Expected {
    pub valid: usize,
    pub invalid: usize,
    pub customers: BTreeMap<String, u64>,
    pub terminals: BTreeMap<String, u64>,
}

impl Expected {
    pub fn of(payloads: &[String]) -> Expected {
        let now = chrono::Utc::now();
        let mut e = Expected { valid: 0, invalid: 0, customers: BTreeMap::new(), terminals: BTreeMap::new() };
        for p in payloads {
            match vigil_shared::Event::from_json(p.as_bytes(), vigil_shared::Currency::USD, now) {
                Ok(vigil_shared::Event::Transaction(tx)) => {
                    e.valid += 1;
                    *e.customers.entry(format!("c#{}", token(tx.customer.as_str()))).or_default() += 1;
                    *e.terminals.entry(format!("t#{}", tx.terminal.as_str())).or_default() += 1;
                }
                Ok(_) => e.valid += 1,
                Err(_) => e.invalid += 1,
            }
        }
        e
    }
}

/// The stack `vigil` from template.yaml on `moto`, with these template parameters.
/// The inboxes the alert topics' e-mail subscriptions stand for.
pub const OPS: &str = "ops@example.com";
pub const COMPLIANCE: &str = "compliance@example.com";

/// The template's stack with both inboxes, and retried alerts waiting out a lease of
/// seconds locally, not half a minute.
pub async fn alerting_stack(moto: &Moto) -> (SdkConfig, vigil_local::LocalStack) {
    template_stack(moto, &[("AlertEmail", OPS), ("ComplianceEmail", COMPLIANCE), ("AlertLeaseSeconds", "2")])
        .await
}

pub async fn template_stack(
    moto: &Moto,
    parameters: &[(&str, &str)],
) -> (SdkConfig, vigil_local::LocalStack) {
    let config = moto.config().await;
    let template = vigil_local::Template::load(&vigil_local::template_path()).expect("template.yaml");
    let parameters: BTreeMap<String, String> =
        parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let stack = vigil_local::LocalStack::create(&config, template, "vigil", &parameters)
        .await
        .expect("stack from template.yaml");
    (config, stack)
}

/// Logs to the test's output (shown for failing tests), warnings and up unless RUST_LOG says otherwise.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// SNS topics for the two severities, each with a queue subscribed (the ops team's
/// inbox): `(medium topic, high topic, medium queue URL, high queue URL)`.
pub struct Topics {
    pub medium: String,
    pub high: String,
    pub compliance: String,
    pub medium_inbox: String,
    pub high_inbox: String,
    pub compliance_inbox: String,
}

impl Aws {
    pub async fn topics(&self) -> Topics {
        let mut arns = Vec::new();
        for severity in ["medium", "high", "compliance"] {
            let topic =
                self.sns.create_topic().name(format!("{TOPIC_PREFIX}{severity}-topic")).send().await.unwrap();
            let topic = topic.topic_arn.unwrap();
            let (url, queue_arn) = self.queue(&format!("ops-{severity}")).await;
            self.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
            arns.push((topic, url));
        }
        let (compliance, compliance_inbox) = arns.pop().unwrap();
        let (high, high_inbox) = arns.pop().unwrap();
        let (medium, medium_inbox) = arns.pop().unwrap();
        Topics { medium, high, compliance, medium_inbox, high_inbox, compliance_inbox }
    }

    pub fn alerts(&self, topics: &Topics) -> vigil_shared::aws::lambda::AlertsHandler {
        vigil_shared::aws::lambda::AlertsHandler {
            ledger: vigil_shared::aws::dynamodb::DynamoAlertLedger::new(self.dynamodb.clone(), TABLE),
            notifier: vigil_shared::aws::sns::SnsNotifier::new(
                self.sns.clone(),
                &topics.medium,
                &topics.high,
            )
            .with_compliance(&topics.compliance),
            metrics: vigil_shared::metrics::MetricsSink::Stdout,
        }
    }

    pub async fn create_stream(&self) {
        self.kinesis.create_stream().stream_name(STREAM).shard_count(1).send().await.expect("create stream");
    }

    /// Every record on the (one-shard) stream, as text.
    pub async fn stream_records(&self) -> Vec<String> {
        let shards = self.kinesis.list_shards().stream_name(STREAM).send().await.unwrap();
        let shard = shards.shards()[0].shard_id().to_owned();
        let mut iterator = self
            .kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        let mut out = Vec::new();
        while let Some(it) = iterator {
            let page = self.kinesis.get_records().shard_iterator(it).send().await.unwrap();
            if page.records().is_empty() {
                break;
            }
            out.extend(page.records().iter().map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()));
            iterator = page.next_shard_iterator;
        }
        out
    }

    pub fn producer(
        &self,
    ) -> vigil_shared::aws::lambda::ProducerHandler<vigil_shared::aws::kinesis::KinesisPublisher> {
        self.producer_to(vigil_shared::aws::kinesis::KinesisPublisher::new(self.kinesis.clone(), STREAM))
    }

    pub fn producer_to<P: vigil_shared::intake::Publisher>(
        &self,
        publisher: P,
    ) -> vigil_shared::aws::lambda::ProducerHandler<P> {
        vigil_shared::aws::lambda::ProducerHandler {
            publisher,
            privacy: privacy(),
            s3: self.s3.clone(),
            quarantine: vigil_shared::aws::s3::S3Quarantine::new(self.s3.clone(), QUARANTINE, privacy()),
            currency: vigil_shared::Currency::USD,
            files: vigil_shared::intake::FileLimits::default(),
            metrics: vigil_shared::metrics::MetricsSink::Off,
        }
    }
}

impl Aws {
    /// An SNS client whose calls [`Aws::calls`] counts and can fail.
    pub fn sns_with_calls(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.config).interceptor(self.calls.clone()).build(),
        )
    }
}

/// An endpoint that accepts connections and never answers: a stalled AWS call. The
/// listener lives until the test process ends.
pub fn stalled_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        // Held, so the peer sees an open connection rather than a reset.
        let mut open = Vec::new();
        for stream in listener.incoming() {
            open.extend(stream.ok());
        }
    });
    endpoint
}

/// SDK configuration for `endpoint`, with test credentials and a function's timeouts (as
/// its `main` builds it, the endpoint aside).
pub async fn config_with(endpoint: &str, timeouts: vigil_shared::aws::Timeouts) -> SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "local",
        ));
    timeouts.apply(loader).load().await
}
