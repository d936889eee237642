//! `vigil report NAME`: a report's SQL (the files the report trigger runs on Athena) on
//! the embedded engine, over a lake directory or a lake on S3.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
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
    let definition = definition(&args.name)?;
    let period = Period::new(args.from, args.to, Period::parse_as_of(&args.as_of)?)?;
    crate::local::runtime()?.block_on(async {
        let lake = Lake::open(&args.lake).await?;
        let text = lake.engine().await?.run(definition, period).await?.render(args.format);
        match &args.out {
            Some(path) => write(path, &text)?,
            None => print!("{text}"),
        }
        Ok(())
    })
}

pub(crate) fn definition(name: &str) -> Result<&'static report::Report> {
    report::find(name).with_context(|| {
        let names: Vec<&str> = report::REPORTS.iter().map(|r| r.name).collect();
        format!("no report {name:?}: one of {}", names.join(", "))
    })
}

pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A lake directory, or an S3 lake copied down (the copy lives as long as this).
pub(crate) struct Lake {
    root: PathBuf,
    _copy: Option<tempfile::TempDir>,
}

impl Lake {
    pub(crate) async fn open(lake: &str) -> Result<Lake> {
        let Some(location) = lake.strip_prefix("s3://") else {
            return Ok(Lake { root: PathBuf::from(lake), _copy: None });
        };
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Self::download(&config, bucket, prefix).await
    }

    pub(crate) async fn download(config: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Result<Lake> {
        let dir = tempfile::tempdir().context("a directory for the lake's objects")?;
        let s3 = vigil_shared::aws::s3::client(config);
        let n = vigil_shared::aws::s3::download(&s3, bucket, prefix, dir.path(), MAX_OBJECTS).await?;
        tracing::info!(objects = n, "lake copied from S3");
        Ok(Lake { root: dir.path().to_path_buf(), _copy: Some(dir) })
    }

    pub(crate) async fn engine(&self) -> Result<EmbeddedLake> {
        Ok(EmbeddedLake::open(&self.root).await?)
    }

    /// The days the decisions table holds (its `dt=` partitions), first and last.
    pub(crate) fn decided_days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let days = std::fs::read_dir(self.root.join("decisions")).ok()?.filter_map(|entry| {
            let name = entry.ok()?.file_name();
            NaiveDate::parse_from_str(name.to_str()?.strip_prefix("dt=")?, "%Y-%m-%d").ok()
        });
        days.fold(None, |span, d| match span {
            None => Some((d, d)),
            Some((first, last)) => Some((first.min(d), last.max(d))),
        })
    }
}
