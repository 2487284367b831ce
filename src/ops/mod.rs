//! The registry commands' logic: each is a pure plan over a registry document and the
//! filesystem, then an apply that re-checks under the lock.
//!
//! - [`validate`]: the verdict for one mapping (valid / orphaned / mismatch / error), in the words of
//!   [`verdict`] (statuses, reason codes).
//! - [`check`]: the CI gate: which project is meant, and which statuses fail.
//! - [`init`]: register a project, create or adopt its environment, write marker and back-link.
//! - [`prune`]: remove what is orphaned (environments, registry entries, stale partial downloads).
//! - [`removal`]: what `prune` and `remove` share: report rows, the env-deletion rules, the order.
//! - [`remove`]: unregister one project: its environment (by prune's rules), marker keys, entry.
//! - [`select`]: which stored files a `models rm` / `verify` argument names (ids, names, sources).
//! - [`doctor`]: diagnose and repair the registry from back-links.
//! - [`activate`]: a project's environment as variables (`wharf run`, `wharf env`), a model by name.

pub mod activate;
pub mod check;
pub mod doctor;
pub mod init;
pub mod prune;
pub mod removal;
pub mod remove;
pub mod select;
pub mod validate;
pub mod verdict;
