//! The backup copier against moto (S3, Secrets Manager) and Azurite (Azure Blob), built
//! from the template's environment as the local stack resolves it: copies, idempotency,
//! multipart, Object Lock, verification, restore, and bad input including an Azure outage
//! in the middle of a copy.

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use vigil_local::azurite::{self, Azurite};
use vigil_local::backup_drill::object_created;
use vigil_local::{LocalStack, Template};
use vigil_shared::aws::lambda::{BackupHandler, BackupSettings, HandlerError};
use vigil_shared::azure::AzureBlob;
use vigil_shared::backup::{
    FindingKind, Manifest, Sha256Hex, TargetKind, VerifyMode, md5_base64, object_name,
};
use vigil_shared::metrics::MetricsSink;
use vigil_tests::Moto;

const MIB: usize = 1024 * 1024;

/// moto with the template's stack, Azurite, and the copier as the template configures it
/// (its Azure credentials in the stack's secret).
struct World {
    _moto: Moto,
    azurite: Azurite,
    config: aws_config::SdkConfig,
    stack: LocalStack,
    s3: aws_sdk_s3::Client,
    lake: String,
    backup_bucket: String,
}

impl World {
    async fn start() -> World {
        vigil_tests::init_logs();
        let moto = Moto::start();
        let azurite = Azurite::start().unwrap_or_else(|e| panic!("{e}"));
        let config = moto.config().await;
        let template = Template::load(&vigil_local::template_path()).unwrap();
        let stack = LocalStack::create(&config, template, "vigil", &BTreeMap::new()).await.expect("stack");
        let name = |id: &str| stack.resources[id].reference.clone();
        World {
            s3: vigil_shared::aws::s3::client(&config),
            lake: name("LakeBucket"),
            backup_bucket: name("BackupBucket"),
            _moto: moto,
            azurite,
            config,
            stack,
        }
    }

    /// The copier through Secrets Manager, as the function builds it.
    async fn deployed(&self) -> BackupHandler {
        vigil_local::backup_drill::copier(&self.config, &self.stack, &self.azurite.endpoint)
            .await
            .expect("copier")
    }

    /// The copier with small parts and blocks (multipart from 5 MiB), Azure at `endpoint`.
    async fn small_parts(&self, endpoint: &str) -> BackupHandler {
        let function = self.stack.function("backupCopier").unwrap();
        let mut settings = BackupSettings::from_vars(&self.stack.environment(&function).unwrap()).unwrap();
        settings.config.multipart_threshold = 5 * MIB as u64;
        settings.config.part_size = 5 * MIB as u64;
        settings.config.block_size = MIB as u64;
        let credentials = azurite::credentials(endpoint, "vigil-backup");
        AzureBlob::new(&credentials, MIB as u64).unwrap().create_container().await.unwrap();
        let mut h = BackupHandler::new(self.s3.clone(), &credentials, settings).unwrap();
        h.metrics = MetricsSink::Off;
        h
    }

    /// Writes an object to the lake; its version id.
    async fn put(&self, key: &str, body: Vec<u8>) -> String {
        let out = self
            .s3
            .put_object()
            .bucket(&self.lake)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        out.version_id.unwrap()
    }

    fn event(&self, key: &str, version: &str) -> Value {
        object_created(&self.lake, key, version, 0)
    }

    async fn backup_versions(&self, name: &str) -> usize {
        let out =
            self.s3.list_object_versions().bucket(&self.backup_bucket).prefix(name).send().await.unwrap();
        out.versions().iter().filter(|v| v.key() == Some(name)).count()
    }
}

