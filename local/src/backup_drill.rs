//! `vigil backup drill`: the backup copier on the local stack (moto) and Azurite. It
//! backs up a lake the pipeline wrote, as EventBridge delivers new-object events (one
//! redelivered), then damages one copy and removes another in each target, and checks
//! that verification finds exactly those and that a restore from the locked bucket gives
//! every object back.

use crate::azurite;
use crate::stack::{LocalStack, describe};
use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use vigil_shared::aws::lambda::BackupHandler;
use vigil_shared::azure::AzureBlob;
use vigil_shared::backup::{
    BackupTarget, Entry, FindingKind, Manifest, RestoreRequest, Sha256Hex, TargetKind, VerifyMode,
};
use vigil_shared::metrics::MetricsSink;

/// What the drill did and found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub objects: usize,
    pub copied: usize,
    /// Lake objects the copier refused, with its reason (none: the sources cover the lake).
    pub refused: Vec<String>,
    pub redelivered_no_op: bool,
    pub reconcile_copied: usize,
    pub retain_until: Option<DateTime<Utc>>,
    pub lock_mode: String,
    pub locked_delete_refused: bool,
    /// (target, kind) → the copies found so, and those injected.
    pub found: BTreeSet<(TargetKind, FindingKind, String)>,
    pub injected: BTreeSet<(TargetKind, FindingKind, String)>,
    pub restored: usize,
    pub identical: usize,
    pub azure_restore_identical: usize,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.objects > 0
            && self.copied == self.objects
            && self.refused.is_empty()
            && self.redelivered_no_op
            && self.reconcile_copied == 0
            && self.lock_mode == "COMPLIANCE"
            && self.locked_delete_refused
            && self.found == self.injected
            && self.restored == self.objects
            && self.identical == self.objects
    }

    pub fn summary(&self) -> String {
        let until = self.retain_until.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "?".into());
        let count = |t, k| self.found.iter().filter(|(ft, fk, _)| *ft == t && *fk == k).count();
        let exact = if self.found == self.injected { "as injected" } else { "NOT as injected" };
        let per_target = if [TargetKind::S3, TargetKind::Azure].iter().all(|t| {
            count(*t, FindingKind::Corrupt) == count(TargetKind::S3, FindingKind::Corrupt)
                && count(*t, FindingKind::Missing) == count(TargetKind::S3, FindingKind::Missing)
        }) {
            format!(
                "found {} corrupt, {} missing in each target",
                count(TargetKind::S3, FindingKind::Corrupt),
                count(TargetKind::S3, FindingKind::Missing)
            )
        } else {
            format!(
                "found S3 {} corrupt, {} missing; Azure {} corrupt, {} missing",
                count(TargetKind::S3, FindingKind::Corrupt),
                count(TargetKind::S3, FindingKind::Missing),
                count(TargetKind::Azure, FindingKind::Corrupt),
                count(TargetKind::Azure, FindingKind::Missing)
            )
        };
        format!(
            "backup drill: {} objects to S3 ({} until {until}) and Azure; verify: {per_target}, {exact}; restore: {}/{} identical",
            self.objects, self.lock_mode, self.identical, self.restored
        )
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// An S3 "Object Created" event as EventBridge delivers it.
pub fn object_created(bucket: &str, key: &str, version: &str, size: u64) -> Value {
    json!({
        "version": "0", "id": format!("drill-{key}-{version}"), "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-25T00:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0", "bucket": { "name": bucket },
            "object": { "key": key, "size": size, "version-id": version, "sequencer": "0" },
            "request-id": "drill", "requester": "123456789012", "reason": "PutObject",
        },
    })
}

/// The copier as the stack deploys it: its environment from the template, the Azure
/// credentials put in the stack's secret (as the operator does), Azurite's container made.
pub async fn copier(
    config: &SdkConfig,
    stack: &LocalStack,
    azurite_endpoint: &str,
) -> Result<BackupHandler, String> {
    let function = stack.function("backupCopier").ok_or("no BackupCopierFunction in template.yaml")?;
    let env = stack.environment(&function).map_err(err)?;
    let secret = stack.resources.get("AzureBackupSecret").ok_or("no AzureBackupSecret")?.reference.clone();
    let credentials = azurite::credentials(azurite_endpoint, "vigil-backup");
    let value = json!({
        "account": credentials.account, "key": credentials.key, "endpoint": credentials.endpoint,
        "container": credentials.container,
    });
    let secrets = aws_sdk_secretsmanager::Client::new(config);
    // The stack made the secret (a generated placeholder); the operator puts the value.
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(value.to_string())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    AzureBlob::new(&credentials, 1024 * 1024)?.create_container().await.map_err(err)?;
    let mut handler = BackupHandler::from_vars(config, &env).await.map_err(err)?;
    handler.metrics = MetricsSink::Off;
    Ok(handler)
}

