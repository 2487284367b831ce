//! URL and `file://` sources: into wharf's content-addressed store, `blobs/sha256/<hex>`.
//!
//! A pinned URL (`#sha256=` or `--sha256`) is found by its digest without any request; an unpinned
//! one by the digest recorded under `urls/` when it was first fetched. Both take a lock (on the pin,
//! or on the URL) and look again before downloading, like Hugging Face files.

use std::path::Path;

use super::pull::{blocking, sha256_of, ModelStore, Pulled};
use crate::fetch::hash::{self, Expected};
use crate::fetch::progress::Progress;
use crate::fetch::transfer::{self, Download, Downloaded};
use crate::fetch::FetchError;
use crate::fsx::Context;

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
            let path = blobs.blob(&hex);
            let size = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(_) => return Ok(None),
            };
            Ok(Some(Pulled { source, path, sha256: hex, size, cached: true, commit: None }))
        })
        .await
    }

    pub(super) async fn file(&self, path: &Path, pin: Option<String>) -> Result<Pulled, FetchError> {
        let blobs = self.blobs.clone();
        let (src, offline) = (path.to_path_buf(), self.cfg.offline);
        blocking(move || {
            let label = format!("file://{}", src.display());
            if let Some(hex) = &pin {
                if let Ok(m) = std::fs::metadata(blobs.blob(hex)) {
                    return Ok(Pulled {
                        source: label,
                        path: blobs.blob(hex),
                        sha256: hex.clone(),
                        size: m.len(),
                        cached: true,
                        commit: None,
                    });
                }
            }
            let sha256 = sha256_of(&src)?;
            let dest = blobs.blob(&sha256);
            let size = std::fs::metadata(&src).ctx("cannot read", &src)?.len();
            if dest.exists() {
                return Ok(Pulled { source: label, path: dest, sha256, size, cached: true, commit: None });
            }
            if offline {
                return Err(FetchError::Offline { what: label });
            }
            let temp = transfer::temp_path(&dest);
            if let Some(dir) = temp.parent() {
                crate::fsx::create_dir_private(dir)?;
            }
            std::fs::copy(&src, &temp).ctx("cannot copy", &src)?;
            // Hash the copy, not the source, so a file changing under us is caught.
            let got = Downloaded { sha256: sha256_of(&temp)?, git_sha1: None, size };
            let expected = Expected::Sha256(pin.unwrap_or_else(|| sha256.clone()));
            transfer::commit(&temp, &dest, &expected, &got, &label)?;
            Ok(Pulled { source: label, path: dest, sha256, size, cached: false, commit: None })
        })
        .await
    }
}
