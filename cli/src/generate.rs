//! A port of the Fraud Detection Handbook's transaction simulator (chapter 3.2), so
//! tests and the demo have realistic data without the handbook's file.

use crate::files;
use anyhow::Result;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::seq::{IndexedRandom, index};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Poisson};
use rust_decimal::Decimal;
use std::path::Path;

#[derive(Debug, Clone, clap::Args)]
pub struct Spec {
    #[arg(long, default_value_t = 1000)]
    pub customers: usize,
    /// Default: twice the customers, as in the handbook.
    #[arg(long)]
    pub terminals: Option<usize>,
    #[arg(long, default_value_t = 60)]
    pub days: i64,
    #[arg(long, default_value = "2018-04-01")]
    pub start: NaiveDate,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Share of rows written malformed (to exercise quarantine).
    #[arg(long, default_value_t = 0.0)]
    pub malformed: f64,
}

/// Which simulated scenario made a transaction fraudulent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Genuine,
    LargeAmount,
    CompromisedTerminal,
    CompromisedCustomer,
}

#[derive(Debug, Clone)]
pub struct SimTx {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub customer: usize,
    pub terminal: usize,
    pub amount: Decimal,
    pub scenario: Scenario,
}

impl SimTx {
    pub fn fraud(&self) -> bool {
        self.scenario != Scenario::Genuine
    }
}

struct Customer {
    mean_amount: f64,
    std_amount: f64,
    tx_per_day: f64,
    terminals: Vec<usize>,
}

/// Simulates `spec.days` days. The map is scaled so that densities (terminals within
/// reach of a customer) match the handbook's 10,000 terminals on a 100×100 grid.
pub fn simulate(spec: &Spec) -> Vec<SimTx> {
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let n_terminals = spec.terminals.unwrap_or(spec.customers * 2).max(1);
    let side = 100.0 * (n_terminals as f64 / 10_000.0).sqrt();
    let terminals: Vec<(f64, f64)> =
        (0..n_terminals).map(|_| (rng.random_range(0.0..side), rng.random_range(0.0..side))).collect();
    let radius2 = 25.0;
    let customers: Vec<Customer> = (0..spec.customers)
        .map(|_| {
            let (x, y) = (rng.random_range(0.0..side), rng.random_range(0.0..side));
            let mean_amount = rng.random_range(5.0..100.0);
            let near = terminals
                .iter()
                .enumerate()
                .filter(|(_, (tx, ty))| (tx - x).powi(2) + (ty - y).powi(2) < radius2)
                .map(|(i, _)| i)
                .collect();
            Customer {
                mean_amount,
                std_amount: mean_amount / 2.0,
                tx_per_day: rng.random_range(0.0..4.0),
                terminals: near,
            }
        })
        .collect();

    let start = spec.start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let time_of_day = Normal::<f64>::new(86_400.0 / 2.0, 20_000.0).unwrap_or_else(|_| unreachable!());
    let mut txs = Vec::new();
    for (ci, c) in customers.iter().enumerate() {
        let per_day = Poisson::new(c.tx_per_day.max(1e-9)).ok();
        let amount = Normal::new(c.mean_amount, c.std_amount).ok();
        for day in 0..spec.days {
            let n = per_day.map_or(0, |p| p.sample(&mut rng) as u64);
            for _ in 0..n {
                let secs = time_of_day.sample(&mut rng).round();
                if !(0.0..86_400.0).contains(&secs) || c.terminals.is_empty() {
                    continue;
                }
                let mut a = amount.map_or(c.mean_amount, |d| d.sample(&mut rng));
                if a < 0.0 {
                    a = rng.random_range(0.0..2.0 * c.mean_amount);
                }
                let cents = ((a * 100.0).round() as i64).max(1);
                let terminal = *c.terminals.choose(&mut rng).unwrap_or(&0);
                txs.push(SimTx {
                    id: 0,
                    at: start + TimeDelta::days(day) + TimeDelta::seconds(secs as i64),
                    customer: ci,
                    terminal,
                    amount: Decimal::new(cents, 2),
                    scenario: Scenario::Genuine,
                });
            }
        }
    }
    txs.sort_by_key(|t| (t.at, t.customer));
    for (i, t) in txs.iter_mut().enumerate() {
        t.id = i as u64;
    }
    add_frauds(&mut txs, spec, n_terminals, &mut rng);
    txs
}

