//! `vigil aml replay` and `vigil aml score`: AMLSim-style account flows through the AML
//! engine, and the account-level precision/recall of its flags.

use crate::files;
use anyhow::{Context, Result};
use chrono::{NaiveDate, TimeDelta};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vigil_shared::aml::{
    AccountProfile, AccountState, AmlConfig, AmlEngine, AmlMonitor, FlowEvent, MemoryAmlStore, Transfer,
};
use vigil_shared::csvio::CsvFile;
use vigil_shared::{AccountId, Amount, TransactionId};

#[derive(Debug, clap::Subcommand)]
pub enum AmlCommand {
    /// Stream an AMLSim transfers file in time order through the AML engine (in-memory
    /// state) and write `account_id,flagged,score,typologies` per account of --accounts.
    Replay {
        /// Accounts CSV with `nodeid` (and `init_balance`, the opening balance); other
        /// columns are ignored.
        #[arg(long)]
        accounts: PathBuf,
        /// Transfers CSV (plain or gzip): `sourceNodeId,targetNodeId,value,time`, time a
        /// day number from 1.
        #[arg(long)]
        transfers: PathBuf,
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// AML configuration (JSON; absent fields take their defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The UTC date of day 1.
        #[arg(long, default_value = "2020-01-01")]
        start: NaiveDate,
    },
    /// Generate the AML scenario set (ordinary accounts plus injected fan-in, fan-out,
    /// cycle, pass-through, structuring, CTR-size cash, dormant reactivation): writes
    /// accounts.csv and transfers.csv in AMLSim's format, cash.csv and patterns.csv.
    Generate {
        #[arg(long)]
        out_dir: PathBuf,
        /// Ordinary accounts (the injected patterns add their own).
        #[arg(long, default_value_t = 300)]
        accounts: usize,
        #[arg(long, default_value_t = 11)]
        seed: u64,
    },
    /// Precision, recall and F1 of a replay's `flagged` against a nodes file's `isFraud`.
    Score {
        /// `nodeid,isFraud` (plain or gzip).
        #[arg(long)]
        nodes: PathBuf,
        /// Output of `vigil aml replay`.
        #[arg(long)]
        flags: PathBuf,
    },
}

pub fn run(command: AmlCommand) -> Result<()> {
    match command {
        AmlCommand::Replay { accounts, transfers, out, config, start } => {
            replay(&accounts, &transfers, &out, config.as_deref(), start)
        }
        AmlCommand::Score { nodes, flags } => score(&nodes, &flags),
        AmlCommand::Generate { out_dir, accounts, seed } => {
            crate::aml_generate::write(&out_dir, accounts, seed)
        }
    }
}

/// One transfer as read: accounts interned, so a 100k-row file stays a few megabytes.
struct Row {
    day: i64,
    payer: u32,
    payee: u32,
    amount: Amount,
}

/// Interned account ids.
#[derive(Default)]
struct Accounts {
    ids: Vec<AccountId>,
    index: FxHashMap<AccountId, u32>,
}

impl Accounts {
    fn intern(&mut self, id: AccountId) -> u32 {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.clone());
        self.index.insert(id, i);
        i
    }
}

/// Longest simulation accepted: a century of days.
const MAX_DAY: i64 = 36_500;

fn parse_row(fields: &[Option<&str>], accounts: &mut Accounts) -> Result<Row, String> {
    let field = |i: usize, name: &str| fields[i].map(str::trim).ok_or_else(|| format!("missing `{name}`"));
    let id = |i, name| AccountId::parse(field(i, name)?).map_err(|e| format!("`{name}` {e}"));
    let (payer, payee) = (id(0, "sourceNodeId")?, id(1, "targetNodeId")?);
    let amount = Amount::parse(field(2, "value")?).map_err(|e| format!("`value`: {e}"))?;
    let raw_day = field(3, "time")?;
    let day = raw_day
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=MAX_DAY).contains(d))
        .ok_or_else(|| format!("`time` `{raw_day}` is not a day number in 1..={MAX_DAY}"))?;
    Ok(Row { day, payer: accounts.intern(payer), payee: accounts.intern(payee), amount })
}

/// What the replay found about one account.
#[derive(Default, Clone)]
struct Finding {
    flagged: bool,
    score: f32,
    codes: BTreeSet<String>,
}

