//! `vigil drill --local-aws`: the deployed pipeline on the local stack, as `vigil demo
//! --local-aws` runs it, under the failures Lambda and AWS really produce — then the stored
//! state read back and judged against what the events imply (`vigil_local::drill`).

use crate::generate::Spec;
use crate::local::{OPS, create_stack, local_aws, runtime, stream};
use anyhow::{Result, bail};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use vigil_local::chaos::Chaos;
use vigil_local::drill::{self, Outcome, harden};
use vigil_local::{e2e, moto};

pub struct Drill {
    pub transactions: usize,
    pub seed: u64,
}

/// `vigil drill --local-aws`.
pub fn run(spec: &Spec, drill: &Drill) -> Result<()> {
    let payloads = harden(stream(spec, drill.transactions)?, drill.seed).map_err(anyhow::Error::msg)?;
    let (_moto, endpoint) = local_aws()?;
    let started = std::time::Instant::now();
    runtime()?.block_on(async {
        let config = moto::config(&endpoint).await;
        println!("Vigil drill on a local AWS ({endpoint}): creating the stack from template.yaml…");
        let stack = create_stack(&config).await?;
        let chaos = Arc::new(Chaos::new(drill::rates(), drill.seed));
        println!(
            "Posting {} events at {:.0}/s (a hot terminal, large payments, labels ahead of their transactions, \
             corrections, repeats); killing {:.0} % of scorer invocations mid-save or at random, redelivering \
             {:.0} % of batches, killing {:.0} % of alert invocations after they published; throttling, \
             conflicts and applied-then-failed calls at the services",
            payloads.len(),
            drill::RATE,
            chaos.rates.kill_scorer * 100.0,
            chaos.rates.redeliver * 100.0,
            chaos.rates.kill_alerts_after_publish * 100.0,
        );
        let options = drill::Options {
            run: e2e::Options {
                request_size: 20,
                // Paced, so that batches stay small and many invocations meet the faults.
                rate: Some(drill::RATE),
                drain_timeout: std::time::Duration::from_secs(150),
                ops_endpoint: OPS.to_owned(),
                compliance_endpoint: None,
                chaos: None,
                decide: false,
            },
            seed: drill.seed,
        };
        let outcome = drill::run(&config, &stack, &endpoint, &payloads, chaos.clone(), options).await?;
        print_report(&outcome, &chaos, started.elapsed());
        println!("{}", outcome.summary());
        if !outcome.passed() {
            bail!("the drill found state that is not exactly what the events imply (see above)");
        }
        Ok(())
    })
}

fn print_report(o: &Outcome, chaos: &Chaos, took: std::time::Duration) {
    let (r, f) = (&o.report, &o.findings);
    println!("\nInjected");
    println!(
        "  scorer invocations killed: {} ({} after DynamoDB transactions were answered); batches redelivered: {}; \
         alert invocations killed after publishing: {}",
        chaos.scorer_kills.load(Ordering::SeqCst),
        chaos.scorer_kills_mid_save.load(Ordering::SeqCst),
        chaos.redeliveries.load(Ordering::SeqCst),
        chaos.alert_kills.load(Ordering::SeqCst),
    );
    for rule in o.faults["rules"].as_array().into_iter().flatten() {
        let burst = rule["burst"].as_u64().map(|n| format!(" (bursts of {n})")).unwrap_or_default();
        println!(
            "  {} {}{burst}: {}",
            rule["target"].as_str().unwrap_or_default(),
            rule["fault"].as_str().unwrap_or_default(),
            rule["injected"]
        );
    }
    println!("\nAccounting (state read back from the table)");
    println!(
        "  producer: {} submitted = {} accepted + {} refused; scorer: {} records in {} invocations, \
         {} batch item failures retried from their checkpoint",
        r.submitted, r.accepted, r.rejected, r.scored, r.scorer_invocations, r.item_failures
    );
    println!(
        "  labels: {} wrong or not in the fraud counts; {} still waiting for a transaction that was scored",
        f.label_errors, f.labels_waiting
    );
    println!(
        "  alerts: {} in the ops inbox, {} repeats (at least once: a repeat carries the same alert id); \
         dead letters: {:?}",
        r.alerts.len(),
        r.duplicate_alerts,
        r.dead_letters
    );
    println!("  {:.0} s in all\n", took.as_secs_f64());
}
