//! `vigil`: replay history through the scoring core, export features for training,
//! evaluate, generate data, and run the demo.

mod demo;
mod evaluate;
mod files;
mod generate;
mod replay;

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
    /// what an analyst would see.
    Demo {
        #[command(flatten)]
        spec: generate::Spec,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Replay { input, model, batch } => replay::replay(&input, model.as_deref(), batch),
        Command::Features { input } => replay::features(&input),
        Command::Labels { transactions, delay_days, out } => replay::labels(&transactions, delay_days, &out),
        Command::Eval { transactions, scores, test_from, test_days, top_k } => {
            evaluate::eval(&transactions, &scores, test_from, test_days, top_k)
        }
        Command::Generate { spec, out, labels } => generate::write(&spec, &out, labels.as_deref()),
        Command::Demo { spec } => demo::run(&spec),
    }
}
