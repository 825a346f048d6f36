//! The client: configuration, the four operations, and what they return.

mod call;
mod response;

use std::{future::Future, sync::Arc, time::Duration};

use futures_util::future::Either;

pub(crate) use call::CallContext;
pub use response::{CreateOrGetResponse, MeetingResponse, Outcome};

use crate::{
    auth::{StaticToken, TokenKind, TokenProvider},
    cloud::{ApiVersion, Cloud},
    error::{Error, InvalidRequest},
    generated,
    retry::{Idempotency, RetryPolicy},
    secret::Secret,
    times::{self, Clock, SystemClock},
    transport::{self, ConfiguredUrl, HttpSettings},
    types,
    user::User,
};

/// A Microsoft Graph client for online meetings. Cheap to clone; clones share the connection
/// pool and the token cache.
///
/// Calls run on tokio, with its time driver on (`#[tokio::main]`, or a runtime built with
/// `enable_all()`): every call has a timeout, and a runtime without timers panics in it.
///
/// A pooled connection is driven by the runtime that opened it, so a client used from several
/// runtimes (`#[tokio::test]`s sharing a static client, a runtime per thread behind a sync API)
/// keeps a pool for each: a runtime left idle, or shut down, never holds up or cuts off
/// another's calls on a connection. Pools are kept for the first runtime to send and the 32
/// others that sent most recently. A token fetch runs on the runtime of the call that needed
/// it: should that runtime be left idle before the fetch lands, other runtimes' calls that
/// have no valid token wait for it, each attempt up to the client's `timeout`, and the first
/// attempt still waiting once it counts as stuck fetches in its place (see
/// [`TokenCache`](crate::auth::TokenCache)). The stuck point is later than one attempt's
/// timeout, so it takes a retry: a call whose retries run out first fails as unreachable
/// (`no token within …`).
///
/// A call's future borrows the client and the user, so a task of its own takes clones:
///
/// ```no_run
/// # async fn run(client: graph_meetings::Client) -> Result<(), graph_meetings::Error> {
/// use graph_meetings::{types, User};
/// let user = User::id("8b081ef6-4792-4def-b2c9-c363a1bf41d5")?;
/// let task = tokio::spawn({
///     let (client, user) = (client.clone(), user.clone());
///     async move {
///         let request = types::CreateOrGetRequest { external_id: "e-1".into(), ..Default::default() };
///         client.create_or_get(&user, request).await
///     }
/// });
/// let _answer = task.await.expect("the task ran")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// Where calls go and how: the base URL, the token provider (secrets as `***`), the retry
/// policy and the response cap; not the connection pool's insides.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &*self.shared;
        f.debug_struct("Client")
            .field("base_url", &shared.base_url)
            .field("tokens", &shared.tokens)
            .field("retry", &shared.retry)
            .field("max_response_bytes", &shared.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// What every call of every clone shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) http: transport::Http,
    /// Graph root plus version, e.g. `https://graph.microsoft.com/v1.0`.
    pub(crate) base_url: String,
    pub(crate) version: ApiVersion,
    pub(crate) tokens: Arc<dyn TokenProvider>,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_response_bytes: usize,
    pub(crate) clock: Arc<dyn Clock>,
    /// How long a token provider may take.
    pub(crate) token_timeout: Duration,
    /// Whether attempts name themselves to the connections made for them (`crate::connecting`).
    pub(crate) watch_connections: bool,
}

/// Configures a [`Client`]. Only the token provider is required.
#[derive(Clone)]
pub struct ClientBuilder {
    cloud: Cloud,
    base_url: Option<String>,
    version: ApiVersion,
    tokens: Option<Arc<dyn TokenProvider>>,
    retry: RetryPolicy,
    max_response_bytes: usize,
    clock: Arc<dyn Clock>,
    http: HttpSettings,
}

/// Every setting, the Graph root without whatever stands before an `@` in it.
impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("cloud", &self.cloud)
            .field("base_url", &self.base_url.as_deref().map(ConfiguredUrl))
            .field("version", &self.version)
            .field("tokens", &self.tokens)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("clock", &self.clock)
            .field("http", &self.http)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            cloud: Cloud::Global,
            base_url: None,
            version: ApiVersion::V1,
            tokens: None,
            retry: RetryPolicy::default(),
            max_response_bytes: transport::DEFAULT_MAX_RESPONSE_BYTES,
            clock: Arc::new(SystemClock),
            http: HttpSettings::default(),
        }
    }
}

