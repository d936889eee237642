//! `vigil eval`: the Fraud Detection Handbook's test protocol over a replay's scores.

use crate::files;
use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, TimeDelta, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use std::path::Path;
use vigil_shared::csvio::CsvFile;
use vigil_shared::eval::{self, DayScore};

/// Test-set quality of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub transactions: usize,
    pub frauds: usize,
    pub auc_roc: f64,
    pub average_precision: f64,
    pub card_precision: f64,
    /// Card precision of perfect scores: how many compromised cards there were to find.
    pub card_precision_bound: f64,
}

/// One scored transaction with its truth.
pub struct Truth<'a> {
    pub day: i64,
    pub customer: &'a str,
    pub score: f32,
    pub fraud: bool,
}

/// Scores days `[first, first + days)`. As in the handbook, a customer with a fraud
/// on a day from `first - 14` up to eight days before a test day (known by then, the
/// label delay being seven) is left out of that test day: their card is already blocked.
pub fn evaluate(rows: &[Truth<'_>], first: i64, days: i64, top_k: usize) -> Result<Scores> {
    let mut fraud_days: FxHashMap<&str, Vec<i64>> = FxHashMap::default();
    for r in rows.iter().filter(|r| r.fraud) {
        fraud_days.entry(r.customer).or_default().push(r.day);
    }
    let known = |customer: &str, day: i64| {
        fraud_days.get(customer).is_some_and(|ds| ds.iter().any(|&d| d >= first - 14 && d <= day - 8))
    };
    let test: Vec<&Truth<'_>> =
        rows.iter().filter(|r| r.day >= first && r.day < first + days && !known(r.customer, r.day)).collect();
    let scores: Vec<f32> = test.iter().map(|r| r.score).collect();
    let labels: Vec<bool> = test.iter().map(|r| r.fraud).collect();
    let day_scores: Vec<DayScore<'_>> = test
        .iter()
        .map(|r| DayScore { day: r.day, customer: r.customer, score: r.score, fraud: r.fraud })
        .collect();
    let perfect: Vec<DayScore<'_>> =
        day_scores.iter().map(|d| DayScore { score: d.fraud as u8 as f32, ..d.clone() }).collect();
    let (Some(auc_roc), Some(average_precision), Some(card_precision), Some(card_precision_bound)) = (
        eval::auc_roc(&scores, &labels),
        eval::average_precision(&scores, &labels),
        eval::card_precision_top_k(&day_scores, top_k),
        eval::card_precision_top_k(&perfect, top_k),
    ) else {
        bail!("the test period needs both frauds and genuine transactions ({} rows)", test.len());
    };
    Ok(Scores {
        transactions: test.len(),
        frauds: labels.iter().filter(|&&l| l).count(),
        auc_roc,
        average_precision,
        card_precision,
        card_precision_bound,
    })
}

fn read_scores(path: &Path) -> Result<FxHashMap<String, f32>> {
    let mut scores = FxHashMap::default();
    let mut bad = 0usize;
    CsvFile::open(path, &["transaction_id", "score"], &[])?.for_each(|_, f| {
        match (f[0], f[1].and_then(|s| s.parse::<f32>().ok())) {
            (Some(id), Some(score)) => {
                scores.insert(id.to_owned(), score);
            }
            _ => bad += 1,
        }
    })?;
    if bad > 0 {
        eprintln!("{}: {bad} rows without a score (quarantined) left out", path.display());
    }
    Ok(scores)
}

pub fn eval(
    transactions: &Path,
    scores: &Path,
    test_from: Option<NaiveDate>,
    test_days: i64,
    top_k: usize,
) -> Result<()> {
    let txs = files::read_transactions(transactions, Utc::now())?;
    let scores = read_scores(scores)?;
    let mut rows = Vec::with_capacity(txs.valid.len());
    let mut unscored = FxHashSet::default();
    for (tx, fraud) in txs.valid.iter().zip(&txs.fraud) {
        let fraud = fraud.context("the transactions file needs a tx_fraud column")?;
        let Some(&score) = scores.get(tx.id.as_str()) else {
            unscored.insert(tx.id.as_str());
            continue;
        };
        let day = tx.at.timestamp().div_euclid(86_400);
        rows.push(Truth { day, customer: tx.customer.as_str(), score, fraud });
    }
    if !unscored.is_empty() {
        eprintln!("warning: {} transactions have no score", unscored.len());
    }
    let epoch_day = |d: NaiveDate| (d - chrono::DateTime::UNIX_EPOCH.date_naive()).num_days();
    let (first, days) = match test_from {
        Some(d) => (epoch_day(d), test_days),
        None => {
            let first = rows.iter().map(|r| r.day).min().unwrap_or(0);
            (first, rows.iter().map(|r| r.day).max().unwrap_or(0) - first + 1)
        }
    };
    let s = evaluate(&rows, first, days, top_k)?;
    let from = chrono::DateTime::UNIX_EPOCH.date_naive() + TimeDelta::days(first);
    println!(
        "test {from} + {days} days: {} transactions, {} frauds\nAUC ROC {:.4}  average precision {:.4}  card precision@{top_k} {:.4}  (perfect scores: {:.4})",
        s.transactions, s.frauds, s.auc_roc, s.average_precision, s.card_precision, s.card_precision_bound
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_compromised_customers_leave_the_test_days() {
        let t = |day, customer, score, fraud| Truth { day, customer, score, fraud };
        let rows = [
            // "a" had a fraud on day 0: known from day 8 on, so gone from day 8.
            t(0, "a", 0.9, true),
            t(7, "a", 0.9, true),
            t(8, "a", 0.9, true),
            t(8, "b", 0.1, false),
            t(7, "c", 0.2, false),
        ];
        let s = evaluate(&rows, 7, 2, 1).unwrap();
        assert_eq!((s.transactions, s.frauds), (3, 1));
        assert_eq!(s.auc_roc, 1.0);
        // Day 7: top-1 is a (fraud) → 1; day 8: a is known, top-1 is b → 0.
        assert_eq!(s.card_precision, 0.5);
    }
}
