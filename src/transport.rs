//! The HTTP rules every request of this crate follows, to Graph and to the token endpoint alike:
//! TLS by rustls, no redirects, timeouts always on, https except on loopback, capped bodies.

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use reqwest::Url;

use crate::error::Error;

/// Default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The smallest cap a client accepts: below it, every meeting would be too large to read.
pub const MIN_RESPONSE_BYTES: usize = 64 * 1024;
/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for one whole attempt (connect, send, headers, body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an idle pooled connection is kept by default (reqwest's own default).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Timeouts, identity and proxy of the HTTP client.
#[derive(Clone)]
pub(crate) struct HttpSettings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub user_agent: String,
    /// A proxy for https requests only (a CONNECT tunnel: TLS stays end to end).
    pub https_proxy: Option<String>,
    /// Idle connections kept for reuse, per host and runtime, and for how long.
    pub max_idle_connections: usize,
    pub idle_timeout: Duration,
    /// Whether a connection made for an attempt says so in the log (`crate::connecting`): on
    /// for the command only, as the layer costs every request a clone of the connector, and
    /// the pool is off with it.
    pub watch_connections: bool,
}

/// The proxy's user and password (`https://user:pass@proxy`) stay out of debug output.
impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("https_proxy", &self.https_proxy.as_deref().map(redacted))
            .field("max_idle_connections", &self.max_idle_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("watch_connections", &self.watch_connections)
            .finish()
    }
}

/// A URL for messages: without its user and password, which a proxy URL may carry. Read as
/// reqwest reads a proxy: as it stands when that gives a host (`http:/u:p@h`, one slash, is
/// `http://u:p@h` to a URL parser), else as `http://…` (`user:pass@host` would otherwise parse
/// as a URL of scheme `user`, its password in plain sight).
fn redacted(url: &str) -> String {
    match as_proxy_url(url) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                // Both fail only for URLs that cannot have credentials in the first place.
                let _ = url.set_username("***");
                let _ = url.set_password(None);
            }
            url.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// A proxy URL as reqwest reads one: as it stands when that gives a host, else as `http://…`.
fn as_proxy_url(url: &str) -> Result<Url, url::ParseError> {
    match Url::parse(url) {
        Ok(parsed) if parsed.has_host() => Ok(parsed),
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
            Url::parse(&format!("http://{url}"))
        }
        Err(e) => Err(e),
    }
}

/// The HTTP client: one connection pool per tokio runtime that sends through it. A pooled
/// connection is driven by a task on the runtime that opened it; another runtime's request
/// on it would wait for that runtime (forever, if it is idle: a thread blocked outside it) or
/// be cut off when it shuts down, and a create then ends as an unknown outcome that was never
/// even sent. (Its own `Debug` would also print a proxy URL with its password.)
#[derive(Clone)]
pub(crate) struct Http(Arc<Pools>);

struct Pools {
    settings: HttpSettings,
    tls: rustls::ClientConfig,
    /// The client of the first runtime to send: for most programs, the only one.
    first: reqwest::Client,
    first_runtime: OnceLock<tokio::runtime::Id>,
    /// Other runtimes' clients, the one that sent most recently last. Bounded: runtimes come
    /// and go (a test's each), and a runtime that is gone leaves no trace to find it by.
    others: Mutex<Vec<(tokio::runtime::Id, reqwest::Client)>>,
}

/// How many runtimes besides the first keep a pool of their own; the one that sent longest
/// ago gives way (a later request from it opens a new one). Room for a runtime per core on
/// most machines (parallel tests), so that they do not push each other out call by call.
const OTHER_RUNTIMES: usize = 32;

impl Http {
    /// The client of the runtime this runs on (outside one, the first runtime's: reqwest
    /// itself then says that a runtime is needed).
    pub(crate) fn client(&self) -> reqwest::Client {
        self.client_and_turn().0
    }

