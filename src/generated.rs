//! The client progenitor generates from `spec/` at build time (see `build.rs`).
//!
//! Its `types` are public (as [`crate::types`]); its `Client` is driven by [`crate::Client`]
//! through `ClientHooks` and stays inside the crate, with the rest of progenitor's plumbing.
//! What the crate does not use of it is left unused (`dead_code`).
#![allow(missing_docs, unused_imports, dead_code, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/graph_client.rs"));
