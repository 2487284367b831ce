//! Digests wharf checks downloads against: SHA-256 (LFS files, URL pins, wharf's own blob names)
//! and git's blob SHA-1 (small files in a Hugging Face repo, whose ETag is that id).
//!
//! Reading bytes to hash them is written once: [`copy_into`] (read, hash, and pass on to a writer)
//! and [`read_into`] (read and hash) serve every file wharf hashes — a store file being verified, a
//! resumed prefix, a copied local file, assembled parts, the prefix of a ranged transfer. A
//! download's body is hashed as it arrives, without reading it back (see `stream.rs`).

use std::io::{self, Read, Write};
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
    let mut h = Hasher::new(&Expected::Nothing, None);
    read_into(&mut crate::fsx::open_unnoticed(path)?, &mut h, u64::MAX)?;
    Ok(h.finish().0)
}

/// The size of one read while hashing.
const BUF: usize = 1 << 20;

/// Which side of a [`copy_into`] failed.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source.
    Read(io::Error),
    /// Writing the copy.
    Write(io::Error),
}

impl CopyError {
    /// The I/O error, whichever side it came from.
    pub fn into_io(self) -> io::Error {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// The one read-and-hash: read `from` until its end or `limit` bytes, feeding every byte to `h`
/// and then writing it to `to`, in one pass. Returns the bytes read. An interrupted read is retried.
pub fn copy_into(from: &mut impl Read, h: &mut Hasher, limit: u64, to: &mut impl Write) -> Result<u64, CopyError> {
    // One buffer per thread, reused: a fresh 1 MiB buffer per file (zeroed) would cost more than
    // hashing a small file.
    thread_local! {
        static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let mut buf = SPARE.with(|s| s.take());
    let want = (limit.min(BUF as u64) as usize).max(1);
    if buf.len() < want {
        buf = vec![0u8; want];
    }
    let read = copy_with(from, h, limit, to, &mut buf[..want]);
    SPARE.with(|s| s.set(buf));
    read
}

fn copy_with(
    from: &mut impl Read,
    h: &mut Hasher,
    limit: u64,
    to: &mut impl Write,
    buf: &mut [u8],
) -> Result<u64, CopyError> {
    let mut read = 0u64;
    while read < limit {
        let want = (limit - read).min(buf.len() as u64) as usize;
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        h.update(&buf[..n]);
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        read += n as u64;
    }
    Ok(read)
}

/// [`copy_into`] without a copy: read `from` (to its end or `limit` bytes) into `h`.
pub fn read_into(from: &mut impl Read, h: &mut Hasher, limit: u64) -> io::Result<u64> {
    copy_into(from, h, limit, &mut io::sink()).map_err(CopyError::into_io)
}

/// What a download must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// This SHA-256 (lowercase hex).
    Sha256(String),
    /// This git blob id (lowercase hex SHA-1 of `blob <size>\0<bytes>`).
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
    /// A hasher for a file that must hash to `expected`; the git id is computed only when it is
    /// expected and the size is known.
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

    /// Feed the next bytes.
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

    #[test]
    fn read_into_stops_at_the_limit_and_copy_into_passes_every_byte_on() {
        let data = vec![7u8; 3 * BUF + 5];
        let mut whole = Hasher::new(&Expected::Nothing, None);
        let mut out = Vec::new();
        assert_eq!(copy_into(&mut &data[..], &mut whole, u64::MAX, &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
        assert_eq!(whole.finish().0, sha256_hex(&data));
        let mut part = Hasher::new(&Expected::Nothing, None);
        assert_eq!(read_into(&mut &data[..], &mut part, 10).unwrap(), 10);
        assert_eq!(part.finish().0, sha256_hex(&data[..10]));
    }
}