    /// [`client`](Self::client), and whether each request should first let the runtime take
    /// a turn: a current_thread runtime reads its sockets only while driven, so its pool may
    /// hold a connection the server ended while it was not (see `Call::attempt`). A
    /// multi_thread runtime's idle workers read them, and a client that keeps no
    /// connections (`watch_connections`) has none to check.
    pub(crate) fn client_and_turn(&self) -> (reqwest::Client, bool) {
        let pools = &*self.0;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return (pools.first.clone(), false);
        };
        let turn = !pools.settings.watch_connections
            && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread;
        let id = runtime.id();
        let client = match *pools.first_runtime.get_or_init(|| id) == id {
            true => pools.first.clone(),
            false => pools.other(id),
        };
        (client, turn)
    }
}

impl Pools {
    #[cold]
    #[inline(never)]
    fn other(&self, id: tokio::runtime::Id) -> reqwest::Client {
        if let Some(client) = self.sent_from(id) {
            return client;
        }
        // Made outside the lock: other runtimes' calls need not wait for it. The settings
        // were checked when the first was built; should reqwest fail now, the first
        // runtime's client still sends (as every runtime's did before pools were kept per
        // runtime).
        let Ok(client) = reqwest_client(&self.settings, self.tls.clone()) else {
            return self.first.clone();
        };
        // Another call of the same runtime may have made one meanwhile: that one is kept.
        if let Some(client) = self.sent_from(id) {
            return client;
        }
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if others.len() == OTHER_RUNTIMES {
            others.remove(0);
        }
        others.push((id, client.clone()));
        client
    }

    /// Runtime `id`'s client, if it has one, now the most recently used.
    fn sent_from(&self, id: tokio::runtime::Id) -> Option<reqwest::Client> {
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        let at = others.iter().position(|(runtime, _)| *runtime == id)?;
        let entry = others.remove(at);
        let client = entry.1.clone();
        others.push(entry);
        Some(client)
    }
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reqwest::Client { .. }")
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            user_agent: concat!("graph-meetings/", env!("CARGO_PKG_VERSION")).to_string(),
            https_proxy: None,
            max_idle_connections: usize::MAX,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            watch_connections: false,
        }
    }
}

