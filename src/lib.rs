//! A typed Microsoft Graph client for creating Teams online meetings.
//!
//! Two operations, for the signed-in user (`/me`, delegated token) or a given user
//! (`/users/{id}`, application token), on v1.0 or beta:
//!
//! - [`Client::create_or_get`]: keyed by `externalId`; tells [`Outcome::Created`] (201) from
//!   [`Outcome::Existing`] (200) and is retried freely, since a repeat finds the same meeting.
//! - [`Client::create`]: a new meeting each time (201); retried only when the service said it
//!   did not act, otherwise [`Error::OutcomeUnknown`].
//!
//! Request and response types ([`types`]) are generated at build time from `spec/` by
//! progenitor; this crate adds tokens, the documented time rules, retries, Graph's errors and
//! the security rules around them.
//!
//! Calls run on tokio with its timers on (`#[tokio::main]`). Features, all off by default:
//! `emulator` (a loopback stand-in for Graph, for tests), `azure-identity` (any `azure_core`
//! `TokenCredential`, such as `azure_identity`'s, as a token provider: add `azure_identity`
//! yourself) and `cli` (the `graph-meetings` command).
//!
//! ```no_run
//! use graph_meetings::{types, Client, Outcome, User};
//!
//! # async fn run() -> Result<(), graph_meetings::Error> {
//! let client = Client::builder().static_token(std::env::var("GRAPH_TOKEN").unwrap_or_default()).build()?;
//! let request = types::CreateOrGetRequest {
//!     external_id: "7eb8263f-d0e0-4149-bb1c-1f0476083c56".into(),
//!     subject: Some("Weekly sync".into()),
//!     ..Default::default()
//! };
//! let answer = client.create_or_get(&User::Me, request).await?;
//! match answer.outcome {
//!     Outcome::Created => println!("created {:?}", answer.meeting.join_web_url),
//!     Outcome::Existing => println!("already there: {:?}", answer.meeting.join_web_url),
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// docs.rs (Cargo.toml's metadata) says which feature each gated item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod client;
mod cloud;
mod connecting;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error;
mod generated;
mod json;
mod open;
pub mod retry;
mod secret;
pub mod times;
mod timestamp;
mod transport;
pub mod types;
mod user;

pub use auth::{AccessToken, ClientCredentials, StaticToken, TokenKind, TokenProvider};
pub use client::{Client, ClientBuilder, CreateOrGetResponse, MeetingResponse, Outcome};
pub use cloud::{ApiVersion, Cloud};
pub use error::{AnswerBody, AuthError, Error, ErrorKind, GraphError, InvalidRequest};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use timestamp::Timestamp;
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, MIN_RESPONSE_BYTES,
};
pub use user::{User, UserId};

/// The chrono this crate's instants are made of ([`Timestamp`] derefs to its `DateTime<Utc>`),
/// so callers need not pin a version of their own to make one (`chrono::Utc::now()`).
pub use chrono;
/// The http whose `StatusCode` an answer's `status` is.
pub use http;
/// The serde_json whose `Map` and `Value` hold the properties this crate does not name
/// (each type's `extra`).
pub use serde_json;

/// README's code blocks, compiled as doctests so the library example cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