fn replay(
    accounts_csv: &Path,
    transfers_csv: &Path,
    out: &Path,
    config: Option<&Path>,
    start: NaiveDate,
) -> Result<()> {
    let config = match config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            AmlConfig::from_json(&text)?
        }
        None => AmlConfig::default(),
    };
    let mut monitor = AmlMonitor::new(AmlEngine::new(config)?, MemoryAmlStore::default());
    let mut accounts = Accounts::default();

    // The accounts to report on, in order, with their opening balances.
    let mut listed: Vec<(String, Option<u32>)> = Vec::new();
    let mut bad_accounts = 0usize;
    CsvFile::open(accounts_csv, &["nodeid"], &["init_balance"])?.for_each(|_, fields| {
        let raw = fields[0].unwrap_or_default().trim().to_owned();
        let Ok(id) = AccountId::parse(&raw) else {
            bad_accounts += 1;
            listed.push((raw, None));
            return;
        };
        let opening_balance = fields[1].and_then(|b| Amount::parse(b).ok());
        let i = accounts.intern(id.clone());
        // Cannot fail: the in-memory store has no outage.
        let _ = monitor.open_account(&id, AccountProfile { opening_balance, ..AccountProfile::default() });
        listed.push((raw, Some(i)));
    })?;

    let mut rows = Vec::new();
    let mut quarantined: Vec<(u64, String)> = Vec::new();
    CsvFile::open(transfers_csv, &["sourceNodeId", "targetNodeId", "value", "time"], &[])?.for_each(
        |line, fields| match parse_row(fields, &mut accounts) {
            Ok(row) => rows.push(row),
            Err(reason) => quarantined.push((line, reason)),
        },
    )?;
    // Time order; within a day the file's order (which means nothing, but is stable).
    rows.sort_by_key(|r| r.day);

    let day_one = start.and_hms_opt(0, 0, 0).context("start date")?.and_utc();
    let mut found = vec![Finding::default(); accounts.ids.len()];
    let (mut alerts, mut flagged_events) = (0usize, 0usize);
    let started = Instant::now();
    for (n, row) in rows.iter().enumerate() {
        let transfer = Transfer {
            id: TransactionId::parse(&format!("t{n}"))?,
            payer: accounts.ids[row.payer as usize].clone(),
            payee: accounts.ids[row.payee as usize].clone(),
            amount: row.amount,
            at: day_one + TimeDelta::days(row.day - 1),
            payee_name: None,
            payee_bic: None,
            payee_country: None,
        };
        let outcome = monitor.observe(&FlowEvent::Transfer(transfer))?;
        for (subject, s) in &outcome.subject_scores {
            if let Some(&i) = accounts.index.get(subject) {
                let f = &mut found[i as usize];
                f.score = f.score.max(*s);
            }
        }
        flagged_events += usize::from(!outcome.alerts.is_empty());
        for alert in &outcome.alerts {
            alerts += 1;
            for account in &alert.participants {
                if let Some(&i) = accounts.index.get(account) {
                    let f = &mut found[i as usize];
                    f.flagged = true;
                    f.score = f.score.max(alert.score);
                    f.codes.extend(alert.typology_codes().map(str::to_owned));
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut w = files::csv_writer(out)?;
    w.write_record(["account_id", "flagged", "score", "typologies"])?;
    let mut flagged = 0usize;
    for (raw, i) in &listed {
        let f = i.map(|i| found[i as usize].clone()).unwrap_or_default();
        flagged += usize::from(f.flagged);
        let codes: Vec<&str> = f.codes.iter().map(String::as_str).collect();
        w.write_record([
            raw.as_str(),
            if f.flagged { "true" } else { "false" },
            &format!("{:.4}", f.score),
            &codes.join(";"),
        ])?;
    }
    w.flush()?;

    let sizes: Vec<usize> = monitor
        .store
        .accounts
        .values()
        .map(|s: &AccountState| serde_json::to_vec(s).map_or(0, |v| v.len()))
        .collect();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;
    eprintln!(
        "{} transfers in {elapsed:.2} s ({:.0}/s): {alerts} alerts on {flagged_events} transfers; \
         {flagged} of {} accounts flagged; {} rows quarantined, {bad_accounts} bad account ids; \
         state per account (JSON): mean {mean:.0} B, max {max} B",
        rows.len(),
        rows.len() as f64 / elapsed.max(1e-9),
        listed.len(),
        quarantined.len(),
    );
    for (line, reason) in quarantined.iter().take(5) {
        eprintln!("  line {line}: {reason}");
    }
    Ok(())
}

fn score(nodes: &Path, flags: &Path) -> Result<()> {
    let mut truth: FxHashMap<String, bool> = FxHashMap::default();
    CsvFile::open(nodes, &["nodeid", "isFraud"], &[])?.for_each(|_, f| {
        let fraud = f[1].is_some_and(|v| matches!(v.trim(), "1" | "true" | "True"));
        truth.insert(f[0].unwrap_or_default().trim().to_owned(), fraud);
    })?;
    let (mut tp, mut fp, mut fn_, mut missing) = (0u64, 0u64, 0u64, 0u64);
    CsvFile::open(flags, &["account_id", "flagged"], &[])?.for_each(|_, f| {
        let flagged = f[1].is_some_and(|v| v.trim() == "true");
        match truth.get(f[0].unwrap_or_default().trim()) {
            Some(true) if flagged => tp += 1,
            Some(true) => fn_ += 1,
            Some(false) if flagged => fp += 1,
            Some(false) => {}
            None => missing += 1,
        }
    })?;
    let ratio = |a: u64, b: u64| if b == 0 { Decimal::ZERO } else { Decimal::from(a) / Decimal::from(b) };
    let (p, r) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f1 = if p + r > Decimal::ZERO { Decimal::TWO * p * r / (p + r) } else { Decimal::ZERO };
    println!(
        "precision {:.3} recall {:.3} F1 {:.3} (tp {tp}, fp {fp}, fn {fn_}; {missing} flagged accounts not in the nodes file)",
        p, r, f1
    );
    Ok(())
}
