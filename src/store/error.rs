//! What can go wrong with the store's own files (listing, removing, sweeping), beside the
//! download errors of [`crate::transfer::FetchError`].

use std::path::PathBuf;

use crate::fsx::FsError;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("no model `{id}` in the store\n  hint: `wharf models list` shows the ids")]
    NotInStore { id: String },
    #[error(
        "`{id}` is used by {users}\n  hint: remove it from those projects' wharf.toml and pull, or unregister \
         them with `wharf remove`"
    )]
    InUse { id: String, users: String },
    #[error("cannot remove `{path}`: {source}\n  hint: the store's folders must be writable by you; nothing after it was removed")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Fs(#[from] FsError),
}
