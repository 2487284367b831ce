//! Moving bytes: HTTP with its rules (redirects, credentials, pacing), one `Failure` and one retry
//! loop, a resumable stream, parallel ranges, the choice between them, and hashing.
//!
//! One async core (tokio + reqwest); blocking file work runs on `spawn_blocking` threads.
//! Knows nothing of stores or origins: it gets a URL, a temp path and what the bytes must hash to.

pub mod download;
pub mod error;
pub mod hash;
pub mod http;
pub mod progress;
pub mod request;
pub mod retry;
pub mod sink;
pub mod split;
pub mod stream;
pub mod worker;

pub use error::FetchError;
pub use request::{commit, temp_path, Download, Downloaded};
