//! Sanctions lists as loaded: entries with their names, and the version of each list.
//!
//! Each list format is a [`ListParser`] ([`Ofac`], [`Un`]); [`SanctionsLists`] joins
//! them. A load either gives every entry of every list or fails with what was wrong:
//! a cut or malformed file must never pass for a shorter list.

use super::{Ofac, Schema, Un};
use crate::csvio::{Bounded, Limit, LimitExceeded};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Most bytes of one list file as stored (the SDN CSV is ~4 MB, the UN XML ~2 MB).
pub const MAX_LIST_BYTES: u64 = 256 << 20;
/// Most bytes a compressed list may expand to.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;
/// Most entries of one list (OFAC's SDN holds ~18,000).
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most names (primary and aliases) of one entry.
pub const MAX_NAMES_PER_ENTRY: usize = 1_000;

/// One listed party.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `ofac:<ent_num>` or `un:<DATAID>`.
    pub id: String,
    pub schema: Schema,
    /// The primary name first, then aliases.
    pub names: Vec<ListedName>,
    /// Sanctions programmes (OFAC `SDGT`, UN `Al-Qaida`…).
    pub programs: Vec<String>,
    /// The list's own reference (UN `QDi.006`), when it has one beside the id.
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListedName {
    pub name: String,
    /// A weak alias (UN "Low" quality, a bracketed acronym): a match on it counts less.
    pub weak: bool,
}

/// What one list file set parsed into.
#[derive(Debug, Clone)]
pub struct ParsedList {
    pub entries: Vec<Entry>,
    /// `<source>:<publication date>` when the list states one, else
    /// `<source>:fnv64-<hash of its bytes>`.
    pub version: String,
}

/// A sanctions list format.
pub trait ListParser {
    /// Short name of the list, used in entry ids and versions.
    const SOURCE: &'static str;

    fn parse(self) -> Result<ParsedList, ListError>;
}

/// Why a list could not be loaded. Every variant fails the load: the caller keeps the
/// lists it had (or, at cold start, fails init loudly).
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{file}: cannot read")]
    Io { file: &'static str, source: std::io::Error },
    #[error("{file}: larger than {limit} bytes")]
    TooLarge { file: &'static str, limit: u64 },
    #[error("{file}, line {line}: {reason}")]
    Row { file: &'static str, line: u64, reason: String },
    #[error("{file}: malformed XML near byte {position}: {reason}")]
    Xml { file: &'static str, position: u64, reason: String },
    #[error("{file}: ends before the list does (truncated?)")]
    Truncated { file: &'static str },
    #[error("{file}: holds no entries")]
    Empty { file: &'static str },
    #[error("{file}: more than {limit} {what}")]
    TooMany { file: &'static str, what: &'static str, limit: usize },
    #[error("{0}: missing (a list directory holds sdn.csv and alt.csv)")]
    Missing(String),
}

impl ListError {
    /// An I/O error of `file`, told apart from a size limit the reader hit.
    pub(crate) fn io(file: &'static str, source: std::io::Error) -> Self {
        match LimitExceeded::of(&source) {
            Some(limit) => Self::TooLarge { file, limit: limit.limit },
            None => Self::Io { file, source },
        }
    }
}

/// The versions of the lists a screening used, recorded with every hit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListVersion(String);

impl ListVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// All loaded lists.
#[derive(Debug, Clone, Default)]
pub struct SanctionsLists {
    pub entries: Vec<Entry>,
    pub version: ListVersion,
}

impl SanctionsLists {
    /// OFAC's `sdn.csv` and `alt.csv`, and optionally the UN consolidated XML (plain or
    /// gzip). Inputs are read once, bounded by [`MAX_LIST_BYTES`].
    pub fn load(sdn: impl Read, alt: impl Read, un: Option<impl Read>) -> Result<Self, ListError> {
        let mut lists = vec![Ofac::new(sdn, alt).parse()?];
        if let Some(un) = un {
            lists.push(Un::new(un).parse()?);
        }
        Ok(Self::join(lists))
    }

    /// A directory holding `sdn.csv`, `alt.csv` and optionally `un_consolidated.xml` or
    /// `un_consolidated.xml.gz`.
    pub fn from_dir(dir: &Path) -> Result<Self, ListError> {
        let open = |name: &'static str| -> Result<Option<File>, ListError> {
            match File::open(dir.join(name)) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ListError::io(name, e)),
            }
        };
        let missing = |name: &str| ListError::Missing(dir.join(name).display().to_string());
        let sdn = open("sdn.csv")?.ok_or_else(|| missing("sdn.csv"))?;
        let alt = open("alt.csv")?.ok_or_else(|| missing("alt.csv"))?;
        let un = match open("un_consolidated.xml")? {
            Some(f) => Some(f),
            None => open("un_consolidated.xml.gz")?,
        };
        Self::load(sdn, alt, un)
    }

    /// Lists parsed elsewhere (another format), in order.
    pub fn join(lists: Vec<ParsedList>) -> Self {
        let version = lists.iter().map(|l| l.version.as_str()).collect::<Vec<_>>().join(" ");
        let entries = lists.into_iter().flat_map(|l| l.entries).collect();
        Self { entries, version: ListVersion(version) }
    }

    /// How many names (primary and aliases) all entries hold.
    pub fn names(&self) -> usize {
        self.entries.iter().map(|e| e.names.len()).sum()
    }
}

/// A reader bounded to [`MAX_LIST_BYTES`] that hashes what passes (FNV-1a, 64 bits), for
/// lists that state no version of their own.
pub(crate) struct Hashing<R> {
    inner: Bounded<R>,
    hash: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Self { inner: Bounded::new(inner, MAX_LIST_BYTES, Limit::File), hash: 0xcbf2_9ce4_8422_2325 }
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(n)
    }
}

/// `input` bounded, and gunzipped (bounded too) when it starts with gzip's magic bytes.
pub(crate) fn maybe_gzipped<'a, R: Read + 'a>(input: R) -> std::io::Result<Box<dyn BufRead + 'a>> {
    let mut input = BufReader::with_capacity(1 << 16, Bounded::new(input, MAX_LIST_BYTES, Limit::File));
    if input.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let inflated = flate2::bufread::MultiGzDecoder::new(input);
        let bounded = Bounded::new(inflated, MAX_DECOMPRESSED_BYTES, Limit::Decompressed);
        Ok(Box::new(BufReader::with_capacity(1 << 16, bounded)))
    } else {
        Ok(Box::new(input))
    }
}

