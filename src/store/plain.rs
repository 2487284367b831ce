//! URL and `file://` sources: into wharf's content-addressed store, `blobs/sha256/<hex>`.
//!
//! A pinned URL (`#sha256=` or `--sha256`) is found by its digest without any request; an unpinned
//! one by the digest recorded under `urls/` when it was first fetched. Both take a lock (on the pin,
//! or on the URL) and look again before downloading, like Hugging Face files. A local file is
//! hashed, looked up by its digest, and otherwise copied under that digest's lock, hashing the
//! copy in the same pass so a file changing under us is caught.

use std::io::{Read, Write};
use std::path::Path;

use super::layout::BlobStore;
use super::pull::{blocking, sha256_of, ModelStore, Pulled};
use crate::fetch::hash::Hasher;
use crate::fetch::hash::{self, Expected};
use crate::fetch::progress::Progress;
use crate::fetch::transfer::{self, Download, Downloaded};
use crate::fetch::FetchError;
use crate::fsx::{Context, FsError};
use crate::lock::{self, Mode};

/// The store's blob named `hex`, as a cached pull of `source`, if it is there.
fn blob_hit(blobs: &BlobStore, hex: &str, source: &str) -> Option<Pulled> {
    let path = blobs.blob(hex);
    let size = std::fs::metadata(&path).ok()?.len();
    Some(Pulled { source: source.to_string(), path, sha256: hex.to_string(), size, cached: true, commit: None })
}

/// Copy `src` to the new file `dst` (mode 0600), hashing what is written, in one pass.
fn copy_hashing(src: &Path, dst: &Path) -> Result<Downloaded, FsError> {
    let mut from = std::fs::File::open(src).ctx("cannot open", src)?;
    let mut to = std::io::BufWriter::with_capacity(1 << 20, crate::fsx::open_private(dst).ctx("cannot create", dst)?);
    let mut h = Hasher::new(&Expected::Nothing, None);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buf).ctx("cannot read", src)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        to.write_all(&buf[..n]).ctx("cannot write", dst)?;
        size += n as u64;
    }
    let file = to.into_inner().map_err(|e| FsError::new("cannot write", dst, e.into_error()))?;
    file.sync_all().ctx("cannot sync", dst)?;
    let (sha256, _) = h.finish();
    Ok(Downloaded { sha256, git_sha1: None, size })
}

impl ModelStore {
    pub(super) async fn url(
        &self,
        url: &str,
        pin: Option<String>,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| FetchError::Protocol { url: url.to_string(), why: e.to_string() })?;
        if let Some(hit) = self.url_cached(url, pin.as_deref()).await? {
            return Ok(hit);
        }
        if self.cfg.offline {
            return Err(FetchError::Offline { what: url.to_string() });
        }
        let blobs = self.blobs.clone();
        let record = blobs.url_record(url);
        let lock_name = pin.clone().unwrap_or_else(|| format!("url-{}", hash::sha256_hex(url.as_bytes())));
        let _guard = self.lock(blobs.lock(&lock_name), url, progress).await?;
        // Double-check: another process may have fetched it while we waited for the lock.
        if let Some(hit) = self.url_cached(url, pin.as_deref()).await? {
            return Ok(hit);
        }
        let temp = match &pin {
            Some(hex) => transfer::temp_path(&blobs.blob(hex)),
            None => blobs.root.join("blobs").join("sha256").join(format!(".{lock_name}.incomplete")),
        };
        let expected = pin.clone().map_or(Expected::Nothing, Expected::Sha256);
        let d = Download { id: url, url: parsed, credential: None, size: None, expected: &expected, temp: &temp };
        let got = self.http.download(&d, progress).await?;
        let dest = blobs.blob(&got.sha256);
        let (t, dst, e, l, g) = (temp.clone(), dest.clone(), expected.clone(), url.to_string(), got.clone());
        blocking(move || {
            transfer::commit(&t, &dst, &e, &g, &l)?;
            crate::fsx::write_atomic(&record, g.sha256.as_bytes())?;
            Ok(())
        })
        .await?;
        Ok(Pulled {
            source: url.to_string(),
            path: dest,
            sha256: got.sha256,
            size: got.size,
            cached: false,
            commit: None,
        })
    }

    /// The blob a URL already has in the store: by its pin, else by the digest recorded for it.
    async fn url_cached(&self, url: &str, pin: Option<&str>) -> Result<Option<Pulled>, FetchError> {
        let (blobs, source, pin) = (self.blobs.clone(), url.to_string(), pin.map(str::to_owned));
        blocking(move || {
            let hex = match pin {
                Some(h) => h,
                None => match crate::fsx::read_optional(&blobs.url_record(&source))? {
                    Some(s) => s.trim().to_string(),
                    None => return Ok(None),
                },
            };
            Ok(blob_hit(&blobs, &hex, &source))
        })
        .await
    }

    pub(super) async fn file(&self, path: &Path, pin: Option<String>) -> Result<Pulled, FetchError> {
        let blobs = self.blobs.clone();
        let (src, offline, wait) = (path.to_path_buf(), self.cfg.offline, self.cfg.blob_lock_timeout);
        blocking(move || {
            let label = format!("file://{}", src.display());
            if let Some(hit) = pin.as_deref().and_then(|h| blob_hit(&blobs, h, &label)) {
                return Ok(hit);
            }
            let sha256 = sha256_of(&src)?;
            if let Some(want) = pin.as_deref().filter(|w| !w.eq_ignore_ascii_case(&sha256)) {
                return Err(FetchError::ChecksumMismatch { what: label, expected: want.to_string(), actual: sha256 });
            }
            if let Some(hit) = blob_hit(&blobs, &sha256, &label) {
                return Ok(hit);
            }
            if offline {
                return Err(FetchError::Offline { what: label });
            }
            let _guard = lock::acquire(&blobs.lock(&sha256), Mode::Exclusive, wait, &|_| {})?;
            if let Some(hit) = blob_hit(&blobs, &sha256, &label) {
                return Ok(hit);
            }
            let dest = blobs.blob(&sha256);
            let temp = transfer::temp_path(&dest);
            if let Some(dir) = temp.parent() {
                crate::fsx::create_dir_private(dir)?;
            }
            let _ = std::fs::remove_file(&temp); // a leftover of a killed copy; we hold the lock
            let got = copy_hashing(&src, &temp)?;
            let expected = Expected::Sha256(pin.unwrap_or_else(|| sha256.clone()));
            transfer::commit(&temp, &dest, &expected, &got, &label)?;
            Ok(Pulled { source: label, path: dest, sha256, size: got.size, cached: false, commit: None })
        })
        .await
    }
}
