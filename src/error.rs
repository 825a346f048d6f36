//! The one error type of the crate.
//!
//! Every variant says whether anything reached the service: [`Error::InvalidRequest`] never
//! sent anything, [`Error::OutcomeUnknown`] may have created a meeting, the rest were answered
//! or failed before an answer. No variant carries a token or a client secret.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::{timestamp::Timestamp, transport::printable_short, types};

/// What a transport failure's message adds when an answer came and its body was cut off.
fn cut_off(status: Option<u16>, request_id: Option<&str>) -> String {
    match (status, request_id) {
        (None, _) => String::new(),
        (Some(status), None) => format!(" (HTTP {status} came, its body cut off)"),
        (Some(status), Some(id)) => {
            format!(" (HTTP {status} came, its body cut off; request-id {id})")
        }
    }
}

/// Anything that can go wrong creating a meeting.
///
/// Its message is whole: the inner error's words (an [`InvalidRequest`], an [`AuthError`], a
/// transport failure's innermost cause) are in it, so no variant returns them again from
/// [`source`](std::error::Error::source), and reporters that walk sources (anyhow's `{:#}`,
/// eyre) print each once. `Clone`, so one outcome can be handed to many waiters.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks a documented rule; nothing was sent.
    #[error("invalid request (nothing was sent): {0}")]
    InvalidRequest(InvalidRequest),

    /// The client was configured in a way that cannot work safely.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// No usable token: the token endpoint refused, or Graph answered 401 (twice, or once and
    /// no fresh token was to be had); or none could be had at all, the token endpoint out of
    /// reach or busy. Match on [`kind`](Error::kind) rather than on this variant: the first
    /// are [`ErrorKind::Unauthorized`] (fix the credentials), the last
    /// [`ErrorKind::Unreachable`] (try later), though both read "authentication failed".
    #[error("authentication failed: {0}")]
    Authentication(AuthError),

    /// Graph answered with an error status.
    #[error("{0}")]
    Graph(Box<GraphError>),

    /// `create` was sent but its outcome is unknown: a meeting may or may not exist.
    #[error(
        "the outcome of create is unknown after {attempts} attempt(s) ({reason}); a meeting may \
         have been created, and repeating create could make a second one. Graph lists no \
         meetings to look in; Microsoft support can trace the request by its client-request-id \
         {client_request_id}. Make calls that must be repeatable with create_or_get"
    )]
    #[non_exhaustive]
    OutcomeUnknown {
        /// What made it ambiguous (a 5xx status, a timeout, a lost connection, an answer
        /// that could not be read).
        reason: String,
        /// Graph's error, when it answered this call with a status that is no success (a 5xx,
        /// a redirect). A 2xx whose meeting could not be used, or another request's answer,
        /// is not one: their status and `request-id` are the two fields below.
        graph: Option<Box<GraphError>>,
        /// The status of the answer that came, when one did (201 among them: the meeting
        /// exists, and `body` may say which).
        status: Option<u16>,
        /// That answer's `request-id`: with a 2xx, what support finds the meeting by.
        request_id: Option<String>,
        /// The answer's body, when one was read but could not be used: after a 2xx the meeting
        /// exists, and its `id` and `joinWebUrl` may still be read from here
        /// ([`AnswerBody::meeting_id`], [`AnswerBody::join_web_url`]).
        body: Option<AnswerBody>,
        /// Attempts made: requests sent, and connections that could not be made (nothing
        /// sent); not the waits for a token.
        attempts: u32,
        /// The `client-request-id` every attempt carried: what Microsoft support can look
        /// the request up by when no answer (and so no `request-id`) came back.
        client_request_id: String,
    },

    /// The request could not be completed at the transport level.
    #[non_exhaustive]
    #[error(
        "transport failure after {attempts} attempt(s): {}{}",
        crate::transport::explain_cause(&**cause),
        cut_off(*status, request_id.as_deref())
    )]
    Transport {
        /// The underlying failure: a `reqwest::Error` of the reqwest this crate builds on
        /// (`downcast_ref` reaches it), behind a trait object so that this crate's API does not
        /// move with reqwest's versions. Its words and innermost cause are in the message.
        cause: std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>,
        /// Attempts made: requests sent, and connections that could not be made (nothing
        /// sent); not the waits for a token.
        attempts: u32,
        /// The `client-request-id` the attempts carried.
        client_request_id: String,
        /// The status of an answer whose body was cut off (createOrGet's 200 or 201 among
        /// them: the meeting is there, and repeating createOrGet finds it).
        status: Option<u16>,
        /// That answer's `request-id`.
        request_id: Option<String>,
    },

    /// A successful answer's body was larger than the configured cap; it was not buffered. (An
    /// error status with a body over the cap is Graph's error, or a refusal for a 401, as its
    /// status says.)
    #[non_exhaustive]
    #[error("response body exceeds the limit of {limit} bytes (HTTP {status})")]
    ResponseTooLarge {
        /// The HTTP status of the response.
        status: u16,
        /// The cap that was exceeded.
        limit: usize,
        /// The `request-id` the answer carried: after a 2xx the meeting exists, and this is
        /// how support finds it.
        request_id: Option<String>,
        /// Attempts made: requests sent, and connections that could not be made (nothing
        /// sent); not the waits for a token.
        attempts: u32,
        /// The `client-request-id` the request carried.
        client_request_id: String,
    },

    /// The response could not be used: it could not be decoded, or a success carried no
    /// meeting (no `id`, or another externalId than the one asked for).
    #[non_exhaustive]
    #[error(
        "unusable response (HTTP {status}): {reason}; body starts: {excerpt:?}",
        excerpt = body.excerpt()
    )]
    Decode {
        /// The HTTP status of the response.
        status: u16,
        /// Why it could not be used.
        reason: String,
        /// The body (its [`excerpt`](AnswerBody::excerpt) is in the message).
        body: AnswerBody,
        /// The `request-id` the answer carried (see
        /// [`ResponseTooLarge`](Error::ResponseTooLarge)).
        request_id: Option<String>,
        /// Attempts made: requests sent, and connections that could not be made (nothing
        /// sent); not the waits for a token.
        attempts: u32,
        /// The `client-request-id` the request carried.
        client_request_id: String,
    },
}

