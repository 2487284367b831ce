//! The vocabulary of a verdict: a project's [`Status`], the [`Code`]s of its reasons, and how a
//! status follows from the reasons (the gravest wins: error > orphaned > mismatch > valid, so
//! nothing undecidable is ever pruned by default). [`crate::ops::validate`] decides the reasons.

use serde::Serialize;

/// A project's verdict, from the gravest of its reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Project, environment and marker agree; every model is right.
    Valid,
    /// Something names something else (marker, back-link, a model, wharf.lock).
    Mismatch,
    /// The project, its environment or its marker is gone.
    Orphaned,
    /// Undecidable (permission denied, an I/O error, an unset variable): never pruned by default.
    Error,
}

impl Status {
    /// Every status, in the order `--status` and `--fail-on` name them.
    pub const ALL: [Status; 4] = [Status::Valid, Status::Orphaned, Status::Mismatch, Status::Error];

    /// The status as the JSON and the tables spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Orphaned => "orphaned",
            Status::Mismatch => "mismatch",
            Status::Error => "error",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}` (expected valid, orphaned, mismatch or error)"))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a project is not valid (the JSON `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The project folder is gone.
    ProjectMissing,
    /// The environment folder is gone.
    EnvMissing,
    /// The project has no `.env.wharf`.
    MarkerMissing,
    /// The marker names another environment or project id.
    MarkerMismatch,
    /// A model file the project uses is gone.
    ModelMissing,
    /// A model file has another size or SHA-256.
    ModelCorrupt,
    /// The environment's back-link names another project.
    BacklinkMismatch,
    /// The project is gone and its id lives on at another registered path.
    Moved,
    /// A file could not be read for lack of permission.
    PermissionDenied,
    /// A file could not be read.
    IoError,
    /// A stored path names a variable that is not set.
    UnsetVariable,
    /// Only from `check PATH` on a folder with no entry.
    NotRegistered,
    /// wharf.lock is missing or does not pin what wharf.toml asks for.
    LockMismatch,
    /// The project folder has a `.venv` of its own (a warning: the status stays valid).
    StrayVenv,
}

impl Code {
    /// The status this reason gives.
    pub fn status(self) -> Status {
        match self {
            Code::ProjectMissing | Code::EnvMissing | Code::MarkerMissing | Code::Moved | Code::NotRegistered => {
                Status::Orphaned
            }
            Code::MarkerMismatch
            | Code::ModelMissing
            | Code::ModelCorrupt
            | Code::BacklinkMismatch
            | Code::LockMismatch => Status::Mismatch,
            Code::PermissionDenied | Code::IoError | Code::UnsetVariable => Status::Error,
            Code::StrayVenv => Status::Valid,
        }
    }
}

/// One reason, with a message that names the path and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What kind of reason.
    pub code: Code,
    /// For a human.
    pub message: String,
}

/// The verdict on one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The gravest reason's status (valid when there is none).
    pub status: Status,
    /// Every reason that applies.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub(crate) fn from_reasons(reasons: Vec<Reason>) -> Verdict {
        let status = reasons.iter().map(|r| r.code.status()).max().unwrap_or(Status::Valid);
        Verdict { status, reasons }
    }

    /// Does any reason have `code`?
    pub fn has(&self, code: Code) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}
