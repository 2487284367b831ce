//! What can go wrong with the store's own files (listing, removing, sweeping), beside the
//! download errors of [`crate::transfer::FetchError`].

use std::path::PathBuf;

use crate::fsx::FsError;
use crate::registry::RegistryError;

/// Why `models rm`, `gc`, `clear` or `verify --fix` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// An id names no file and no partial download in the store.
    #[error("no model `{id}` in the store\n  hint: `wharf models list` shows the ids")]
    NotInStore {
        /// The id as given.
        id: String,
    },
    /// A registered project uses the file: it is never removed.
    #[error(
        "`{id}` is used by {users}\n  hint: remove it from those projects' wharf.toml and run `wharf pull` \
         there first"
    )]
    InUse {
        /// The file's id.
        id: String,
        /// The projects using it, comma-separated.
        users: String,
    },
    /// A partial download could not be deleted.
    #[error("cannot remove `{path}`: {source}\n  hint: the store's folders must be writable by you; nothing after it was removed")]
    Remove {
        /// The temp file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Which files projects use could not be read, so nothing may be removed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A file or an index record could not be removed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl InventoryError {
    /// True for input the user can fix (the CLI's exit code 2): an id not in the store.
    pub fn is_usage(&self) -> bool {
        matches!(self, InventoryError::NotInStore { .. })
    }
}

/// A size that could not be read (`models gc --max-size`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{value}` is not a size (try 20G or 500MiB)")]
pub struct SizeError {
    /// The text as given.
    pub value: String,
}
