//! A small AML scenario: a few hundred accounts paying their regular payees and banking
//! cash, with laundering patterns injected — fan-in, fan-out, a cycle, a pass-through,
//! structuring, CTR-size cash and a dormant account reactivated — and which accounts each
//! involves, so a replay can be checked pattern by pattern.

use crate::files;
use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use std::path::Path;
use vigil_shared::aml::{AccountProfile, CashDirection, CashMovement, FlowEvent, Transfer};
use vigil_shared::{AccountId, Amount, TransactionId};

/// An injected pattern: what it is, the accounts in it, and the typology that should find it.
#[derive(Debug, Clone)]
pub struct Injected {
    pub name: &'static str,
    pub accounts: Vec<AccountId>,
    /// `None` for CTR-size cash, which must give a filing, not an alert.
    pub code: Option<&'static str>,
}

pub struct Scenario {
    pub start: DateTime<Utc>,
    pub accounts: Vec<(AccountId, AccountProfile)>,
    /// In time order.
    pub events: Vec<FlowEvent>,
    pub injected: Vec<Injected>,
}

const DAYS: i64 = 120;

struct Builder {
    rng: SmallRng,
    start: DateTime<Utc>,
    events: Vec<FlowEvent>,
    next_id: u64,
}

fn account(i: usize) -> AccountId {
    AccountId::parse(&format!("acc{i:04}")).unwrap_or_else(|_| unreachable!("well-formed"))
}

fn cents(c: i64) -> Amount {
    Amount::new(Decimal::new(c.max(1), 2)).unwrap_or_else(|_| unreachable!("1 cent to 10M"))
}

impl Builder {
    fn id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId::parse(&format!("g{}", self.next_id)).unwrap_or_else(|_| unreachable!("well-formed"))
    }

    fn at(&self, day: i64, hour: i64) -> DateTime<Utc> {
        self.start + TimeDelta::days(day) + TimeDelta::hours(hour)
    }

    fn pay(&mut self, payer: &AccountId, payee: &AccountId, amount: Amount, day: i64, hour: i64) {
        let t = Transfer {
            id: self.id(),
            payer: payer.clone(),
            payee: payee.clone(),
            amount,
            at: self.at(day, hour),
            payee_name: None,
            payee_bic: None,
            payee_country: None,
        };
        self.events.push(FlowEvent::Transfer(t));
    }

    fn cash(&mut self, account: &AccountId, direction: CashDirection, amount: Amount, day: i64, hour: i64) {
        let c = CashMovement {
            id: self.id(),
            account: account.clone(),
            direction,
            amount,
            at: self.at(day, hour),
            location: None,
        };
        self.events.push(FlowEvent::Cash(c));
    }
}

