//! URL, `s3://` and `file://` sources: into wharf's content-addressed store, `blobs/sha256/<hex>`.
//!
//! A pinned URL or S3 object (`#sha256=` or `--sha256`) is found by its digest without any
//! request; an unpinned one by the digest recorded under `urls/` when it was first fetched. An S3
//! object is fetched like a URL, through a URL presigned for it (never shown: messages name
//! `s3://BUCKET/KEY`). Both take a lock (on the pin,
//! or on the URL) and look again before downloading, like Hugging Face files. A local file is
//! hashed, looked up by its digest, and otherwise copied under that digest's lock, hashing the
//! copy in the same pass so a file changing under us is caught.
//!
//! A local source must be a regular file: it is opened non-blocking (a FIFO cannot hang the open)
//! and checked with `fstat` on what was opened, so `/dev/zero`, a FIFO, a socket or a folder is
//! refused at once, and it is read only up to the size `fstat` gave (a file growing while we
//! read it is an error, not an endless read).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::index::Cache;
use super::layout::{BlobKey, BlobStore};
use super::pull::{check_pin, ModelStore, Origin, PullOptions, Pulled};
use super::serve::{canonical, Trust};
use crate::fsx::{Context, Existing, FsError};
use crate::ids::Sha256;
use crate::lock::{self, Mode};
use crate::remote::s3::TeamStore;
use crate::transfer::hash::{self, CopyError, Expected, Hasher};
use crate::transfer::http::Asked;
use crate::transfer::progress::Progress;
use crate::transfer::worker::blocking;
use crate::transfer::FetchError;
use crate::transfer::{self, Download, Downloaded};

/// The store's blob named `hex`, as a cached pull of `source`, if it is there and `trust` accepts
/// it (else it is fetched again and replaced).
fn blob_hit(blobs: &BlobStore, hex: &Sha256, source: &str, trust: &Trust) -> Option<Pulled> {
    let path = blobs.blob(hex).ok()?;
    let meta = std::fs::metadata(&path).ok()?;
    let sound = meta.is_file() && trust.sound(&path, meta.len(), &Expected::Sha256(hex.to_string()));
    sound.then(|| Pulled {
        source: source.to_string(),
        path,
        sha256: hex.to_string(),
        size: meta.len(),
        cached: true,
        commit: None,
        hf: None,
        same_as: None,
    })
}

/// Open a local source: a regular file only (see [`crate::fsx::open_regular`]).
fn open_regular(path: &Path) -> Result<(File, u64), FetchError> {
    crate::fsx::open_regular(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => FetchError::NotAFile { path: path.to_path_buf(), why: e.to_string() },
        _ => FsError::new("cannot open", path, e).into(),
    })
}

/// Read the regular file `src` once, hashing every byte and writing it to `to` (the file `dst`);
/// no more than the size it had when opened.
fn read_regular(src: &Path, to: &mut impl Write, dst: &Path) -> Result<Downloaded, FetchError> {
    let (mut file, size) = open_regular(src)?;
    let mut h = Hasher::new(&Expected::Nothing, None);
    // One byte past the size is asked for, to notice a file that grows.
    let read = hash::copy_into(&mut file, &mut h, size + 1, to).map_err(|e| match e {
        CopyError::Read(e) => FsError::new("cannot read", src, e),
        CopyError::Write(e) => FsError::new("cannot write", dst, e),
    })?;
    if read != size {
        return Err(FetchError::Protocol {
            url: format!("file://{}", src.display()),
            why: format!("the file changed while it was read ({size} bytes when opened, {read} read)"),
        });
    }
    let (sha256, _) = h.finish();
    Ok(Downloaded { sha256, git_sha1: None, size })
}