/// The drill on a stack whose lake the pipeline has written.
pub async fn run(config: &SdkConfig, stack: &LocalStack, azurite_endpoint: &str) -> Result<Outcome, String> {
    let handler = copier(config, stack, azurite_endpoint).await?;
    let s3 = vigil_shared::aws::s3::client(config);
    let lake = stack.resources.get("LakeBucket").ok_or("no LakeBucket")?.reference.clone();
    let mut out = Outcome::default();

    // Every version in the lake, announced as EventBridge would.
    let mut objects = Vec::new();
    let page = s3.list_object_versions().bucket(&lake).send().await.map_err(|e| describe(&e))?;
    for v in page.versions() {
        if let (Some(key), Some(version)) = (v.key(), v.version_id()) {
            objects.push((
                key.to_owned(),
                version.to_owned(),
                u64::try_from(v.size().unwrap_or(0)).unwrap_or(0),
            ));
        }
    }
    out.objects = objects.len();
    let mut copied = Vec::new();
    for (key, version, size) in &objects {
        let answer = handler.handle(object_created(&lake, key, version, *size)).await.map_err(err)?;
        match answer["status"].as_str() {
            Some("copied") => copied.push((key, version, size)),
            _ => out.refused.push(format!("{key}: {}", answer["reason"].as_str().unwrap_or("?"))),
        }
    }
    out.copied = copied.len();
    let (key, version, size) = copied.first().copied().ok_or("no lake object was copied")?;
    let again = handler.handle(object_created(&lake, key, version, *size)).await.map_err(err)?;
    out.redelivered_no_op = again["status"] == "already_backed_up";
    let reconciled = handler.handle(json!({"action": "reconcile"})).await.map_err(err)?;
    out.reconcile_copied = reconciled["copied"].as_u64().unwrap_or(u64::MAX) as usize;

    let entries: Vec<Entry> = Manifest::load(&handler.s3).await.map_err(err)?.entries;
    let s3_copy = |e: &Entry| e.copies.get(&TargetKind::S3).cloned();
    let first = entries.first().and_then(s3_copy).ok_or("no S3 copy in the manifest")?;
    out.lock_mode = first.lock_mode.clone().unwrap_or_default();
    out.retain_until = first.retain_until;

    // A locked version cannot be deleted, even by a caller allowed to delete.
    let delete = s3
        .delete_object()
        .bucket(&first.location)
        .key(&first.name)
        .set_version_id(first.version.clone())
        .send()
        .await;
    out.locked_delete_refused = delete.is_err();

    // Damage: in S3, a new version laid over one copy and a delete marker over another
    // (what Object Lock still allows); in Azure, one blob overwritten and one deleted.
    let pick: Vec<&Entry> = entries.iter().take(4).collect();
    if pick.len() < 4 {
        return Err(format!("the lake holds {} objects; the drill needs 4", pick.len()));
    }
    let name = |e: &Entry| vigil_shared::backup::object_name(&e.source_bucket, &e.key, &e.version);
    let garbage = bytes::Bytes::from_static(b"not the object that was backed up");
    s3.put_object()
        .bucket(&first.location)
        .key(name(pick[0]))
        .content_md5(vigil_shared::backup::md5_base64(&garbage))
        .body(garbage.clone().into())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    s3.delete_object().bucket(&first.location).key(name(pick[1])).send().await.map_err(|e| describe(&e))?;
    handler
        .azure
        .blob
        .put_blob(&name(pick[2]), garbage.clone(), &Sha256Hex::of(&garbage))
        .await
        .map_err(err)?;
    handler.azure.blob.delete(&name(pick[3])).await.map_err(err)?;
    for (target, kind, e) in [
        (TargetKind::S3, FindingKind::Corrupt, pick[0]),
        (TargetKind::S3, FindingKind::Missing, pick[1]),
        (TargetKind::Azure, FindingKind::Corrupt, pick[2]),
        (TargetKind::Azure, FindingKind::Missing, pick[3]),
    ] {
        out.injected.insert((target, kind, e.id()));
    }

    let backup = handler.backup();
    let report = backup.verify(VerifyMode::Full, Utc::now(), 7).await.map_err(err)?;
    out.found = report.findings.iter().map(|f| (f.target, f.kind, f.object.clone())).collect();

    let request = |from| RestoreRequest {
        source_bucket: lake.clone(),
        prefix: String::new(),
        as_of: None,
        from,
        to_bucket: handler.restore_bucket.clone(),
        to_prefix: format!("drill-{}/", from.as_str().to_lowercase()),
    };
    let restored = backup.restore(&request(TargetKind::S3), &handler.restore).await.map_err(err)?;
    out.restored = restored.objects;
    out.identical = restored.identical;
    let from_azure = backup.restore(&request(TargetKind::Azure), &handler.restore).await.map_err(err)?;
    out.azure_restore_identical = from_azure.identical;
    Ok(out)
}

/// Names of a target's copies (for the report).
pub async fn count(target: &dyn BackupTarget, prefix: &str) -> Result<usize, String> {
    Ok(target.list(prefix).await.map_err(err)?.len())
}
