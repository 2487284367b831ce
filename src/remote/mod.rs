//! Origins of models: the Hugging Face hub (`hf.rs`) today; each answers "what is this revision"
//! and "which files are there" with boundary types, and hands out URLs for `transfer` to fetch.

pub mod hf;