/// `n` ordinary accounts (a few of them merchants many customers pay) plus the accounts
/// of the injected patterns, over 120 days from 2024-01-01.
pub fn simulate(n: usize, seed: u64) -> Scenario {
    let start = "2024-01-01T00:00:00Z".parse().unwrap_or_default();
    let mut b = Builder { rng: SmallRng::seed_from_u64(seed), start, events: Vec::new(), next_id: 0 };
    let n = n.max(20);
    let mut accounts = Vec::new();
    // Ordinary customers: a usual payment size, a handful of regular payees (a few
    // merchants are everyone's), a payment every few days, cash now and then.
    let merchants: Vec<usize> = (0..5).collect();
    let usual: Vec<i64> = (0..n).map(|_| b.rng.random_range(5_000..60_000)).collect();
    for (i, &u) in usual.iter().enumerate() {
        let profile = AccountProfile { opening_balance: Some(cents(u * 3)), ..AccountProfile::default() };
        accounts.push((account(i), profile));
    }
    for (i, &u) in usual.iter().enumerate() {
        let mut payees: Vec<usize> =
            (0..b.rng.random_range(3..8)).map(|_| b.rng.random_range(0..n)).collect();
        payees.push(*merchants.choose(&mut b.rng).unwrap_or(&0));
        payees.retain(|&p| p != i);
        for day in 0..DAYS {
            if b.rng.random_bool(0.25)
                && let Some(&p) = payees.choose(&mut b.rng)
            {
                let amount = cents(u * b.rng.random_range(70..130) / 100);
                let hour = b.rng.random_range(8..20);
                b.pay(&account(i), &account(p), amount, day, hour);
            }
            if b.rng.random_bool(0.02) {
                let direction =
                    if b.rng.random_bool(0.5) { CashDirection::Deposit } else { CashDirection::Withdrawal };
                let amount = cents(b.rng.random_range(2_000..200_000));
                b.cash(&account(i), direction, amount, day, 12);
            }
        }
    }

    // Injected patterns, on fresh accounts opened with small balances (mules).
    let mut next = n;
    let mut fresh = |count: usize, accounts: &mut Vec<(AccountId, AccountProfile)>| {
        let ids: Vec<AccountId> = (next..next + count).map(account).collect();
        next += count;
        for id in &ids {
            let profile =
                AccountProfile { opening_balance: Some(cents(20_000)), ..AccountProfile::default() };
            accounts.push((id.clone(), profile));
        }
        ids
    };
    let mut injected = Vec::new();

    // Fan-in: six mules each pay a collection account 2,000–3,000 on one day.
    let g = fresh(7, &mut accounts);
    for (k, mule) in g[1..].iter().enumerate() {
        let amount = cents(b.rng.random_range(200_000..300_000));
        b.pay(mule, &g[0], amount, 20, 9 + k as i64);
    }
    injected.push(Injected { name: "fan-in", accounts: g, code: Some("AML_FAN_IN") });

    // Fan-out: 20,000 arrives, then six payees get 3,000 each within eight hours.
    let g = fresh(8, &mut accounts);
    b.pay(&g[1], &g[0], cents(2_000_000), 30, 8);
    for (k, payee) in g[2..].iter().enumerate() {
        b.pay(&g[0], payee, cents(300_000), 30, 10 + k as i64);
    }
    injected.push(Injected { name: "fan-out", accounts: g, code: Some("AML_FAN_OUT") });

    // Cycle: 9,000 goes round four accounts, a little less at each hop, in four days.
    let g = fresh(4, &mut accounts);
    for (k, amount) in [900_000, 880_000, 860_000, 840_000].into_iter().enumerate() {
        b.pay(&g[k], &g[(k + 1) % 4], cents(amount), 40 + k as i64, 11);
    }
    injected.push(Injected { name: "cycle", accounts: g, code: Some("AML_CYCLE") });

    // Pass-through: 7,500 in, 7,300 out the next day.
    let g = fresh(3, &mut accounts);
    b.pay(&g[0], &g[1], cents(750_000), 50, 10);
    b.pay(&g[1], &g[2], cents(730_000), 51, 15);
    injected.push(Injected { name: "pass-through", accounts: g, code: Some("AML_PASS_THROUGH") });

    // Structuring: three cash deposits just under 10,000 within a week.
    let g = fresh(1, &mut accounts);
    for (day, amount) in [(60, 950_000), (62, 940_000), (65, 980_000)] {
        b.cash(&g[0], CashDirection::Deposit, cents(amount), day, 10);
    }
    injected.push(Injected { name: "structuring", accounts: g, code: Some("AML_STRUCTURING") });

    // CTR-size cash: 6,000 and 4,500.50 on one day: a filing for 10,500.50, no alert.
    let g = fresh(1, &mut accounts);
    b.cash(&g[0], CashDirection::Deposit, cents(600_000), 70, 9);
    b.cash(&g[0], CashDirection::Deposit, cents(450_050), 70, 16);
    injected.push(Injected { name: "ctr", accounts: g, code: None });

    // Dormant: active in the first week, silent for 100 days, then 15,000 in and 14,000 out.
    let g = fresh(3, &mut accounts);
    b.pay(&g[0], &g[1], cents(10_000), 2, 10);
    b.pay(&g[2], &g[0], cents(1_500_000), 105, 10);
    b.pay(&g[0], &g[1], cents(1_400_000), 106, 10);
    injected.push(Injected { name: "dormant", accounts: g, code: Some("AML_DORMANT_REACTIVATED") });

    let mut events = b.events;
    events.sort_by_key(FlowEvent::at);
    Scenario { start, accounts, events, injected }
}

