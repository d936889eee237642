//! `vigil demo`: simulated payments through the full scoring core, as an analyst sees them.

use crate::evaluate::{self, Truth};
use crate::files::Transactions;
use crate::generate::{self, Spec};
use crate::replay::score_all;
use anyhow::Result;
use chrono::TimeDelta;
use std::time::Instant;
use vigil_shared::store::MemoryStateStore;
use vigil_shared::{
    Alert, Amount, Currency, CustomerId, Decision, LABEL_DELAY_DAYS, LabelEvent, Model, Policy, Scorer,
    TerminalId, Transaction, TransactionId, Verdict,
};

/// Simulated payments as validated transactions, plus labels known 7 days later.
pub fn simulated(spec: &Spec) -> Result<(Transactions, Vec<LabelEvent>)> {
    let sim = generate::simulate(spec);
    let mut txs = Transactions::default();
    let mut labels = Vec::with_capacity(sim.len());
    for (row, t) in sim.iter().enumerate() {
        let tx = Transaction {
            id: TransactionId::parse(&format!("tx-{}", t.id))?,
            customer: CustomerId::parse(&format!("4000{:012}", t.customer))?,
            terminal: TerminalId::parse(&format!("term-{}", t.terminal))?,
            amount: Amount::new(t.amount)?,
            currency: Currency::USD,
            at: t.at,
        };
        labels.push(LabelEvent {
            transaction_id: tx.id.clone(),
            fraud: t.fraud(),
            known_at: t.at + TimeDelta::days(LABEL_DELAY_DAYS),
        });
        txs.valid.push(tx);
        txs.row_of.push(row);
        txs.fraud.push(Some(t.fraud()));
    }
    txs.rows = sim.len();
    Ok((txs, labels))
}

pub fn run(spec: &Spec) -> Result<()> {
    println!("Vigil demo: simulating {} days of payments by {} customers…", spec.days, spec.customers);
    let (txs, labels) = simulated(spec)?;
    let init = Instant::now();
    let model = Model::embedded()?;
    let init = init.elapsed();
    println!(
        "{} transactions, {} frauds; model {} loaded in {:.1} ms",
        txs.valid.len(),
        txs.fraud.iter().filter(|f| **f == Some(true)).count(),
        model.version(),
        init.as_secs_f64() * 1e3
    );

    let scorer = Scorer::new(MemoryStateStore::default(), model, Policy::default());
    let mut decisions: Vec<Option<Decision>> = vec![None; txs.rows];
    let started = Instant::now();
    let tally = score_all(&scorer, &txs, labels, 1000, None, |i, o| decisions[i] = o.decision().cloned())?;
    let elapsed = started.elapsed().as_secs_f64();

    println!("\nDecisions");
    for v in [Verdict::Accept, Verdict::Review, Verdict::Block] {
        println!("  {:<6} {:>9}", v.as_str(), tally.verdicts[v as usize]);
    }
    println!("  labels applied (chargebacks, {LABEL_DELAY_DAYS} days late): {}", tally.labels);

    let mut alerts: Vec<(usize, &Decision)> = decisions
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.as_ref().filter(|d| d.verdict != Verdict::Accept).map(|d| (i, d)))
        .collect();
    alerts.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    println!("\nTop alerts, as the operations team receives them (truth from the simulator in brackets)");
    for (i, d) in alerts.iter().take(10) {
        let Some(alert) = Alert::for_decision(d, &txs.valid[*i]) else { continue };
        let truth = if txs.fraud[*i] == Some(true) { "confirmed fraud" } else { "genuine" };
        println!("{alert}  [{truth}]\n");
    }

    let truth: Vec<Truth<'_>> = txs
        .valid
        .iter()
        .zip(&decisions)
        .zip(&txs.fraud)
        .filter_map(|((tx, d), f)| {
            let d = d.as_ref()?;
            Some(Truth {
                day: tx.at.timestamp().div_euclid(86_400),
                customer: tx.customer.as_str(),
                score: d.score,
                fraud: (*f)?,
            })
        })
        .collect();
    let frauds = truth.iter().filter(|t| t.fraud).count();
    let alerted_frauds = alerts.iter().filter(|(i, _)| txs.fraud[*i] == Some(true)).count();
    println!(
        "\nAlerts: {} ({:.0}% confirmed fraud); frauds alerted: {alerted_frauds} of {frauds} ({:.0}%)",
        alerts.len(),
        100.0 * alerted_frauds as f64 / alerts.len().max(1) as f64,
        100.0 * alerted_frauds as f64 / frauds.max(1) as f64,
    );
    // The handbook inspects 100 cards a day among 5,000 customers: same share here.
    let k = (spec.customers / 50).max(1);
    let last = truth.iter().map(|t| t.day).max().unwrap_or(0);
    if let Ok(s) = evaluate::evaluate(&truth, last - 6, 7, k) {
        println!(
            "Last week ({} transactions, {} frauds): AUC ROC {:.3}, average precision {:.3}, card precision@{k} {:.3} (perfect scores {:.3})",
            s.transactions,
            s.frauds,
            s.auc_roc,
            s.average_precision,
            s.card_precision,
            s.card_precision_bound
        );
    }
    println!(
        "\nThroughput: {} transactions and {} labels in {:.2} s = {:.0} transactions/s on one core \
         (parse excluded; features + model + decision + state, in memory)",
        txs.valid.len(),
        tally.labels,
        elapsed,
        txs.valid.len() as f64 / elapsed
    );
    Ok(())
}
