//! The model store: Hugging Face files in the shared hub cache, URL and file sources in wharf's
//! content-addressed blob store (see `layout.rs`), and [`ModelStore`], the one door to both.
pub mod index;
pub mod inventory;
pub mod layout;
pub mod pull;

pub use pull::{ModelStore, PullOptions, Pulled};