/// Copy `src` to the new file `dst` (mode 0600), hashing what is written, in one pass.
fn copy_hashing(src: &Path, dst: &Path) -> Result<Downloaded, FetchError> {
    let mut to = std::io::BufWriter::with_capacity(
        1 << 20,
        crate::fsx::open_private(dst, Existing::Refuse).ctx("cannot create", dst)?,
    );
    let got = read_regular(src, &mut to, dst)?;
    let file = to.into_inner().map_err(|e| FsError::new("cannot write", dst, e.into_error()))?;
    file.sync_all().ctx("cannot sync", dst)?;
    Ok(got)
}

impl ModelStore {
    /// The rule for a stored file under `opts` (the pinned size applies to single-file sources).
    pub(super) fn trust(&self, opts: &PullOptions) -> Trust {
        Trust::new(opts.size, opts.verify, self.index.clone())
    }

    /// Name, for each cached file of wharf's blob store, the other source that first brought its
    /// bytes, if it was not this one (see `serve.rs`).
    pub(super) async fn note_same_bytes(&self, mut pulled: Vec<Pulled>) -> Result<Vec<Pulled>, FetchError> {
        let index = self.index.clone();
        blocking(move || {
            for p in pulled.iter_mut().filter(|p| p.cached && p.hf.is_none()) {
                let Some(r) = index.get(&canonical(&p.path)) else { continue };
                match r.sources.first() {
                    Some(first) if r.kind == Cache::Blob && *first != p.source => p.same_as = Some(first.clone()),
                    _ => {}
                }
            }
            Ok(pulled)
        })
        .await
    }

    /// A URL or an S3 object: by its pin (or the digest it resolved to before) from the store,
    /// else downloaded. `opts.refresh` asks again for one without a pin, whatever the store has.
    pub(super) async fn url(
        &self,
        origin: Origin<'_>,
        pin: Option<Sha256>,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let label = origin.to_string();
        let url = label.as_str();
        let (trust, refresh) = (self.trust(opts), opts.refresh && pin.is_none() && !self.cfg.offline);
        if refresh {
            // Nothing pins it: only its server can say what it is now.
        } else if let Some(hit) = self.url_cached(url, pin.as_ref(), &trust).await? {
            return Ok(hit);
        }
        if self.cfg.offline {
            return Err(FetchError::Offline { what: url.to_string() });
        }
        let blobs = self.blobs.clone();
        let record = blobs.url_record(url)?;
        let key = match &pin {
            Some(h) => BlobKey::Digest(h),
            None => BlobKey::Url(url),
        };
        let _guard = self.lock(blobs.lock(key)?, url, progress).await?;
        // Double-check: another process may have fetched it while we waited for the lock.
        if !refresh {
            if let Some(hit) = self.url_cached(url, pin.as_ref(), &trust).await? {
                return Ok(hit);
            }
        }
        let temp = match &pin {
            Some(hex) => transfer::temp_path(&blobs.blob(hex)?),
            None => blobs.url_temp(url)?,
        };
        let expected = pin.as_ref().map_or(Expected::Nothing, |h| Expected::Sha256(h.to_string()));
        let teamed = match &pin {
            Some(sha) => self.team_bytes(sha, None, &expected, &temp, url, progress).await,
            None => None,
        };
        let got = match teamed {
            Some(got) => got,
            None => self.download_origin(&origin, url, &expected, &temp, progress).await?,
        };
        let sha256: Sha256 =
            got.sha256.parse().map_err(|e| FetchError::Protocol { url: url.to_string(), why: format!("{e}") })?;
        let dest = blobs.blob(&sha256)?;
        let (t, dst, e, l, g) = (temp.clone(), dest.clone(), expected.clone(), url.to_string(), got.clone());
        blocking(move || {
            transfer::commit(&t, &dst, &e, &g, &l)?;
            crate::fsx::write_atomic(&record, g.sha256.as_bytes())?;
            Ok::<_, FetchError>(())
        })
        .await?;
        Ok(Pulled {
            source: url.to_string(),
            path: dest,
            sha256: got.sha256,
            size: got.size,
            cached: false,
            commit: None,
            hf: None,
            same_as: None,
        })
    }

