//! The one entry for a verified download: [`Http::download`]. One stream that adds connections
//! while they make it faster (`split.rs`), its bytes hashed as they land (`sink.rs`), resumed from
//! a prefix a killed run left (`stream.rs`).
//!
//! A resumed transfer whose digest does not match may owe that to the prefix on disk (a bad
//! disk, another program's write), not to the server: it is fetched once more from byte 0 before
//! the mismatch is reported as the server's.

use super::hash;
use super::http::Http;
use super::progress::Progress;
use super::request::{Download, Downloaded};
use super::FetchError;
use crate::ids::source;

impl Http {
    /// Download `d.url` into `d.temp` (resuming what is there), retrying transient failures.
    pub async fn download(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, FetchError> {
        source::check_scheme(&d.url, self.allow_http)?;
        let resumed = tokio::fs::metadata(d.temp).await.is_ok_and(|m| m.is_file() && m.len() > 0);
        let got = self.stream(d, progress).await?;
        if resumed && hash::verify(d.expected, &got.sha256, got.git_sha1.as_deref()).is_err() {
            let _ = tokio::fs::remove_file(d.temp).await;
            return self.stream(d, progress).await;
        }
        Ok(got)
    }
}
