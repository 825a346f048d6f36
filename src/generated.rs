//! The client progenitor generates from `spec/` at build time (see `build.rs`).
//!
//! Its `types` are public; its `Client` is driven by [`crate::Client`] through `ClientHooks`.
#![allow(missing_docs, unused_imports, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/graph_client.rs"));

/// The exact source build.rs produced, for the drift check against `generated/`.
#[doc(hidden)]
pub const SOURCE: &str = include_str!(concat!(env!("OUT_DIR"), "/graph_client.rs"));
