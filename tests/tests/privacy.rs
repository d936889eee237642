//! Card and account numbers and names, never stored in the clear: the stack on moto, from
//! template.yaml, fed card payments whose customer ids are card numbers, transfers with
//! account numbers and payee names, customer profiles, a batch file with a bad row, and
//! records an upstream system wrote to the stream directly; then everything it stored is
//! dumped (as `vigil demo --local-aws --dump` does) and searched. Tokens stay the same
//! across cold starts and differ between deployments.

use std::path::Path;
use std::time::Duration;
use vigil_local::e2e::{self, Options};
use vigil_shared::aws::lambda::{self, ProducerHandler};
use vigil_shared::privacy::{Purpose, Sealed};
use vigil_tests::{Moto, events};

use vigil_tests::{COMPLIANCE, OPS};

/// A Luhn-valid 16-digit card number starting with `prefix`.
fn pan(prefix: &str, n: u64) -> String {
    let mut digits: Vec<u32> = prefix.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut x = n.wrapping_mul(2_654_435_761).wrapping_add(97);
    while digits.len() < 15 {
        digits.push((x % 10) as u32);
        x /= 10;
        x = x.wrapping_mul(31).wrapping_add(7);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { *d })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()
}

const ACCOUNTS: [&str; 5] = [
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "NL91ABNA0417164300",
    "12345678901234",
    "0012004567",
];
const NAMES: [&str; 5] =
    ["Eleanor Whitfield", "Rajesh Kumaraswamy", "Olga Petrovna Ivanova", "Hiroshi Takamura", "Amara Okonkwo"];

struct Fed {
    payloads: Vec<String>,
    /// What must appear nowhere in the clear.
    secrets: Vec<String>,
}

fn fed() -> Fed {
    let pans: Vec<String> = (0..12).map(|i| pan(["4", "51", "37", "6011"][i % 4], i as u64)).collect();
    let mut payloads = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        payloads.push(events::customer(&pans[i], name, &[ACCOUNTS[i]], "2018-03-01T00:00:00Z"));
    }
    for i in 0..160 {
        let at = chrono::DateTime::parse_from_rfc3339("2018-04-01T00:00:00Z").unwrap()
            + chrono::TimeDelta::minutes(9 * i);
        let at = at.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // Every 20th payment is large: the amount rule reviews it, so alerts go out.
        let amount = if i % 20 == 7 { "15000.00" } else { "42.50" };
        payloads.push(events::transaction(
            &format!("c{i}"),
            &pans[i as usize % pans.len()],
            &format!("t{}", i % 9),
            amount,
            &at,
        ));
        if i % 8 == 3 {
            let (payer, payee) = (ACCOUNTS[i as usize % 5], ACCOUNTS[(i as usize + 2) % 5]);
            let amount = if i % 16 == 3 { "9800.00" } else { "730.00" };
            payloads.push(events::transfer(
                &format!("w{i}"),
                payer,
                payee,
                NAMES[i as usize % 5],
                amount,
                &at,
            ));
        }
    }
    // A payee on the demo list (public list data, screened and alerted).
    payloads.push(events::transfer(
        "listed",
        ACCOUNTS[0],
        "DE02120300000000202051",
        "Zentara Maritime Holdings",
        "120.00",
        "2018-04-02T10:00:00Z",
    ));
    // The API refuses this one per item, with a reason that never echoes the number.
    payloads.push(format!(r#"{{"transaction_id":"bad-1","customer_id":"{}","amount":"-5"}}"#, pans[0]));
    let mut secrets: Vec<String> = pans;
    secrets.extend(ACCOUNTS.iter().map(|s| s.to_string()));
    secrets.push("DE02120300000000202051".into());
    secrets.extend(NAMES.iter().map(|s| s.to_string()));
    Fed { payloads, secrets }
}

/// Every occurrence of a secret under `dir`: raw bytes (names in any case), and the text
/// of every Parquet row (its pages may be compressed).
fn scan(dir: &Path, secrets: &[String]) -> (usize, Vec<String>) {
    let mut files = 0;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        let mut text = String::from_utf8_lossy(&bytes).to_lowercase();
        if path.extension().is_some_and(|e| e == "parquet") {
            for row in vigil_shared::archive::parquet::text_rows(bytes).expect("the lake's Parquet reads") {
                row.iter().for_each(|(_, v)| text.push_str(&v.to_lowercase()));
            }
        }
        for s in secrets {
            if text.contains(&s.to_lowercase()) {
                found.push(format!("{s} in {}", path.display()));
            }
        }
    }
    (files, found)
}