/// Builds the reqwest client: rustls with ring and the platform's roots, redirects off.
pub(crate) fn build_client(settings: &HttpSettings) -> Result<Http, Error> {
    use rustls_platform_verifier::BuilderVerifierExt;

    if settings.timeout.is_zero() || settings.connect_timeout.is_zero() {
        return Err(Error::Config("timeouts must be greater than zero".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?;
    let tls = match builder.clone().with_platform_verifier() {
        Ok(verified) => verified.with_no_client_auth(),
        Err(e) => {
            // No system roots (e.g. a container without ca-certificates): loopback http still
            // works, and https fails at the handshake with an unknown-issuer error.
            tracing::warn!(error = %e, "no system CA certificates; https connections will fail");
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    };
    let first = reqwest_client(settings, tls.clone())?;
    Ok(Http(Arc::new(Pools {
        settings: settings.clone(),
        tls,
        first,
        first_runtime: OnceLock::new(),
        others: Mutex::default(),
    })))
}

/// One runtime's reqwest client, with `tls`.
fn reqwest_client(
    settings: &HttpSettings,
    tls: rustls::ClientConfig,
) -> Result<reqwest::Client, Error> {
    // Proxies only by explicit choice, and only as tunnels for https: reqwest would otherwise
    // read HTTP_PROXY and friends and hand plain-http requests (bearer token, client secret)
    // to whatever host they name.
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(url) = &settings.https_proxy {
        // reqwest takes a proxy of any scheme and, for one it does not speak (`htp://`, a
        // typo; `socks5://`, not built in), connects directly: the caller who asked for a
        // proxy would be going around it without a word.
        if let Ok(parsed) = as_proxy_url(url) {
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::Config(format!(
                    "https proxy {:?}: scheme {:?} is not one this client speaks (http or https)",
                    redacted(url),
                    parsed.scheme()
                )));
            }
            // The same for a host the `url` crate takes and hyper-util's stricter reading
            // (`http::Uri`) does not (`"`, `{`, a backtick): it would set no proxy at all.
            let usable = parsed.as_str().parse::<http::Uri>();
            if !usable.is_ok_and(|uri| uri.host().is_some_and(|host| !host.is_empty())) {
                return Err(Error::Config(format!(
                    "https proxy {:?}: its host is not one an HTTP request can name",
                    redacted(url)
                )));
            }
        }
        let proxy = reqwest::Proxy::https(url.as_str())
            .map_err(|e| Error::Config(format!("https proxy {:?}: {e}", redacted(url))))?;
        builder = builder.proxy(proxy);
    }
    // Plain http is allowed to "localhost" because it is loopback: make sure it is, whatever
    // the resolver says.
    let loopback = [
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
    ];
    if settings.watch_connections {
        builder = builder.connector_layer(crate::connecting::Watch);
    }
    builder
        .resolve_to_addrs("localhost", &loopback)
        .tls_backend_preconfigured(tls)
        // Graph does not redirect these operations; following one could hand the bearer
        // token's request to another origin.
        .redirect(reqwest::redirect::Policy::none())
        // Retries are the attempt loop's, decided per operation; reqwest's own layer would
        // otherwise copy every request in case it wants to resend it.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .connect_timeout(connect_limit(settings))
        .timeout(settings.timeout)
        // A zero timeout keeps nothing: reqwest would take it as no sweep at all. Nor does a
        // client that watches its connections (see `crate::connecting`).
        .pool_max_idle_per_host(
            match settings.idle_timeout.is_zero() || settings.watch_connections {
                true => 0,
                false => settings.max_idle_connections,
            },
        )
        // Capped: the pool's sweeper adds it to an `Instant`, and `Duration::MAX` ("keep them
        // for ever") would overflow there and panic a runtime worker.
        .pool_idle_timeout(idle_timeout(settings))
        .user_agent(user_agent(&settings.user_agent)?)
        .build()
        .map_err(|e| Error::Config(format!("HTTP client setup failed: {e}")))
}

/// The longest an idle connection is kept, whatever is asked: a year is for ever here.
const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long the pool keeps an idle connection: what was asked, within [`MAX_IDLE_TIMEOUT`].
fn idle_timeout(settings: &HttpSettings) -> Duration {
    settings.idle_timeout.min(MAX_IDLE_TIMEOUT)
}

/// The `User-Agent` as a header value, or an error that names it (reqwest's says "builder
/// error").
fn user_agent(agent: &str) -> Result<reqwest::header::HeaderValue, Error> {
    reqwest::header::HeaderValue::from_str(agent).map_err(|_| {
        Error::Config(format!(
            "user_agent {:?} cannot be sent as a header (a line break or control character)",
            excerpt(agent.as_bytes())
        ))
    })
}

/// Parses a root URL that credentials will be sent to: https, or plain http only to loopback.
pub(crate) fn secure_root(url: &str, what: &str) -> Result<Url, Error> {
    // `127.0.0.1:8080` is no URL at all, and `localhost:8080` one of scheme `localhost`.
    const SCHEME: &str = "give the scheme too: https://host, or http://127.0.0.1:8080 for loopback";
    let parsed = Url::parse(url).map_err(|e| {
        // Unparsed, so its credentials (if any) are cut out by hand: `user:p#ss@host` is not a
        // URL, and its password would be in the message.
        let hint = match e {
            url::ParseError::RelativeUrlWithoutBase => format!("; {SCHEME}"),
            _ => String::new(),
        };
        Error::Config(format!("{what} {}: {e}{hint}", without_userinfo(url)))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Config(format!(
            "{what} must not carry credentials in the URL"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config(format!(
            "{what} must not have a query or fragment"
        )));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(Error::Config(format!(
            "{what} {url:?} is plain http to a non-loopback host; bearer tokens are only sent \
             over https (http is allowed for 127.0.0.0/8, ::1 and localhost)"
        ))),
        other => {
            let hint = match url.contains("://") {
                true => String::new(),
                false => format!("; {SCHEME}"),
            };
            // Quoted without its credentials: `user:pass@host` parses as scheme `user`.
            Err(Error::Config(format!(
                "{what} {}: unsupported scheme {other:?}{hint}",
                without_userinfo(url)
            )))
        }
    }
}

/// `url`, which did not parse or parsed wrong, quoted for a message, with whatever stands
/// before its last `@` replaced by `***` (and the message saying so). That is from after a
/// scheme and any slashes or backslashes (a URL parser reads `https:/u:p@h` and `https:\\u:p@h`
/// as `https://u:p@h`), or from the start when no scheme followed by one stands there
/// (`user:pass@host`); up to the last `@` anywhere, not only in what would be the authority: a
/// password may hold `/`, `?` or `#`, which end one.
fn without_userinfo(url: &str) -> String {
    let scheme = url
        .find(':')
        .filter(|&i| {
            url[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && url[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && url[i + 1..].starts_with(['/', '\\'])
        })
        .map_or(0, |i| i + 1);
    let start = url.len() - url[scheme..].trim_start_matches(['/', '\\']).len();
    let rest = &url[start..];
    match rest.rfind('@') {
        // Said so: an `@` in a path makes what follows it read like the host.
        Some(at) => format!(
            "{:?} (withheld up to its last '@', where a password may end)",
            format!("{}***{}", &url[..start], &rest[at..])
        ),
        None => format!("{url:?}"),
    }
}

/// A URL as configured, for a builder's `Debug`: whatever stands before its last `@` is
/// withheld, as in the errors about it (a password there is refused when the client is built,
/// but the builder holds it until then).
pub(crate) struct ConfiguredUrl<'a>(pub(crate) &'a str);

impl std::fmt::Debug for ConfiguredUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&without_userinfo(self.0))
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Time to connect, kept inside the attempt's time: should the attempt's limit fire while a
/// connection or its TLS handshake is still being made, reqwest reports a plain timeout, which
/// for create cannot be told from one after sending (an unknown outcome, not retried) although
/// nothing left. Connecting that takes 90% of the attempt's time fails as connecting instead.
/// (reqwest checks its whole-request timer before the connection, so a runtime late by more
/// than the other 10% still sees the plain timeout: the safe side, an unknown outcome.)
fn connect_limit(settings: &HttpSettings) -> Duration {
    settings.connect_timeout.min(settings.timeout.mul_f64(0.9))
}

/// A transport failure in words, without the request it came from (which may hold a secret).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() && tls_refused(e) {
        // reqwest files a failed handshake under connecting: say which part failed (https to
        // a plain-http port, a certificate not trusted).
        "could not connect: the TLS handshake failed".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_timeout() {
        // Connecting has its own, shorter limit (`connect_limit`): this one fired, nearly
        // always, with a connection made and the request sent or on its way.
        "timed out before a complete answer (the request may have been sent)".into()
    } else if e.is_builder() {
        "the request could not be built".into()
    } else {
        "connection lost before a complete answer".into()
    }
}

/// Whether rustls is behind `e` (it reaches reqwest inside `io::Error`s, one in another).
fn tls_refused(e: &reqwest::Error) -> bool {
    causes(e).any(|c| c.is::<rustls::Error>())
}

/// `e` and the errors under it, outermost first. An `io::Error` is opened rather than asked:
/// its `source` skips what it wraps (rustls' error in hyper's, a network failure in a
/// credential's).
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |c| match c.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => c.source(),
    })
}

