//! Boundary types: the values wharf takes from outside (a hub's headers and JSON, a cloned
//! `wharf.lock`, a ref file in a shared cache, the command line) before any of them reaches a path.
//!
//! Each type has one constructor, [`FromStr`], that checks; nothing else builds one, so a value of
//! these types cannot hold `..`, a `/` where none belongs, NUL or an absolute path. Paths inside
//! the stores are made only from them, through the store's one join
//! (`join_within` in `store/layout.rs`).
//!
//! | type | accepts | used for |
//! |---|---|---|
//! | [`CommitId`] | 40 hex digits (lowercased) | `X-Repo-Commit`, a listing's `sha`, `refs/<rev>`, `wharf.lock` `commit` |
//! | [`Sha256`] | 64 hex digits (lowercased) | LFS etags, pins, `wharf.lock` `sha256`, blob names |
//! | [`GitBlobId`] | 40 hex digits (lowercased) | the etag of a small (non-LFS) file |
//! | [`Etag`] | a [`Sha256`] or a [`GitBlobId`], quotes and `W/` removed | `X-Linked-Etag`/`ETag`, blob file names |
//! | [`Revision`] | a branch, tag or commit: `[A-Za-z0-9._-]` in `/`-separated parts, none `.` or `..` | `@REV`, `refs/<rev>` |
//! | [`RepoId`] | `ORG/NAME`, each `[A-Za-z0-9._-]`, not `.` or `..` | `models--ORG--NAME` |
//! | [`RepoPath`] | a relative `/`-separated name, no empty, `.` or `..` part, no `\` or control character | `snapshots/<commit>/<path>` |
//! | [`ModelName`] | 1–64 of `[A-Za-z0-9._-]`, first a letter or digit | `[models.NAME]`, `<env>/models/<name><ext>`, `WHARF_MODEL_<NAME>` |
//! | [`FileExt`] | `.` and one or two parts of letters and digits | the extension of a model's view |
//! | [`ProjectPath`] | like [`RepoPath`], relative to the project folder | `source = "models/x.bin"` in `wharf.toml` |
//! | [`BucketUrl`] | `s3://BUCKET[/PREFIX]`: an S3 bucket name, a prefix of name parts | `WHARF_MIRRORS`, `wharf push` |
//! | [`S3Object`] | `s3://BUCKET/KEY`: a bucket and a key of name parts | `wharf.toml`, `wharf pull` |
//!
//! Built from them: [`RepoRef`] (a repo at a revision) and [`HfFile`] (one file of it), see
//! `reference.rs`; and [`source::Source`], a parsed `wharf pull` spec.
//!
//! Errors say what kind of value was refused and why; the caller adds where it came from (the
//! server's URL, `wharf.lock:LINE`, the variable).

mod reference;
pub mod source;

pub use reference::{HfFile, RepoRef};

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// A value refused at the boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} `{value}` is not valid: {why}")]
pub struct IdError {
    /// What kind of value it was (`commit id`, `sha256`, …).
    pub kind: &'static str,
    /// The value, escaped and shortened to 200 characters.
    pub value: String,
    /// Why it was refused.
    pub why: &'static str,
}

/// Longest value any of these types accepts; longer input is refused before it is examined.
const MAX_LEN: usize = 1024;

fn refuse(kind: &'static str, value: &str, why: &'static str) -> IdError {
    IdError { kind, value: shortened(value, 200).escape_debug().to_string(), why }
}

/// `text` cut to its first `max` characters, with `…` when something was cut: an outside value
/// (a refused value, a server's error body) shown in a message.
pub fn shortened(text: &str, max: usize) -> String {
    let mut shown: String = text.chars().take(max).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

fn hex(kind: &'static str, s: &str, len: usize, why: &'static str) -> Result<String, IdError> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(refuse(kind, s, why))
    }
}

