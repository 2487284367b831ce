//! The one entry for a verified download: [`Http::download`] chooses between parallel ranges
//! (`ranged.rs`, a large file of known size with nothing to resume) and one resumable stream
//! (`stream.rs`).

use super::http::Http;
use super::progress::Progress;
use super::request::{Download, Downloaded};
use super::{ranged, stream, FetchError};
use crate::ids::source;

impl Http {
    /// Download `d.url` into `d.temp` (resuming what is there), retrying transient failures.
    /// A large file of known size with nothing to resume goes in parallel ranges (`ranged.rs`).
    pub async fn download(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, FetchError> {
        source::check_scheme(&d.url, self.allow_http)?;
        let fresh = tokio::fs::metadata(d.temp).await.map(|m| m.len() == 0).unwrap_or(true);
        let connections = self.connections.unwrap_or(if source::is_loopback(&d.url) { 1 } else { 4 });
        if connections > 1 && fresh && d.size.is_some_and(|s| s >= 2 * ranged::PIECE) {
            stream::check_space(d.temp, d.size.unwrap_or(0))?;
            if let Some(done) = ranged::download(self, d, connections, progress).await? {
                return Ok(done);
            }
        }
        self.stream(d, progress).await
    }
}