/// Splits a listed name into the names it holds: `A ; B` are two names, and a bracketed
/// part (`BUTEMBO AIRLINES (BAL)`) is dropped from the name and kept as a weak alias.
pub(crate) fn split_listed(raw: &str, weak: bool, out: &mut Vec<ListedName>) {
    for part in raw.split(';') {
        let (mut bare, mut inside) = (String::new(), Vec::new());
        let mut depth = 0usize;
        let mut current = String::new();
        for c in part.chars() {
            match c {
                '(' => {
                    depth += 1;
                    if depth == 1 {
                        current.clear();
                    }
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        inside.push(std::mem::take(&mut current));
                    }
                }
                c if depth > 0 => current.push(c),
                c => bare.push(c),
            }
        }
        let bare = bare.split_whitespace().collect::<Vec<_>>().join(" ");
        if bare.is_empty() {
            // Nothing outside brackets: the whole part is the name.
            push_name(out, part, weak);
            continue;
        }
        push_name(out, &bare, weak);
        for alias in inside {
            if alias.trim().chars().filter(|c| c.is_alphanumeric()).count() >= 2 {
                push_name(out, &alias, true);
            }
        }
    }
}

fn push_name(out: &mut Vec<ListedName>, name: &str, weak: bool) {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if !name.is_empty() && !out.iter().any(|n| n.name == name) {
        out.push(ListedName { name, weak });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        split_listed(raw, false, &mut out);
        out.into_iter().map(|n| (n.name, n.weak)).collect()
    }

    #[test]
    fn semicolons_separate_names_and_brackets_are_weak_aliases() {
        assert_eq!(
            names("BUTEMBO AIRLINES (BAL)"),
            [("BUTEMBO AIRLINES".into(), false), ("BAL".into(), true)]
        );
        assert_eq!(
            names("COMPAGNIE AERIENNE (CAGL) ; GREAT LAKES"),
            [("COMPAGNIE AERIENNE".into(), false), ("CAGL".into(), true), ("GREAT LAKES".into(), false)]
        );
        assert_eq!(names("(ALONE)"), [("(ALONE)".into(), false)]);
        assert_eq!(names("  "), []);
    }

    #[test]
    fn a_directory_without_the_ofac_files_is_refused() {
        let dir = tempfile_dir();
        assert!(matches!(SanctionsLists::from_dir(&dir), Err(ListError::Missing(_))));
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-sanctions-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}
