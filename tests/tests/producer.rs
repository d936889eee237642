//! The producer on real API Gateway and S3 events against moto: valid events reach the
//! Kinesis stream keyed for the scorer, each REST item gets its verdict, bad rows of a
//! batch file are quarantined with their reason, files past a bound are refused whole
//! without being read, and throttled records do not overtake one another.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::s3::S3Event;
use aws_sdk_kinesis::operation::put_records::{PutRecordsInput, PutRecordsOutput};
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use vigil_shared::Event;
use vigil_shared::aws::kinesis::KinesisPublisher;
use vigil_shared::aws::lambda::{FileSummary, ProducerHandler};
use vigil_shared::intake::{FileLimits, Publisher};
use vigil_tests::{Aws, DROP, Moto, QUARANTINE, STREAM, events};

async fn setup() -> (Moto, Aws) {
    vigil_tests::init_logs();
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_buckets().await;
    aws.create_stream().await;
    (moto, aws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_request_gets_a_verdict_per_item_and_valid_ones_reach_the_stream() {
    let (_moto, aws) = setup().await;
    let good = events::transaction("t1", "c1", "p1", "12.50", "2018-04-01T10:00:00Z");
    let body = format!(r#"[{good}, {{"transaction_id":"t2","amount":"x"}}]"#);
    let request: ApiGatewayV2httpRequest = serde_json::from_value(events::api_post(&body)).unwrap();
    let response = aws.producer().api(request, chrono::Utc::now()).await;
    assert_eq!(response.status_code, 200);
    let Some(Body::Text(text)) = response.body else { panic!("a JSON body") };
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["results"][0]["status"], "accepted");
    assert_eq!(answer["results"][1]["status"], "rejected");
    assert_eq!(answer["results"][1]["code"], "MISSING_FIELD");
    let on_stream = aws.stream_records().await;
    assert_eq!(on_stream.len(), 1);
    assert!(on_stream[0].contains("\"transaction_id\":\"t1\""));

    let garbage: ApiGatewayV2httpRequest = serde_json::from_value(events::api_post("hello")).unwrap();
    assert_eq!(aws.producer().api(garbage, chrono::Utc::now()).await.status_code, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_file_is_published_and_its_bad_rows_quarantined() {
    let (_moto, aws) = setup().await;
    let csv = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
               1,2018-04-01 00:00:31,596,3156,57.16\n\
               2,2018-04-01 00:02:10,4961,3412,-3\n\
               3,2018-04-01 00:07:56,2,1365,146.00\n";
    let key = "incoming/2018-04-01 batch.csv";
    aws.s3.put_object().bucket(DROP).key(key).body(csv.as_bytes().to_vec().into()).send().await.unwrap();
    let event: S3Event = serde_json::from_value(events::s3_put(DROP, key, csv.len())).unwrap();
    let summary = aws.producer().files(event, chrono::Utc::now()).await.unwrap();
    assert_eq!((summary.published, summary.quarantined), (2, 1));
    assert_eq!(aws.stream_records().await.len(), 2);

    let keys = aws.keys(QUARANTINE, "quarantine/").await;
    assert_eq!(keys.len(), 1);
    let line: serde_json::Value =
        serde_json::from_slice(aws.object(QUARANTINE, &keys[0]).await.trim_ascii_end()).unwrap();
    assert_eq!(line["code"], "INVALID_AMOUNT");
    assert_eq!(line["position"], format!("s3://{DROP}/{key}#3"));
    assert_eq!(
        opened(&line).await,
        b"2,2018-04-01 00:02:10,4961,3412,-3",
        "sealed, for compliance to replay"
    );
    assert!(line.get("payload").is_none(), "never in the clear");
}

/// A producer whose S3 client also goes through `interceptor`, with `files` as limits.
fn producer_with(
    aws: &Aws,
    interceptor: impl aws_sdk_s3::config::Intercept + 'static,
    files: FileLimits,
) -> ProducerHandler<KinesisPublisher> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws.config)
            .force_path_style(true)
            .interceptor(aws.calls.clone())
            .interceptor(interceptor)
            .build(),
    );
    ProducerHandler { s3, files, ..aws.producer() }
}

/// Drops a file in the incoming bucket and hands the producer its S3 notification.
async fn drop_file(
    aws: &Aws,
    producer: &ProducerHandler<KinesisPublisher>,
    key: &str,
    bytes: Vec<u8>,
) -> FileSummary {
    let size = bytes.len();
    aws.s3.put_object().bucket(DROP).key(key).body(bytes.into()).send().await.unwrap();
    aws.calls.reset();
    let event: S3Event = serde_json::from_value(events::s3_put(DROP, key, size)).unwrap();
    producer.files(event, chrono::Utc::now()).await.unwrap()
}

/// Every quarantine record, in key order.
async fn quarantined(aws: &Aws) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for key in aws.keys(QUARANTINE, "quarantine/").await {
        for line in aws.object(QUARANTINE, &key).await.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            out.push(serde_json::from_slice(line).unwrap());
        }
    }
    out
}

