//! What can go wrong with the store's own files (listing, removing, sweeping), beside the
//! download errors of [`crate::transfer::FetchError`].

use std::path::PathBuf;

use crate::fsx::FsError;
use crate::registry::RegistryError;

/// Why `models rm`, `gc`, `clear` or `verify --fix` stopped.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// An id names no file and no partial download in the store.
    #[error(
        "no model `{id}` in the store\n  hint: `wharf models list` shows the ids (give a whole id, a prefix of at \
         least 4 characters, a model name of this project's wharf.toml or a source spec)"
    )]
    NotInStore {
        /// The id as given.
        id: String,
    },
    /// A prefix names more than one file.
    #[error("`{given}` names more than one file: {candidates}\n  hint: give more characters of the id, as `wharf models list` shows it")]
    Ambiguous {
        /// The prefix as given.
        given: String,
        /// The ids it names, comma-separated.
        candidates: String,
    },
    /// A registered project uses the file: it is never removed.
    #[error(
        "`{id}` is used by {users}\n  hint: `wharf remove PROJECT` unregisters a project that is done with it (or \
         remove the model from its wharf.toml and run `wharf pull` there), then remove it"
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
        matches!(self, InventoryError::NotInStore { .. } | InventoryError::Ambiguous { .. })
    }
}

/// A size that could not be read (`models gc --max-size`).
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{value}` is not a size: {why}\n  hint: give a unit, e.g. `wharf models gc --max-size 20G` or `--max-size 500MiB` \
     (`1000B` for bytes; `0` alone means as small as it gets)"
)]
pub struct SizeError {
    /// The text as given.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}