/// Writes the scenario's transfers in AMLSim's format (`accounts.csv`, `transfers.csv`,
/// time in days from 1) for `vigil aml replay`, its cash as `cash.csv`, and the injected
/// patterns as `patterns.csv`.
pub fn write(dir: &Path, accounts: usize, seed: u64) -> Result<()> {
    let s = simulate(accounts, seed);
    std::fs::create_dir_all(dir)?;
    let laundering: std::collections::HashSet<&AccountId> =
        s.injected.iter().filter(|p| p.code.is_some()).flat_map(|p| &p.accounts).collect();
    let mut w = files::csv_writer(&dir.join("accounts.csv"))?;
    w.write_record(["nodeid", "init_balance", "isFraud"])?;
    for (id, profile) in &s.accounts {
        let balance = profile.opening_balance.map(|b| b.to_string()).unwrap_or_default();
        w.write_record([id.as_str(), &balance, if laundering.contains(id) { "1" } else { "0" }])?;
    }
    w.flush()?;
    let day = |at: DateTime<Utc>| ((at - s.start).num_days() + 1).to_string();
    let mut t = files::csv_writer(&dir.join("transfers.csv"))?;
    t.write_record(["sourceNodeId", "targetNodeId", "value", "time"])?;
    let mut c = files::csv_writer(&dir.join("cash.csv"))?;
    c.write_record(["account", "channel", "amount", "timestamp"])?;
    for e in &s.events {
        match e {
            FlowEvent::Transfer(x) => {
                t.write_record([x.payer.as_str(), x.payee.as_str(), &x.amount.to_string(), &day(x.at)])?
            }
            FlowEvent::Cash(x) => c.write_record([
                x.account.as_str(),
                x.direction.as_str(),
                &x.amount.to_string(),
                &files::iso(x.at),
            ])?,
        }
    }
    t.flush()?;
    c.flush()?;
    let mut p = files::csv_writer(&dir.join("patterns.csv"))?;
    p.write_record(["pattern", "typology", "accounts"])?;
    for i in &s.injected {
        let ids: Vec<&str> = i.accounts.iter().map(AccountId::as_str).collect();
        p.write_record([i.name, i.code.unwrap_or("CTR filing"), &ids.join(";")])?;
    }
    p.flush()?;
    eprintln!(
        "{} accounts, {} events, {} injected patterns in {}",
        s.accounts.len(),
        s.events.len(),
        s.injected.len(),
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use vigil_shared::aml::{AmlConfig, AmlEngine, AmlMonitor, MemoryAmlStore};

    #[test]
    fn every_injected_pattern_is_found_with_few_false_flags() {
        let s = simulate(300, 11);
        let mut m = AmlMonitor::new(AmlEngine::new(AmlConfig::default()).unwrap(), MemoryAmlStore::default());
        for (id, profile) in &s.accounts {
            m.open_account(id, profile.clone()).unwrap();
        }
        let mut flagged: BTreeMap<AccountId, BTreeSet<String>> = BTreeMap::new();
        let mut filings = Vec::new();
        for e in &s.events {
            let o = m.observe(e).unwrap();
            for a in &o.alerts {
                for p in &a.participants {
                    flagged.entry(p.clone()).or_default().extend(a.typology_codes().map(str::to_owned));
                }
            }
            filings.extend(o.filings);
        }
        for p in &s.injected {
            match p.code {
                Some(code) => {
                    for a in &p.accounts {
                        assert!(flagged.contains_key(a), "{}: {a} not flagged", p.name);
                    }
                    let found = p.accounts.iter().any(|a| flagged[a].contains(code));
                    assert!(found, "{}: no {code} alert ({:?})", p.name, flagged.get(&p.accounts[0]));
                }
                None => {
                    let f = filings
                        .iter()
                        .find(|f| f.transactions.len() == 2 && f.total == Decimal::new(1_050_050, 2));
                    assert!(f.is_some(), "ctr: no filing for 10,500.50 ({filings:?})");
                    assert!(!flagged.contains_key(&p.accounts[0]), "a CTR is not an alert");
                }
            }
        }
        let injected: BTreeSet<&AccountId> = s.injected.iter().flat_map(|p| &p.accounts).collect();
        let false_flags = flagged.keys().filter(|a| !injected.contains(a)).count();
        assert!(false_flags * 100 <= 300 * 2, "{false_flags} ordinary accounts flagged: {flagged:?}");
    }

    #[test]
    fn the_scenario_is_deterministic() {
        let (a, b) = (simulate(50, 3), simulate(50, 3));
        assert_eq!(a.events, b.events);
        assert!(a.events.windows(2).all(|w| w[0].at() <= w[1].at()));
    }
}
