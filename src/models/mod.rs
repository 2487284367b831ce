//! A project's models: `wharf.toml` (what it wants, [`manifest`]), `wharf.lock` (what it got,
//! [`lockfile`]) and [`resolve`], which pulls them through the store and records them in the
//! registry; [`views`], each model by its name in the project's environment
//! (`<env>/models/<name><ext>`); [`remote`], whether the pinned models are in the team store.

pub mod lockfile;
pub mod manifest;
pub mod remote;
pub mod resolve;
pub mod views;
