//! What wharf fetched: one small JSON record per blob, so that `gc`, `clear` and `prune --models`
//! only ever touch files wharf itself downloaded (never another tool's Hugging Face downloads),
//! and know when each was last used.
//!
//! ```text
//! <wharf cache>/index/<sha256 of the blob path, 32 hex>.json
//! {"kind": "hf"|"blob", "blob": "/…/blobs/<etag|hex>", "repo": "org/name", "etag": "…",
//!  "sha256": "…", "size": 123, "sources": ["hf://org/name@main/model.bin"],
//!  "fetched_at": "…", "last_used": "…"}
//! ```
//!
//! One file per blob keeps concurrent pulls of different models from contending; a record is
//! replaced atomically (a reader sees the old record or the new one) but not synced: records are
//! advisory and written by the hundred (a cached repo of 200 files notes 200 uses), and a sync per
//! record would cost more than the pull. A crash may lose the newest `last_used`, or a new record,
//! whose blob then counts as another tool's and is never evicted: the safe side. A record whose
//! blob is gone is stale and is dropped by `verify --fix`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsx::{self, FsError};
use crate::transfer::hash::sha256_hex;

/// Which cache holds a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    /// The Hugging Face hub cache (`models--ORG--NAME/blobs/<etag>`).
    Hf,
    /// wharf's blob store (`blobs/sha256/<hex>`).
    Blob,
}

/// What wharf knows of one blob it fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Which cache holds it.
    pub kind: Cache,
    /// The blob's path.
    pub blob: PathBuf,
    /// The Hugging Face repo (`hf` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The blob's name in the hub cache (`hf` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Every source it was pulled from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// When wharf fetched it (RFC 3339).
    pub fetched_at: String,
    /// When a pull last used it (RFC 3339, milliseconds): `gc` evicts the oldest first.
    pub last_used: String,
}

/// The folder of records, one JSON file per blob.
#[derive(Debug, Clone)]
pub struct Index {
    /// `<wharf cache>/index`.
    pub dir: PathBuf,
}

impl Index {
    fn file(&self, blob: &Path) -> PathBuf {
        let key = sha256_hex(blob.to_string_lossy().as_bytes());
        self.dir.join(format!("{}.json", &key[..32]))
    }

    /// The record of `blob` (the path as recorded: canonical), if wharf fetched it.
    pub fn get(&self, blob: &Path) -> Option<Record> {
        let text = fsx::read_optional(&self.file(blob)).ok()??;
        serde_json::from_str(&text).ok()
    }

    fn put(&self, r: &Record) -> Result<(), FsError> {
        let text = serde_json::to_string_pretty(r).unwrap_or_default();
        fsx::write_replace(&self.file(&r.blob), text.as_bytes())
    }

    /// A new record, written in place (no temp file, no rename): until its bytes are all there a
    /// reader cannot parse it and takes the blob as unrecorded, which is what it was. `Ok(false)`:
    /// a record is there already (nothing was written).
    fn create(&self, r: &Record) -> Result<bool, FsError> {
        let path = self.file(&r.blob);
        let text = serde_json::to_string_pretty(r).unwrap_or_default();
        match fsx::open_private(&path, fsx::Existing::Refuse) {
            Ok(mut f) => std::io::Write::write_all(&mut f, text.as_bytes())
                .map(|()| true)
                .map_err(|e| FsError::new("cannot write", &path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(_) => self.put(r).map(|()| true),
        }
    }

    fn remove(&self, blob: &Path) -> Result<(), FsError> {
        match std::fs::remove_file(self.file(blob)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(FsError::new("cannot remove", &self.file(blob), e))
            }
            _ => Ok(()),
        }
    }

    /// Delete a blob (or a dangling link to one) if it is still there, and its record.
    pub fn forget(&self, blob: &Path) -> Result<(), FsError> {
        let canon = std::fs::canonicalize(blob).unwrap_or_else(|_| blob.to_path_buf());
        match std::fs::remove_file(blob) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(FsError::new("cannot remove", blob, e)),
            _ => {}
        }
        self.remove(&canon)
    }