    /// Download `origin` (shown as `id`) into `temp`, held to `expected`.
    async fn download_origin(
        &self,
        origin: &Origin<'_>,
        id: &str,
        expected: &Expected,
        temp: &Path,
        progress: &dyn Progress,
    ) -> Result<Downloaded, FetchError> {
        match origin {
            Origin::Web(url) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| FetchError::Protocol { url: url.to_string(), why: e.to_string() })?;
                let credential = self.hub_credential();
                // A URL on the hub's own origin goes with the token, so the hub's hints apply to it.
                let asked = Asked::of(&parsed, credential);
                let d = Download { id, url: parsed, credential, asked, size: None, expected, temp };
                self.http.download(&d, progress).await
            }
            Origin::S3(object) => {
                let remote = |e: crate::remote::s3::S3Error| FetchError::Remote { message: e.to_string() };
                let store = TeamStore::new(
                    object.bucket().clone(),
                    &self.cfg.s3,
                    self.http.client.clone(),
                    self.cfg.s3_allow_http(),
                )
                .map_err(remote)?;
                let url = store.get_url(object.key()).await.map_err(remote)?;
                let signed = url.to_string();
                let d = Download { id, url, credential: None, asked: Asked::Other, size: None, expected, temp };
                self.http.download(&d, progress).await.map_err(|e| e.naming(&signed, id))
            }
        }
    }

    /// The blob a URL already has in the store: by its pin, else by the digest recorded for it.
    async fn url_cached(&self, url: &str, pin: Option<&Sha256>, trust: &Trust) -> Result<Option<Pulled>, FetchError> {
        let (blobs, source, pin, trust) = (self.blobs.clone(), url.to_string(), pin.cloned(), trust.clone());
        blocking(move || {
            let hex = match pin {
                Some(h) => h,
                None => match blobs.recorded(&source)? {
                    Some(h) => h,
                    None => return Ok(None),
                },
            };
            Ok(blob_hit(&blobs, &hex, &source, &trust))
        })
        .await
    }

    pub(super) async fn file(&self, path: &Path, pin: Option<Sha256>, trust: Trust) -> Result<Pulled, FetchError> {
        let blobs = self.blobs.clone();
        let (src, offline, wait) = (path.to_path_buf(), self.cfg.offline, self.cfg.blob_lock_timeout);
        blocking(move || {
            let label = format!("file://{}", src.display());
            if let Some(hit) = pin.as_ref().and_then(|h| blob_hit(&blobs, h, &label, &trust)) {
                return Ok(hit);
            }
            let seen = read_regular(&src, &mut std::io::sink(), &src)?;
            check_pin(pin.as_ref(), &seen.sha256, &label)?;
            let sha256: Sha256 =
                seen.sha256.parse().map_err(|e| FetchError::Protocol { url: label.clone(), why: format!("{e}") })?;
            if let Some(hit) = blob_hit(&blobs, &sha256, &label, &trust) {
                return Ok(hit);
            }
            if offline {
                return Err(FetchError::Offline { what: label });
            }
            let _guard = lock::acquire(&blobs.lock(BlobKey::Digest(&sha256))?, Mode::Exclusive, wait, &|_| {})?;
            if let Some(hit) = blob_hit(&blobs, &sha256, &label, &trust) {
                return Ok(hit);
            }
            let dest = blobs.blob(&sha256)?;
            let temp = transfer::temp_path(&dest);
            if let Some(dir) = temp.parent() {
                crate::fsx::create_dir_private(dir)?;
            }
            let _ = std::fs::remove_file(&temp); // a leftover of a killed copy; we hold the lock
            let got = copy_hashing(&src, &temp)?;
            transfer::commit(&temp, &dest, &Expected::Sha256(sha256.to_string()), &got, &label)?;
            Ok(Pulled {
                source: label,
                path: dest,
                sha256: sha256.to_string(),
                size: got.size,
                cached: false,
                commit: None,
                hf: None,
                same_as: None,
            })
        })
        .await
    }
}
