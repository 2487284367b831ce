//! What `run`, `env` and `models path` share: the project around a folder as the library's
//! [`wharf::ops::activate`] finds it, with its errors mapped to exit codes (2 for the user's input,
//! 3 for an unreadable registry, else 1).

use std::path::{Path, PathBuf};

use wharf::ops::activate::{self, Activation};

use super::{CliError, Ctx};

fn start(path: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match path {
        Some(p) => Ok(p),
        None => Ctx::cwd(),
    }
}

/// The variables of the project around `path` (default: the current folder), extending wharf's own PATH.
pub fn activation(path: Option<PathBuf>, ctx: &Ctx) -> Result<Activation, CliError> {
    activate::activation(&ctx.registry(), &start(path)?, ctx.wharf.env().var("PATH")).map_err(CliError::from)
}

/// The view of model `name` of the project around the current folder.
pub fn model_path(name: &str, ctx: &Ctx) -> Result<PathBuf, CliError> {
    activate::model_path(&ctx.registry(), Path::new(&start(None)?), name).map_err(CliError::from)
}
