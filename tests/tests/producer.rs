//! The producer on real API Gateway and S3 events against moto: valid events reach the
//! Kinesis stream keyed for the scorer, each REST item gets its verdict, and bad rows of a
//! batch file are quarantined with their reason.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::s3::S3Event;
use vigil_tests::{Aws, DROP, Moto, QUARANTINE, events};

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
    assert_eq!(line["payload"], "2,2018-04-01 00:02:10,4961,3412,-3");
}
