//! `vigil audit verify` and `vigil reveal`: the audit trail checked end to end, and sealed
//! fields opened for compliance with the caller's own credentials (each reveal recorded).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use vigil_shared::audit::AuditTrail;
use vigil_shared::aws::audit::S3AuditStore;
use vigil_shared::aws::reveal::{RevealRequest, reveal};
use vigil_shared::privacy::{Purpose, Sealed};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Reads every entry of the audit trail back and recomputes the hash chain; names the
    /// first entry that is missing, altered or written over, and exits non-zero then.
    Verify {
        /// The stack's audit bucket (output `AuditBucketName`).
        #[arg(long, env = "VIGIL_AUDIT_BUCKET")]
        bucket: String,
    },
}

#[derive(Args)]
pub struct Reveal {
    /// Sealed values (`vgs1.…`) to open, as the lake, alerts or the wire carry them.
    values: Vec<String>,
    /// Instead: a quarantine object (`s3://bucket/key`); each record's payload is opened.
    #[arg(long, conflicts_with = "values")]
    quarantine: Option<String>,
    /// Why (a case number): recorded with the reveal.
    #[arg(long)]
    reason: String,
    /// The stack's field key (output `FieldKeyArn`).
    #[arg(long, env = "VIGIL_DATA_KEY")]
    data_key: String,
    /// The stack's compliance role (output `ComplianceRoleArn`): the caller must have assumed it.
    #[arg(long, env = "VIGIL_COMPLIANCE_ROLE")]
    compliance_role: String,
    /// The stack's audit bucket (output `AuditBucketName`).
    #[arg(long, env = "VIGIL_AUDIT_BUCKET")]
    audit_bucket: String,
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

pub fn verify(command: AuditCommand) -> Result<()> {
    let AuditCommand::Verify { bucket } = command;
    crate::local::runtime()?.block_on(async {
        let config = aws().await;
        let trail = AuditTrail::new(S3AuditStore::new(vigil_shared::aws::s3::client(&config), &bucket));
        match trail.verify().await.context("reading the audit trail")? {
            Ok(v) => {
                println!("audit trail: {} entries, chain intact (head {})", v.entries, v.head);
                Ok(())
            }
            Err(broken) => {
                let n = broken.intact;
                println!(
                    "audit trail broken at {broken}; {n} {} before it intact",
                    if n == 1 { "entry" } else { "entries" }
                );
                bail!("the audit trail does not verify")
            }
        }
    })
}

pub fn run_reveal(r: Reveal) -> Result<()> {
    crate::local::runtime()?.block_on(async {
        let config = aws().await;
        let s3 = vigil_shared::aws::s3::client(&config);
        let (values, purpose, lines) = match &r.quarantine {
            Some(url) => {
                let (bucket, key) = url
                    .strip_prefix("s3://")
                    .and_then(|rest| rest.split_once('/'))
                    .context("--quarantine takes s3://bucket/key")?;
                let body = vigil_shared::aws::s3::get(&s3, bucket, key).await?;
                let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&body)
                    .lines()
                    .map(serde_json::from_str)
                    .collect::<Result<_, _>>()
                    .context("not a quarantine object (JSON lines)")?;
                let sealed = lines.iter().filter_map(|l| l["payload_sealed"].as_str()).map(Sealed::parse);
                (sealed.collect::<Result<Vec<_>, _>>()?, Purpose::Quarantine, Some(lines))
            }
            None => (
                r.values.iter().map(|v| Sealed::parse(v)).collect::<Result<Vec<_>, _>>()?,
                Purpose::Party,
                None,
            ),
        };
        if values.is_empty() {
            bail!("nothing to reveal");
        }
        let trail = AuditTrail::new(S3AuditStore::new(s3, &r.audit_bucket));
        let request = RevealRequest {
            values,
            purpose,
            data_key: r.data_key.clone(),
            compliance_role: r.compliance_role.clone(),
            reason: r.reason.clone(),
        };
        let opened = reveal(&config, &trail, &request).await?;
        match lines {
            // Each quarantined record with its payload opened, in order.
            Some(lines) => {
                let mut opened = opened.into_iter();
                for mut line in lines {
                    if line.get("payload_sealed").is_some() {
                        line["payload"] = opened.next().unwrap_or_default().into();
                    }
                    println!("{line}");
                }
            }
            None => opened.iter().for_each(|v| println!("{v}")),
        }
        Ok(())
    })
}
