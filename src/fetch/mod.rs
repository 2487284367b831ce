//! The download core: sources, the Hugging Face protocol, verified transfers, retries, progress.
//!
//! One async core (tokio + reqwest); blocking file work runs on `spawn_blocking` threads.

pub mod error;
pub mod hash;
pub mod hf;
pub mod http;
pub mod progress;
pub mod ranged;
pub mod retry;
pub mod source;
pub mod transfer;

pub use error::FetchError;