/// What a caller can do about an [`Error`]: its variants sorted by the action they call for.
/// The command's exit statuses 2 to 6 follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request or the client's configuration is wrong and nothing was sent: repeating it
    /// gives the same error. ([`Error::InvalidRequest`], [`Error::Config`].)
    Invalid,
    /// The credentials were refused: the identity platform would not issue a token, a token
    /// provider failed, or Graph answered 401. Fix the credentials. (A missing permission or
    /// application access policy is Graph's 403, which is [`Graph`](Self::Graph) with code
    /// `Forbidden`: the token was good, the request not allowed.)
    Unauthorized,
    /// Graph answered with an error, or with an answer that could not be used (undecodable,
    /// too large). [`Error::retry_after`] says when a throttled request may come back,
    /// and [`Error::is_transient`] whether one may come back at all.
    Graph,
    /// No complete answer from Graph or from the token endpoint: it could not be reached, did
    /// not answer in time, the connection was lost, the token endpoint's answer could not be
    /// used, or the token endpoint said it is busy or failing (408, 429, 5xx). createOrGet may be
    /// repeated later; a create with this kind was not delivered (create's lost answers are
    /// `OutcomeUnknown`).
    Unreachable,
    /// create was sent and a meeting may exist. Repeating the same create could make a second
    /// one, and Graph has no list of meetings to look for the first in: Microsoft support can
    /// trace the request by its `client-request-id` (and the answer's `request-id`, when one
    /// came). Calls that must be repeatable belong with `create_or_get` and an externalId.
    OutcomeUnknown,
}

