//! Origins of models: the Hugging Face hub (`hf.rs`) and a team's S3 bucket (`s3.rs`); each answers "what is this revision"
//! and "which files are there" with boundary types, and hands out URLs for `transfer` to fetch.
//! An origin's endpoints (the primary and its mirrors) are a [`mirrors::Mirrors`], tried in order
//! by one rule; [`filter::Filter`] picks the files of a repo.

pub mod filter;
pub mod hf;
pub mod mirrors;
pub mod s3;
