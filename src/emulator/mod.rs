//! A local stand-in for Microsoft Graph's online-meeting operations and the identity
//! platform's token endpoint, so tests, the `demo` and newcomers need no account and no network.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use graph_meetings::{emulator::Emulator, Client};
//!
//! let emu = Emulator::start().await?; // 127.0.0.1, an ephemeral port
//! let client = Client::builder()
//!     .base_url(emu.base_url())
//!     .static_token("any-token-is-the-demo-user")
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! What it serves, on loopback only:
//! - `POST /{v1.0|beta}/me/onlineMeetings[/createOrGet]` and
//!   `POST /{v1.0|beta}/users/{userId}/onlineMeetings[/createOrGet]`: createOrGet keyed by
//!   tenant, user and externalId (201 new, 200 stored), create (201); the documented time
//!   rules, a required externalId, chatInfo refused on v1.0, bodies checked as Graph checks
//!   them against the crate's spec (an undeclared property, an enum value not in the spec or a
//!   value of the wrong type is a 400 naming it; OData annotations pass), Graph's error body
//!   and its `request-id` and `client-request-id` headers; `joinInformation` in the
//!   `Accept-Language` language where it knows it (en, pt, ja, zh, de, fr, es), English
//!   otherwise.
//! - `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant, with the identity
//!   platform's refusals (`invalid_client` with `AADSTS7000215` for a wrong secret, set by
//!   [`EmulatorBuilder::client_secret`]).
//! - Control over HTTP, for tests in other processes (in-process tests use [`Faults`] and the
//!   counters on [`Emulator`]): `POST /_emulator/faults` with
//!   `{"fault": "throttle", "retryAfterSeconds": 2, "count": 3}` (`fault` is `status` with
//!   `status`, `throttle`, `drop`, `delay` with `delayMs`, `applyThenDelay` with `delayMs`,
//!   `applyThenStatus` with `status`, `applyThenDrop` or `truncatedBody`);
//!   `DELETE /_emulator/faults`;
//!   `GET /_emulator/stats`; `POST /_emulator/revoke-tokens`. Faults come as
//!   `application/json`, and these routes refuse a `Host` or `Origin` that is not loopback (a
//!   web page in a browser beside the emulator must not drive it).
//!
//! Tokens: a token from the token endpoint is an **application** token of its tenant, which
//! `/me` refuses as Graph does (400); the demo tenant may be named by its ID or by its domain
//! ([`DEMO_TENANT_DOMAIN`]), and either way its meetings are the same. **Any other** bearer token is a **delegated** token of
//! the demo user ([`DEMO_USER_ID`], [`DEMO_USER_UPN`]) in [`DEMO_TENANT_ID`], and acts for that
//! user only: `/users/{id}` naming anyone else is 403. An application token may act for any user
//! under `/users/{id}`: application access policies are not modelled. `{id}` must be an object
//! ID (GUID) or a UPN, else 404.
//!
//! Bounded: request bodies up to 1 MiB and 20,000 JSON values (413 beyond), arriving within
//! 30 s (408 after; the control routes' too), createOrGet's stored meetings by count and by an
//! estimate of their memory (past either, new ones are refused with 507; create keeps none, so
//! it is never refused for room), and 256 connections at once. A connection kept alive holds
//! its place while idle, up to 30 s (one whose client reads none of an answer, 30 s too), so a
//! test with more than 256 calls in flight (each HTTP/1.1 call is a connection) waits that long
//! for places: keep a test's concurrency under that. Malformed input is answered with Graph's
//! 400, never a panic. Any tenant gets tokens from the token endpoint, each with meetings of its
//! own: tenants are not checked against a directory.
//!
//! Each emulator is its own world (meetings, counters, faults): a test that needs a fresh one
//! starts another, which takes a millisecond or two and its own port.
//!
//! Microsoft's Graph SDKs work pointed at the emulator's root; `sdk-compat/run.sh` checks the
//! JavaScript core client, the TypeScript and the Python (v1.0 and beta) SDKs against it. The
//! Kiota-based ones send their bearer token to `http://127.0.0.1`; the JavaScript core client
//! sends a token only to https hosts, so it needs a bearer middleware of its own
//! (`Client.initWithMiddleware`). azure-identity and MSAL insist on an https authority, so
//! their client-credentials flows need a TLS front, which the emulator does not provide; a
//! credential that posts the grant to the token endpoint itself works, and this crate's
//! [`ClientCredentials`](crate::ClientCredentials) accepts plain http on loopback.