impl From<InvalidRequest> for Error {
    fn from(e: InvalidRequest) -> Self {
        Error::InvalidRequest(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::Authentication(e)
    }
}

impl Error {
    /// What a caller can do about this error (see [`ErrorKind`]). A token endpoint that could
    /// not be reached, or that answered 408, 429 or 5xx (busy or down, not a verdict on the
    /// credentials), is [`Unreachable`](ErrorKind::Unreachable), not a refusal, also when it
    /// kept a 401 from being retried with a fresh token.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidRequest(_) | Error::Config(_) => ErrorKind::Invalid,
            Error::Authentication(AuthError::RefreshFailed { refresh, .. })
                if refresh.unavailable() =>
            {
                ErrorKind::Unreachable
            }
            Error::Authentication(e) if e.unavailable() => ErrorKind::Unreachable,
            Error::Authentication(_) => ErrorKind::Unauthorized,
            Error::Graph(_) | Error::ResponseTooLarge { .. } | Error::Decode { .. } => {
                ErrorKind::Graph
            }
            Error::Transport { .. } => ErrorKind::Unreachable,
            Error::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
        }
    }

    /// Whether the same call may work if made again later, the client's own retries having run
    /// out: Graph or the token endpoint out of reach or busy ([`ErrorKind::Unreachable`]: also
    /// a failure that may not clear by itself, such as a name that does not resolve or an
    /// authority host that answers HTML), or Graph's answer, read or too large to read, a
    /// status that means "not now" (408, 429, 500, 502, 503, 504). Safe to act
    /// on for either operation: a create that may have made a meeting is
    /// [`ErrorKind::OutcomeUnknown`], never transient. How long to wait, when the service
    /// said: [`Error::retry_after`].
    pub fn is_transient(&self) -> bool {
        match self.kind() {
            ErrorKind::Unreachable => true,
            // Graph's error, or its answer too large to read: the status says "not now".
            ErrorKind::Graph => matches!(self.status(), Some(408 | 429 | 500 | 502 | 503 | 504)),
            ErrorKind::Invalid | ErrorKind::Unauthorized | ErrorKind::OutcomeUnknown => false,
        }
    }

    /// How long the service asked to wait before the call is made again, when it said: Graph's
    /// `Retry-After` ([`GraphError::retry_after`]), or the token endpoint's when that is what
    /// failed. One question, whichever of the two answered. (An unknown outcome may carry one
    /// too: making a create again may make a second meeting, whatever the wait.)
    pub fn retry_after(&self) -> Option<Duration> {
        fn endpoint(error: &AuthError) -> Option<Duration> {
            match error {
                AuthError::TokenEndpoint { retry_after, .. } => *retry_after,
                AuthError::RefreshFailed { refresh, .. } => endpoint(refresh),
                _ => None,
            }
        }
        let graph = || self.graph().and_then(|g| g.retry_after);
        match self {
            Error::Authentication(auth) => endpoint(auth).or_else(graph),
            _ => graph(),
        }
    }

    /// The HTTP status Graph answered this call with, if it answered (after a 401 whose
    /// fresh token could not be had, that 401). Not a token endpoint's: that one is in
    /// [`AuthError::TokenEndpoint`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::ResponseTooLarge { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Transport { status, .. } | Error::OutcomeUnknown { status, .. } => *status,
            _ => self.graph().map(|g| g.status),
        }
    }

    /// The `request-id` Graph gave its answer, when there was an answer that carried one:
    /// Graph's errors, and answers that could not be used.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::ResponseTooLarge { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::Transport { request_id, .. }
            | Error::OutcomeUnknown { request_id, .. } => request_id.as_deref(),
            _ => self.graph().and_then(|g| g.request_id.as_deref()),
        }
    }

    /// The `client-request-id` of the request, whenever one was sent: the ID Microsoft support
    /// can find a call by, even when no answer (and so no `request-id`) came back. `None` for
    /// errors raised before anything was sent, and for token failures. (Only
    /// [`OutcomeUnknown`](Error::OutcomeUnknown) and Graph's errors also put it in their
    /// message.)
    pub fn client_request_id(&self) -> Option<&str> {
        match self {
            Error::OutcomeUnknown {
                client_request_id, ..
            }
            | Error::Transport {
                client_request_id, ..
            }
            | Error::ResponseTooLarge {
                client_request_id, ..
            }
            | Error::Decode {
                client_request_id, ..
            } => Some(client_request_id),
            _ => self.graph().and_then(|g| g.client_request_id.as_deref()),
        }
    }

    /// Attempts made, retries included: requests sent, and connections that could not be made
    /// (nothing sent on those); not the waits for a token. Whenever one was made (as for
    /// [`client_request_id`](Self::client_request_id)).
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::OutcomeUnknown { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::ResponseTooLarge { attempts, .. }
            | Error::Decode { attempts, .. } => Some(*attempts),
            _ => self.graph().map(|g| g.attempts),
        }
    }

    /// The body of an answer that could not be used ([`Decode`](Error::Decode), and an
    /// [`OutcomeUnknown`](Error::OutcomeUnknown) that had one): where a meeting that exists
    /// can still be found when its answer did not decode.
    pub fn body(&self) -> Option<&AnswerBody> {
        match self {
            Error::Decode { body, .. } => Some(body),
            Error::OutcomeUnknown { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    /// Graph's error, when the service answered this call with a status that is no success:
    /// an error status, or a redirect (never followed). A 2xx is never one, even when it could
    /// not be used or leaves create's outcome unknown: its status and `request-id` are
    /// [`status`](Self::status) and [`request_id`](Self::request_id).
    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            Error::Graph(g) => Some(g),
            Error::OutcomeUnknown { graph, .. } => graph.as_deref(),
            Error::Authentication(
                AuthError::Rejected(g) | AuthError::RefreshFailed { rejected: g, .. },
            ) => Some(g),
            _ => None,
        }
    }
}