impl ClientBuilder {
    /// The national cloud (default: global): Graph's root for it. A token provider has its own
    /// (e.g. [`ClientCredentialsBuilder::cloud`](crate::auth::ClientCredentialsBuilder::cloud)),
    /// for the authority and the token's audience: set both. [`build`](Self::build) refuses a
    /// provider whose tokens are for another cloud's Graph (when no `base_url` is given).
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// A Graph root other than the cloud's, without the version (e.g. a local emulator).
    /// Plain http is accepted only for loopback hosts.
    pub fn base_url(mut self, root: impl Into<String>) -> Self {
        self.base_url = Some(root.into());
        self
    }

    /// `v1.0` (default) or `beta`.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// Where bearer tokens come from.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.tokens = Some(Arc::new(provider));
        self
    }

    /// A provider already shared with other clients.
    pub fn shared_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.tokens = Some(provider);
        self
    }

    /// A bearer token (without its `Bearer ` scheme; one pasted with it is accepted too).
    pub fn static_token(self, token: impl Into<Secret>) -> Self {
        self.token_provider(StaticToken::new(token))
    }

    /// When and how often to retry (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Time for one whole attempt: connect, send, headers and body (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Time to establish a connection, TLS included (default 10 s; at most 90% of
    /// [`timeout`](Self::timeout), so that a connection still being made when the attempt's
    /// time runs out fails as connecting: nothing was sent, and create can be retried).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// A proxy for https requests (a CONNECT tunnel; TLS stays end to end): an `http://` or
    /// `https://` URL, or `host:port` for http; any other scheme (`socks5://`) is a
    /// configuration error at [`build`](Self::build), never a direct connection. Proxy
    /// environment variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored: they could
    /// hand a plain-http request, bearer token included, to another host.
    pub fn https_proxy(mut self, url: impl Into<String>) -> Self {
        self.http.https_proxy = Some(url.into());
        self
    }

    /// The idle connections kept for reuse, per runtime (see [`Client`]): at most `max` (default
    /// no limit), each for at most `timeout` without a call (default 90 s; zero keeps none,
    /// as `max` 0 does; a year at most, `Duration::MAX` included). Every call in
    /// flight holds a connection of its own (HTTP/1.1), so by default a burst of a thousand
    /// concurrent calls leaves up to a thousand sockets open until they have been idle for
    /// `timeout`; a service short of file descriptors sets `max` to what it keeps in flight
    /// as a rule. A shorter `timeout` also makes it rarer for the service to close an idle
    /// connection just as a create goes out on it (an unknown outcome).
    pub fn idle_connections(mut self, max: usize, timeout: Duration) -> Self {
        self.http.max_idle_connections = max;
        self.http.idle_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.http.user_agent = agent.into();
        self
    }

    /// Logs, for each attempt, when its connection is begun and when it is made
    /// (`crate::connecting`), which the command's signal handling goes by; keeps no idle
    /// connections, so that each attempt has its own. Not offered to services: the layer costs
    /// every request a clone of reqwest's connector, and a service wants its pool.
    #[cfg(feature = "cli")]
    pub(crate) fn watch_connections(mut self) -> Self {
        self.http.watch_connections = true;
        self
    }

    /// Largest response body accepted (default 4 MiB, at least [`MIN_RESPONSE_BYTES`](crate::MIN_RESPONSE_BYTES)); larger
    /// bodies are an error, not an allocation. Keep it well above the meetings you make: a
    /// meeting made but too large to read is an unknown outcome for create.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Where "now" comes from for the time rules.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the client. Nothing is sent.
    pub fn build(self) -> Result<Client, Error> {
        let tokens = self.tokens.ok_or_else(|| {
            Error::Config("no token provider: use static_token(..) or token_provider(..)".into())
        })?;
        // A token already at hand that cannot be sent (an unset variable read as "", a line
        // break pasted inside it) would fail every call: it is the configuration that is wrong.
        if let Some(reason) = tokens.ready().as_ref().and_then(|t| t.bearer().err()) {
            return Err(Error::Config(reason.into()));
        }
        // Tokens for one cloud's Graph sent to another's would all be refused (401), which
        // reads as wrong credentials. A root of the caller's own may lead anywhere: not checked.
        let mismatch = tokens.cloud().filter(|c| *c != self.cloud);
        if let Some(theirs) = mismatch.filter(|_| self.base_url.is_none()) {
            return Err(Error::Config(format!(
                "the token provider asks for {theirs:?} Graph's tokens, and the client sends to \
                 {:?} Graph: give both the same cloud",
                self.cloud
            )));
        }
        let root = self.base_url.as_deref().unwrap_or(self.cloud.graph_root());
        let root = transport::secure_root(root, "Graph root")?;
        if transport::is_loopback(&root) && tokens.secret_to_default_authority() {
            return Err(Error::Config(format!(
                "Graph is on this machine ({}), but the token provider would send its client \
                 secret to the cloud's identity platform: give ClientCredentials the local token \
                 endpoint with authority_host(..) (the emulator's authority_host()), or, if the \
                 identity platform is meant, its host the same way",
                root.origin().ascii_serialization()
            )));
        }
        // Anywhere in the path, in any case (Graph's paths are case-insensitive): a root ending
        // in `/v1.0` would double the version, and a request's URL pasted as the root
        // (`…/v1.0/me`) would send every call somewhere else.
        let version = root.path_segments().and_then(|mut segments| {
            segments.find(|s| s.eq_ignore_ascii_case("v1.0") || s.eq_ignore_ascii_case("beta"))
        });
        if let Some(version) = version {
            return Err(Error::Config(format!(
                "Graph root {:?} has the version {version:?} in its path: give the root \
                 without it (and without anything after it); the version is chosen on its own \
                 (api_version(..); the command's --beta)",
                root.as_str()
            )));
        }
        if self.max_response_bytes < transport::MIN_RESPONSE_BYTES {
            return Err(Error::Config(format!(
                "max_response_bytes {} is below {}: every meeting would be made and then be too \
                 large to read",
                self.max_response_bytes,
                transport::MIN_RESPONSE_BYTES
            )));
        }
        let base_url = format!("{}/{}", root.as_str().trim_end_matches('/'), self.version);
        Ok(Client {
            shared: Arc::new(Shared {
                http: transport::build_client(&self.http)?,
                base_url,
                version: self.version,
                tokens,
                retry: self.retry,
                max_response_bytes: self.max_response_bytes,
                clock: self.clock,
                token_timeout: self.http.timeout,
                watch_connections: self.http.watch_connections,
            }),
        })
    }
}

