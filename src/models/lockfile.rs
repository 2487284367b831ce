//! `wharf.lock`: every model of `wharf.toml` pinned to what was really fetched.
//!
//! ```toml
//! # This file is written by `wharf pull`: it pins every model of wharf.toml. Commit it.
//! version = 1
//!
//! [[model]]
//! name = "tinyllama"
//! source = "hf://TheBloke/…@main/….gguf"     # the source used (the primary or a fallback)
//! commit = "…"                               # Hugging Face files: the exact commit
//! sha256 = "…"
//! size = 668788096
//!
//! [[model]]
//! name = "classifier"
//! sha256 = "…"
//! size = 12345
//!
//! [[model.parts]]
//! source = "https://example.org/m.h5.aa"
//! sha256 = "…"
//! size = 6000
//! ```
//!
//! Models are sorted by name and written by one serializer, so the same facts give the same bytes:
//! a second `pull` that changes nothing leaves the file byte-identical.
//!
//! A lock arrives with a cloned repo, so it is untrusted: `commit` is read as a [`CommitId`] and
//! every `sha256` as a [`Sha256`]; a bad value refuses the whole file with `wharf.lock:LINE` and
//! the value, before anything reaches a path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsx::{self, FsError};
use crate::ids::{CommitId, Sha256};
use crate::models::manifest::ModelSpec;

/// The lock file's name, beside `wharf.toml`.
pub const LOCKFILE: &str = "wharf.lock";
const HEADER: &str = "# This file is written by `wharf pull`: it pins every model of wharf.toml. Commit it.\n";

/// A parsed `wharf.lock`: what each model resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The format's version (1).
    pub version: u32,
    /// One entry per model, sorted by name.
    #[serde(default, rename = "model")]
    pub models: Vec<Locked>,
}

/// One model pinned: the source that served it, its commit (Hugging Face) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    /// The model's name in `wharf.toml`.
    pub name: String,
    /// The source that served it (absent for a model made of parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The commit a Hugging Face revision resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitId>,
    /// The SHA-256 of the model's bytes.
    pub sha256: Sha256,
    /// Its size in bytes.
    pub size: u64,
    /// The parts, for a split model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<LockedPart>,
}

/// One part of a split model. Its digest and size are known when it was fetched (or, the digest,
/// when its spec carries `#sha256=`); a model whose assembled file was already stored is pinned by
/// the whole's digest alone, and its parts by source only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPart {
    /// Where the part came from.
    pub source: String,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A `wharf.lock` that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    #[error("`{path}:{line}`: {message}\n  hint: this wharf.lock is not one wharf wrote (or it was edited); check where it came from, then delete it and run `wharf pull` to write it again")]
    /// Not a lock wharf wrote: the line at fault and why.
    Invalid {
        /// The lock file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// It could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Lock {
    /// A lock of these models (sorted by name).
    pub fn new(mut models: Vec<Locked>) -> Lock {
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Lock { version: 1, models }
    }

    /// The entry of model `name`.
    pub fn get(&self, name: &str) -> Option<&Locked> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The file's text: a header, then TOML.
    pub fn render(&self) -> String {
        format!("{HEADER}{}", toml::to_string(self).unwrap_or_default())
    }
}

/// Read `wharf.lock` in `dir`; `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<Lock>, LockfileError> {
    let path = dir.join(LOCKFILE);
    let Some(text) = fsx::read_optional(&path)? else { return Ok(None) };
    parse(&text).map(Some).map_err(|(line, message)| LockfileError::Invalid {
        path: path.display().to_string(),
        line,
        message,
    })
}

/// Parse a lock's text; `Err((line, message))` names the first bad value.
pub fn parse(text: &str) -> Result<Lock, (usize, String)> {
    let lock: Lock = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        (line, e.message().trim().to_string())
    })?;
    if lock.version != 1 {
        let line = text.lines().position(|l| l.trim_start().starts_with("version")).map_or(1, |i| i + 1);
        return Err((line, format!("version {} is not one this wharf reads (1)", lock.version)));
    }
    Ok(lock)
}

/// Write it only when the bytes change.
pub fn write(dir: &Path, lock: &Lock) -> Result<bool, FsError> {
    let path = dir.join(LOCKFILE);
    let text = lock.render();
    if fsx::read_optional(&path)?.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    fsx::write_atomic(&path, text.as_bytes())?;
    Ok(true)
}

