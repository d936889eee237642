//! `vigil`: replay history through the scoring core, export features for training,
//! evaluate, generate data, run the demo, and screen names against sanctions lists.

mod aml;
mod aml_generate;
mod audit;
mod backup;
mod demo;
mod drill;
mod evaluate;
mod files;
mod generate;
mod local;
mod replay;
mod report;
mod sanctions;
mod variants;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil fraud detection: replay, evaluate, generate, demo")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score transactions (and apply labels) exactly as the scorer Lambda does, with
    /// in-memory state. Writes `transaction_id,score,decision,reasons` per input row.
    Replay {
        #[command(flatten)]
        input: replay::Input,
        /// ONNX model to use instead of the embedded one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Events per scorer batch (as a Kinesis batch would deliver them).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Also write the lake here, as the scorer writes it to S3, on the replay's clock
        /// (for `vigil report --lake`).
        #[arg(long)]
        lake: Option<PathBuf>,
    },
    /// AML transaction monitoring over account flows (transfers): replay and score.
    Aml {
        #[command(subcommand)]
        command: aml::AmlCommand,
    },
    /// Export the engine's features per transaction (the training set: see infra/model).
    Features {
        #[command(flatten)]
        input: replay::Input,
    },
    /// Derive a labels file (`transaction_id,tx_fraud,known_at`) from a transactions
    /// file's `tx_fraud` column: each label known `delay_days` after its transaction.
    Labels {
        #[arg(long)]
        transactions: PathBuf,
        #[arg(long, default_value_t = vigil_shared::LABEL_DELAY_DAYS)]
        delay_days: i64,
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// AUC ROC, average precision and card precision top-k of a replay's scores over a
    /// test period, with the Fraud Detection Handbook's protocol.
    Eval {
        /// Transactions with their `tx_fraud` truth.
        #[arg(long)]
        transactions: PathBuf,
        /// Output of `vigil replay`.
        #[arg(long)]
        scores: PathBuf,
        /// First test day (UTC); default: the whole file.
        #[arg(long)]
        test_from: Option<NaiveDate>,
        #[arg(long, default_value_t = 7)]
        test_days: i64,
        #[arg(long, default_value_t = 100)]
        top_k: usize,
    },
    /// Simulate transactions with the handbook's three fraud scenarios.
    Generate {
        #[command(flatten)]
        spec: generate::Spec,
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Also write labels, known 7 days after each transaction.
        #[arg(long)]
        labels: Option<PathBuf>,
    },
    /// Generate a few weeks of payments, score them through the full core, and show
    /// what an analyst would see. With --local-aws: the deployed pipeline instead, on a
    /// local AWS (moto) built from template.yaml, from the producer API to the ops inbox.
    Demo {
        #[command(flatten)]
        spec: generate::Spec,
        /// Run the whole serverless pipeline on moto (AWS_ENDPOINT_URL, or one it starts).
        #[arg(long)]
        local_aws: bool,
        /// With --local-aws: about how many transactions to send (the whole history of
        /// enough simulated customers), with their chargebacks.
        #[arg(long, default_value_t = 5000)]
        transactions: usize,
        /// With --local-aws: transactions per second offered to the API (0: as fast as it takes them).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// With --local-aws: events per API request.
        #[arg(long, default_value_t = 20)]
        request_size: usize,
        /// With --local-aws: send the card payments through the decision API
        /// (`POST /v1/decisions`, answered at authorisation time) instead of the producer;
        /// labels, transfers, cash and profiles still go through the producer.
        #[arg(long)]
        decide: bool,
        /// With --local-aws: post these events (stream wire format, one JSON object per
        /// line) instead of simulated ones.
        #[arg(long)]
        events: Option<PathBuf>,
        /// With --local-aws: afterwards, write everything the local stack stored (DynamoDB
        /// items, S3 objects as stored, Kinesis records, queue messages, the alerts received,
        /// each function's log lines) under this directory, for inspection.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// With --local-aws: where to write the fraud-ops report page over the lake the run
        /// wrote (the demo ends by pointing at it).
        #[arg(long, default_value = "target/demo/fraud-ops.html")]
        report: PathBuf,
    },
    /// The deployed pipeline on a local AWS (as `demo --local-aws`) under the failures Lambda
    /// and AWS produce — invocations killed mid-save, batches redelivered and retried from
    /// checkpoints with newer records, throttled, conflicting and timed-out calls, labels
    /// ahead of their transactions, a hot terminal, alert invocations killed after
    /// publishing — then every count read back and checked. Exits non-zero on any mismatch.
    Drill {
        /// Required: the drill runs on the local stack.
        #[arg(long)]
        local_aws: bool,
        /// About how many transactions (whole simulated customer histories).
        #[arg(long, default_value_t = 5000)]
        transactions: usize,
        /// Seeds the simulation, the faults and the kills: the same seed, the same drill.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// A report (fraud-ops, model-monitoring, compliance, basel-oprisk, sox-evidence) on
    /// the embedded engine: the SQL the report trigger runs on Athena, over a lake.
    Report(report::ReportArgs),
    /// The audit trail: `vigil audit verify` recomputes its hash chain.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Opens sealed fields (account numbers, names, quarantined payloads) for compliance,
    /// with the caller's own AWS credentials; refused unless the caller has assumed the
    /// compliance role, and recorded in the audit trail either way.
    Reveal(audit::Reveal),
    /// The backup copier: `vigil backup drill` on moto and Azurite.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Sanctions screening: compare names, screen names against OFAC/UN lists, measure.
    #[command(subcommand)]
    Sanctions(sanctions::Sanctions),
    /// Create template.yaml's resources on a local AWS (moto) and print each function's
    /// environment as shell exports, for `cargo lambda watch` and `cargo lambda invoke`.
    Stack {
        /// The moto endpoint.
        #[arg(long, env = "AWS_ENDPOINT_URL", default_value = "http://127.0.0.1:5000")]
        endpoint: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        // The functions' log lines go to the dump, as JSON (through the redaction layer).
        Command::Demo { local_aws: true, dump: Some(dir), .. } => local::log_to(dir)?,
        _ => tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(vigil_shared::redact::Redacting(std::io::stderr))
            .init(),
    }
    match cli.command {
        Command::Replay { input, model, batch, lake } => {
            replay::replay(&input, model.as_deref(), batch, lake.as_deref())
        }
        Command::Aml { command } => aml::run(command),
        Command::Features { input } => replay::features(&input),
        Command::Labels { transactions, delay_days, out } => replay::labels(&transactions, delay_days, &out),
        Command::Eval { transactions, scores, test_from, test_days, top_k } => {
            evaluate::eval(&transactions, &scores, test_from, test_days, top_k)
        }
        Command::Generate { spec, out, labels } => generate::write(&spec, &out, labels.as_deref()),
        Command::Demo { spec, local_aws: false, .. } => demo::run(&spec),
        Command::Demo {
            spec,
            local_aws: true,
            transactions,
            rate,
            request_size,
            decide,
            events,
            dump,
            report,
        } => {
            let rate = (rate > 0.0).then_some(rate);
            local::demo(
                &spec,
                &local::LocalDemo { transactions, rate, request_size, decide, events, dump, report },
            )
        }
        Command::Drill { local_aws: false, .. } => {
            anyhow::bail!("the drill runs on the local stack: --local-aws")
        }
        Command::Drill { local_aws: true, transactions, seed } => {
            let spec = generate::Spec {
                customers: 1000,
                terminals: None,
                days: 60,
                start: chrono::NaiveDate::from_ymd_opt(2018, 4, 1).unwrap_or_default(),
                seed,
                malformed: 0.0,
            };
            drill::run(&spec, &drill::Drill { transactions, seed })
        }
        Command::Stack { endpoint } => local::stack(&endpoint),
        Command::Sanctions(command) => sanctions::run(command),
        Command::Backup(command) => backup::run(command),
        Command::Report(args) => report::run(&args),
        Command::Audit(command) => audit::verify(command),
        Command::Reveal(request) => audit::run_reveal(request),
    }
}
