//! The lake in a local directory, laid out as in S3: what `vigil replay --lake` writes and
//! `vigil report --lake DIR` reads.

use super::compact::{LakeObjects, ListedObject};
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

impl LakeObjects for DirLake {
    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, DeliveryError> {
        let dir = self.root.join(prefix);
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(|e| error(format!("{}: {e}", dir.display())))?,
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Objects only: not a write in progress (`create_once`'s aside file).
            if !name.ends_with(".parquet") || !entry.file_type().map_err(error)?.is_file() {
                continue;
            }
            let modified = entry.metadata().and_then(|m| m.modified()).map_err(error)?;
            out.push(ListedObject { key: format!("{prefix}{name}"), modified: modified.into() });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, DeliveryError> {
        std::fs::read(self.root.join(key)).map_err(|e| error(format!("{key}: {e}")))
    }

    async fn create(&self, key: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        create_once(&self.root.join(key), &body).map_err(|e| error(format!("{key}: {e}")))
    }

    async fn delete(&self, key: &str) -> Result<(), DeliveryError> {
        match std::fs::remove_file(self.root.join(key)) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(error(format!("{key}: {e}"))),
            _ => Ok(()),
        }
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