/// The handbook's scenarios: amounts over 220; two terminals a day compromised for
/// 28 days; three customers a day compromised for 14 days, a third of their payments
/// inflated five-fold.
fn add_frauds(txs: &mut [SimTx], spec: &Spec, n_terminals: usize, rng: &mut SmallRng) {
    let day_of = |t: &SimTx| (t.at.date_naive() - spec.start).num_days();
    for t in txs.iter_mut() {
        if t.amount > Decimal::from(220) {
            t.scenario = Scenario::LargeAmount;
        }
    }
    let mut compromised_terminals = vec![Vec::new(); n_terminals];
    let mut compromised_customers = vec![Vec::new(); spec.customers];
    // The handbook compromises 2 of 10,000 terminals and 3 of 5,000 customers a day;
    // smaller simulations keep those rates.
    let per_day = |rate: f64, n: usize, rng: &mut SmallRng| {
        let expected = rate * n as f64;
        let k = expected.floor() as usize + rng.random_bool(expected.fract()) as usize;
        index::sample(rng, n, k.min(n)).into_vec()
    };
    for day in 0..spec.days {
        for t in per_day(2.0 / 10_000.0, n_terminals, rng) {
            compromised_terminals[t].push(day);
        }
        for c in per_day(3.0 / 5_000.0, spec.customers, rng) {
            compromised_customers[c].push(day);
        }
    }
    for t in txs.iter_mut() {
        let day = day_of(t);
        if compromised_terminals[t.terminal].iter().any(|&d| day >= d && day < d + 28) {
            t.scenario = Scenario::CompromisedTerminal;
        }
    }
    for t in txs.iter_mut() {
        let day = day_of(t);
        if compromised_customers[t.customer].iter().any(|&d| day >= d && day < d + 14)
            && rng.random_bool(1.0 / 3.0)
        {
            t.amount *= Decimal::from(5);
            t.scenario = Scenario::CompromisedCustomer;
        }
    }
}

const MALFORMED: [&str; 4] = ["", "not-a-number", "-12.50", "99999999999"];

/// Writes `transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud`.
pub fn write(spec: &Spec, out: &Path, labels: Option<&Path>) -> Result<()> {
    let txs = simulate(spec);
    let mut rng = SmallRng::seed_from_u64(spec.seed ^ 0x5eed);
    let mut w = files::csv_writer(out)?;
    w.write_record(["transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount", "tx_fraud"])?;
    for t in &txs {
        let amount = if spec.malformed > 0.0 && rng.random_bool(spec.malformed.min(1.0)) {
            MALFORMED.choose(&mut rng).copied().unwrap_or_default().to_owned()
        } else {
            t.amount.to_string()
        };
        w.write_record([
            t.id.to_string(),
            files::iso(t.at),
            t.customer.to_string(),
            t.terminal.to_string(),
            amount,
            (t.fraud() as u8).to_string(),
        ])?;
    }
    w.flush()?;
    if let Some(path) = labels {
        let mut w = files::csv_writer(path)?;
        w.write_record(["transaction_id", "tx_fraud", "known_at"])?;
        for t in &txs {
            let known = t.at + TimeDelta::days(vigil_shared::LABEL_DELAY_DAYS);
            w.write_record([t.id.to_string(), (t.fraud() as u8).to_string(), files::iso(known)])?;
        }
        w.flush()?;
    }
    eprintln!("{} transactions, {} frauds", txs.len(), txs.iter().filter(|t| t.fraud()).count());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            customers: 200,
            terminals: None,
            days: 30,
            start: NaiveDate::from_ymd_opt(2018, 4, 1).unwrap(),
            seed: 1,
            malformed: 0.0,
        }
    }

    #[test]
    fn simulation_is_deterministic_ordered_and_has_every_scenario() {
        let a = simulate(&spec());
        let b = simulate(&spec());
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.at == y.at && x.amount == y.amount));
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        // About 2 payments per customer per day.
        assert!((6_000..18_000).contains(&a.len()), "{}", a.len());
        for s in [Scenario::LargeAmount, Scenario::CompromisedTerminal, Scenario::CompromisedCustomer] {
            assert!(a.iter().any(|t| t.scenario == s), "{s:?}");
        }
        let frauds = a.iter().filter(|t| t.fraud()).count() as f64 / a.len() as f64;
        assert!((0.002..0.1).contains(&frauds), "fraud rate {frauds}");
    }
}