fn body(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_version_is_copied_once_locked_and_a_redelivered_event_changes_nothing() {
    let w = World::start().await;
    let h = w.deployed().await;
    let objects = [
        ("decisions/dt=2018-04-01/a.parquet", body(3000, 1)),
        ("labels/dt=2018-04-08/b.parquet", body(10, 2)),
    ];
    let mut versions = Vec::new();
    for (key, bytes) in &objects {
        versions.push((key.to_string(), w.put(key, bytes.clone()).await, bytes.clone()));
    }
    // A second version of the first key is a second backup, not an overwrite.
    let second = body(500, 3);
    versions.push((objects[0].0.to_owned(), w.put(objects[0].0, second.clone()).await, second));

    for (key, version, _) in &versions {
        let answer = h.handle(w.event(key, version)).await.unwrap();
        assert_eq!(answer["status"], "copied", "{answer}");
    }
    for (key, version, bytes) in &versions {
        let name = object_name(&w.lake, key, version);
        let head = w.s3.head_object().bucket(&w.backup_bucket).key(&name).send().await.unwrap();
        assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("COMPLIANCE"));
        let until = head.object_lock_retain_until_date().unwrap().secs();
        let days = (until - chrono::Utc::now().timestamp()) / 86_400;
        assert!((2553..=2555).contains(&days), "locked for the template's 2555 days: {days}");
        assert_eq!(head.metadata().unwrap()["sha256"], Sha256Hex::of(bytes).to_string());
        let blob = h.azure.blob.properties(&name).await.unwrap().expect("in Azure");
        assert_eq!(blob.content_md5.as_deref(), Some(md5_base64(bytes).as_str()));
        assert_eq!(blob.sha256, Some(Sha256Hex::of(bytes)));
    }

    // Redelivered: nothing copied, no new version anywhere.
    let (key, version, _) = &versions[0];
    let name = object_name(&w.lake, key, version);
    let again = h.handle(w.event(key, version)).await.unwrap();
    assert_eq!(again["status"], "already_backed_up");
    assert_eq!(w.backup_versions(&name).await, 1);
    let reconciled = h.handle(json!({"action": "reconcile"})).await.unwrap();
    assert_eq!(
        (reconciled["versions"].as_u64(), reconciled["copied"].as_u64()),
        (Some(3), Some(0)),
        "{reconciled}"
    );

    // The manifest, in both targets, each segment matching its SHA-256.
    for target in [&h.s3 as &dyn vigil_shared::backup::BackupTarget, &h.azure] {
        let loaded = Manifest::load(target).await.unwrap();
        assert_eq!(loaded.entries.len(), 3, "{:?}", target.kind());
        assert!(loaded.corrupt.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciliation_copies_what_no_event_announced() {
    let w = World::start().await;
    let h = w.deployed().await;
    for i in 0..3 {
        w.put(&format!("decisions/dt=2018-04-0{i}/x.parquet"), body(100, i)).await;
    }
    w.put("scratch/dt=2018-04-01/q.jsonl", body(10, 9)).await;
    let first = h.handle(json!({"action": "reconcile"})).await.unwrap();
    assert_eq!((first["versions"].as_u64(), first["copied"].as_u64()), (Some(3), Some(3)), "{first}");
    // The first run's own entry in the audit trail (a backed-up source) is all that is new.
    let second = h.handle(json!({"action": "reconcile"})).await.unwrap();
    assert_eq!(second["copied"].as_u64(), Some(1), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_5_mib_is_copied_in_parts_and_checked() {
    let w = World::start().await;
    let h = w.small_parts(&w.azurite.endpoint).await;
    let bytes = body(6 * MIB + 12_345, 5);
    let key = "decisions/dt=2018-04-01/big.parquet";
    let version = w.put(key, bytes.clone()).await;
    let answer = h.handle(w.event(key, &version)).await.unwrap();
    assert_eq!(answer["status"], "copied", "{answer}");
    assert_eq!(answer["sha256"], Sha256Hex::of(&bytes).to_string());
    let name = object_name(&w.lake, key, &version);
    let head = w.s3.head_object().bucket(&w.backup_bucket).key(&name).send().await.unwrap();
    assert!(head.e_tag().unwrap().ends_with("-2\""), "two parts: {:?}", head.e_tag());
    assert_eq!(head.content_length(), Some(bytes.len() as i64));
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("COMPLIANCE"),
        "locked after completion too"
    );
    let entry = Manifest::load(&h.s3).await.unwrap().entries.pop().unwrap();
    assert_eq!(entry.copies[&TargetKind::Azure].block_md5s.len(), 7, "six 1 MiB blocks and the rest");
    let report = h.backup().verify(VerifyMode::Full, chrono::Utc::now(), 1).await.unwrap();
    assert!(report.passed(), "{:?}", report.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_version_cannot_be_deleted() {
    let w = World::start().await;
    let h = w.deployed().await;
    let key = "decisions/dt=2018-04-01/a.parquet";
    let version = w.put(key, body(100, 1)).await;
    h.handle(w.event(key, &version)).await.unwrap();
    let name = object_name(&w.lake, key, &version);
    let copy = w.s3.head_object().bucket(&w.backup_bucket).key(&name).send().await.unwrap();
    let refused =
        w.s3.delete_object()
            .bucket(&w.backup_bucket)
            .key(&name)
            .set_version_id(copy.version_id.clone())
            .send()
            .await;
    let error = refused.expect_err("COMPLIANCE mode refuses the delete");
    assert!(
        vigil_shared::aws::describe(&error).contains("AccessDenied"),
        "{}",
        vigil_shared::aws::describe(&error)
    );
    let still =
        w.s3.get_object().bucket(&w.backup_bucket).key(&name).set_version_id(copy.version_id).send().await;
    assert!(still.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_exactly_the_damage_in_each_target_and_a_restore_compares() {
    let w = World::start().await;
    let h = w.deployed().await;
    let mut names = Vec::new();
    for i in 0..5u8 {
        let key = format!("decisions/dt=2018-04-0{i}/x.parquet");
        let version = w.put(&key, body(2000, i)).await;
        h.handle(w.event(&key, &version)).await.unwrap();
        names.push((object_name(&w.lake, &key, &version), format!("{}/{key}@{version}", w.lake)));
    }
    let clean = h.handle(json!({"action": "verify", "full": true})).await.unwrap();
    assert_eq!(clean["checked"], 5, "{clean}");

    let garbage = bytes::Bytes::from_static(b"garbage");
    let md5 = md5_base64(&garbage);
    w.s3.put_object()
        .bucket(&w.backup_bucket)
        .key(&names[0].0)
        .content_md5(md5)
        .body(garbage.clone().into())
        .send()
        .await
        .unwrap();
    w.s3.delete_object().bucket(&w.backup_bucket).key(&names[1].0).send().await.unwrap();
    h.azure.blob.put_blob(&names[2].0, garbage.clone(), &Sha256Hex::of(&garbage)).await.unwrap();
    h.azure.blob.delete(&names[3].0).await.unwrap();

    let failed = h.handle(json!({"action": "verify", "full": true})).await;
    let Err(HandlerError::Verify(message)) = failed else { panic!("verify must fail: {failed:?}") };
    assert!(message.starts_with("4 of 5 copies checked are not intact"), "{message}");
    let report = h.backup().verify(VerifyMode::Full, chrono::Utc::now(), 2).await.unwrap();
    let found: Vec<(TargetKind, FindingKind, &str)> =
        report.findings.iter().map(|f| (f.target, f.kind, f.object.as_str())).collect();
    assert_eq!(
        found,
        [
            (TargetKind::S3, FindingKind::Corrupt, names[0].1.as_str()),
            (TargetKind::S3, FindingKind::Missing, names[1].1.as_str()),
            (TargetKind::Azure, FindingKind::Corrupt, names[2].1.as_str()),
            (TargetKind::Azure, FindingKind::Missing, names[3].1.as_str()),
        ]
    );
    assert!(
        report.findings[..2].iter().all(|f| f.recoverable == Some(true)),
        "the locked versions are intact"
    );

    let restore = |from: &str| json!({"action": "restore", "source_bucket": w.lake, "prefix": "decisions/", "from": from, "to_prefix": format!("t-{from}/")});
    let from_s3 = h.handle(restore("s3")).await.unwrap();
    assert_eq!(
        (from_s3["status"].as_str(), from_s3["identical"].as_u64()),
        (Some("restored"), Some(5)),
        "{from_s3}"
    );
    let restored = vigil_shared::aws::s3::get(
        &w.s3,
        &h.restore_bucket,
        &format!("t-s3/{}/decisions/dt=2018-04-00/x.parquet", w.lake),
    )
    .await
    .unwrap();
    assert_eq!(restored, body(2000, 0));
    let from_azure = h.handle(restore("azure")).await.unwrap();
    assert_eq!(from_azure["identical"], 3, "{from_azure}");
    assert_eq!(
        from_azure["differing"].as_array().unwrap().len() + from_azure["missing"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_reason_and_nothing_copied() {
    let w = World::start().await;
    let h = w.deployed().await;
    let quarantine = w.stack.resources["QuarantineBucket"].reference.clone();
    let cases = [
        (
            object_created(&quarantine, "quarantine/x.jsonl", "v", 1),
            "is not under a backed-up bucket and prefix",
        ),
        (object_created(&w.lake, "scratch/x.jsonl", "v", 1), "is not under a backed-up bucket and prefix"),
        (w.event("decisions/never-written.parquet", "3sL4kqtJlcpXroDTDmJ"), "does not exist"),
        (json!({"action": "delete", "prefix": "decisions/"}), "not an S3 event nor a backup action"),
    ];
    for (event, reason) in cases {
        let answer = h.handle(event).await.unwrap();
        assert_eq!(answer["status"], "refused", "{answer}");
        assert!(answer["reason"].as_str().unwrap().contains(reason), "{answer}");
    }
    assert!(vigil_shared::aws::backup::list(&w.s3, &w.backup_bucket, "").await.unwrap().is_empty());
}

/// A TCP relay to Azurite that goes down once `budget` request bytes have passed: an
/// outage in the middle of a copy. Up again with [`Relay::heal`].
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    budget: Arc<AtomicI64>,
}

impl Relay {
    fn start(upstream: u16, budget: i64) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, budget) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(budget)));
        let (d, b) = (down.clone(), budget.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let pipe = |mut from: TcpStream,
                            mut to: TcpStream,
                            counted: bool,
                            d: Arc<AtomicBool>,
                            b: Arc<AtomicI64>| {
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let over = counted && b.fetch_sub(n as i64, Ordering::SeqCst) < n as i64;
                            if over {
                                d.store(true, Ordering::SeqCst);
                            }
                            if d.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(client, server, true, d.clone(), b.clone());
                pipe(s2, c2, false, d.clone(), b.clone());
            }
        });
        Relay { port, down, budget }
    }

    fn heal(&self) {
        self.budget.store(i64::MAX, Ordering::SeqCst);
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_outage_mid_copy_fails_clearly_and_the_retry_completes_without_copying_twice() {
    let w = World::start().await;
    // Container made directly; the relay then carries 2.5 MiB before it goes down.
    let relay = Relay::start(w.azurite.port, i64::MAX);
    let h = w.small_parts(&format!("http://127.0.0.1:{}/{}", relay.port, azurite::ACCOUNT)).await;
    relay.budget.store((2 * MIB + MIB / 2) as i64, Ordering::SeqCst);
    let key = "decisions/dt=2018-04-01/a.parquet";
    let bytes = body(4 * MIB, 7);
    let version = w.put(key, bytes.clone()).await;

    let failed = h.handle(w.event(key, &version)).await;
    let Err(HandlerError::Backup(e)) = &failed else { panic!("the copy must fail: {failed:?}") };
    assert!(e.to_string().starts_with("Azure unavailable: "), "{e}");
    let name = object_name(&w.lake, key, &version);
    assert_eq!(w.backup_versions(&name).await, 1, "the S3 copy was made before the outage");
    assert!(relay.down.load(Ordering::SeqCst));

    relay.heal();
    let retried = h.handle(w.event(key, &version)).await.unwrap();
    assert_eq!(retried["status"], "copied", "{retried}");
    assert_eq!(w.backup_versions(&name).await, 1, "S3 is not copied again");
    let blob = h.azure.blob.properties(&name).await.unwrap().expect("the blob is there now");
    assert_eq!(blob.sha256, Some(Sha256Hex::of(&bytes)));
    let again = h.handle(w.event(key, &version)).await.unwrap();
    assert_eq!(again["status"], "already_backed_up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_drill_finds_what_it_injects_and_restores_everything() {
    let w = World::start().await;
    for i in 0..6u8 {
        w.put(&format!("decisions/dt=2018-04-0{i}/x.parquet"), body(1500, i)).await;
    }
    let outcome = vigil_local::backup_drill::run(&w.config, &w.stack, &w.azurite.endpoint).await.unwrap();
    let summary = outcome.summary();
    assert!(outcome.passed(), "{outcome:?}");
    assert!(summary.starts_with("backup drill: 6 objects to S3 (COMPLIANCE until "), "{summary}");
    assert!(
        summary.ends_with(") and Azure; verify: found 1 corrupt, 1 missing in each target, as injected; restore: 6/6 identical"),
        "{summary}"
    );
    assert_eq!(outcome.azure_restore_identical, 4);
}

/// `events/backup-*.json`, as `cargo lambda invoke` hands them to the copier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_fixtures_run_through_the_copier() {
    let w = World::start().await;
    let h = w.deployed().await;
    let fixture = |name: &str| -> Value {
        let path = vigil_tests::workspace().join("events").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let created = fixture("backup-object-created.json");
    let key = created["detail"]["object"]["key"].as_str().unwrap();
    assert_eq!(created["detail"]["bucket"]["name"], w.lake);
    w.put(key, body(3120, 4)).await;
    assert_eq!(h.handle(created.clone()).await.unwrap()["status"], "copied");
    assert_eq!(h.handle(created).await.unwrap()["status"], "already_backed_up");
    assert_eq!(h.handle(fixture("backup-reconcile.json")).await.unwrap()["copied"], 0);
    assert_eq!(h.handle(fixture("backup-verify.json")).await.unwrap()["status"], "verified");
}