/// Does the lock's entry still describe what the manifest asks for? (The source it used is one
/// of the candidates, the parts are the same, and a declared sha256 is the one it pinned.)
pub fn agrees(spec: &ModelSpec, locked: &Locked) -> bool {
    let source_ok = match (&locked.source, spec.parts.is_empty()) {
        (Some(s), true) => spec.candidates().contains(&s.as_str()),
        (None, false) => {
            locked.parts.len() == spec.parts.len() && locked.parts.iter().zip(&spec.parts).all(|(l, s)| &l.source == s)
        }
        _ => false,
    };
    let used_primary = locked.source.is_some() && locked.source == spec.source;
    let sha_ok = match &spec.sha256 {
        Some(h) if used_primary || !spec.parts.is_empty() => h == &locked.sha256,
        _ => true,
    };
    source_ok && sha_ok
}

/// Why the lock and the manifest disagree, model by model (empty: they agree).
pub fn disagreements(specs: &[ModelSpec], lock: &Lock) -> Vec<String> {
    let mut out = Vec::new();
    for spec in specs {
        match lock.get(&spec.name) {
            None => out.push(format!("model `{}` is in wharf.toml but not in wharf.lock", spec.name)),
            Some(l) if !agrees(spec, l) => {
                out.push(format!("model `{}` in wharf.lock does not match wharf.toml", spec.name))
            }
            Some(_) => {}
        }
    }
    for l in &lock.models {
        if !specs.iter().any(|s| s.name == l.name) {
            out.push(format!("model `{}` is in wharf.lock but no longer in wharf.toml", l.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(name: &str, source: &str) -> Locked {
        Locked {
            name: name.into(),
            source: Some(source.into()),
            commit: None,
            sha256: "a".repeat(64).parse().unwrap(),
            size: 1,
            parts: vec![],
        }
    }

    #[test]
    fn rendering_is_sorted_and_stable() {
        let a = Lock::new(vec![locked("b", "hf://o/r/x"), locked("a", "https://e/y")]);
        let b = Lock::new(vec![locked("a", "https://e/y"), locked("b", "hf://o/r/x")]);
        assert_eq!(a.render(), b.render());
        assert!(a.render().find("name = \"a\"").unwrap() < a.render().find("name = \"b\"").unwrap());
        let back: Lock = toml::from_str(&a.render()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn a_lock_agrees_only_with_what_the_manifest_names() {
        let spec = ModelSpec {
            name: "m".into(),
            source: Some("hf://o/r/x".into()),
            sha256: None,
            fallback: vec!["hf://o/r/y".into()],
            parts: vec![],
        };
        assert!(agrees(&spec, &locked("m", "hf://o/r/x")));
        assert!(agrees(&spec, &locked("m", "hf://o/r/y")), "a fallback it used");
        assert!(!agrees(&spec, &locked("m", "hf://o/r/z")));
        let lock = Lock::new(vec![locked("m", "hf://o/r/x"), locked("gone", "https://e/g")]);
        assert_eq!(disagreements(&[spec], &lock).len(), 1);
    }

    #[test]
    fn a_lock_with_a_bad_commit_or_digest_is_refused_at_its_line() {
        let good = Lock::new(vec![locked("a", "hf://o/r/x")]).render();
        assert!(parse(&good).is_ok());
        let bad_commit = good.replace("sha256 = ", "commit = \"../../../../../.bashrc\"\nsha256 = ");
        let (line, msg) = parse(&bad_commit).unwrap_err();
        assert_eq!(bad_commit.lines().nth(line - 1).map(|l| l.starts_with("commit")), Some(true), "{line}: {msg}");
        assert!(msg.contains(".bashrc"), "{msg}");
        let bad_sha = good.replace(&"a".repeat(64), "../x");
        let (line, msg) = parse(&bad_sha).unwrap_err();
        assert!(bad_sha.lines().nth(line - 1).unwrap().starts_with("sha256"), "{line}: {msg}");
    }

    proptest::proptest! {
        // Whatever a cloned lock holds, reading it never panics, and a lock that reads has only
        // well-formed pins.
        #[test]
        fn any_lock_text_reads_to_valid_pins_or_a_line(commit in "\\PC{0,50}|[0-9a-f]{40}", sha in "\\PC{0,70}|[0-9a-f]{64}", junk in "\\PC{0,40}") {
            let text = format!("version = 1\n[[model]]\nname = \"m\"\ncommit = {commit:?}\nsha256 = {sha:?}\nsize = 1\n{junk}");
            match parse(&text) {
                Ok(lock) => {
                    for m in &lock.models {
                        proptest::prop_assert_eq!(m.sha256.len(), 64);
                        proptest::prop_assert!(m.commit.as_ref().is_none_or(|c| c.len() == 40));
                    }
                }
                Err((line, _)) => proptest::prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1),
            }
        }
    }
}
