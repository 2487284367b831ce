//! Whether a project's pinned models are in the team store (`wharf check --remote`): every model of
//! its `wharf.lock`, by the digest and size it pins, and for a Hugging Face file also its entry in
//! the repo's index at the pinned commit (how a pull finds it there without the hub). CI that must
//! not reach the hub runs this first.

use std::path::Path;

use serde::Serialize;

use super::lockfile::{self, LockfileError};
use crate::ids::source::Source;
use crate::remote::s3::S3Error;
use crate::store::team::Wanted;
use crate::store::ModelStore;

/// One pinned model and the team store that has it.
#[derive(Debug, Clone, Serialize)]
pub struct InTeam {
    /// Its name in `wharf.toml`.
    pub name: String,
    /// The SHA-256 `wharf.lock` pins.
    pub sha256: String,
    /// The size it pins.
    pub size: u64,
    /// The first team store that has it (`s3://BUCKET[/PREFIX]`), or none.
    pub team_store: Option<String>,
}

/// Why the project's models could not be looked for.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `wharf.lock` is bad.
    #[error(transparent)]
    Lockfile(#[from] LockfileError),
    /// No `wharf.lock` beside `wharf.toml`.
    #[error("`{}` has no wharf.lock: nothing is pinned yet\n  hint: run `wharf pull` there and commit wharf.lock", .0.display())]
    NoLock(std::path::PathBuf),
    /// A team store could not be asked.
    #[error(transparent)]
    Store(#[from] S3Error),
}

/// Every model `dir`'s `wharf.lock` pins, and which team store has it.
pub async fn in_team_store(store: &ModelStore, dir: &Path) -> Result<Vec<InTeam>, RemoteError> {
    let lock = lockfile::read(dir)?.ok_or_else(|| RemoteError::NoLock(dir.to_path_buf()))?;
    let wanted: Vec<Wanted> = lock
        .models
        .iter()
        .map(|m| {
            let file = m.source.as_deref().and_then(|s| Source::parse(s).ok()).and_then(|s| s.hf_file().cloned());
            let hf = file.zip(m.commit.clone()).map(|(f, c)| (f.repo, c, f.path));
            Wanted { sha256: m.sha256.clone(), size: m.size, hf }
        })
        .collect();
    let found = store.team_has(&wanted).await?;
    Ok(lock
        .models
        .into_iter()
        .zip(found)
        .map(|(m, at)| InTeam {
            name: m.name,
            sha256: m.sha256.to_string(),
            size: m.size,
            team_store: at.map(|u| u.to_string()),
        })
        .collect())
}
