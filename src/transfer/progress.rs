//! Progress events. The library only emits them; the CLI draws bars (indicatif) on a terminal.

/// One event about one file (`id` is stable for the file within a pull).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A transfer begins (or resumes).
    Start {
        /// The file.
        id: String,
        /// Its size, when known.
        total: Option<u64>,
        /// Bytes already there (a resumed transfer).
        resumed_from: u64,
    },
    /// Bytes arrived.
    Bytes {
        /// The file.
        id: String,
        /// How many.
        n: u64,
    },
    /// An attempt failed transiently; the next starts after a wait.
    Retry {
        /// The file.
        id: String,
        /// The attempt that failed (from 1).
        attempt: u32,
        /// The wait before the next.
        wait_ms: u64,
        /// Why it failed.
        reason: String,
    },
    /// Another process holds the file's lock (it is downloading it); we wait for it.
    Waiting {
        /// The file.
        id: String,
        /// The lock file.
        lock: std::path::PathBuf,
    },
    /// Something the user should know that does not stop the pull (a team store that is down,
    /// an object in it with other bytes than its name says).
    Warning {
        /// What happened, one or more lines.
        message: String,
    },
    /// The file is complete.
    Done {
        /// The file.
        id: String,
    },
}

/// Receives events; must be cheap (it is called for every chunk).
pub trait Progress: Send + Sync {
    /// Take one event.
    fn event(&self, e: Event);
}

/// Discards events.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}