/// [`describe`], then reqwest's own words (which name the URL, never a header), then the
/// innermost cause, which reqwest's words leave out: "Connection refused (os error 111)", a
/// certificate the platform does not trust, a name that does not resolve.
pub(crate) fn explain(e: &reqwest::Error) -> String {
    match root_cause(e) {
        None => format!("{}: {e}", describe(e)),
        Some(root) => format!("{}: {e}: {}", describe(e), printable(&root.to_string())),
    }
}

/// [`explain`] for [`Error::Transport`](crate::Error::Transport)'s cause, which is a
/// `reqwest::Error` (anything else, which the crate never puts there, is told in its own words).
pub(crate) fn explain_cause(cause: &(dyn std::error::Error + 'static)) -> String {
    match cause.downcast_ref::<reqwest::Error>() {
        Some(e) => explain(e),
        None => printable(&cause.to_string()),
    }
}

/// The innermost error under `e`, when there is one: what actually went wrong ("invalid peer
/// certificate", "proxy authorization required") under reqwest's general words.
pub(crate) fn root_cause(e: &reqwest::Error) -> Option<&(dyn std::error::Error + 'static)> {
    let mut root = std::error::Error::source(e)?;
    while let Some(source) = root.source() {
        root = source;
    }
    Some(root)
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub(crate) enum ReadError {
    TooLarge,
    /// The failure, and what had come of the body before it: after a 201 to create, the
    /// meeting's `id` may be in it.
    Transport(reqwest::Error, Bytes),
}

/// Reads a body, refusing it as soon as it passes `limit` bytes (and before reading when
/// Content-Length already says so): memory stays bounded whatever the server sends.
/// Borrows the response, so a caller's future does not keep a second copy of it.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, ReadError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    // A body that arrives in one chunk (the usual case) is kept as is, without a copy.
    let first = match response.chunk().await {
        Ok(Some(chunk)) if chunk.len() > limit => return Err(ReadError::TooLarge),
        Ok(Some(chunk)) => chunk,
        Ok(None) => return Ok(Bytes::new()),
        Err(e) => return Err(ReadError::Transport(e, Bytes::new())),
    };
    let second = match response.chunk().await {
        Ok(Some(chunk)) => chunk,
        Ok(None) => return Ok(first),
        Err(e) => return Err(ReadError::Transport(e, first)),
    };
    // Sized from Content-Length, but only up to a point: the header is the server's word, and
    // a cap set very high must not let it reserve memory its body never fills.
    const PRESIZE_MAX: usize = 64 * 1024;
    let expected = response
        .content_length()
        .unwrap_or(0)
        .min(PRESIZE_MAX as u64) as usize;
    let mut body = BytesMut::with_capacity(expected.max(first.len() + second.len()));
    let mut next = Some(second);
    body.extend_from_slice(&first);
    while let Some(chunk) = next {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
        next = match response.chunk().await {
            Ok(next) => next,
            Err(e) => return Err(ReadError::Transport(e, body.freeze())),
        };
    }
    Ok(body.freeze())
}

/// `text` with control characters as spaces: service text in messages, logs and terminals
/// cannot move the cursor, recolour the terminal, forge extra lines (Unicode's line and
/// paragraph separators too, which some log viewers break on) or reorder what is shown around
/// it (bidirectional overrides and isolates). Other invisible characters, such as the joiners
/// in an emoji, are left as they are.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if unprintable(c) { ' ' } else { c })
        .collect()
}