impl Client {
    /// Starts a configuration.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to (root plus version).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Creates the meeting with `request.external_id` for `user`, or gets the one that already
    /// has it. Safe to repeat: the service keys it by tenant, user and externalId, so retries
    /// (and callers repeating themselves) never make a second meeting.
    ///
    /// The time rules are applied first; the request always carries explicit UTC times.
    ///
    /// Graph's reference lists createOrGet (beta) for the global service only, not the national
    /// clouds; the request is sent as configured, and the service's answer is the error.
    // Plain functions returning `async move` blocks, here and below: an `async fn` keeps a
    // by-value argument twice in its future (argument and local), and a request is the size of
    // a meeting. The block checks the request where it was captured. The operation for `user`
    // is one of two generated futures, picked by `Either` rather than awaited inside another
    // `async` block, which would be one more layer to move each answer through.
    #[allow(clippy::manual_async_fn)]
    pub fn create_or_get<'a>(
        &'a self,
        user: &'a User,
        mut request: types::CreateOrGetRequest,
    ) -> impl Future<Output = Result<CreateOrGetResponse, Error>> + Send + 'a {
        async move {
            self.check_create_or_get(user, &mut request)?;
            let (api, context) = self.call(Idempotency::Keyed);
            let (api, request) = (&api, &request);
            context
                .run(Some(&request.external_id), || match user {
                    User::Me => Either::Left(api.create_or_get_for_me(request)),
                    User::Id(id) => Either::Right(api.create_or_get_for_user(id.as_str(), request)),
                })
                .await
                .map(CreateOrGetResponse::from)
        }
    }

    fn check_create_or_get(
        &self,
        user: &User,
        request: &mut types::CreateOrGetRequest,
    ) -> Result<(), Error> {
        settle_extra(request)?;
        if request.external_id.trim().is_empty() {
            return Err(InvalidRequest::MissingExternalId.into());
        }
        if request.chat_info.is_some() && self.shared.version != ApiVersion::Beta {
            return Err(InvalidRequest::ChatInfoRequiresBeta.into());
        }
        self.check_user_and_times(
            user,
            &mut request.start_date_time,
            &mut request.end_date_time,
        )
    }

    /// Creates a meeting for `user`. Not idempotent: it is retried only when the service said
    /// it did not act, or before anything was sent (a token endpoint waited out); an
    /// ambiguous failure is [`Error::OutcomeUnknown`]. Prefer
    /// [`create_or_get`](Self::create_or_get) when a retry must never duplicate. An
    /// `external_id` set on the meeting is sent as given, but create does not go by it: two
    /// creates with the same one make two meetings.
    ///
    /// To bound the wait, set the builder's `timeout` (one attempt) and the
    /// [`RetryPolicy`](crate::RetryPolicy)'s limits (how many retries, and how long a
    /// Retry-After may hold the call: up to 180 s a wait and 300 s in all by default) rather
    /// than dropping the future (say under `tokio::time::timeout`): a timeout of the client's
    /// own is an unknown outcome with the request's `client-request-id`, while a dropped future
    /// says nothing, though the request may have gone out. A `tracing` event at `debug` names
    /// each attempt's `client-request-id` as it is sent.
    pub fn create<'a>(
        &'a self,
        user: &'a User,
        meeting: types::OnlineMeeting,
    ) -> impl Future<Output = Result<MeetingResponse, Error>> + Send + 'a {
        self.create_in_language(user, meeting, None)
    }

    /// [`create`](Self::create), with `Accept-Language` (e.g. `pt-BR`) choosing the language of
    /// the meeting's `joinInformation`.
    #[allow(clippy::manual_async_fn)]
    pub fn create_in_language<'a>(
        &'a self,
        user: &'a User,
        mut meeting: types::OnlineMeeting,
        language: Option<&'a str>,
    ) -> impl Future<Output = Result<MeetingResponse, Error>> + Send + 'a {
        async move {
            self.check_create(user, &mut meeting, language)?;
            let (api, context) = self.call(Idempotency::NotIdempotent);
            let (api, meeting) = (&api, &meeting);
            context
                .run(None, || match user {
                    User::Me => Either::Left(api.create_for_me(language, meeting)),
                    User::Id(id) => {
                        Either::Right(api.create_for_user(id.as_str(), language, meeting))
                    }
                })
                .await
                .map(MeetingResponse::from)
        }
    }

    fn check_create(
        &self,
        user: &User,
        meeting: &mut types::OnlineMeeting,
        language: Option<&str>,
    ) -> Result<(), Error> {
        settle_extra(meeting)?;
        if let Some(lang) = language {
            if lang.is_empty() || reqwest::header::HeaderValue::from_str(lang).is_err() {
                return Err(InvalidRequest::InvalidHeader {
                    name: "Accept-Language",
                }
                .into());
            }
        }
        self.check_user_and_times(
            user,
            &mut meeting.start_date_time,
            &mut meeting.end_date_time,
        )?;
        // Not part of the start-and-end rules, but an instant Graph reads as they are.
        if let Some(expiry) = &mut meeting.expiry_date_time {
            *expiry = times::instant("expiryDateTime", (*expiry).into())?.into();
        }
        Ok(())
    }

    /// What both operations check last: the token fits `user`, then the time rules fill in
    /// and check the meeting's times.
    fn check_user_and_times(
        &self,
        user: &User,
        start: &mut Option<types::Timestamp>,
        end: &mut Option<types::Timestamp>,
    ) -> Result<(), Error> {
        self.check_user(user)?;
        times::apply(start, end, &*self.shared.clock)?;
        Ok(())
    }

    fn check_user(&self, user: &User) -> Result<(), InvalidRequest> {
        if *user == User::Me && self.shared.tokens.kind() == TokenKind::Application {
            return Err(InvalidRequest::AppTokenForMe);
        }
        Ok(())
    }

    /// A generated client for one call, carrying that call's context to the hooks.
    fn call(&self, idempotency: Idempotency) -> (generated::Client, CallContext) {
        let (http, turn_first) = self.shared.http.client_and_turn();
        let context = CallContext::new(self.shared.clone(), idempotency, turn_first);
        let api = generated::Client::new_with_client(&self.shared.base_url, http, context.clone());
        (api, context)
    }
}

