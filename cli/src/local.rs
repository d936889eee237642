//! `vigil demo --local-aws` and `vigil stack`: the deployed pipeline on a local AWS (moto),
//! built from template.yaml.

use crate::aml_generate;
use crate::demo::simulated;
use crate::generate::Spec;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vigil_local::e2e::{self, Options, Report};
use vigil_local::{LocalStack, Template, moto};
use vigil_shared::aml::{FlowEvent, PartyName, RiskRating, Transfer};
use vigil_shared::customer::CustomerProfile;
use vigil_shared::wire::Flow;
use vigil_shared::{AccountId, Currency, CustomerId, Event, TransactionId};

/// Stack name used locally (resources are named `vigil-…`).
const STACK: &str = "vigil";
/// Stand-ins for the e-mail subscriptions: their inboxes become SQS queues.
pub(crate) const OPS: &str = "ops@vigil.example";
const COMPLIANCE: &str = "compliance@vigil.example";

/// moto at `AWS_ENDPOINT_URL`, or one started for this run (stopped on drop).
pub(crate) fn local_aws() -> Result<(Option<moto::Moto>, String)> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) => Ok((None, endpoint)),
        Err(_) => {
            let moto = moto::Moto::start().map_err(anyhow::Error::msg)?;
            let endpoint = moto.endpoint.clone();
            Ok((Some(moto), endpoint))
        }
    }
}