/// [`printable`], and at most about a thousand characters: a service's text can be as long as
/// the response cap, and one failed call must not write megabytes into a log. The middle goes,
/// as the end often says where (serde's `at line 1 column …`).
pub(crate) fn printable_short(text: &str) -> String {
    const HEAD: usize = 768;
    const TAIL: usize = 256;
    let count = text.chars().count();
    if count <= HEAD + TAIL {
        return printable(text);
    }
    let tail_at = text
        .char_indices()
        .nth(count - TAIL)
        .map_or(text.len(), |(at, _)| at);
    let head_end = text
        .char_indices()
        .nth(HEAD)
        .map_or(text.len(), |(at, _)| at);
    format!(
        "{} … ({} characters left out) … {}",
        printable(&text[..head_end]),
        count - HEAD - TAIL,
        printable(&text[tail_at..])
    )
}

fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The first bytes of a body as text, for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 256;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let mut out: String = text.chars().filter(|c| !unprintable(*c)).collect();
    if body.len() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_does_not_parse_is_quoted_without_its_credentials() {
        let Err(Error::Config(message)) = secure_root("https://user:p#ss@graph.test/x", "base URL")
        else {
            panic!("not a URL")
        };
        assert!(
            !message.contains("user") && !message.contains("p#ss"),
            "{message}"
        );
        assert!(message.contains("https://***@graph.test/x"), "{message}");
        // Read as a URL parser reads them: one slash, or a backslash, or none after a scheme,
        // and a password holding what would end an authority.
        for url in [
            "https:/user:p-w@graph.test:99999",
            "https:\\user:p-w@graph.test:99999",
            "user:p-w@graph.test:99999",
            "https://user:p/w@graph.test:99999",
            "https:user:p?w@graph.test:99999",
        ] {
            let Err(Error::Config(message)) = secure_root(url, "base URL") else {
                panic!("{url} taken")
            };
            assert!(
                !message.contains("p-w") && !message.contains("p/w") && !message.contains("p?w"),
                "{message}"
            );
            assert!(message.contains("***@graph.test:99999"), "{message}");
            // An `@` in a path is withheld up to as well, and the message says so.
            assert!(message.contains("withheld up to its last '@'"), "{message}");
        }
        // A proxy URL is read as reqwest reads it, one slash and all.
        for url in [
            "http:/user:p-w@127.0.0.1:3128",
            "http:user:p-w@127.0.0.1:3128",
            "user:p-w@127.0.0.1:3128",
            "http://user:p-w@127.0.0.1:3128",
        ] {
            assert_eq!(redacted(url), "http://***@127.0.0.1:3128/", "{url}");
        }
        // Without credentials, quoted as given.
        let Err(Error::Config(message)) = secure_root("https://graph.test:99999", "base URL")
        else {
            panic!("not a URL")
        };
        assert!(message.contains("https://graph.test:99999"), "{message}");
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for ok in [
            "https://graph.microsoft.com",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:9000",
            "http://localhost:1234",
        ] {
            assert!(secure_root(ok, "root").is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.microsoft.com",
            "http://10.0.0.1",
            "http://192.168.1.1:80",
            "http://localhost.evil.example",
            "ftp://127.0.0.1",
            "https://user:pw@graph.microsoft.com",
            "not a url",
        ] {
            assert!(
                matches!(secure_root(bad, "root"), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn printable_blanks_what_could_forge_a_line_or_reorder_one() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        let text = format!("a\nb\u{2028}c\u{2029}d\u{202e}e\u{2067}f\u{1b}[0m {family} caf\u{e9}");
        assert_eq!(
            printable(&text),
            format!("a b c d e f [0m {family} caf\u{e9}")
        );
        let e = excerpt(text.as_bytes());
        assert!(!e.chars().any(unprintable), "{e:?}");
        assert!(e.ends_with(&format!("{family} caf\u{e9}")), "{e:?}");
    }

    #[test]
    fn an_idle_timeout_of_for_ever_fits_the_pools_clock() {
        // `Duration::MAX` ("no limit", as `RetryPolicy::with_limits` takes it) would overflow
        // the `Instant` the pool's sweeper adds it to, and panic a runtime worker.
        let settings = HttpSettings {
            idle_timeout: Duration::MAX,
            ..HttpSettings::default()
        };
        assert!(std::time::Instant::now()
            .checked_add(idle_timeout(&settings))
            .is_some());
        assert_eq!(idle_timeout(&HttpSettings::default()), DEFAULT_IDLE_TIMEOUT);
    }

    #[test]
    fn the_causes_of_an_error_include_what_an_io_error_wraps() {
        // `io::Error::source` would skip the error it wraps (rustls' inside hyper's).
        #[derive(Debug)]
        struct Wrapped;
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl std::error::Error for Wrapped {}
        let io = std::io::Error::other(Wrapped);
        let found: Vec<_> = causes(&io).collect();
        assert_eq!(found.len(), 2);
        assert!(found[0].is::<std::io::Error>() && found[1].is::<Wrapped>());
    }

    #[test]
    fn a_long_text_keeps_its_start_and_end_and_says_how_much_is_left_out() {
        let text = format!(
            "{}\u{1b}{}at line 1 column 9",
            "é".repeat(800),
            "b".repeat(5000)
        );
        let short = printable_short(&text);
        assert!(short.chars().count() < 1100, "{}", short.len());
        assert!(short.starts_with(&"é".repeat(768)));
        assert!(short.ends_with("at line 1 column 9"));
        assert!(short.contains("(4795 characters left out)"), "{short}");
        assert_eq!(printable_short("a\nb"), "a b");
        let exactly = "x".repeat(1024);
        assert_eq!(printable_short(&exactly), exactly);
    }

    #[test]
    fn excerpt_is_short_and_printable() {
        let body = format!("{}\u{1b}[31m{}", "a".repeat(10), "b".repeat(1000));
        let e = excerpt(body.as_bytes());
        assert!(e.chars().count() <= 257);
        assert!(!e.contains('\u{1b}'));
        assert!(e.ends_with('…'));
    }
}