/// Properties this crate names must be set through their fields: one put in `extra` under a
/// known name (say `"endDateTime"`) would be sent twice and could slip past the rules. A
/// request with such an `extra` is read back through its type, so the named value lands in
/// its field and is checked like any other; when the field is set too (not left at its
/// default), to something else (`external_id` and `extra["externalId"]`, say), which one was
/// meant cannot be told, and the request is refused. Requests without `extra` are left as they
/// are (a nested type's field set beside the same name in its `extra` then goes out twice, and
/// Graph refuses it). Only the request's own `extra` is read back; a nested clash is refused.
fn settle_extra<T>(request: &mut T) -> Result<(), Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned + HasExtra + Default,
{
    if request.extra().is_empty() {
        return Ok(());
    }
    let invalid = |e: serde_json::Error| InvalidRequest::InvalidField {
        reason: e.to_string(),
    };
    // The fields alone, with `extra` set aside for the moment (and put back before any error).
    let extra = std::mem::take(request.extra_mut());
    let named = serde_json::to_value(&*request);
    // A nested type's `extra` naming one of its own fields that is set too would go out twice
    // (Graph refuses a property named twice), and reading back would let it override the
    // field in silence: refused, as the same clash at the top is below.
    let nested = serde_json::to_vec(&*request).map(|text| crate::json::repeated_key(&text));
    *request.extra_mut() = extra;
    let named = named.map_err(invalid)?;
    if let Err(found) = nested.map_err(invalid)? {
        return Err(InvalidRequest::InvalidField {
            reason: format!(
                "{:?} is set both through a field and through the extra of the same nested \
                 object; set it in one place",
                found.key
            ),
        }
        .into());
    }
    // Read back, extra's value wins; both sides are then compared as this crate writes them,
    // so the same instant written `Z` in one and `+00:00` in the other is no conflict.
    let settled: T = serde_json::to_value(&*request)
        .and_then(serde_json::from_value)
        .map_err(invalid)?;
    let written = serde_json::to_value(&settled).map_err(invalid)?;
    let unset = serde_json::to_value(T::default()).map_err(invalid)?;
    for name in request.extra().keys() {
        let set = named
            .get(name)
            .filter(|v| !v.is_null() && unset.get(name) != Some(v));
        if set.is_some_and(|field| written.get(name) != Some(field)) {
            return Err(InvalidRequest::InvalidField {
                reason: format!(
                    "{name:?} is set both through its field and through extra, to different \
                     values; set it in one place"
                ),
            }
            .into());
        }
    }
    // A property this crate checks, spelt in another case, would go out beside its field
    // unchecked; a server that reads names without regard to case could take it instead.
    if let Some((name, known)) = settled.extra().keys().find_map(|name| {
        let known = CHECKED.iter().find(|k| same_but_for_case(k, name))?;
        Some((name, known))
    }) {
        return Err(InvalidRequest::InvalidField {
            reason: format!(
                "{name:?} differs from {known:?} only in case; set {known:?}, which the \
                 request's rules check"
            ),
        }
        .into());
    }
    *request = settled;
    Ok(())
}

/// Whether `a` and `b` are one name in Unicode's case mappings, not ASCII's alone: .NET's
/// case-insensitive comparison upper-cases each character, and the dotless `ı` and the long
/// `ſ` become `I` and `S` (`endDateTıme`), while the Kelvin sign lower-cases to `k`.
fn same_but_for_case(a: &str, b: &str) -> bool {
    let upper = |s: &str| s.chars().flat_map(char::to_uppercase).collect::<Vec<_>>();
    let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<Vec<_>>();
    upper(a) == upper(b) || lower(a) == lower(b)
}

/// The request's properties that the time rules and the externalId and chatInfo checks go by.
const CHECKED: [&str; 4] = ["startDateTime", "endDateTime", "externalId", "chatInfo"];

/// Request types with a flattened map of properties this crate does not name.
trait HasExtra {
    fn extra(&self) -> &serde_json::Map<String, serde_json::Value>;
    fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value>;
}

impl HasExtra for types::CreateOrGetRequest {
    fn extra(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.extra
    }
    fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
        &mut self.extra
    }
}

impl HasExtra for types::OnlineMeeting {
    fn extra(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.extra
    }
    fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
        &mut self.extra
    }
}
