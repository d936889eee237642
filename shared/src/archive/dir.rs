//! The lake in a local directory, laid out as in S3: what `vigil replay --lake` writes and
//! `vigil report --lake DIR` reads.

use super::{BatchKey, DecisionArchive, Lake, parquet};
use crate::alert::DeliveryError;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DirLake {
    root: PathBuf,
}

impl DirLake {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn error(what: impl std::fmt::Display) -> DeliveryError {
    DeliveryError { service: "lake directory", message: what.to_string() }
}

/// Writes `body` at `path` unless a file is there: written aside, then linked into place,
/// so a crash leaves no half object and a second writer keeps the first one's.
fn create_once(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let aside = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&aside, body)?;
    let linked = std::fs::hard_link(&aside, path);
    std::fs::remove_file(&aside)?;
    match linked {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

impl DecisionArchive for DirLake {
    async fn put(&self, batch: &BatchKey, lake: &Lake<'_>) -> Result<(), DeliveryError> {
        for object in parquet::objects(batch, lake).map_err(error)? {
            let path = self.root.join(&object.key);
            create_once(&path, &object.body).map_err(|e| error(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions/dt=2024-01-01/b.parquet");
        create_once(&path, b"first").unwrap();
        create_once(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "nothing left aside");
    }
}