/// An answer's body as it came, kept by the errors about answers that could not be used
/// ([`Error::Decode`], [`Error::OutcomeUnknown`]): after a 2xx the meeting exists, and what the
/// body says of it is the caller's best lead. Wherever the body repeated the bearer token the
/// request carried (8 characters or more), the token reads `***` where it stood (also where a JSON
/// body wrote it with escapes), every other byte as received. `Debug` gives only the length and
/// an excerpt: a body can be as large as the response cap.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AnswerBody(Bytes);

impl AnswerBody {
    pub(crate) fn new(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, without a copy.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The first 256 bytes as one printable line (invalid UTF-8 replaced, control characters
    /// left out), `…` when there is more.
    pub fn excerpt(&self) -> String {
        crate::transport::excerpt(&self.0)
    }

    /// The meeting's `id`, when the body is a JSON object that gives one as text: after a 2xx
    /// whose answer could not be used as a whole, the meeting that was made. (After
    /// createOrGet's answer for another externalId, that other key's meeting.)
    pub fn meeting_id(&self) -> Option<String> {
        self.text("id")
    }

    /// The meeting's `joinWebUrl`, read as [`meeting_id`](Self::meeting_id) is.
    pub fn join_web_url(&self) -> Option<String> {
        self.text("joinWebUrl")
    }

    /// A top-level text property of the body, read leniently: no other property has to fit.
    fn text(&self, key: &str) -> Option<String> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.0).ok()?;
        match object.get(key)? {
            // Blank is none, as the client reads an answer's `id`.
            serde_json::Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
            _ => None,
        }
    }
}

impl std::fmt::Debug for AnswerBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerBody")
            .field("len", &self.0.len())
            .field("starts", &self.excerpt())
            .finish()
    }
}

/// A documented rule the request breaks. Checked before anything is sent. Instants print as
/// the RFC 3339 text a request carries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// An end time was given without a start time.
    #[error("endDateTime ({end}) was given without a startDateTime", end = Timestamp::from(*end))]
    EndWithoutStart {
        /// The end given.
        end: DateTime<Utc>,
    },
    /// The end time is earlier than the start time.
    #[error(
        "endDateTime ({end}) is earlier than startDateTime ({start})",
        end = Timestamp::from(*end),
        start = Timestamp::from(*start)
    )]
    EndBeforeStart {
        /// The start given.
        start: DateTime<Utc>,
        /// The end given.
        end: DateTime<Utc>,
    },
    /// The start is so late that start + 1 hour would be past year 9999.
    #[error(
        "startDateTime ({start}) is too late to add the default hour",
        start = Timestamp::from(*start)
    )]
    StartOutOfRange {
        /// The start given.
        start: DateTime<Utc>,
    },
    /// An instant (start, end, a create's expiry) outside the years 1 to 9999, which Graph's
    /// date-times cannot carry.
    #[error(
        "{field} ({at}) is outside the years 1 to 9999 that Graph's date-times can carry",
        at = Timestamp::from(*at)
    )]
    OutOfRange {
        /// `startDateTime`, `endDateTime` or `expiryDateTime`.
        field: &'static str,
        /// The instant given.
        at: DateTime<Utc>,
    },
    /// An instant (start, end, a create's expiry) in a leap second (`23:59:60`), which chrono
    /// reads but Graph's date-times cannot carry.
    #[error(
        "{field} ({at}) falls in a leap second, which Graph's date-times cannot carry",
        at = Timestamp::from(*at)
    )]
    LeapSecond {
        /// `startDateTime`, `endDateTime` or `expiryDateTime`.
        field: &'static str,
        /// The instant given.
        at: DateTime<Utc>,
    },
    /// createOrGet needs an externalId.
    #[error("externalId is required and must not be empty")]
    MissingExternalId,
    /// chatInfo on createOrGet is only supported on the beta endpoint.
    #[error("chatInfo is only supported on beta; build the client with ApiVersion::Beta")]
    ChatInfoRequiresBeta,
    /// The user ID cannot be sent as one path segment.
    #[error("user ID {id:?} is not allowed: {reason}")]
    InvalidUserId {
        /// The ID given, cut to its first 64 characters and `…` when longer (escaped when
        /// printed).
        id: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An application token cannot act as "the signed-in user".
    #[error(
        "an application token has no signed-in user, so /me cannot be used: address the \
         meeting's organizer with User::id(..) (/users/{{id}})"
    )]
    AppTokenForMe,
    /// A property in `extra` does not fit the type of the field with its name, or that field is
    /// set too, to another value.
    #[error("a property set through `extra` is invalid: {reason}")]
    InvalidField {
        /// What serde said.
        reason: String,
    },
    /// A header value cannot be sent (for example Accept-Language with a newline).
    #[error("header {name} has an invalid value")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
    },
}