pub(crate) async fn create_stack(config: &aws_config::SdkConfig) -> Result<LocalStack> {
    let template = Template::load(&vigil_local::template_path())?;
    let parameters = BTreeMap::from([
        ("AlertEmail".to_owned(), OPS.to_owned()),
        ("ComplianceEmail".to_owned(), COMPLIANCE.to_owned()),
        // A retried alert waits out the lease: seconds locally, not half a minute.
        ("AlertLeaseSeconds".to_owned(), "2".to_owned()),
    ]);
    LocalStack::create(config, template, STACK, &parameters)
        .await
        .context("creating the stack from template.yaml")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// `vigil stack`: the template's resources on moto at `endpoint`, and each function's
/// environment as shell exports (for `cargo lambda watch`).
pub fn stack(endpoint: &str) -> Result<()> {
    runtime()?.block_on(async {
        let config = moto::config(endpoint).await;
        let stack = create_stack(&config).await?;
        println!("# stack `{STACK}` on {endpoint}, from template.yaml");
        for binary in ["scorer", "alerts", "producer", "decision", "backupCopier"] {
            let function = stack.function(binary).context("function missing from template.yaml")?;
            println!("\n# {binary} ({})", function.id);
            for (name, value) in stack.environment(&function)? {
                println!("export {name}={value}");
            }
        }
        println!("\n# outputs");
        for (name, value) in stack.outputs()? {
            println!("# {name} = {value}");
        }
        for (endpoint, queue) in &stack.inboxes {
            println!("# inbox for {endpoint}: {queue}");
        }
        Ok(())
    })
}

pub struct LocalDemo {
    pub transactions: usize,
    pub rate: Option<f64>,
    pub request_size: usize,
    /// Transactions through the decision API instead of the producer.
    pub decide: bool,
    /// Events to post instead of simulated ones (JSON lines).
    pub events: Option<PathBuf>,
    /// Where to write what the stack stored afterwards.
    pub dump: Option<PathBuf>,
    /// Where to write the fraud-ops report page over the lake the run wrote.
    pub report: PathBuf,
}

/// Largest events file read (it is read whole, then posted in requests).
const MAX_EVENTS_FILE: u64 = 256 * 1024 * 1024;

/// The events of a JSON-lines file, one per non-blank line.
fn events_file(path: &Path) -> Result<Vec<String>> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_EVENTS_FILE {
        bail!("{} is {size} bytes: at most {MAX_EVENTS_FILE} are read", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let events: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if events.is_empty() {
        bail!("{} holds no events", path.display());
    }
    Ok(events)
}

/// The log file the dump's per-function logs are split from.
fn log_file(dump: &Path) -> PathBuf {
    dump.join("logs").join("all.jsonl")
}

/// Logs as the functions write them (JSON lines, scrubbed), at info, into the dump.
pub fn log_to(dump: &Path) -> Result<()> {
    let path = log_file(dump);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    vigil_shared::logging::init_with(std::sync::Mutex::new(file), "info");
    Ok(())
}

/// The simulation's whole history for as many customers as make up about `transactions`
/// payments, with their chargebacks (fraud labels) where they become known, in time order:
/// alerts need history, and a realistic share of fraud needs weeks of it.
pub(crate) fn stream(spec: &Spec, transactions: usize) -> Result<Vec<String>> {
    let (txs, labels) = simulated(spec)?;
    let mut per_customer: BTreeMap<&CustomerId, usize> = BTreeMap::new();
    for t in &txs.valid {
        *per_customer.entry(&t.customer).or_default() += 1;
    }
    let mut chosen = HashSet::new();
    let mut total = 0;
    for (customer, n) in per_customer {
        if total >= transactions {
            break;
        }
        chosen.insert(customer);
        total += n;
    }
    let mut events: Vec<(DateTime<Utc>, String)> = Vec::with_capacity(total + total / 50);
    for (t, label) in txs.valid.iter().zip(labels) {
        if !chosen.contains(&t.customer) {
            continue;
        }
        events.push((t.at, Event::Transaction(t.clone()).to_json()));
        if label.fraud {
            events.push((label.known_at, Event::Label(label).to_json()));
        }
    }
    events.extend(compliance_events(spec.seed));
    events.sort_by_key(|(at, _)| *at);
    let mut payloads: Vec<String> = events.into_iter().map(|(_, e)| e).collect();
    // One record in a hundred is one the producer must refuse (and say why).
    for i in (0..payloads.len()).step_by(100).skip(1) {
        payloads.insert(i, format!(r#"{{"transaction_id":"bad-{i}","amount":"-1"}}"#));
    }
    Ok(payloads)
}

/// Accounts of the AML scenario beside the card payments.
const AML_ACCOUNTS: usize = 40;

/// Transfers and cash of a small AML scenario with injected laundering patterns
/// (`vigil aml generate`), its account holders' profiles (one of them on the demo
/// sanctions list), and two transfers to listed payees: what the compliance team gets.
pub(crate) fn compliance_events(seed: u64) -> Vec<(DateTime<Utc>, String)> {
    let scenario = aml_generate::simulate(AML_ACCOUNTS, seed);
    let opened = scenario.start - chrono::TimeDelta::days(1);
    let mut out = Vec::with_capacity(scenario.events.len() + scenario.accounts.len() / 2 + 3);
    let names = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Pierre Martin", "Sara Cohen", "Ravi Patel"];
    for (i, pair) in scenario.accounts.chunks(2).enumerate() {
        let accounts: Vec<AccountId> = pair.iter().map(|(id, _)| id.clone()).collect();
        // One customer of the bank is on the (fictional) list.
        let name = if i == 4 { "Dmitri Karvosh" } else { names[i % names.len()] };
        let (Ok(customer), Ok(name)) = (CustomerId::parse(&format!("cust-{i:04}")), PartyName::parse(name))
        else {
            continue;
        };
        let id = CustomerProfile::content_id(
            &customer,
            Some(name.as_str()),
            None,
            None,
            RiskRating::Low,
            &accounts,
            opened,
        );
        let profile = CustomerProfile {
            id,
            customer,
            name: Some(name),
            sealed_name: None,
            date_of_birth: None,
            country: None,
            risk: RiskRating::Low,
            accounts,
            updated_at: opened,
        };
        out.push((opened, Event::Customer(profile).to_json()));
    }
    let mut flows: Vec<FlowEvent> = scenario.events;
    for (i, payee) in ["Zentara Maritime Holdings", "Orchid Blackwater Trading"].iter().enumerate() {
        let (Ok(id), Ok(name), Some(FlowEvent::Transfer(template))) = (
            TransactionId::parse(&format!("sanctioned-{i}")),
            PartyName::parse(payee),
            flows.iter().find(|f| matches!(f, FlowEvent::Transfer(_))).cloned(),
        ) else {
            continue;
        };
        flows.push(FlowEvent::Transfer(Transfer { id, payee_name: Some(name), ..template }));
    }
    for event in flows {
        let at = event.at();
        out.push((
            at,
            Event::Flow(Flow { event, currency: Currency::USD, sealed: Default::default() }).to_json(),
        ));
    }
    out
}

/// `vigil demo --local-aws`.
pub fn demo(spec: &Spec, run: &LocalDemo) -> Result<()> {
    let payloads = match &run.events {
        Some(path) => events_file(path)?,
        None => stream(spec, run.transactions)?,
    };
    let (_moto, endpoint) = local_aws()?;
    runtime()?.block_on(async {
        let config = moto::config(&endpoint).await;
        println!("Vigil on a local AWS ({endpoint}): creating the stack from template.yaml…");
        let stack = create_stack(&config).await?;
        for source in &stack.stream_sources {
            println!(
                "  {} ← {} (batch {}, window {} s, retries {}, bisect {}, on failure → {})",
                source.function,
                source.stream,
                source.batch_size,
                source.window.as_secs(),
                source.max_retries.map_or("until expiry".to_owned(), |n| n.to_string()),
                source.bisect,
                source.on_failure.as_deref().unwrap_or("-")
            );
        }
        println!(
            "Posting {} events to {} ({} per request{})…",
            payloads.len(),
            if run.decide {
                "the decision API (card payments) and the producer API (labels, transfers, cash, profiles)"
            } else {
                "the producer API"
            },
            run.request_size,
            run.rate.map(|r| format!(", {r:.0}/s")).unwrap_or_default()
        );
        let bar = ProgressBar::new(payloads.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} scored {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let options = Options {
            request_size: run.request_size,
            rate: run.rate,
            drain_timeout: Duration::from_secs(120),
            ops_endpoint: OPS.to_owned(),
            compliance_endpoint: Some(COMPLIANCE.to_owned()),
            chaos: None,
            decide: run.decide,
        };
        let report = e2e::run(&config, &stack, &payloads, &options, &|s| {
            bar.set_position(s.scored as u64);
            bar.set_message(format!("· {} submitted · {} alerts in the ops inbox", s.submitted, s.alerts));
        })
        .await?;
        bar.finish();
        print_report(&report);
        // Simulated card payments span the simulation's days; an events file, what it held.
        let days = run.events.is_none().then(|| (spec.start, spec.start + chrono::Days::new(spec.days.max(1) as u64)));
        // The report is the demo's epilogue: its failure is said, and the dump still made.
        if let Err(e) = fraud_ops_page(&config, &stack, days, &run.report).await {
            eprintln!("\nThe fraud-ops report was not written: {e:#}");
        }
        if let Some(dir) = &run.dump {
            let inboxes: [(&str, &[e2e::Received]); 2] =
                [("operations", &report.alerts), ("compliance", &report.compliance_alerts)];
            let d = vigil_local::dump::dump(&config, &stack, &inboxes, dir).await.map_err(anyhow::Error::msg)?;
            let logs = vigil_local::dump::split_logs(&log_file(dir), &dir.join("logs")).map_err(anyhow::Error::msg)?;
            std::fs::remove_file(log_file(dir)).ok();
            println!(
                "\nDump: {} DynamoDB items, {} S3 objects, {} Kinesis records, {} queue messages, {} alerts, {logs} log lines under {}",
                d.items,
                d.objects,
                d.records,
                d.messages,
                d.alerts,
                dir.display()
            );
        }
        if !report.accounted() {
            bail!("not every transaction is accounted for (see above)");
        }
        Ok(())
    })
}

/// The demo's last word: the fraud-ops report over the lake the stack wrote, by the
/// embedded engine from the SQL the report trigger runs on Athena, as the lake stands now.
/// `days` are [from, to); without them, the lake's last year of decisions.
async fn fraud_ops_page(
    config: &aws_config::SdkConfig,
    stack: &LocalStack,
    days: Option<(NaiveDate, NaiveDate)>,
    out: &Path,
) -> Result<()> {
    use vigil_shared::report::{Format, Period};
    let bucket = stack.resources.get("LakeBucket").map(|r| r.reference.clone()).context("no LakeBucket")?;
    let lake = crate::report::Lake::download(config, &bucket, "").await?;
    let decided = lake
        .decided_days()
        .map(|(first, last)| (first.max(last - chrono::Days::new(365)), last + chrono::Days::new(1)));
    let Some((from, to)) = days.or(decided) else {
        println!("\nNo decisions in the lake, so no report.");
        return Ok(());
    };
    let period = Period::new(from, to, Utc::now())?;
    let result = lake.engine().await?.run(crate::report::definition("fraud-ops")?, period).await?;
    crate::report::write(out, &result.render(Format::Html))?;
    let summary: serde_json::Value = serde_json::from_str(&result.render(Format::Json))?;
    let ratio = |key: &str| summary[key].as_f64().map_or("-".to_owned(), |r| format!("{r:.3}"));
    println!(
        "\nReport: fraud operations, transactions from {from} to {to} (exclusive), as the lake stood at {}\n  \
         {} transactions, {} alerts, {} confirmed frauds known so far: alert precision {}, fraud recall {}\n  \
         open {} in a browser (charts and every section; `vigil report` runs the other four alike)",
        summary["as_of"].as_str().unwrap_or_default(),
        summary["transactions"],
        summary["alerts"],
        summary["confirmed_frauds"],
        ratio("alert_precision"),
        ratio("fraud_recall"),
        out.display()
    );
    Ok(())
}

fn print_report(r: &Report) {
    println!("\nOperations inbox (first alerts, as SNS delivers them)");
    for alert in r.alerts.iter().take(5) {
        println!("  Subject: {}\n  {}\n", alert.subject, alert.message.replace('\n', "\n  "));
    }
    println!("Compliance inbox (AML and sanctions alerts: the whole pattern, never sent to operations)");
    // An AML pattern or two, then a screening hit or two.
    let aml = r.compliance_alerts.iter().filter(|a| a.alert_id.starts_with("aml:")).take(2);
    let screened = r.compliance_alerts.iter().filter(|a| a.alert_id.starts_with("sanctions:")).take(2);
    for alert in aml.chain(screened) {
        println!("  Subject: {}\n  {}\n", alert.subject, alert.message.replace('\n', "\n  "));
    }
    println!("Accounting");
    println!(
        "  submitted {} = accepted {} + refused by the API (per item, with reasons) {}",
        r.submitted, r.accepted, r.rejected
    );
    println!(
        "  scorer: {} records in {} invocations, {} skipped to its DLQ",
        r.scored, r.scorer_invocations, r.dead_lettered
    );
    let verdicts: Vec<String> = r.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
    println!(
        "  decisions in the lake: {}; accepted without a decision: {}",
        verdicts.join(", "),
        r.undecided.len()
    );
    println!(
        "  alerts: {} delivered once, {} missing, {} duplicates; dead letters: {:?}",
        r.alerts.len(),
        r.missing_alerts.len(),
        r.duplicate_alerts,
        r.dead_letters
    );
    let aml = r.compliance_alerts.iter().filter(|a| a.alert_id.starts_with("aml:")).count();
    println!(
        "  compliance alerts: {} delivered once ({aml} AML, {} sanctions), {} monitored transactions missing one, {} duplicates",
        r.compliance_alerts.len(),
        r.compliance_alerts.len() - aml,
        r.missing_compliance.len(),
        r.duplicate_compliance
    );
    if !r.decision_latencies.is_empty() {
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        println!(
            "decision API: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} degraded)",
            r.decision_latencies.len(),
            ms(r.decision_percentile(0.50)),
            ms(r.decision_percentile(0.99)),
            ms(r.decision_latencies.last().copied()),
            r.degraded
        );
    }
    let ms =
        |d: Option<Duration>| d.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1e3)).unwrap_or("-".into());
    println!(
        "\nLatency, accepted (or decided) → alert in the ops inbox ({} alerts): p50 {}, p99 {}, max {}",
        r.latencies.len(),
        ms(r.percentile(0.50)),
        ms(r.percentile(0.99)),
        ms(r.latencies.last().copied())
    );
    println!(
        "Throughput: {} transactions end to end in {:.1} s = {:.0}/s (moto serves one request at a time: \
         a floor for the local run, not the deployed one)",
        r.accepted - r.labels,
        r.elapsed.as_secs_f64(),
        (r.accepted - r.labels) as f64 / r.elapsed.as_secs_f64().max(1e-9)
    );
}