/// A name part: letters, digits, `-`, `_`, `.`, and not `.` or `..`.
fn name_part(p: &str) -> bool {
    !p.is_empty() && p != "." && p != ".." && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

macro_rules! boundary_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, |$s:ident| $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// What this kind of value is called in errors.
            pub const KIND: &'static str = $kind;

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str($s: &str) -> Result<Self, IdError> {
                if $s.len() > MAX_LEN {
                    return Err(refuse($kind, $s, "too long"));
                }
                let v: Result<String, IdError> = $parse;
                v.map($name)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

boundary_type!(
    /// A git commit: exactly 40 hex digits.
    CommitId, "commit id", |s| hex("commit id", s, 40, "a commit id has 40 hex digits")
);

boundary_type!(
    /// A SHA-256 digest: exactly 64 hex digits.
    Sha256, "sha256", |s| hex("sha256", s, 64, "a sha256 has 64 hex digits")
);

boundary_type!(
    /// A git blob id (SHA-1 of `blob <size>\0<bytes>`): exactly 40 hex digits.
    GitBlobId, "git blob id", |s| hex("git blob id", s, 40, "a git blob id has 40 hex digits")
);

boundary_type!(
    /// A branch, tag or commit name.
    Revision, "revision", |s| {
        if s.split('/').all(name_part) {
            Ok(s.to_string())
        } else {
            Err(refuse("revision", s, "use letters, digits, `-`, `_`, `.` in `/`-separated parts, none `.` or `..`"))
        }
    }
);

boundary_type!(
    /// A Hugging Face repo: `ORG/NAME`.
    RepoId, "repo id", |s| {
        match s.split_once('/') {
            Some((org, name)) if name_part(org) && name_part(name) => Ok(s.to_string()),
            _ => Err(refuse("repo id", s, "expected ORG/NAME of letters, digits, `-`, `_` and `.`")),
        }
    }
);

/// A relative `/`-separated name: no empty, `.` or `..` part, no `\` or control character.
fn relative_parts_ok(s: &str) -> bool {
    let part_ok = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.chars().any(|c| c == '\\' || c.is_control());
    s.split('/').all(part_ok)
}

boundary_type!(
    /// A file name inside a repo, relative to its root.
    RepoPath, "file name", |s| {
        if relative_parts_ok(s) {
            Ok(s.to_string())
        } else {
            Err(refuse("file name", s, "must be relative, without empty, `.` or `..` parts, `\\` or control characters"))
        }
    }
);

mod bucket;
mod model;
pub use bucket::{BucketUrl, S3Object};
pub use model::{FileExt, ModelName, ProjectPath};

impl Revision {
    /// `main`, the default branch.
    pub fn main() -> Revision {
        Revision("main".to_string())
    }

    /// The commit this revision is, when it is spelled as one.
    pub fn as_commit(&self) -> Option<CommitId> {
        self.0.parse().ok()
    }
}

impl From<CommitId> for Revision {
    fn from(c: CommitId) -> Revision {
        Revision(c.0)
    }
}

impl RepoId {
    /// `(ORG, NAME)`.
    pub fn parts(&self) -> (&str, &str) {
        // A parsed repo id always holds exactly one `/`.
        self.0.split_once('/').unwrap_or(("", &self.0))
    }

    /// `models--ORG--NAME`, the folder of the repo in the hub cache.
    pub fn cache_folder(&self) -> String {
        format!("models--{}", self.0.replace('/', "--"))
    }
}

/// What a hub calls a file's version: its SHA-256 for LFS files, its git blob id otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Etag {
    /// An LFS file's etag: its SHA-256.
    Sha256(Sha256),
    /// A small file's etag: its git blob id.
    GitBlob(GitBlobId),
}

impl Etag {
    /// The etag as text (the blob's file name in the hub cache).
    pub fn as_str(&self) -> &str {
        match self {
            Etag::Sha256(h) => h.as_str(),
            Etag::GitBlob(g) => g.as_str(),
        }
    }

    /// The SHA-256 of the file, when the etag is one.
    pub fn sha256(&self) -> Option<&Sha256> {
        match self {
            Etag::Sha256(h) => Some(h),
            Etag::GitBlob(_) => None,
        }
    }
}

impl FromStr for Etag {
    type Err = IdError;
    /// `"abc…"` and `W/"abc…"` are accepted as `abc…`.
    fn from_str(raw: &str) -> Result<Etag, IdError> {
        let s = raw.trim();
        let s = s.strip_prefix("W/").unwrap_or(s);
        let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
        let parsed = match s.len() {
            64 => s.parse().ok().map(Etag::Sha256),
            40 => s.parse().ok().map(Etag::GitBlob),
            _ => None,
        };
        parsed.ok_or_else(|| refuse("etag", raw, "an etag is a sha256 (64 hex digits) or a git blob id (40)"))
    }
}

impl TryFrom<String> for Etag {
    type Error = IdError;
    fn try_from(s: String) -> Result<Etag, IdError> {
        s.parse()
    }
}

impl From<Etag> for String {
    fn from(e: Etag) -> String {
        e.as_str().to_string()
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_types_take_exact_lengths_and_lowercase() {
        let c: CommitId = "ABCDEF0123456789abcdef0123456789abcdef01".parse().unwrap();
        assert_eq!(c.as_str(), "abcdef0123456789abcdef0123456789abcdef01");
        assert!("../../../../../.bashrc".parse::<CommitId>().is_err());
        assert!("abc".parse::<Sha256>().is_err());
        assert!(format!("{}g", "a".repeat(63)).parse::<Sha256>().is_err());
        assert!("a".repeat(64).parse::<Sha256>().is_ok());
    }

    #[test]
    fn etags_are_digests_only() {
        let sha = "b".repeat(64);
        assert_eq!(format!("W/\"{sha}\"").parse::<Etag>().unwrap().as_str(), sha);
        assert!(matches!("c".repeat(40).parse::<Etag>(), Ok(Etag::GitBlob(_))));
        for bad in ["x.incomplete", "../../etc/passwd", "", "\"\"", &format!("{sha}.incomplete")] {
            assert!(bad.parse::<Etag>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_refuse_what_escapes() {
        assert!("refs/pr/1".parse::<Revision>().is_ok());
        assert!("v1.0".parse::<Revision>().is_ok());
        for bad in ["..", "../x", "/abs", "a//b", "a b", "a\0b", "", "x/..", "$(id)"] {
            assert!(bad.parse::<Revision>().is_err(), "revision {bad:?}");
        }
        assert!("TheBloke/Tiny-1.1B".parse::<RepoId>().is_ok());
        for bad in ["org", "../x", "org/..", "org/a/b", "/org/x", "org/x y"] {
            assert!(bad.parse::<RepoId>().is_err(), "repo {bad:?}");
        }
        assert!("sub/dir/model file.bin".parse::<RepoPath>().is_ok());
        for bad in ["../../evil", "/etc/passwd", "a/../b", "a//b", "a\\b", "", ".", "a/\n"] {
            assert!(bad.parse::<RepoPath>().is_err(), "path {bad:?}");
        }
    }

    #[test]
    fn errors_name_the_kind_and_the_value() {
        let e = "x\ny".parse::<CommitId>().unwrap_err().to_string();
        assert!(e.contains("commit id") && e.contains("x\\ny"), "{e}");
    }

    fn no_escape(p: &str) -> bool {
        std::path::Path::new(p).components().all(|c| matches!(c, std::path::Component::Normal(_)))
    }

    proptest! {
        // Whatever a string holds, a value these types accept stays inside any root it is joined to.
        #[test]
        fn accepted_values_never_leave_their_root(s in "\\PC{0,40}|[./a-z\\\\]{0,12}") {
            if let Ok(p) = s.parse::<RepoPath>() { prop_assert!(no_escape(&p)); }
            if let Ok(r) = s.parse::<Revision>() { prop_assert!(no_escape(&r)); }
            if let Ok(r) = s.parse::<RepoId>() { prop_assert!(no_escape(&r.cache_folder())); prop_assert!(no_escape(&r)); }
            if let Ok(e) = s.parse::<Etag>() { prop_assert!(no_escape(e.as_str()) && !e.as_str().contains('/')); }
            if let Ok(c) = s.parse::<CommitId>() { prop_assert!(no_escape(&c) && !c.contains('/')); }
        }

        #[test]
        fn a_parsed_value_parses_again_to_itself(s in "[0-9a-fA-F]{40}|[0-9a-f]{64}|[a-z0-9./_-]{1,20}") {
            if let Ok(p) = s.parse::<RepoPath>() { prop_assert_eq!(p.as_str().parse::<RepoPath>().unwrap(), p); }
            if let Ok(c) = s.parse::<CommitId>() { prop_assert_eq!(c.as_str().parse::<CommitId>().unwrap(), c); }
            if let Ok(h) = s.parse::<Sha256>() { prop_assert_eq!(h.as_str().parse::<Sha256>().unwrap(), h); }
        }
    }
}
