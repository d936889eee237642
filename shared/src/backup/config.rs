//! What is backed up and how: sources, retention, sizes, verification. Built from the
//! function's environment, validated before any copy (STYLE §10).

/// One source bucket and the key prefixes of it that are backed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    pub bucket: String,
    /// Non-empty; `""` would mean the whole bucket and is refused (say what to keep).
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    pub sources: Vec<SourceSpec>,
    /// Days each S3 copy is locked (COMPLIANCE) from when it is made.
    pub retention_days: u32,
    /// Objects at least this large are copied in parts (UploadPartCopy) rather than with
    /// one CopyObject (which S3 limits to 5 GiB).
    pub multipart_threshold: u64,
    /// Part size of a multipart copy: 5 MiB (S3's least) to 5 GiB.
    pub part_size: u64,
    /// Size of the blocks an Azure blob is put in; each is held in memory once.
    pub block_size: u64,
    /// Largest object copied: it streams through the function once, within its timeout.
    pub max_object_bytes: u64,
    /// Verification (default mode): every copy not verified for this many days…
    pub verify_max_age_days: u32,
    /// …plus this many others drawn at random.
    pub verify_sample: usize,
    /// Objects copied at once during a reconciliation.
    pub parallelism: usize,
}

const MIB: u64 = 1024 * 1024;

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            sources: Vec::new(),
            retention_days: 2555,
            multipart_threshold: 256 * MIB,
            part_size: 64 * MIB,
            block_size: 8 * MIB,
            max_object_bytes: 16 * 1024 * MIB,
            verify_max_age_days: 30,
            verify_sample: 20,
            parallelism: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("backup sources `{0}`: {1}")]
    Sources(String, String),
    #[error("{0}")]
    Invalid(String),
}

impl BackupConfig {
    /// `bucket=prefix,prefix;bucket=prefix`: the sources as the template sets them.
    pub fn parse_sources(text: &str) -> Result<Vec<SourceSpec>, ConfigError> {
        let bad = |why: &str| ConfigError::Sources(text.to_owned(), why.to_owned());
        let mut out: Vec<SourceSpec> = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (bucket, prefixes) =
                part.split_once('=').ok_or_else(|| bad("each source is bucket=prefixes"))?;
            let bucket = bucket.trim();
            if bucket.is_empty() || out.iter().any(|s| s.bucket == bucket) {
                return Err(bad("a bucket is empty or named twice"));
            }
            let prefixes: Vec<String> =
                prefixes.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
            if prefixes.is_empty() {
                return Err(bad("a bucket without prefixes: name the prefixes to keep"));
            }
            out.push(SourceSpec { bucket: bucket.to_owned(), prefixes });
        }
        if out.is_empty() {
            return Err(bad("no source"));
        }
        Ok(out)
    }

    /// Refuses nonsense: no source, zero retention, parts S3 would refuse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |s: &str| Err(ConfigError::Invalid(s.to_owned()));
        if self.sources.is_empty() {
            return invalid("no backup source");
        }
        if self.retention_days == 0 {
            return invalid("retention must be at least a day");
        }
        if !(5 * MIB..=5 * 1024 * MIB).contains(&self.part_size) {
            return invalid("part size must be 5 MiB to 5 GiB");
        }
        if self.multipart_threshold < self.part_size || self.multipart_threshold > 5 * 1024 * MIB {
            return invalid("multipart threshold must be at least a part and at most 5 GiB");
        }
        if self.max_object_bytes / self.part_size > 10_000 {
            return invalid("the largest object would need more than 10,000 parts");
        }
        if self.block_size == 0 || self.block_size > 256 * MIB {
            return invalid("block size must be 1 byte to 256 MiB");
        }
        if self.parallelism == 0 || self.parallelism > 32 {
            return invalid("parallelism must be 1 to 32");
        }
        Ok(())
    }

    /// Whether `bucket`/`key` is one of the objects backed up.
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        self.sources
            .iter()
            .any(|s| s.bucket == bucket && s.prefixes.iter().any(|p| key.starts_with(p.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_from_the_templates_text() {
        let s = BackupConfig::parse_sources("lake=decisions/,labels/; reports=reports/,audit/").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1],
            SourceSpec { bucket: "reports".into(), prefixes: vec!["reports/".into(), "audit/".into()] }
        );
        let config = BackupConfig { sources: s, ..BackupConfig::default() };
        assert!(config.validate().is_ok());
        assert!(config.covers("lake", "decisions/dt=2018-04-01/b.parquet"));
        assert!(!config.covers("lake", "quarantine/x.jsonl"), "a prefix not backed up");
        assert!(!config.covers("other", "decisions/x"), "a bucket not backed up");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", "lake", "lake=", "=decisions/", "lake=a/;lake=b/"] {
            assert!(BackupConfig::parse_sources(bad).is_err(), "{bad}");
        }
        let sources = BackupConfig::parse_sources("lake=a/").unwrap();
        let ok = BackupConfig { sources, ..BackupConfig::default() };
        for bad in [
            BackupConfig { retention_days: 0, ..ok.clone() },
            BackupConfig { part_size: MIB, ..ok.clone() },
            BackupConfig { multipart_threshold: 6 * 1024 * MIB, ..ok.clone() },
            BackupConfig { block_size: 0, ..ok.clone() },
            BackupConfig { parallelism: 0, ..ok.clone() },
            BackupConfig { sources: Vec::new(), ..ok.clone() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