/// Graph's own error, with what the response said about it.
///
/// The fields keep the service's text as it came; `Display` (what logs and terminals get)
/// prints it on one line, with control characters, line separators and bidirectional
/// overrides as spaces, so an answer cannot forge log lines or drive a terminal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "Graph answered HTTP {status}{code}: {message} (request-id: {request_id}, client-request-id: {client_request_id}, attempts: {attempts})",
    code = self.code.as_deref().map(|c| format!(" {}", printable_short(c))).unwrap_or_default(),
    message = printable_short(self.message.as_deref().unwrap_or("no message")),
    request_id = printable_short(self.request_id.as_deref().unwrap_or("none")),
    client_request_id = printable_short(self.client_request_id.as_deref().unwrap_or("none")),
)]
#[non_exhaustive]
pub struct GraphError {
    /// The HTTP status.
    pub status: u16,
    /// Graph's error code, e.g. `BadRequest`, `Forbidden`.
    pub code: Option<String>,
    /// Graph's message.
    pub message: Option<String>,
    /// The `request-id` Graph assigned (response header, else the body's innerError).
    pub request_id: Option<String>,
    /// The call's `client-request-id`, the one every attempt sent and Graph echoes: always
    /// set by this client. (An answer echoing another is not taken for this call's answer.)
    pub client_request_id: Option<String>,
    /// The `date` from innerError, as Graph wrote it.
    pub date: Option<String>,
    /// How long the service asked to wait, if it said (and it could be read): a date in the
    /// past is zero, and a count of seconds too large to hold is `Duration::MAX`.
    pub retry_after: Option<Duration>,
    /// Attempts made before giving up: requests sent, and connections that could not be made
    /// (nothing sent); not the waits for a token.
    pub attempts: u32,
    /// The body as the service sent it, when it was Graph's error shape.
    pub body: Option<types::OdataError>,
}

impl GraphError {
    /// Graph's answer with this status and nothing else known yet, as one attempt. For a
    /// stand-in in a service's own tests (how does it handle a 429 with Retry-After, a 403?):
    /// the fields are public, so the test sets those it needs, and wraps it as
    /// `Error::Graph(Box::new(error))`. The client fills every field an answer gave.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            code: None,
            message: None,
            request_id: None,
            client_request_id: None,
            date: None,
            retry_after: None,
            attempts: 1,
            body: None,
        }
    }
}

impl AuthError {
    /// The token endpoint's refusal or failure with this status, for a
    /// [`TokenProvider`](crate::auth::TokenProvider) that talks to one itself: `error` and
    /// `description` are OAuth's `error` and `error_description` (the `AADSTS…` code is read
    /// from the description's start, as the identity platform writes it), `retry_after` what
    /// a busy endpoint asked for. A 408, 429 or 5xx counts as busy, any other as a refusal.
    pub fn token_endpoint(
        status: u16,
        error: Option<String>,
        description: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        // The endpoint's text, one printable line and not megabytes, as the crate's own
        // provider keeps it (it ends up in logs and on terminals).
        let error = error.as_deref().map(printable_short);
        let description = description.as_deref().map(printable_short);
        let aadsts = description.as_deref().and_then(aadsts_code);
        AuthError::TokenEndpoint {
            status,
            error,
            description,
            aadsts,
            retry_after,
        }
    }