    /// Record fetches (a new record) and uses (an existing record gets `last_used` and the source),
    /// each `(record, fetched)`, in parallel. A cached file with no record was put there by another
    /// tool and stays unrecorded. Temp files a killed writer left (older than an hour at `now`)
    /// are swept once for the batch.
    pub fn note_many(&self, records: Vec<(Record, bool)>, now: std::time::SystemTime) -> Result<(), FsError> {
        use rayon::prelude::*;
        fsx::create_dir_private(&self.dir)?;
        records.into_par_iter().try_for_each(|(r, fetched)| self.note(r, fetched, now))?;
        fsx::sweep_stale_temps(&self.dir, now, fsx::STALE_AFTER);
        Ok(())
    }

    /// Record one fetch (`fetched`) or use, as [`Index::note_many`] does; the folder must exist.
    pub fn note(&self, r: Record, fetched: bool, now: std::time::SystemTime) -> Result<(), FsError> {
        // A fetch is most often the blob's first: create its record without looking first (a
        // failed open per file of a 200-file repo), and merge only into one that was there.
        if fetched && self.create(&r)? {
            return Ok(());
        }
        let Some(mut old) = self.get(&r.blob) else {
            return if fetched { self.put(&r) } else { Ok(()) };
        };
        let new: Vec<String> = r.sources.into_iter().filter(|s| !old.sources.contains(s)).collect();
        if !fetched && new.is_empty() {
            // A use that adds nothing but its time: the blob's access time says it (one metadata
            // update, no record rewritten; see `last_used`). Best effort: a use not recorded only
            // makes the file look older to `gc`.
            let touched =
                std::fs::File::open(&r.blob).and_then(|f| f.set_times(std::fs::FileTimes::new().set_accessed(now)));
            drop(touched);
            return Ok(());
        }
        old.last_used = r.last_used;
        old.sources.extend(new);
        self.put(&old)
    }

    /// When the blob of `r` was last used: its record's `last_used`, or the blob's access time
    /// when that is later (a pull that only used the blob sets it; reading the file, hashing
    /// included, may too).
    pub fn last_used(r: &Record) -> String {
        let accessed = std::fs::metadata(&r.blob)
            .and_then(|m| m.accessed())
            .ok()
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        accessed.filter(|a| *a > r.last_used).unwrap_or_else(|| r.last_used.clone())
    }

    /// Every record that can be read, in blob order (unreadable ones are skipped).
    pub fn all(&self) -> Vec<Record> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out: Vec<Record> = rd
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
            .collect();
        out.sort_by(|a, b| a.blob.cmp(&b.blob));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(blob: &Path, source: &str, at: &str) -> Record {
        Record {
            kind: Cache::Blob,
            blob: blob.to_path_buf(),
            repo: None,
            etag: None,
            sha256: "ab".repeat(32),
            size: 3,
            sources: vec![source.to_string()],
            fetched_at: at.to_string(),
            last_used: at.to_string(),
        }
    }

    #[test]
    fn a_fetch_creates_a_record_or_merges_into_the_one_there() {
        let d = tempfile::tempdir().unwrap();
        let index = Index { dir: d.path().join("index") };
        let blob = d.path().join("blob");
        let now = std::time::SystemTime::now();
        index.note_many(vec![(record(&blob, "a", "t1"), true)], now).unwrap();
        assert_eq!(index.get(&blob).unwrap().sources, ["a"]);
        // Fetched again from elsewhere: one record with both sources, the first fetch's time.
        index.note_many(vec![(record(&blob, "b", "t2"), true)], now).unwrap();
        let r = index.get(&blob).unwrap();
        assert_eq!(r.sources, ["a", "b"]);
        assert_eq!((r.fetched_at.as_str(), r.last_used.as_str()), ("t1", "t2"));
        // A record that cannot be read is replaced by the fetch's.
        std::fs::write(index.file(&blob), "{not json").unwrap();
        index.note_many(vec![(record(&blob, "c", "t3"), true)], now).unwrap();
        assert_eq!(index.get(&blob).unwrap().sources, ["c"]);
        // A use of a blob with no record writes none.
        let other = d.path().join("other");
        index.note_many(vec![(record(&other, "d", "t4"), false)], now).unwrap();
        assert!(index.get(&other).is_none());
    }
}
