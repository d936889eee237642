//! The report trigger's work against moto's Athena control plane: every section started in
//! the workgroup with its parameters and idempotency token, results (canned: moto runs no
//! SQL) read back by column type, the report, page and manifest stored, the team notified.

use std::io::{Read, Write};
use vigil_shared::audit::{AuditAction, AuditStore, AuditTrail};
use vigil_shared::aws::audit::S3AuditStore;
use vigil_shared::aws::lambda::{self, ReportTriggerHandler};
use vigil_tests::{Aws, Moto};

/// Queues one canned result per query moto will be asked for, in order.
fn can_results(endpoint: &str, results: &serde_json::Value) {
    let address = endpoint.trim_start_matches("http://");
    let body = serde_json::json!({ "region": "us-east-1", "results": results }).to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /moto-api/static/athena/query-results HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
}

/// A result with a header row, as Athena returns a SELECT's.
fn result(columns: &[(&str, &str)], rows: &[&[&str]]) -> serde_json::Value {
    let row = |values: Vec<&str>| serde_json::json!({ "Data": values.iter().map(|v| serde_json::json!({ "VarCharValue": v })).collect::<Vec<_>>() });
    let mut all = vec![row(columns.iter().map(|(n, _)| *n).collect())];
    all.extend(rows.iter().map(|r| row(r.to_vec())));
    serde_json::json!({
        "rows": all,
        "column_info": columns.iter().map(|(name, kind)| serde_json::json!({ "Name": name, "Type": kind })).collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_report_runs_each_section_once_and_stores_result_manifest_and_notice() {
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    let athena = aws_sdk_athena::Client::new(&aws.config);
    athena.create_work_group().name("vigil-reports").send().await.unwrap();
    aws.s3.create_bucket().bucket("reports").send().await.unwrap();
    let topic = aws.sns.create_topic().name("reports").send().await.unwrap().topic_arn.unwrap();
    let (inbox, queue_arn) = aws.queue("reports-inbox").await;
    aws.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    let restricted = aws.sns.create_topic().name("compliance-reports").send().await.unwrap();
    let restricted = restricted.topic_arn.unwrap();
    let (compliance_inbox, queue_arn) = aws.queue("compliance-reports-inbox").await;
    aws.sns.subscribe().topic_arn(&restricted).protocol("sqs").endpoint(queue_arn).send().await.unwrap();

    let summary = [
        ("transactions", "bigint"),
        ("verdicts.ACCEPT", "bigint"),
        ("verdicts.REVIEW", "bigint"),
        ("verdicts.BLOCK", "bigint"),
        ("alerts", "bigint"),
        ("confirmed_frauds", "bigint"),
        ("alerts_confirmed", "bigint"),
        ("alert_precision", "double"),
        ("fraud_recall", "double"),
    ];
    let mut canned = vec![result(&summary, &[&["100", "90", "6", "4", "10", "5", "4", "0.4", "0.8"]])];
    // The other five fraud-ops sections: one column each is enough for moto.
    canned.extend((0..5).map(|_| result(&[("n", "bigint")], &[&["1"]])));
    can_results(&moto.endpoint, &serde_json::Value::Array(canned));

    // The handler as Lambda runs it, configured as the template configures it.
    aws.s3.create_bucket().bucket("audit").send().await.unwrap();
    aws.s3.create_bucket().bucket("lake").send().await.unwrap();
    let env = lambda::env::REPORTS_BUCKET;
    let vars = std::collections::BTreeMap::from([
        (env.to_owned(), "reports".to_owned()),
        (lambda::env::ATHENA_WORKGROUP.to_owned(), "vigil-reports".to_owned()),
        (lambda::env::LAKE_DATABASE.to_owned(), "vigil_lake".to_owned()),
        (lambda::env::TOPIC_REPORTS.to_owned(), topic.clone()),
        (lambda::env::TOPIC_COMPLIANCE_REPORTS.to_owned(), restricted.clone()),
        (lambda::env::AUDIT_BUCKET.to_owned(), "audit".to_owned()),
        (lambda::env::LAKE_BUCKET.to_owned(), "lake".to_owned()),
    ]);
    let mut handler = ReportTriggerHandler::from_vars(&aws.config, &vars).unwrap();
    handler.metrics = vigil_shared::metrics::MetricsSink::Off;
    // The fixture `cargo lambda invoke report-trigger --data-file` sends.
    let request = vigil_tests::workspace().join("events/report-trigger-scheduled.json");
    let request = serde_json::from_slice(&std::fs::read(request).unwrap()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let manifest = handler.report(&request, deadline).await.unwrap();

    assert_eq!((manifest.from.as_str(), manifest.to.as_str()), ("2026-12-06", "2026-12-07"));
    assert_eq!(manifest.sections.len(), 6);
    let prefix = "reports/fraud-ops/2026-12-06_2026-12-07/as_of=2026-12-07T06:00:00.000Z";
    assert_eq!(manifest.result, format!("s3://reports/{prefix}/report.json"));
    let body =
        aws.s3.get_object().bucket("reports").key(format!("{prefix}/report.json")).send().await.unwrap();
    let body = body.body.collect().await.unwrap().into_bytes();
    assert_eq!(vigil_shared::report::trigger::sha256_hex(&body), manifest.result_sha256);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((json["transactions"].clone(), json["verdicts"]["BLOCK"].clone()), (100.into(), 4.into()));
    assert_eq!(json["alert_precision"], 0.4);
    let stored: serde_json::Value = serde_json::from_slice(
        &aws.s3
            .get_object()
            .bucket("reports")
            .key(format!("{prefix}/manifest.json"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    assert_eq!(stored["result_sha256"], manifest.result_sha256.as_str());
    assert!(aws.s3.head_object().bucket("reports").key(format!("{prefix}/report.html")).send().await.is_ok());

    // Each query ran in the workgroup with its bound parameters.
    for section in &manifest.sections {
        let run = athena.get_query_execution().query_execution_id(&section.query_id).send().await.unwrap();
        let run = run.query_execution().unwrap();
        assert_eq!(run.work_group(), Some("vigil-reports"));
        let context = run.query_execution_context().and_then(|c| c.database());
        assert_eq!(context, Some("vigil_lake"), "the SQL names the lake's tables unqualified");
        assert_eq!(run.execution_parameters(), section.parameters.as_slice(), "{}", section.section);
        assert!(
            run.query().unwrap_or_default().contains('?')
                && !run.query().unwrap_or_default().contains(":as_of")
        );
        assert!(section.parameters.contains(&"TIMESTAMP '2026-12-07 06:00:00.000'".to_owned()));
    }

    let notices = aws.drain(&inbox).await;
    assert_eq!(notices.len(), 1);
    let notice = notices[0].body().unwrap_or_default();
    assert!(notice.contains(&manifest.result) && notice.contains("manifest.json"), "{notice}");
    assert!(aws.drain(&compliance_inbox).await.is_empty(), "fraud-ops is not compliance's alone");

    // The run is in the audit trail with the SQL's and the result's hashes.
    let trail = AuditTrail::new(S3AuditStore::new(aws.s3.clone(), "audit"));
    let verified = trail.verify().await.unwrap().expect("an intact chain");
    assert_eq!(verified.entries, 1);
    let entries = trail.store.entries().await.unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&entries[0].bytes).unwrap();
    assert_eq!(entry["action"], serde_json::to_value(AuditAction::ReportRun).unwrap(), "{entry}");
    assert_eq!(entry["inputs"]["result"], format!("sha256:{}", manifest.result_sha256), "{entry}");

    // The compaction schedule's input reaches the lake (empty here: nothing to do).
    let compacted = handler
        .handle(serde_json::json!({"action": "compact", "as_of": "2026-12-07T05:00:00Z"}), deadline)
        .await;
    let compacted = compacted.unwrap();
    assert_eq!((compacted["status"].as_str(), compacted["inputs"].as_u64()), (Some("compacted"), Some(0)));

    // A bad input is refused as such (Lambda retries it, then it lands in the DLQ).
    let bad = handler.handle(serde_json::json!({"report": "fraud-ops"}), deadline).await;
    assert!(matches!(bad, Err(lambda::HandlerError::Event(_))), "{bad:?}");

    // The compliance report (SAR candidates) is announced to compliance alone.
    let sections = vigil_shared::report::find("compliance").unwrap().sections.len();
    can_results(
        &moto.endpoint,
        &serde_json::Value::Array(vec![result(&[("n", "bigint")], &[&["1"]]); sections]),
    );
    let request =
        serde_json::json!({"report": "compliance", "cadence": "daily", "as_of": "2026-12-07T06:00:00Z"});
    let manifest = handler.handle(request, deadline).await.unwrap();
    let notices = aws.drain(&compliance_inbox).await;
    assert_eq!(notices.len(), 1);
    let notice = notices[0].body().unwrap_or_default();
    assert!(notice.contains("s3://reports/reports/compliance/"), "{notice}");
    assert!(notice.contains(manifest["result"].as_str().unwrap()), "{notice}");
    assert!(aws.drain(&inbox).await.is_empty(), "operations never hear of SAR candidates");
}

/// Every report as the embedded engine reads the lake on moto now.
async fn reports(aws: &Aws, period: vigil_shared::report::Period) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    vigil_shared::aws::s3::download(&aws.s3, vigil_tests::LAKE, "", dir.path(), 10_000).await.unwrap();
    let engine = vigil_shared::report::embedded::EmbeddedLake::open(dir.path()).await.unwrap();
    let mut out = Vec::new();
    for report in vigil_shared::report::REPORTS {
        out.push(engine.run(report, period).await.unwrap().render(vigil_shared::report::Format::Json));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_on_s3_keeps_every_report_while_covered_objects_wait_out_their_retirement() {
    use vigil_shared::archive::compact;
    use vigil_tests::events;
    let moto = Moto::start();
    let aws = Aws::new(&moto).await;
    aws.create_table().await;
    aws.create_buckets().await;
    aws.alert_bus().await;
    let scorer = aws.scorer();

    // Yesterday's payments in four batches: four small objects in its decisions partition.
    let now = chrono::Utc::now();
    let day = now.date_naive() - chrono::Days::new(1);
    for batch in 0..4 {
        let payloads: Vec<String> = (0..25)
            .map(|i| {
                let at = format!("{day}T{:02}:{:02}:00Z", 8 + batch, i);
                let amount = if i == 7 { "4800.00" } else { "42.10" };
                events::transaction(&format!("b{batch}-{i}"), &format!("c{i}"), "term-1", amount, &at)
            })
            .collect();
        let event = serde_json::from_value(events::kinesis(&payloads)).unwrap();
        let response = scorer.kinesis(event, now).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let partition = format!("decisions/dt={day}/");
    let small = aws.keys(vigil_tests::LAKE, &partition).await;
    assert_eq!(small.len(), 4, "{small:?}");
    let period =
        vigil_shared::report::Period::new(day, now.date_naive(), now + chrono::TimeDelta::minutes(1))
            .unwrap();
    let before = reports(&aws, period).await;
    let summary: serde_json::Value = serde_json::from_str(&before[0]).unwrap();
    assert_eq!(summary["transactions"], 100, "{summary}");

    // The daily schedule's input, through the handler as deployed.
    let vars = std::collections::BTreeMap::from([
        (lambda::env::REPORTS_BUCKET.to_owned(), "reports".to_owned()),
        (lambda::env::ATHENA_WORKGROUP.to_owned(), "vigil-reports".to_owned()),
        (lambda::env::LAKE_DATABASE.to_owned(), "vigil_lake".to_owned()),
        (lambda::env::TOPIC_REPORTS.to_owned(), "arn:aws:sns:us-east-1:123456789012:reports".to_owned()),
        (lambda::env::TOPIC_COMPLIANCE_REPORTS.to_owned(), "arn:aws:sns:us-east-1:123456789012:c".to_owned()),
        (lambda::env::LAKE_BUCKET.to_owned(), vigil_tests::LAKE.to_owned()),
    ]);
    let mut handler = ReportTriggerHandler::from_vars(&aws.config, &vars).unwrap();
    handler.metrics = vigil_shared::metrics::MetricsSink::Off;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = serde_json::json!({"action": "compact", "as_of": now.to_rfc3339()});
    let done = handler.handle(run.clone(), deadline).await.unwrap();
    assert_eq!(done["retired"], 0, "covered objects outlive their copy: {done}");
    let keys = aws.keys(vigil_tests::LAKE, &partition).await;
    assert_eq!(keys.len(), 5, "the four and their compacted copy: {keys:?}");
    assert_eq!(reports(&aws, period).await, before, "a report run meanwhile sees each row once");
    let again = handler.handle(run, deadline).await.unwrap();
    assert_eq!(again["inputs"], 0, "a repeated run writes nothing new: {again}");

    // A run past RETIRE_AFTER deletes what the copy covers; then there is nothing to do.
    let lake = vigil_shared::aws::s3::S3Lake::new(aws.s3.clone(), vigil_tests::LAKE);
    let later = now + compact::RETIRE_AFTER + chrono::TimeDelta::minutes(5);
    let retired: usize = compact::day(&lake, day, later).await.unwrap().iter().map(|c| c.retired).sum();
    assert!(retired >= 4, "{retired}");
    let keys = aws.keys(vigil_tests::LAKE, &partition).await;
    assert!(keys.len() == 1 && keys[0].contains("/compacted-"), "{keys:?}");
    assert_eq!(reports(&aws, period).await, before, "and after retirement");
    let idle = compact::day(&lake, day, later).await.unwrap();
    assert!(idle.iter().all(|c| c.written.is_none() && c.retired == 0), "{idle:?}");
}
