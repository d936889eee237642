//! `vigil replay`, `vigil features`, `vigil labels`.

use crate::files::{self, Transactions};
use anyhow::{Context, Result};
use chrono::{TimeDelta, Utc};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_shared::archive::DirLake;
use vigil_shared::store::MemoryStateStore;
use vigil_shared::{
    Decision, FEATURE_NAMES, FraudModel, LabelEvent, Model, NoModel, Outcome, Policy, Scorer, Verdict, replay,
};

/// A replay's files.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// Transactions CSV (plain or gzip).
    #[arg(long)]
    pub transactions: PathBuf,
    /// Labels CSV: `transaction_id,tx_fraud,known_at`.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Output CSV, `-` for stdout.
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
}

fn load(input: &Input) -> Result<(Transactions, Vec<LabelEvent>)> {
    let now = Utc::now();
    let txs = files::read_transactions(&input.transactions, now)?;
    files::report_rejected("transactions", &txs.rejected);
    let labels = match &input.labels {
        Some(path) => {
            let (labels, rejected) = files::read_labels(path, now)?;
            files::report_rejected("labels", &rejected);
            labels
        }
        None => Vec::new(),
    };
    Ok((txs, labels))
}

/// Counts of what a replay did, for the operator.
#[derive(Debug, Default)]
pub struct Tally {
    pub verdicts: [usize; 3],
    pub duplicates: usize,
    pub labels: usize,
    /// Labels whose transaction was never scored (a quarantined row): kept waiting for it.
    pub labels_parked: usize,
    pub labels_duplicate: usize,
}

impl Tally {
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Decided(d, _) => self.verdicts[d.verdict as usize] += 1,
            Outcome::Monitored { finding, repeat: false } => {
                self.verdicts[finding.decision.verdict as usize] += 1
            }
            Outcome::Duplicate(_) | Outcome::Monitored { repeat: true, .. } => self.duplicates += 1,
            Outcome::Labelled { .. } => self.labels += 1,
            Outcome::LabelDuplicate { .. } => self.labels_duplicate += 1,
            Outcome::LabelParked { .. } => self.labels_parked += 1,
        }
    }

    pub fn print(&self, quarantined: usize, seconds: f64) {
        let scored: usize = self.verdicts.iter().sum::<usize>() + self.duplicates;
        eprintln!(
            "scored {scored} transactions in {seconds:.2} s ({:.0}/s): {} ACCEPT, {} REVIEW, {} BLOCK, {} duplicates; \
             {quarantined} quarantined; labels: {} applied, {} duplicate, {} waiting for a transaction never scored",
            scored as f64 / seconds.max(1e-9),
            self.verdicts[Verdict::Accept as usize],
            self.verdicts[Verdict::Review as usize],
            self.verdicts[Verdict::Block as usize],
            self.duplicates,
            self.labels,
            self.labels_duplicate,
            self.labels_parked,
        );
    }
}

/// Runs the core over a file's valid transactions; `decisions[i]` is row `i`'s outcome.
pub fn score_all<M: FraudModel>(
    scorer: &Scorer<MemoryStateStore, M>,
    txs: &Transactions,
    labels: Vec<LabelEvent>,
    batch: usize,
    lake: Option<&DirLake>,
    mut each: impl FnMut(usize, &Outcome),
) -> Result<Tally> {
    let (events, origin) = replay::merge(txs.valid.clone(), labels);
    let mut tally = Tally::default();
    replay::run(scorer, &events, &origin, batch, lake, |i, outcome| {
        tally.add(&outcome);
        if let Some(i) = i {
            each(i, &outcome);
        }
    })?;
    Ok(tally)
}

pub fn replay(input: &Input, model: Option<&Path>, batch: usize, lake: Option<&Path>) -> Result<()> {
    let model = match model {
        Some(path) => Model::load(path).with_context(|| format!("loading {}", path.display()))?,
        None => Model::embedded()?,
    };
    let (txs, labels) = load(input)?;
    let scorer = Scorer::new(MemoryStateStore::default(), model, Policy::default());

    let started = Instant::now();
    let mut decisions: Vec<Option<Decision>> = vec![None; txs.rows];
    let lake = lake.map(DirLake::new);
    let tally = score_all(&scorer, &txs, labels, batch, lake.as_ref(), |i, outcome| {
        decisions[txs.row_of[i]] = outcome.decision().cloned();
    })?;
    let elapsed = started.elapsed().as_secs_f64();

    let mut w = files::csv_writer(&input.out)?;
    w.write_record(["transaction_id", "score", "decision", "reasons"])?;
    let mut rejected = txs.rejected.iter().peekable();
    for (row, decision) in decisions.iter().enumerate() {
        if let Some(r) = rejected.next_if(|r| r.row == row) {
            // Not scored; a numeric 0 keeps the column parseable for metric tools.
            w.write_record([&r.raw_id, "0", "QUARANTINE", &format!("{}: {}", r.reason.code(), r.reason)])?;
        } else if let Some(d) = decision {
            let reasons: Vec<String> = d.reasons.iter().map(ToString::to_string).collect();
            w.write_record([
                d.transaction_id.as_str(),
                &d.score.to_string(),
                d.verdict.as_str(),
                &reasons.join(" | "),
            ])?;
        }
    }
    w.flush()?;
    tally.print(txs.rejected.len(), elapsed);
    Ok(())
}

pub fn features(input: &Input) -> Result<()> {
    let (txs, labels) = load(input)?;
    let scorer = Scorer::new(MemoryStateStore::default(), NoModel, Policy::default());
    let mut w = files::csv_writer(&input.out)?;
    let mut header = vec!["transaction_id", "tx_datetime", "customer_id", "terminal_id"];
    header.extend(FEATURE_NAMES);
    header.push("tx_fraud");
    w.write_record(&header)?;
    let mut failed: Option<csv::Error> = None;
    let started = Instant::now();
    let tally = score_all(&scorer, &txs, labels, 1000, None, |i, outcome| {
        let Outcome::Decided(_, features) = outcome else {
            return;
        };
        let tx = &txs.valid[i];
        let mut row = vec![
            tx.id.to_string(),
            files::iso(tx.at),
            tx.customer.as_str().to_owned(),
            tx.terminal.as_str().to_owned(),
        ];
        row.extend(features.0.iter().map(f32::to_string));
        row.push(txs.fraud[i].map_or(String::new(), |f| (f as u8).to_string()));
        if let Err(e) = w.write_record(&row) {
            failed.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    w.flush()?;
    tally.print(txs.rejected.len(), started.elapsed().as_secs_f64());
    Ok(())
}

pub fn labels(transactions: &Path, delay_days: i64, out: &Path) -> Result<()> {
    let txs = files::read_transactions(transactions, Utc::now())?;
    files::report_rejected("transactions", &txs.rejected);
    let mut w = files::csv_writer(out)?;
    w.write_record(["transaction_id", "tx_fraud", "known_at"])?;
    for (tx, fraud) in txs.valid.iter().zip(&txs.fraud) {
        let fraud = fraud.context("the transactions file has no tx_fraud column")?;
        let known_at = tx.at + TimeDelta::days(delay_days);
        w.write_record([tx.id.as_str(), if fraud { "1" } else { "0" }, &files::iso(known_at)])?;
    }
    w.flush()?;
    Ok(())
}
