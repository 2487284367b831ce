//! The one entry for a verified download: [`Http::download`]. One stream that adds connections
//! while they make it faster (`split.rs`), its bytes hashed as they land (`sink.rs`), resumed from
//! a prefix a killed run left (`stream.rs`).

use super::http::Http;
use super::progress::Progress;
use super::request::{Download, Downloaded};
use super::FetchError;
use crate::ids::source;

impl Http {
    /// Download `d.url` into `d.temp` (resuming what is there), retrying transient failures.
    pub async fn download(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, FetchError> {
        source::check_scheme(&d.url, self.allow_http)?;
        self.stream(d, progress).await
    }
}