    /// How long before asking the token endpoint again, after this failure: what it asked
    /// for, and at least a second, so that calls waiting out an outage do not ask it over and
    /// over.
    pub(crate) fn ask_again_after(&self) -> std::time::Duration {
        const FLOOR: Duration = Duration::from_secs(1);
        match self {
            AuthError::TokenEndpoint {
                retry_after: Some(asked),
                ..
            } => (*asked).max(FLOOR),
            _ => FLOOR,
        }
    }

    /// The token endpoint gave no usable answer or said it is busy or failing (408, 429,
    /// 5xx): nothing was said about the credentials, and the same request may work later.
    /// 408 is a timeout on the way (a proxy's, say), as it is when Graph answers it.
    pub(crate) fn unavailable(&self) -> bool {
        match self {
            AuthError::Transport(_) => true,
            AuthError::TokenEndpoint { status, .. } => matches!(status, 408 | 429 | 500..),
            _ => false,
        }
    }
}

/// Why no usable token could be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The identity platform refused to issue a token.
    #[error(
        "token endpoint answered HTTP {status}: {error}{aadsts}{description}",
        error = error.as_deref().unwrap_or("no error code"),
        aadsts = aadsts.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        description = description.as_deref().map(|d| format!(": {d}")).unwrap_or_default(),
    )]
    #[non_exhaustive]
    TokenEndpoint {
        /// The HTTP status of the token endpoint's answer.
        status: u16,
        /// OAuth `error`, e.g. `invalid_client`.
        error: Option<String>,
        /// OAuth `error_description`. The identity platform ends it with the trace and
        /// correlation IDs and the time, which a support case about the refusal asks for.
        description: Option<String>,
        /// The `AADSTS…` code, e.g. `AADSTS7000215` for a wrong secret.
        aadsts: Option<String>,
        /// How long a busy endpoint asked to be left alone (`Retry-After`), if it said: a
        /// call's next try for a token waits at least that long.
        retry_after: Option<Duration>,
    },
    /// The token endpoint could not be reached or answered something unreadable.
    #[error("token endpoint failure: {0}")]
    Transport(String),
    /// Graph answered 401 twice (to a fresh token too), or once and the provider had only the
    /// same token again (a [`StaticToken`](crate::StaticToken), say).
    #[error("Graph rejected the token: {0}")]
    Rejected(Box<GraphError>),
    /// Graph answered 401, and fetching a fresh token for the one retry failed (an error, or
    /// no answer within the request timeout). Both are kept: Graph's answer (with its request
    /// IDs, for a support case) and why no retry followed.
    #[error("Graph rejected the token ({rejected}), and a fresh one could not be had: {refresh}")]
    RefreshFailed {
        /// Graph's 401.
        rejected: Box<GraphError>,
        /// Why the fresh token could not be had.
        refresh: Box<AuthError>,
    },
    /// A token provider failed in its own way.
    #[error("token provider failed: {0}")]
    Provider(String),
}

/// The `AADSTS…` code an identity platform `error_description` starts with.
pub(crate) fn aadsts_code(description: &str) -> Option<String> {
    let code: String = description
        .strip_prefix("AADSTS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!code.is_empty()).then(|| format!("AADSTS{code}"))
}

#[cfg(test)]
mod tests {
    use super::AnswerBody;

    #[test]
    fn an_unusable_body_still_says_which_meeting_it_is() {
        let body = |text: &'static str| AnswerBody::new(bytes::Bytes::from_static(text.as_bytes()));
        // Other properties that do not fit the model do not hide the two that matter.
        let odd = body(r#"{"id":"m-1","joinWebUrl":"https://teams.test/j","startDateTime":5}"#);
        assert_eq!(odd.meeting_id().as_deref(), Some("m-1"));
        assert_eq!(odd.join_web_url().as_deref(), Some("https://teams.test/j"));
        for unusable in [
            r#"{"id":7}"#,
            r#"{"id":""}"#,
            r#"{"id":"  "}"#,
            r#"["m-1"]"#,
            "<html>m-1</html>",
            r#"{"id":"m-1""#,
        ] {
            assert_eq!(body(unusable).meeting_id(), None, "{unusable}");
        }
    }
}
