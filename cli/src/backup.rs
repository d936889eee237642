//! `vigil backup drill`: the backup copier on the local stack (moto) and Azurite, against a
//! lake the pipeline wrote (`vigil_local::backup_drill`).

use crate::generate::Spec;
use crate::local::{OPS, create_stack, local_aws, runtime, stream};
use anyhow::{Result, bail};
use clap::Subcommand;
use std::time::{Duration, Instant};
use vigil_local::backup_drill::{self, Outcome};
use vigil_local::{azurite::Azurite, e2e, moto};
use vigil_shared::backup::{FindingKind, TargetKind};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Backs up a lake the pipeline writes (on moto) to the Object Lock bucket and to Azure
    /// Blob (Azurite), damages one copy and removes one in each target, and checks that
    /// verification finds exactly those and a restore gives every object back. Exits
    /// non-zero when anything disagrees.
    Drill {
        /// About how many transactions the pipeline writes to the lake first.
        #[arg(long, default_value_t = 600)]
        transactions: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

pub fn run(command: BackupCommand) -> Result<()> {
    let BackupCommand::Drill { transactions, seed } = command;
    let spec = Spec {
        customers: 200,
        terminals: None,
        days: 30,
        start: chrono::NaiveDate::from_ymd_opt(2018, 4, 1).unwrap_or_default(),
        seed,
        malformed: 0.0,
    };
    let payloads = stream(&spec, transactions)?;
    let (_moto, endpoint) = local_aws()?;
    let azurite = Azurite::start().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    runtime()?.block_on(async {
        let config = moto::config(&endpoint).await;
        println!(
            "Vigil backup drill: moto at {endpoint}, Azurite at {}; creating the stack from template.yaml…",
            azurite.endpoint
        );
        let stack = create_stack(&config).await?;
        println!("Writing the lake: {} events through the pipeline…", payloads.len());
        let options = e2e::Options {
            request_size: 50,
            rate: None,
            drain_timeout: Duration::from_secs(120),
            ops_endpoint: OPS.to_owned(),
            compliance_endpoint: None,
            chaos: None,
            decide: false,
        };
        let report = e2e::run(&config, &stack, &payloads, &options, &|_| {}).await?;
        println!("  {} accepted, {} scored", report.accepted, report.scored);
        let outcome =
            backup_drill::run(&config, &stack, &azurite.endpoint).await.map_err(anyhow::Error::msg)?;
        print_report(&outcome, started.elapsed());
        println!("{}", outcome.summary());
        if !outcome.passed() {
            bail!("the backup drill found something other than what it injected (see above)");
        }
        Ok(())
    })
}

fn print_report(o: &Outcome, took: Duration) {
    println!(
        "\nBacked up: {} lake object versions, {} copied from their events; a redelivered event {}; the reconciliation then copied {}",
        o.objects,
        o.copied,
        if o.redelivered_no_op { "changed nothing" } else { "WAS NOT A NO-OP" },
        o.reconcile_copied
    );
    println!(
        "  S3 copies locked {} until {}; deleting a locked version: {}",
        o.lock_mode,
        o.retain_until.map(|d| d.to_rfc3339()).unwrap_or_default(),
        if o.locked_delete_refused { "refused" } else { "ALLOWED" }
    );
    for refused in &o.refused {
        println!("  REFUSED {refused}");
    }
    println!("Injected: {}", list(&o.injected));
    println!("Verify found: {}", list(&o.found));
    println!(
        "Restore from the locked S3 versions: {}/{} identical; from Azure: {}/{} (the two injected differ)",
        o.identical, o.restored, o.azure_restore_identical, o.restored
    );
    println!("{:.1} s in all\n", took.as_secs_f64());
}

fn list(set: &std::collections::BTreeSet<(TargetKind, FindingKind, String)>) -> String {
    let items: Vec<String> = set.iter().map(|(t, k, id)| format!("{} {k:?} {id}", t.as_str())).collect();
    items.join("; ")
}
