//! `vigil audit verify` and `vigil reveal` through the binary against moto: a tampered
//! trail is named at its first broken entry, a reveal without the compliance role is
//! refused, and every reveal, refused or not, is in the trail.

use aws_config::SdkConfig;
use std::process::{Command, Output};
use vigil_local::moto::{Moto, config};
use vigil_shared::audit::{AuditAction, AuditEntry, AuditRecord, AuditStore, AuditTrail};
use vigil_shared::aws::audit::S3AuditStore;
use vigil_shared::aws::kms::KmsKeys;
use vigil_shared::privacy::{Envelope, Purpose};

const ROLE: &str = "arn:aws:iam::123456789012:role/vigil-compliance-role";

/// Credentials for the child: moto's default user, or an assumed role's session.
struct Credentials {
    key: String,
    secret: String,
    token: Option<String>,
}

impl Credentials {
    fn default_user() -> Self {
        Credentials { key: "test".into(), secret: "test".into(), token: None }
    }
}

fn vigil(moto: &Moto, credentials: &Credentials, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &credentials.key)
        .env("AWS_SECRET_ACCESS_KEY", &credentials.secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE");
    if let Some(token) = &credentials.token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    command.output().expect("vigil runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A versioned bucket under Object Lock, as the template's audit bucket.
async fn locked_bucket(config: &SdkConfig, name: &str) -> aws_sdk_s3::Client {
    let s3 = vigil_shared::aws::s3::client(config);
    s3.create_bucket().bucket(name).object_lock_enabled_for_bucket(true).send().await.unwrap();
    s3
}

fn record(i: usize) -> AuditRecord {
    AuditRecord::new(
        "lambda:vigil-report-trigger",
        AuditAction::ReportRun,
        format!("fraud-ops run {i}"),
        "ok",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_audit_trail_is_named_by_audit_verify() {
    let moto = Moto::start().unwrap();
    let config = config(&moto.endpoint).await;
    let s3 = locked_bucket(&config, "audit").await;
    let trail = AuditTrail::new(S3AuditStore::new(s3.clone(), "audit"));
    for i in 0..5 {
        trail.append(record(i)).await.unwrap();
    }
    // S3 itself refuses a second entry with a taken number (If-None-Match: *).
    let store = S3AuditStore::new(s3.clone(), "audit");
    assert_eq!(store.create(5, b"{}".to_vec()).await, Ok(false));
    let me = Credentials::default_user();
    let ok = vigil(&moto, &me, &["audit", "verify", "--bucket", "audit"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).starts_with("audit trail: 5 entries, chain intact (head sha256:"),
        "{}",
        text(&ok.stdout)
    );

    // Entry 3 written over with another result: a second version of its object.
    let key = S3AuditStore::key(3);
    let original = vigil_shared::aws::s3::get(&s3, "audit", &key).await.unwrap();
    let forged = text(&original).replace("\"ok\"", "\"refused\"");
    s3.put_object().bucket("audit").key(&key).body(forged.into_bytes().into()).send().await.unwrap();
    let broken = vigil(&moto, &me, &["audit", "verify", "--bucket", "audit"]);
    assert!(!broken.status.success());
    assert_eq!(
        text(&broken.stdout).trim(),
        "audit trail broken at entry 3: written over (2 versions); 2 entries before it intact"
    );

    // Another trail with entry 2 hidden behind a delete marker.
    let s3 = locked_bucket(&config, "audit-2").await;
    let trail = AuditTrail::new(S3AuditStore::new(s3.clone(), "audit-2"));
    for i in 0..3 {
        trail.append(record(i)).await.unwrap();
    }
    s3.delete_object().bucket("audit-2").key(S3AuditStore::key(2)).send().await.unwrap();
    let missing = vigil(&moto, &me, &["audit", "verify", "--bucket", "audit-2"]);
    assert!(!missing.status.success());
    assert_eq!(
        text(&missing.stdout).trim(),
        "audit trail broken at entry 2: deleted (a delete marker hides it); 1 entry before it intact"
    );

    // The newest entry deleted: nothing after it is missing, yet the tail is found short.
    let s3 = locked_bucket(&config, "audit-3").await;
    let trail = AuditTrail::new(S3AuditStore::new(s3.clone(), "audit-3"));
    for i in 0..3 {
        trail.append(record(i)).await.unwrap();
    }
    s3.delete_object().bucket("audit-3").key(S3AuditStore::key(3)).send().await.unwrap();
    let truncated = vigil(&moto, &me, &["audit", "verify", "--bucket", "audit-3"]);
    assert!(!truncated.status.success());
    assert!(
        text(&truncated.stdout).starts_with("audit trail broken at entry 3: deleted"),
        "{}",
        text(&truncated.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reveal_needs_the_compliance_role_and_every_attempt_is_recorded() {
    let moto = Moto::start().unwrap();
    let config = config(&moto.endpoint).await;
    let s3 = locked_bucket(&config, "audit").await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    // What the producer seals at the edge: an account number, under the field key.
    let envelope = Envelope::new(KmsKeys::new(kms.clone(), &key));
    let sealed = envelope.seal(Purpose::Party, b"DE89370400440532013000").await.unwrap();
    let args = [
        "reveal",
        sealed.as_str(),
        "--reason",
        "case 2026-118",
        "--data-key",
        &key,
        "--compliance-role",
        ROLE,
        "--audit-bucket",
        "audit",
    ];

    // Not the compliance role: refused, and the refusal is on record.
    let refused = vigil(&moto, &Credentials::default_user(), &args);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("reveal refused"), "{}", text(&refused.stderr));
    assert!(!text(&refused.stdout).contains("DE89"), "nothing revealed");

    // The compliance role, assumed: the value, and a second entry.
    let sts = aws_sdk_sts::Client::new(&config);
    let session = sts.assume_role().role_arn(ROLE).role_session_name("jane").send().await.unwrap();
    let c = session.credentials.unwrap();
    let compliance =
        Credentials { key: c.access_key_id, secret: c.secret_access_key, token: Some(c.session_token) };
    let opened = vigil(&moto, &compliance, &args);
    assert!(opened.status.success(), "{}", text(&opened.stderr));
    assert_eq!(text(&opened.stdout).trim(), "DE89370400440532013000");

    let store = S3AuditStore::new(s3, "audit");
    let entries: Vec<AuditEntry> =
        store.entries().await.unwrap().iter().map(|s| AuditEntry::parse(&s.bytes).unwrap()).collect();
    let actions: Vec<AuditAction> = entries.iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::RevealRefused, AuditAction::Reveal]);
    assert!(entries[0].who.ends_with(":user/moto"), "{}", entries[0].who);
    assert!(entries[1].who.contains(":assumed-role/vigil-compliance-role/jane"), "{}", entries[1].who);
    for e in &entries {
        let stored = String::from_utf8(e.to_bytes()).unwrap();
        assert!(!stored.contains("DE89") && !stored.contains("2026-118"), "hashes only: {stored}");
        assert!(e.inputs.values().all(|v| v.starts_with("sha256:")));
    }
    let verified = vigil(&moto, &Credentials::default_user(), &["audit", "verify", "--bucket", "audit"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
}
