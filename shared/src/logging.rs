//! Logs: `tracing` as JSON lines, every line through the redaction layer.

use crate::redact::Redacting;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The level filter: `AWS_LAMBDA_LOG_LEVEL` (what the template's `LoggingConfig` sets),
/// else `RUST_LOG`, else `default`.
fn filter(default: &str) -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_ascii_lowercase());
    match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    }
}

/// A function's logging: JSON lines on stdout (CloudWatch Logs), scrubbed.
pub fn init() {
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter("info"))
        .with_target(false)
        .with_current_span(false)
        .with_ansi(false)
        .with_writer(Redacting(std::io::stdout))
        .try_init();
}

/// The same JSON lines into any writer (the CLI's log files), scrubbed.
pub fn init_with<W>(writer: W, default: &str)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(default))
        .with_ansi(false)
        .with_writer(Redacting(writer))
        .try_init();
}