/// What upstream systems delivered is theirs, in the clear by this test's design: the batch
/// file in the incoming bucket (the edge; it expires after 30 days) and the records they put
/// on the stream themselves (partition keys `direct-*`). Everything else Vigil wrote.
fn set_aside_upstream_inputs(dir: &Path, incoming: &str, stream: &str) {
    std::fs::remove_file(dir.join("s3").join(incoming).join("incoming/cards.csv"))
        .expect("the file was dumped");
    let path = dir.join("kinesis").join(format!("{stream}.jsonl"));
    let all = std::fs::read_to_string(&path).unwrap();
    let ours: Vec<&str> = all.lines().filter(|l| !l.contains(r#""partition_key":"direct-"#)).collect();
    assert_eq!(all.lines().count() - ours.len(), 2, "both direct records were dumped");
    std::fs::write(&path, ours.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_stack_stores_or_logs_holds_a_card_number_account_number_or_name() {
    // Every function's log lines, at info, through the functions' own logging setup.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/all.jsonl");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    vigil_shared::logging::init_with(std::sync::Mutex::new(std::fs::File::create(&log).unwrap()), "info");
    let moto = Moto::start();
    let (config, stack) = vigil_tests::alerting_stack(&moto).await;
    let Fed { payloads, secrets } = fed();
    let privacy = e2e::stack_privacy(&config, &stack).await.unwrap();

    // Upstream systems that write to the stream directly send numbers and names in the
    // clear: a good transfer, and a broken record the scorer quarantines.
    let stream = &stack.resources["TransactionStream"].reference;
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let direct = [
        events::transfer("direct-1", ACCOUNTS[3], ACCOUNTS[4], NAMES[2], "310.00", "2018-04-01T03:00:00Z"),
        format!(
            r#"{{"transaction_id":"direct-2","customer_id":"{}","note":"{}","amount":"x"}}"#,
            secrets[1], NAMES[3]
        ),
    ];
    for (i, record) in direct.iter().enumerate() {
        let put = kinesis.put_record().stream_name(stream).partition_key(format!("direct-{i}"));
        put.data(record.as_bytes().to_vec().into()).send().await.unwrap();
    }
    // A batch file whose second row is refused: quarantined with its raw bytes, sealed.
    let incoming = &stack.resources["IncomingBucket"].reference;
    let csv = format!(
        "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount\n\
         f1,2018-04-01 00:00:31,{},3156,57.16\nf2,2018-04-01 00:02:10,{},3412,-3\n",
        secrets[2], secrets[3]
    );
    let s3 = vigil_shared::aws::s3::client(&config);
    s3.put_object()
        .bucket(incoming)
        .key("incoming/cards.csv")
        .body(csv.clone().into_bytes().into())
        .send()
        .await
        .unwrap();
    let producer = stack.function("producer").unwrap();
    let producer = ProducerHandler::from_vars(&config, &stack.environment(&producer).unwrap()).await.unwrap();
    let event = serde_json::from_value(events::s3_put(incoming, "incoming/cards.csv", csv.len())).unwrap();
    let file = producer.files(event, chrono::Utc::now()).await.unwrap();
    assert_eq!((file.published, file.quarantined), (1, 1));

    let options = Options {
        request_size: 20,
        rate: None,
        drain_timeout: Duration::from_secs(90),
        ops_endpoint: OPS.to_owned(),
        compliance_endpoint: Some(COMPLIANCE.to_owned()),
        chaos: None,
        decide: false,
    };
    let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await.expect("run");
    assert!(report.accounted(), "{report:?}");
    assert_eq!(report.rejected, 1);
    assert!(!report.alerts.is_empty(), "card alerts went out");
    assert!(
        report.compliance_alerts.iter().any(|a| a.alert_id == "sanctions:listed"),
        "the listed payee was screened: {:?}",
        report.compliance_alerts.iter().map(|a| &a.alert_id).collect::<Vec<_>>()
    );

    let inboxes: [(&str, &[e2e::Received]); 2] =
        [("operations", &report.alerts), ("compliance", &report.compliance_alerts)];
    let dumped = vigil_local::dump::dump(&config, &stack, &inboxes, dir.path()).await.unwrap();
    assert!(dumped.items > 100 && dumped.objects > 3 && dumped.records > 100, "{dumped:?}");
    set_aside_upstream_inputs(dir.path(), incoming, stream);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.lines().count() > 20 && logged.contains("quarantined"), "{logged}");
    let (files, found) = scan(dir.path(), &secrets);
    assert!(files > 10, "{files} files");
    assert!(found.is_empty(), "in the clear: {found:#?}");

    // What compliance must read back is there, sealed: both refused records open whole.
    let quarantine = &stack.resources["QuarantineBucket"].reference;
    let mut opened = Vec::new();
    for key in vigil_tests::Aws::new(&moto).await.keys(quarantine, "quarantine/").await {
        let body = vigil_shared::aws::s3::get(&s3, quarantine, &key).await.unwrap();
        for line in String::from_utf8(body).unwrap().lines() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let sealed = Sealed::parse(line["payload_sealed"].as_str().unwrap()).unwrap();
            opened.push(
                String::from_utf8(privacy.envelope.open(Purpose::Quarantine, &sealed).await.unwrap())
                    .unwrap(),
            );
        }
    }
    opened.sort();
    assert_eq!(opened.len(), 2, "{opened:?}");
    assert!(opened.iter().any(|p| p.contains(&secrets[3]) && p.starts_with("f2,")), "{opened:?}");
    assert!(opened.iter().any(|p| p == &direct[1]), "{opened:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_stable_across_cold_starts_and_differ_between_deployments() {
    let moto = Moto::start();
    let aws = vigil_tests::Aws::new(&moto).await;
    let a: std::collections::BTreeMap<_, _> =
        aws.privacy_env("deployment-a-0123456789abcdef").await.into_iter().collect();
    let b: std::collections::BTreeMap<_, _> =
        aws.privacy_env("deployment-b-0123456789abcdef").await.into_iter().collect();
    // Two cold starts of one deployment, and one of another.
    let first = lambda::privacy(&aws.config, &a).await.unwrap();
    let second = lambda::privacy(&aws.config, &a).await.unwrap();
    let other = lambda::privacy(&aws.config, &b).await.unwrap();
    let card = pan("4", 7);
    let token = first.tokens.tokenise(&card);
    assert_eq!(second.tokens.tokenise(&card), token, "the same card, the same token, in every container");
    assert_ne!(other.tokens.tokenise(&card), token, "another deployment's key, another token");
    assert_eq!(vigil_shared::privacy::token::display(&token), format!("{}******{}", &card[..6], &card[12..]));
    // A value one container sealed opens in another: the data key is KMS's, not the container's.
    let sealed = first.envelope.seal(Purpose::Party, b"Eleanor Whitfield").await.unwrap();
    assert_eq!(second.envelope.open_text(Purpose::Party, &sealed).await.unwrap(), "Eleanor Whitfield");
}
