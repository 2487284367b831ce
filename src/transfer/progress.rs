//! Progress events. The library only emits them; the CLI draws bars (indicatif) on a terminal.

/// One event about one file (`id` is stable for the file within a pull).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Start {
        id: String,
        total: Option<u64>,
        resumed_from: u64,
    },
    Bytes {
        id: String,
        n: u64,
    },
    Retry {
        id: String,
        attempt: u32,
        wait_ms: u64,
        reason: String,
    },
    /// Another process holds the file's lock (it is downloading it); we wait for it.
    Waiting {
        id: String,
        lock: std::path::PathBuf,
    },
    Done {
        id: String,
    },
}

/// Receives events; must be cheap (it is called for every chunk).
pub trait Progress: Send + Sync {
    fn event(&self, e: Event);
}

/// Discards events.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}
