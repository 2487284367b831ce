//! Typed references to what a Hugging Face hub holds: a repo at a revision ([`RepoRef`]) and one
//! file of it ([`HfFile`]). Made of boundary types only, they travel as values from the parsed
//! spec through the store to the index and the registry; their `Display`
//! (`hf://ORG/NAME@REV[/PATH]`) is for output and records, and is never parsed back.

use std::fmt;

use super::{RepoId, RepoPath, Revision};

/// A Hugging Face repo at a revision (a branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    /// `ORG/NAME`.
    pub repo: RepoId,
    /// The branch, tag or commit asked for.
    pub revision: Revision,
}

/// One file of a Hugging Face repo at a revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HfFile {
    /// `ORG/NAME`.
    pub repo: RepoId,
    /// The branch, tag or commit asked for.
    pub revision: Revision,
    /// The file's name inside the repo.
    pub path: RepoPath,
}

impl RepoRef {
    /// The file `path` of this repo at this revision.
    pub fn file(&self, path: RepoPath) -> HfFile {
        HfFile { repo: self.repo.clone(), revision: self.revision.clone(), path }
    }
}

impl HfFile {
    /// The same file at another revision (a commit a lock pins, a listing resolved).
    pub fn at(&self, revision: Revision) -> HfFile {
        HfFile { revision, ..self.clone() }
    }
}

/// `hf://ORG/NAME@REV`.
impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hf://{}@{}", self.repo, self.revision)
    }
}

/// `hf://ORG/NAME@REV/PATH`.
impl fmt::Display for HfFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hf://{}@{}/{}", self.repo, self.revision, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_display_as_hf_specs() {
        let at = RepoRef { repo: "org/m".parse().unwrap(), revision: Revision::main() };
        let file = at.file("sub/w.bin".parse().unwrap());
        assert_eq!(at.to_string(), "hf://org/m@main");
        assert_eq!(file.to_string(), "hf://org/m@main/sub/w.bin");
        assert_eq!(file.at("v2".parse().unwrap()).to_string(), "hf://org/m@v2/sub/w.bin");
    }
}
