//! `--include` / `--exclude`: globs over the file names of a repo.

use crate::transfer::FetchError;

/// Which files of a repo to take: those that match an include glob (all, without one) and no
/// exclude glob.
#[derive(Debug, Clone)]
pub struct Filter {
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
}

impl Filter {
    /// Compile the globs; a bad one is a usage error naming it.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, FetchError> {
        Ok(Filter { include: set(include)?, exclude: set(exclude)? })
    }

    /// Whether the file `name` is taken.
    pub fn keep(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(name))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(name))
    }
}

fn set(globs: &[String]) -> Result<Option<globset::GlobSet>, FetchError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        let glob =
            globset::Glob::new(g).map_err(|e| FetchError::BadGlob { glob: g.clone(), why: e.kind().to_string() })?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| FetchError::BadGlob { glob: globs.join(", "), why: e.to_string() })
}