mod admin;
mod body;
mod directory;
mod faults;
mod graph_error;
mod join_info;
mod meeting;
mod operations;
mod request;
mod routes;
mod rules;
mod server;
mod state;
mod store;
mod token_endpoint;
mod tokens;
mod write_deadline;

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

pub use body::{MAX_REQUEST_BYTES, MAX_REQUEST_VALUES};
pub use directory::{DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, DEMO_USER_ID, DEMO_USER_UPN};
pub use faults::{Fault, Faults};
pub use state::Received;

use state::State;

use crate::{
    times::{Clock, SystemClock},
    Secret,
};

/// A running emulator. Dropping it stops the server and frees its port.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    /// Held for its `Drop`, which stops the server.
    _server: server::Running,
}

/// Configures an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    port: u16,
    client_secret: Option<Secret>,
    clock: Arc<dyn Clock>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            client_secret: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl EmulatorBuilder {
    /// The port on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The only client secret the token endpoint accepts (default: any non-empty secret), so a
    /// wrong secret can be tested.
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Where "now" comes from: creation times and the default start (see
    /// [`times::Clock`](crate::times::Clock); give the client the same one for exact times).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Binds 127.0.0.1 and starts serving on a thread of the emulator's own, so it answers
    /// whatever the caller's runtime is doing: blocked, or with its clock paused.
    ///
    /// The *client*, though, times its calls on the caller's tokio clock. Under
    /// `#[tokio::test(start_paused = true)]` tokio skips ahead while the client waits for the
    /// emulator's real I/O, so every call times out at once (the emulator may well have acted):
    /// call through the client on a running clock. For quick retries, queue faults with a zero
    /// wait (`faults().throttle(n, Duration::ZERO)` sends `Retry-After: 0`) and give the client
    /// a small backoff.
    pub async fn start(self) -> io::Result<Emulator> {
        // The body rules come from the embedded spec: a spec they cannot be read from fails
        // here, not in the middle of a request.
        rules::get().map_err(io::Error::other)?;
        let listener = server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(
            format!("http://{addr}"),
            self.client_secret,
            self.clock,
        ));
        let server = server::spawn(listener, routes::router(state.clone()))?;
        Ok(Emulator {
            addr,
            state,
            _server: server,
        })
    }
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 and a free port, with default settings.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// Starts a configuration.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Graph's root without the version, e.g. `http://127.0.0.1:PORT`: what
    /// [`ClientBuilder::base_url`](crate::ClientBuilder::base_url) takes.
    pub fn base_url(&self) -> String {
        self.state.root.clone()
    }

    /// The authority host for the token endpoint (the same server).
    pub fn authority_host(&self) -> String {
        self.state.root.clone()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault queue of the meeting operations.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// The fault queue of the token endpoint, apart from the meetings' (each token request
    /// takes the next one): `Status` answers the identity platform's error (AADSTS90033, "a
    /// transient error") with that status and `Retry-After` when given, `Delay` holds the
    /// request back, `Drop` closes the connection. The `ApplyThen…` kinds and `TruncatedBody`
    /// are answered as their plain counterparts (`ApplyThenDelay` as `Delay`: the token comes
    /// after the wait).
    pub fn token_faults(&self) -> &Faults {
        &self.state.token_faults
    }

    /// Meetings made so far, by create and createOrGet.
    pub fn meeting_count(&self) -> usize {
        self.state.store().len()
    }

    /// Requests to the meeting operations so far, whatever their answer.
    pub fn graph_requests(&self) -> u64 {
        self.state.graph_requests()
    }

    /// Requests to the token endpoint so far.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests()
    }

    /// The requests to the meeting operations received so far, oldest first (the last 1,000):
    /// what a client sent, for a test to check, with no token in it.
    pub fn received(&self) -> Vec<Received> {
        self.state.received()
    }

    /// Every application token issued so far is answered 401 from now on, as an expired one.
    pub fn revoke_tokens(&self) {
        self.state.tokens.revoke_all();
    }

    /// Stops serving and waits until every connection is closed and the port is free, as
    /// dropping it does.
    pub fn shutdown(self) {
        drop(self);
    }
}
