//! Digests wharf checks downloads against: SHA-256 (LFS files, URL pins, wharf's own blob names)
//! and git's blob SHA-1 (small files in a Hugging Face repo, whose ETag is that id).

use std::io;
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::ids::Etag;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// What a download must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Sha256(String),
    GitSha1(String),
    /// Unknown: the computed SHA-256 is recorded.
    Nothing,
}

impl Expected {
    /// From an etag as text (a blob's file name, a record): what [`Etag`] accepts, else nothing.
    pub fn from_etag(etag: &str) -> Expected {
        etag.parse::<Etag>().map_or(Expected::Nothing, |e| Expected::from(&e))
    }
}

/// An LFS etag is the file's SHA-256; any other is a git blob SHA-1.
impl From<&Etag> for Expected {
    fn from(etag: &Etag) -> Expected {
        match etag {
            Etag::Sha256(h) => Expected::Sha256(h.to_string()),
            Etag::GitBlob(g) => Expected::GitSha1(g.to_string()),
        }
    }
}

/// Both digests, fed in one pass.
#[derive(Clone)]
pub struct Hasher {
    sha256: Sha256,
    /// Only when a git id is expected; git's header needs the size up front.
    git: Option<Sha1>,
}

impl Hasher {
    pub fn new(expected: &Expected, size: Option<u64>) -> Hasher {
        let git = match (expected, size) {
            (Expected::GitSha1(_), Some(n)) => {
                let mut h = Sha1::new();
                h.update(format!("blob {n}\0").as_bytes());
                Some(h)
            }
            _ => None,
        };
        Hasher { sha256: Sha256::new(), git }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(g) = &mut self.git {
            g.update(bytes);
        }
    }

    /// (sha256 hex, git sha1 hex if computed)
    pub fn finish(self) -> (String, Option<String>) {
        (format!("{:x}", self.sha256.finalize()), self.git.map(|g| format!("{:x}", g.finalize())))
    }
}

/// Compare what was computed with what was expected: `Err((expected, actual))` on a mismatch.
pub fn verify(expected: &Expected, sha256: &str, git: Option<&str>) -> Result<(), (String, String)> {
    match expected {
        Expected::Sha256(want) if want != sha256 => Err((want.clone(), sha256.to_string())),
        Expected::GitSha1(want) if git != Some(want.as_str()) => {
            Err((want.clone(), git.unwrap_or("(not computed)").to_string()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_id_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin` = ce013625030ba8dba906f756967f9e9ca394464a
        let e = Expected::from_etag("ce013625030ba8dba906f756967f9e9ca394464a");
        let mut h = Hasher::new(&e, Some(6));
        h.update(b"hello\n");
        let (sha, git) = h.finish();
        assert_eq!(sha, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
        assert!(verify(&e, &sha, git.as_deref()).is_ok());
        assert!(verify(&Expected::Sha256("0".repeat(64)), &sha, None).is_err());
    }
}