/// A quarantined record's payload, opened as compliance would (`vigil reveal`).
async fn opened(record: &serde_json::Value) -> Vec<u8> {
    use vigil_shared::privacy::{Purpose, Sealed};
    let sealed = Sealed::parse(record["payload_sealed"].as_str().expect("a sealed payload")).unwrap();
    vigil_tests::privacy().envelope.open(Purpose::Quarantine, &sealed).await.unwrap()
}

/// Passes everything through; the default interceptor behaviour.
#[derive(Debug)]
struct Nothing;

impl aws_sdk_s3::config::Intercept for Nothing {
    fn name(&self) -> &'static str {
        "Nothing"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_refused_with_its_reason_once_it_inflates_past_the_limit() {
    let (_moto, aws) = setup().await;
    // A header, then 8 MiB of zeros: about 8 KiB compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n").unwrap();
    gz.write_all(&vec![b'0'; 8 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let limits = FileLimits { max_file_bytes: 1 << 20, max_decompressed_bytes: 1 << 20 };
    let producer = producer_with(&aws, Nothing, limits);

    let key = "incoming/bomb.csv.gz";
    let summary = drop_file(&aws, &producer, key, bomb).await;

    assert_eq!(summary, FileSummary { published: 0, quarantined: 1, files_refused: 1 });
    let records = quarantined(&aws).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["code"], "DECOMPRESSED_TOO_LARGE");
    assert_eq!(records[0]["position"], format!("s3://{DROP}/{key}"));
    assert!(records[0]["reason"].as_str().unwrap().contains("1.0 MiB"), "{}", records[0]["reason"]);
    assert!(records[0].get("payload_sealed").is_none(), "the location, not the payload");
    assert!(aws.stream_records().await.is_empty());
}

/// Makes HeadObject say the object is `size` bytes (moto cannot hold 10 GB), and counts
/// the GetObject requests that reach the incoming bucket.
#[derive(Debug, Clone)]
struct FakeSize {
    size: i64,
    gets: Arc<AtomicUsize>,
}

impl aws_sdk_s3::config::Intercept for FakeSize {
    fn name(&self) -> &'static str {
        "FakeSize"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        if request.method() == "GET" && request.uri().contains(&format!("/{DROP}/")) {
            self.gets.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut aws_sdk_s3::config::interceptors::FinalizerInterceptorContextMut<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        if let Some(Ok(output)) = context.output_or_error_mut()
            && let Some(head) = output.downcast_mut::<HeadObjectOutput>()
        {
            head.content_length = Some(self.size);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_gb_object_is_refused_by_its_size_before_any_byte_is_read() {
    let (_moto, aws) = setup().await;
    let fake = FakeSize { size: 10 << 30, gets: Arc::default() };
    let producer = producer_with(&aws, fake.clone(), FileLimits::default());
    let csv = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n1,2018-04-01 00:00:31,596,3156,57.16\n";

    let key = "incoming/huge.csv";
    let summary = drop_file(&aws, &producer, key, csv.into()).await;

    assert_eq!(summary, FileSummary { published: 0, quarantined: 1, files_refused: 1 });
    assert_eq!(fake.gets.load(Ordering::SeqCst), 0, "no GetObject");
    assert_eq!(aws.calls.counts().get("S3 HEAD"), Some(&1));
    let records = quarantined(&aws).await;
    assert_eq!(records[0]["code"], "FILE_TOO_LARGE");
    assert_eq!(records[0]["position"], format!("s3://{DROP}/{key}"));
    assert!(
        records[0]["reason"].as_str().unwrap().contains("10.0 GiB, over the 128.0 MiB limit"),
        "{}",
        records[0]["reason"]
    );
    assert!(aws.stream_records().await.is_empty());

    // The same object at its true size goes through: the refusal was the size's doing.
    let honest = producer_with(&aws, Nothing, FileLimits::default());
    let event: S3Event = serde_json::from_value(events::s3_put(DROP, key, csv.len())).unwrap();
    assert_eq!(honest.files(event, chrono::Utc::now()).await.unwrap().published, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_is_not_utf8_is_quarantined_alone_and_the_others_published() {
    let (_moto, aws) = setup().await;
    let mut csv = b"transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
                    1,2018-04-01 00:00:31,596,3156,57.16\n"
        .to_vec();
    let bad = b"2,2018-04-01 00:02:10,49\xe9\xff1,3412,10.00";
    csv.extend_from_slice(bad);
    csv.extend_from_slice(b"\n3,2018-04-01 00:07:56,2,1365,146.00\n");

    let key = "incoming/latin1.csv";
    let summary = drop_file(&aws, &aws.producer(), key, csv).await;

    assert_eq!(summary, FileSummary { published: 2, quarantined: 1, files_refused: 0 });
    let on_stream = aws.stream_records().await;
    assert_eq!(on_stream.len(), 2);
    assert!(on_stream[1].contains("\"transaction_id\":\"3\""));
    let records = quarantined(&aws).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["code"], "MALFORMED");
    assert_eq!(records[0]["position"], format!("s3://{DROP}/{key}#3"));
    assert_eq!(opened(&records[0]).await, bad, "the raw bytes, sealed, for replay");
}

/// A stream that takes `left` publishes, then fails.
struct Failing {
    left: AtomicUsize,
}

impl Publisher for Failing {
    async fn publish(&self, _: &[Event]) -> Result<(), vigil_shared::alert::DeliveryError> {
        match self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Ok(()),
            Err(_) => {
                Err(vigil_shared::alert::DeliveryError { service: "Kinesis", message: "throttled".into() })
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_failing_mid_file_stops_the_reading_and_is_an_error_to_retry() {
    let (_moto, aws) = setup().await;
    let mut csv = String::from("transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n");
    for i in 0..vigil_shared::intake::CHUNK_ITEMS * 4 {
        csv.push_str(&format!("{i},2018-04-01 00:00:31,c{},p1,57.16\n", i % 50));
    }
    let key = "incoming/big.csv";
    aws.s3.put_object().bucket(DROP).key(key).body(csv.into_bytes().into()).send().await.unwrap();
    let producer = aws.producer_to(Failing { left: AtomicUsize::new(1) });
    let event: S3Event = serde_json::from_value(events::s3_put(DROP, key, 0)).unwrap();

    let result =
        tokio::time::timeout(std::time::Duration::from_secs(30), producer.files(event, chrono::Utc::now()))
            .await
            .expect("the reader stops instead of waiting forever");

    let err = result.unwrap_err();
    assert!(err.to_string().contains("throttled"), "{err}");
    assert!(quarantined(&aws).await.is_empty(), "a failure to retry, not a refusal");
}

/// Refuses some PutRecords entries the first time it sees them, as a throttled shard
/// does: they are taken out of the request before it is sent (so the stream does not get
/// them) and put back in the response as failed.
#[derive(Debug, Clone, Default)]
struct Throttle {
    seen: Arc<Mutex<HashSet<Vec<u8>>>>,
    refused: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

/// Positions of the entries a request lost to [`Throttle`].
#[derive(Debug, Clone)]
struct Refused(Vec<usize>);

impl aws_smithy_types::config_bag::Storable for Refused {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Throttle {
    /// Every third transaction (by id), the first time only.
    fn refuses(&self, data: &[u8]) -> bool {
        let text = String::from_utf8_lossy(data);
        let id: u32 = text
            .split("\"transaction_id\":\"t")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        id.is_multiple_of(3) && self.seen.lock().unwrap().insert(data.to_vec())
    }
}

impl aws_sdk_kinesis::config::Intercept for Throttle {
    fn name(&self) -> &'static str {
        "Throttle"
    }

    fn modify_before_serialization(
        &self,
        context: &mut aws_sdk_kinesis::config::interceptors::BeforeSerializationInterceptorContextMut<'_>,
        _: &aws_sdk_kinesis::config::RuntimeComponents,
        cfg: &mut aws_sdk_kinesis::config::ConfigBag,
    ) -> Result<(), aws_sdk_kinesis::error::BoxError> {
        let Some(input) = context.input_mut().downcast_mut::<PutRecordsInput>() else { return Ok(()) };
        self.requests.fetch_add(1, Ordering::SeqCst);
        let records = input.records.take().unwrap_or_default();
        let mut verdicts: Vec<bool> = records.iter().map(|r| self.refuses(r.data().as_ref())).collect();
        // A request must keep a record: the first goes through (it is seen, so not refused later).
        if verdicts.iter().all(|&refuse| refuse) {
            verdicts[0] = false;
        }
        let refused: Vec<usize> = (0..records.len()).filter(|&i| verdicts[i]).collect();
        let kept =
            records.into_iter().zip(&verdicts).filter(|(_, refuse)| !**refuse).map(|(r, _)| r).collect();
        self.refused.fetch_add(refused.len(), Ordering::SeqCst);
        input.records = Some(kept);
        cfg.interceptor_state().store_put(Refused(refused));
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut aws_sdk_kinesis::config::interceptors::FinalizerInterceptorContextMut<'_>,
        _: &aws_sdk_kinesis::config::RuntimeComponents,
        cfg: &mut aws_sdk_kinesis::config::ConfigBag,
    ) -> Result<(), aws_sdk_kinesis::error::BoxError> {
        let Some(Refused(refused)) = cfg.load::<Refused>().cloned() else { return Ok(()) };
        if let Some(Ok(output)) = context.output_or_error_mut()
            && let Some(out) = output.downcast_mut::<PutRecordsOutput>()
        {
            for &i in &refused {
                let failed = PutRecordsResultEntry::builder()
                    .error_code("ProvisionedThroughputExceededException")
                    .error_message("Rate exceeded for shard (injected)")
                    .build();
                out.records.insert(i, failed);
            }
            out.failed_record_count = Some(out.failed_record_count.unwrap_or(0) + refused.len() as i32);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_customers_records_reach_kinesis_in_input_order_when_some_are_throttled() {
    let (_moto, aws) = setup().await;
    let throttle = Throttle::default();
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(&aws.config).interceptor(throttle.clone()).build(),
    );
    let publisher = KinesisPublisher::new(kinesis, STREAM);
    // Four customers, interleaved; ids number the input order.
    let events: Vec<Event> = (0..120)
        .map(|i| {
            let at = format!("2018-04-01T10:{:02}:{:02}Z", i / 60, i % 60);
            let json = events::transaction(&format!("t{i}"), &format!("c{}", i % 4), "p1", "12.50", &at);
            Event::from_json(json.as_bytes(), vigil_shared::Currency::USD, chrono::Utc::now()).unwrap()
        })
        .collect();

    publisher.publish(&events).await.unwrap();

    assert!(throttle.refused.load(Ordering::SeqCst) >= 30, "the throttle refused records");
    let requests = throttle.requests.load(Ordering::SeqCst);
    assert!(requests < events.len() / 2, "batched: {requests} requests for {} records", events.len());
    let on_stream: Vec<serde_json::Value> =
        aws.stream_records().await.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    assert_eq!(on_stream.len(), events.len(), "each record once");
    for customer in ["c0", "c1", "c2", "c3"] {
        let ids: Vec<u32> = on_stream
            .iter()
            .filter(|r| r["customer_id"] == customer)
            .map(|r| r["transaction_id"].as_str().unwrap()[1..].parse().unwrap())
            .collect();
        assert_eq!(ids.len(), 30);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{customer} in input order: {ids:?}");
    }
}
