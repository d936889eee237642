//! `vigil report NAME`: a report's SQL (the files the report trigger runs on Athena) on
//! the embedded engine, over a lake directory or a lake on S3.

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use std::path::PathBuf;
use vigil_shared::report::{self, Format, Period, embedded::EmbeddedLake};

/// Bounds what `--lake s3://…` copies down.
const MAX_OBJECTS: usize = 200_000;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// fraud-ops, model-monitoring, compliance, basel-oprisk or sox-evidence.
    name: String,
    /// The lake: a directory (`vigil replay --lake`) or `s3://bucket/prefix`.
    #[arg(long)]
    lake: String,
    /// First day of the period (UTC).
    #[arg(long)]
    from: NaiveDate,
    /// The day after the period (exclusive).
    #[arg(long)]
    to: NaiveDate,
    /// See the lake as it stood then (a date or an RFC 3339 time); the same `as_of`, the
    /// same bytes, whatever arrived later.
    #[arg(long)]
    as_of: String,
    #[arg(long, default_value = "json")]
    format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let Some(definition) = report::find(&args.name) else {
        let names: Vec<&str> = report::REPORTS.iter().map(|r| r.name).collect();
        bail!("no report {:?}: one of {}", args.name, names.join(", "));
    };
    let period = Period::new(args.from, args.to, Period::parse_as_of(&args.as_of)?)?;
    crate::local::runtime()?.block_on(async {
        // An S3 lake is copied down first; the copy lives until the report is written.
        let copy = match args.lake.strip_prefix("s3://") {
            Some(location) => {
                let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
                let dir = tempfile::tempdir().context("a directory for the lake's objects")?;
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
                let s3 = vigil_shared::aws::s3::client(&config);
                let n = vigil_shared::aws::s3::download(&s3, bucket, prefix, dir.path(), MAX_OBJECTS).await?;
                tracing::info!(objects = n, "lake copied from S3");
                Some(dir)
            }
            None => None,
        };
        let root = copy.as_ref().map_or_else(|| PathBuf::from(&args.lake), |d| d.path().to_path_buf());
        let lake = EmbeddedLake::open(&root).await?;
        let result = lake.run(definition, period).await?;
        let text = result.render(args.format);
        match &args.out {
            Some(path) => {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
            }
            None => print!("{text}"),
        }
        Ok(())
    })
}
