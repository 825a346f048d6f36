//! One call: the generated client's hooks, the attempt loop, and the mapping of what happened
//! to [`Error`].
//!
//! The generated code builds the request (typed body, encoded path) and decodes the answer. In
//! between, its `exec` hook hands the request to [`Call::attempt`], which adds the
//! bearer token and request IDs, sends, and buffers the body under the cap. When the
//! operation's rule allows another attempt, [`Call::run`] runs the generated operation
//! again. Failures the generated code has no words for are kept in the context and win over
//! whatever it returns.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use chrono::Utc;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::{
    header::{HeaderName, HeaderValue, AUTHORIZATION},
    ResponseBuilderExt, StatusCode,
};

use super::Shared;
use crate::{
    auth::AccessToken,
    connecting,
    error::{AnswerBody, AuthError, Error, ErrorKind, GraphError},
    generated,
    retry::{self, Idempotency, Refused, Verdict},
    secret::Secret,
    transport::{self, ReadError},
    types,
};

const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const API_VERSION: HeaderName = HeaderName::from_static("api-version");
const RETRY_ATTEMPT: HeaderName = HeaderName::from_static("retry-attempt");
/// Graph's evolvable enumerations: without this, a member added after `unknownFutureValue`
/// (a `coorganizer` role, say) is answered as `unknownFutureValue`, though the types know it.
const PREFER: HeaderName = HeaderName::from_static("prefer");
const EVERY_ENUM_MEMBER: HeaderValue = HeaderValue::from_static("include-unknown-enum-members");

/// The per-call state the generated client carries as its inner value. One allocation per
/// call, shared by the hooks and the loop.
#[derive(Debug, Clone)]
pub struct CallContext(Arc<Call>);

/// What a [`CallContext`] shares.
pub struct Call {
    shared: Arc<Shared>,
    idempotency: Idempotency,
    /// Whether each attempt first lets the runtime take a turn (`Http::client_and_turn`).
    turn_first: bool,
    /// A hyphenated UUID, ASCII.
    client_request_id: [u8; uuid::fmt::Hyphenated::LENGTH],
    record: Mutex<Record>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("idempotency", &self.idempotency)
            .field("client_request_id", &self.client_request_id())
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for CallContext {
    type Target = Call;

    fn deref(&self) -> &Call {
        &self.0
    }
}

/// What happened during the call: the loop's state between attempts, and what
/// [`Call::finish`] needs.
#[derive(Debug, Default)]
struct Record {
    attempts: u32,
    /// Retries so far, and the time spent waiting for them.
    retries: u32,
    waited: Duration,
    /// Set by an attempt that wants another one after this wait.
    again: Option<Duration>,
    /// The token the final answer's request carried: an answer that repeats it (an echoing
    /// proxy, say) gets it blanked before its text can reach an error.
    sent: Option<Secret>,
    /// A 401 has been answered with a fresh token (once per call).
    reauthenticated: bool,
    /// The fresh token for the attempt after a 401.
    fresh_token: Option<AccessToken>,
    /// Why no fresh token could be had after a 401.
    refresh_failure: Option<AuthError>,
    /// Graph's 401, kept by the attempt it answered while the endpoint for a fresh token is
    /// waited out.
    rejected: Option<(u32, Box<GraphError>)>,
    /// A failure the generated code cannot express; it takes precedence.
    failure: Option<Error>,
    /// The token a 401 refused earlier in this call: a later answer that repeats it (a proxy
    /// echoing what it saw before) has it blanked too.
    refused: Option<Secret>,
    /// Why a non-idempotent request's outcome is unknown.
    ambiguous: Option<String>,
    /// What the final response said, for errors the generated code reports without it.
    status: Option<StatusCode>,
    request_id: Option<HeaderValue>,
    retry_after: Option<Duration>,
    /// A redirect's target: after create, where a 303 says the result is.
    location: Option<HeaderValue>,
    body: Bytes,
}

impl Record {
    /// The tokens an answer may repeat: the one the latest attempt sent, and one a 401
    /// refused earlier.
    fn tokens(&self) -> impl Iterator<Item = &Secret> {
        self.sent.iter().chain(&self.refused)
    }

    /// `body` with the tokens the call sent blanked.
    fn redacted(&self, body: Bytes) -> Bytes {
        self.tokens()
            .fold(body, |body, token| token.redact_body(body))
    }

    /// `text` with the tokens the call sent blanked (copied once when none is in it: this
    /// reads a successful answer's `request-id` too).
    fn redacted_text(&self, text: &str) -> String {
        blanked(self.tokens(), text)
    }

    /// What the final response's status and headers said, for the answer or its error, and
    /// the token its request carried (`sent`).
    fn note(&mut self, response: &reqwest::Response, retry_after: Option<Duration>, sent: Secret) {
        let headers = response.headers();
        self.sent = Some(sent);
        self.status = Some(response.status());
        self.request_id = headers.get(REQUEST_ID).cloned();
        self.retry_after = retry_after;
        if response.status().is_redirection() {
            self.location = headers.get(reqwest::header::LOCATION).cloned();
        }
    }

    /// A header's value as text, the token blanked: a proxy that echoes headers may have put
    /// it in the `request-id` as well.
    fn text(&self, value: Option<&HeaderValue>) -> Option<String> {
        let text = value.and_then(|v| v.to_str().ok())?;
        Some(self.redacted_text(text))
    }
}

/// The answer echoes a `client-request-id` that is not `ours`: it answers another request (a
/// proxy replaying answers, a connection out of step) and says nothing of this one. Every
/// value counts, in every header line and comma-separated list, so that the order in which a
/// proxy repeats the header changes nothing; a UUID's case and braces do not matter, and
/// empty list elements are none (as HTTP reads lists). No echo at all is no evidence either way.
fn echoes_another(headers: &http::HeaderMap, ours: &[u8]) -> bool {
    headers.get_all(CLIENT_REQUEST_ID).iter().any(|line| {
        line.as_bytes().split(|b| *b == b',').any(|value| {
            let value = value.trim_ascii();
            let value = value
                .strip_prefix(b"{")
                .and_then(|v| v.strip_suffix(b"}"))
                .unwrap_or(value);
            !value.is_empty() && !value.eq_ignore_ascii_case(ours)
        })
    })
}

/// `text` with each of `tokens` blanked, copied once when none is in it.
fn blanked<'a>(tokens: impl IntoIterator<Item = &'a Secret>, text: &str) -> String {
    let mut text = std::borrow::Cow::Borrowed(text);
    for token in tokens {
        let blanked = match token.redact(&text) {
            std::borrow::Cow::Owned(blanked) => Some(blanked),
            std::borrow::Cow::Borrowed(_) => None,
        };
        if let Some(blanked) = blanked {
            text = std::borrow::Cow::Owned(blanked);
        }
    }
    text.into_owned()
}

/// The `client-request-id`s an answer echoes, for an error or a log line: the token the
/// request carried blanked (and one a 401 `refused` earlier), unprintable characters as
/// spaces, at most 256 bytes.
fn echoed(response: &reqwest::Response, sent: &Secret, refused: Option<&Secret>) -> String {
    let values: Vec<&[u8]> = response
        .headers()
        .get_all(CLIENT_REQUEST_ID)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let text = String::from_utf8_lossy(&values.join(&b", "[..])).into_owned();
    let text = blanked(std::iter::once(sent).chain(refused), &text);
    format!("{:?}", transport::excerpt(text.as_bytes()))
}

/// What a generated operation returns.
type GeneratedResult =
    Result<ResponseValue<types::OnlineMeeting>, progenitor_client::Error<types::OdataError>>;

/// A successful answer, before it is shaped for the operation.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub meeting: Box<types::OnlineMeeting>,
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub raw: Bytes,
    pub attempts: u32,
}

impl ClientHooks<CallContext> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        // The generator adds the spec's version as a header; Graph takes it from the path.
        let headers = request.headers_mut();
        headers.remove(API_VERSION);
        // Room for what `attempt` adds (client-request-id, authorization, prefer,
        // retry-attempt), so the map is not regrown on the way.
        headers.reserve(4);
        Ok(())
    }

    // The attempt's own future, not one wrapped around it: every layer of `async` adds its
    // own copy of the request to each call's future.
    fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        self.inner().attempt(self.client(), request)
    }
}

impl CallContext {
    pub(crate) fn new(shared: Arc<Shared>, idempotency: Idempotency, turn_first: bool) -> Self {
        let mut client_request_id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid::Builder::from_random_bytes(correlation_bits())
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut client_request_id);
        Self(Arc::new(Call {
            shared,
            idempotency,
            turn_first,
            client_request_id,
            record: Mutex::default(),
        }))
    }
}

impl Call {
    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn client_request_id(&self) -> &str {
        std::str::from_utf8(&self.client_request_id).unwrap_or_default()
    }

    /// Keeps `error` for `finish` and gives the generated code an inert answer to discard.
    #[cold]
    #[inline(never)]
    fn fail(&self, error: Error) -> reqwest::Result<reqwest::Response> {
        self.record().failure = Some(error);
        Self::inert()
    }

    /// An empty answer for the generated code to decode and the loop to discard.
    fn inert() -> reqwest::Result<reqwest::Response> {
        Ok(http::Response::new(Bytes::new()).into())
    }

    /// A token from the provider, within the request timeout: a hung provider must not hang
    /// every call behind it. When it does not answer in time, a token that is due for a
    /// refresh but has not expired still serves; without one, the call fails as a transport
    /// failure would (no answer in time), not as a refusal.
    async fn token(&self) -> Result<AccessToken, Error> {
        let limit = self.shared.token_timeout;
        match tokio::time::timeout(limit, self.shared.tokens.token()).await {
            Ok(result) => result.map_err(Error::Authentication),
            Err(_) => match self.shared.tokens.still_valid() {
                Some(token) => Ok(token),
                None => Err(Error::Authentication(AuthError::Transport(format!(
                    "no token within {limit:?}"
                )))),
            },
        }
    }

    /// Runs the generated operation `op` until it has a final answer, and turns that into the
    /// call's result (see [`finish`](Self::finish)): each run is one attempt (see
    /// [`attempt`](Self::attempt)), which either answers or asks for another after a wait. A
    /// retry builds its request anew through the generated code, so the first attempt never
    /// pays for a copy kept in case of one. The generated answer is finished here rather than
    /// returned: it is the size of a meeting, and every layer it is returned through copies it.
    pub(crate) async fn run<F, Fut>(
        &self,
        external_id: Option<&str>,
        op: F,
    ) -> Result<Answer, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = GeneratedResult>,
    {
        loop {
            let result = op().await;
            // Its own statement, so the record's lock is released before `finish` takes it.
            let again = self.record().again.take();
            let Some(wait) = again else {
                return self.finish(result, external_id);
            };
            // Not kept across the wait: the answer is as large as a meeting, and whatever
            // lives across an await makes every call's future larger.
            drop(result);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                self.record().waited += wait;
            }
        }
    }

    /// One attempt: token, request IDs, send, and then either the answer for the generated
    /// code (body buffered under the cap) or, when the operation's rule and the policy allow
    /// another attempt, an inert answer and a wait noted for [`run`](Self::run).
    ///
    /// A plain function around an `async move` block: an `async fn` would keep the request
    /// twice in its future (argument and local), and the future is part of every call's.
    #[allow(clippy::manual_async_fn)]
    fn attempt<'a>(
        &'a self,
        http: &'a reqwest::Client,
        mut request: reqwest::Request,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + 'a {
        async move {
            let shared = &*self.shared;
            let (number, fresh) = {
                let mut record = self.record();
                record.attempts += 1;
                (record.attempts, record.fresh_token.take())
            };
            let current = match fresh.or_else(|| shared.tokens.ready()) {
                Some(t) => t,
                None => match Box::pin(self.token()).await {
                    Ok(t) => t,
                    Err(e) => return self.no_token(e, number),
                },
            };
            let bearer = match current.bearer() {
                Ok(bearer) => bearer,
                Err(reason) => {
                    // Nothing is sent, so no 401 would ever clear it: the provider is told now.
                    shared.tokens.invalidate(&current);
                    return self.fail(Error::Authentication(AuthError::Provider(reason.into())));
                }
            };
            // Appended, not inserted: every attempt's request is built afresh by the generated
            // code, which sets none of these, and appending is the code the generated request
            // builder has just run (one routine less for each call to bring into cache).
            let headers = request.headers_mut();
            headers.append(
                CLIENT_REQUEST_ID,
                HeaderValue::from_bytes(&self.client_request_id)
                    .expect("a UUID is a valid header value"),
            );
            headers.append(AUTHORIZATION, bearer.clone());
            headers.append(PREFER, EVERY_ENUM_MEMBER);
            if number > 1 {
                headers.append(RETRY_ATTEMPT, HeaderValue::from(number - 1));
            }

            // On a current_thread runtime, one turn of it first (which runtimes: see
            // `Http::client_and_turn`). Behind a sync API such a runtime is not driven between
            // calls, so what a server sent on a kept-alive connection meanwhile (a close, an
            // unsolicited 408) is still unread, and a create written to that connection would
            // be an unknown outcome. The turn reads the sockets: the pool drops the
            // connection, or hyper, finding it ended before the request is written, sends the
            // request on a new one (a request not yet started is tried again). Before the
            // "sending" event, so that a signal the command takes during the turn finds
            // nothing sent. A multi_thread runtime's idle workers read such a close as it
            // comes (as soon as a worker wakes: milliseconds on a busy machine), and its turn,
            // a few microseconds a call, would not help `block_on`'s own thread.
            if self.turn_first {
                tokio::task::yield_now().await;
            }
            // What a caller that drops the call's future can still find the request by.
            tracing::debug!(
                client_request_id = self.client_request_id(),
                attempt = number,
                "sending"
            );
            let sending = http.execute(request);
            let sent = match shared.watch_connections {
                true => connecting::attempt(self.client_request_id, sending).await,
                false => sending.await,
            };
            let mut response = match sent {
                Ok(response) => response,
                Err(e) => {
                    let verdict = self.idempotency.transport(&e);
                    return self.transport_failure(e, verdict, number);
                }
            };
            let status = response.status();
            // An answer to another request says nothing of this one: not a 401 to refresh the
            // token after, nor anything to decode.
            let foreign = echoes_another(response.headers(), &self.client_request_id);
            let limit = shared.max_response_bytes;
            // A 401's body, read before a fresh token is waited for: should the wait outlast
            // the request's timeout, Graph's error is still what the call reports.
            let mut read = None;
            if status == StatusCode::UNAUTHORIZED
                && !foreign
                && !std::mem::replace(&mut self.record().reauthenticated, true)
            {
                read = Some(transport::read_capped(&mut response, limit).await);
                // 401: the service did not act, so a fresh token may try again, once. Said
                // (with the wait before the retry, as every retry's event says it) before the
                // token is waited for: nothing is in flight meanwhile, whether or not a retry
                // follows.
                tracing::debug!(
                    client_request_id = self.client_request_id(),
                    attempt = number,
                    delay_ms = 0u64,
                    "Graph answered 401; asking for a fresh token"
                );
                shared.tokens.invalidate(&current);
                match Box::pin(self.token()).await {
                    // Another secret: a provider that gives the same one with a new expiry would
                    // only be refused again.
                    Ok(fresh) if fresh.secret() != current.secret() => match fresh.bearer() {
                        Ok(_) => {
                            tracing::info!(
                                client_request_id = self.client_request_id(),
                                attempt = number,
                                delay_ms = 0u64,
                                "Graph answered 401; retrying once with a fresh token"
                            );
                            let mut record = self.record();
                            record.fresh_token = Some(fresh);
                            record.refused = Some(current.secret().clone());
                            record.again = Some(Duration::ZERO);
                            return Self::inert();
                        }
                        // One no header can carry: the provider's failure, told as any other
                        // refresh failure is (the 401 stays the answer, with Graph's IDs).
                        Err(reason) => {
                            shared.tokens.invalidate(&fresh);
                            self.record().refresh_failure =
                                Some(AuthError::Provider(reason.into()));
                        }
                    },
                    Ok(_) => {}
                    // The token endpoint busy or out of reach: Graph did not act, so the call
                    // may wait it out as it would before sending.
                    Err(Error::Authentication(e))
                        if e.unavailable()
                            && self.again(
                                Verdict::Retry,
                                || format!("Graph answered 401, and no fresh token yet ({e})"),
                                Some(e.ask_again_after()),
                                number,
                            ) =>
                    {
                        self.keep_rejected(&response, read, current.secret().clone(), number);
                        return Self::inert();
                    }
                    // The 401 stays the answer (read below, with Graph's IDs); `finish` adds
                    // why no retry followed.
                    Err(Error::Authentication(e)) => self.record().refresh_failure = Some(e),
                    Err(e) => return self.fail(e),
                }
            }
            // Done with the token: not kept across the body read below.
            // The token itself goes on to the answer, whose text may repeat it (see `hand_over`).
            let sent = current.secret().clone();
            drop(current);
            // Retry-After dates are wall-clock times, whatever clock the time rules use. It
            // only matters on errors (a retry's wait, or part of Graph's error).
            let retry_after = match status.is_success() {
                true => None,
                false => retry::retry_after(response.headers(), Utc::now),
            };
            let verdict = match (foreign, self.idempotency) {
                // Whether this create was carried out is unknown, whatever the answer says.
                (true, Idempotency::NotIdempotent) => Verdict::Ambiguous,
                // createOrGet is asked again: its own answer will say.
                (true, Idempotency::Keyed) => Verdict::Retry,
                (false, _) => self.idempotency.status(status, retry_after.is_some()),
            };
            // Taken now: `again` holds the record while it asks for the reason.
            let refused = foreign.then(|| self.record().refused.clone()).flatten();
            let reason = || match foreign {
                true => format!(
                    "HTTP {status} answering another request (client-request-id {})",
                    echoed(&response, &sent, refused.as_ref())
                ),
                false => format!("HTTP {status}"),
            };
            if verdict == Verdict::Retry && self.again(verdict, reason, retry_after, number) {
                return Self::inert();
            }
            // Not this call's answer, so nothing of it is read.
            if foreign {
                return self.fail(self.foreign_answer(&response, retry_after, sent));
            }
            // Final (or out of retries): hand the answer over, body and all.
            let read = match read {
                Some(read) => read,
                None => transport::read_capped(&mut response, limit).await,
            };
            match read {
                Ok(body) => Ok(self.hand_over(&response, body, retry_after, sent)),
                // An error status says what it says however large its body: a 401 is a refusal,
                // a 429 keeps its Retry-After, create's 5xx is an unknown outcome.
                Err(ReadError::TooLarge) if !status.is_success() => {
                    let mut graph = self.noted(&response, retry_after, sent, |record| {
                        self.graph_error(status, record, None)
                    });
                    graph.message.get_or_insert_with(|| {
                        format!("the error body is larger than the limit of {limit} bytes")
                    });
                    self.fail(self.classify(graph, None))
                }
                Err(ReadError::TooLarge) => {
                    let ambiguous = verdict == Verdict::Ambiguous;
                    let unusable = self.noted(&response, retry_after, sent, |record| {
                        let error = Error::ResponseTooLarge {
                            status: status.as_u16(),
                            limit,
                            request_id: record.text(record.request_id.as_ref()),
                            attempts: number,
                            client_request_id: self.client_request_id().to_owned(),
                        };
                        self.unusable(record, ambiguous, error)
                    });
                    self.fail(unusable)
                }
                Err(ReadError::Transport(e, partial)) => {
                    // The status already told whether the service acted; only a success's
                    // cut-off body is judged as a lost answer. (A retry verdict that reached
                    // this point has run out of retries.)
                    let verdict = match verdict {
                        _ if status.is_success() => self.idempotency.transport(&e),
                        Verdict::Retry => Verdict::Final,
                        other => other,
                    };
                    if verdict == Verdict::Final && !status.is_success() {
                        return self.fail(self.cut_off(&response, retry_after, sent, &e));
                    }
                    self.cut_short(&response, e, partial, verdict, retry_after, sent, number)
                }
            }
        }
    }

    /// No token for this attempt. Nothing went to Graph, so when the token endpoint was only out
    /// of reach or busy (408, 429, 5xx, no token in time) another try is safe for either operation,
    /// within the policy's retries: it waits at least a second (longer when the endpoint said
    /// `Retry-After`) and does not count as a request sent. Anything else fails the call.
    #[cold]
    #[inline(never)]
    fn no_token(&self, error: Error, attempt: u32) -> reqwest::Result<reqwest::Response> {
        if let Error::Authentication(e) = &error {
            // Not before the endpoint's Retry-After, nor within a second: many calls waiting
            // out one outage must not ask it over and over.
            let wait = Some(e.ask_again_after());
            let reason = || format!("no token yet ({error})");
            if error.kind() == ErrorKind::Unreachable
                && self.again(Verdict::Retry, reason, wait, attempt)
            {
                self.record().attempts -= 1;
                return Self::inert();
            }
        }
        // Still waiting for the token to retry a 401 with (no request sent since): that 401
        // is the answer, and this is why no fresh token came.
        let rejected = match self.record().rejected.take() {
            Some((after, rejected)) if after + 1 == attempt => Some(rejected),
            _ => None,
        };
        match (error, rejected) {
            (Error::Authentication(refresh), Some(rejected)) => {
                self.fail(Error::Authentication(AuthError::RefreshFailed {
                    rejected,
                    refresh: Box::new(refresh),
                }))
            }
            (error, _) => self.fail(error),
        }
    }

    /// Keeps Graph's 401 (of attempt `attempt`) while the fresh token to retry it is waited
    /// for: should none come, the 401 is still what the call reports.
    #[cold]
    #[inline(never)]
    fn keep_rejected(
        &self,
        response: &reqwest::Response,
        read: Option<Result<Bytes, ReadError>>,
        sent: Secret,
        attempt: u32,
    ) {
        // Noted on a record of its own: the call's says what the final answer said, and a
        // later attempt may get none (its error must not carry this 401's status and IDs).
        let mut answer = Record {
            attempts: attempt,
            ..Record::default()
        };
        answer.note(response, None, sent.clone());
        let body = match read {
            Some(Ok(body)) => serde_json::from_slice(&answer.redacted(body)).ok(),
            _ => None,
        };
        let rejected = self.graph_error(StatusCode::UNAUTHORIZED, &answer, body);
        let mut record = self.record();
        record.rejected = Some((attempt, Box::new(rejected)));
        record.refused = Some(sent);
    }

    /// No answer, judged `verdict`: another attempt if that and the policy allow, else the
    /// error for the generated code to report.
    #[cold]
    #[inline(never)]
    fn transport_failure(
        &self,
        error: reqwest::Error,
        verdict: Verdict,
        attempt: u32,
    ) -> reqwest::Result<reqwest::Response> {
        // The whole chain for an unknown outcome: what cut the answer off ("runtime dropped
        // the dispatch task") is what the caller needs to tell a lost answer from a lost send.
        let reason = || transport::explain(&error);
        match self.again(verdict, reason, None, attempt) {
            true => Self::inert(),
            false => Err(error),
        }
    }

    /// A success whose body was cut off (`partial`, what came of it), judged `verdict`:
    /// another attempt if that and the policy allow. Else what the service said before the
    /// body was lost stays with the error: the status and the request-id to trace it by, and
    /// for an unknown outcome the bytes that came (after a 201, the meeting's `id` may be in
    /// them).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn cut_short(
        &self,
        response: &reqwest::Response,
        error: reqwest::Error,
        partial: Bytes,
        verdict: Verdict,
        retry_after: Option<Duration>,
        sent: Secret,
        attempt: u32,
    ) -> reqwest::Result<reqwest::Response> {
        let status = response.status();
        let reason = || format!("HTTP {status} with a cut-off body");
        if self.again(verdict, reason, None, attempt) {
            return Self::inert();
        }
        let mut record = self.record();
        record.note(response, retry_after, sent);
        // Blanked now, as only here is it known to be cut off: perhaps inside an echoed token
        // (of either token the call sent).
        let body = crate::secret::redact_cut(&record.tokens().collect::<Vec<_>>(), partial);
        record.body = body;
        Err(error)
    }

    /// After a failed attempt: whether another one follows, as the verdict and the policy
    /// allow (its wait noted for [`run`](Self::run)); when not, and the service may have
    /// acted, why the outcome is unknown.
    #[cold]
    #[inline(never)]
    fn again(
        &self,
        verdict: Verdict,
        reason: impl FnOnce() -> String,
        retry_after: Option<Duration>,
        attempt: u32,
    ) -> bool {
        let mut record = self.record();
        match verdict {
            Verdict::Retry => {
                record.retries += 1;
                let retries = record.retries;
                let waited = record.waited;
                let delay = match self.shared.retry.delay(retries, retry_after, waited) {
                    Ok(delay) => delay,
                    // A policy without retries has no limit to report: it was asked for.
                    Err(Refused::Retries(0)) => return false,
                    // Said because a long Retry-After ends the retries at once, which the
                    // error alone does not tell from a policy without retries. "Tried", not
                    // "sent": a try for a token sends nothing to Graph.
                    Err(limit) => {
                        tracing::warn!(
                            client_request_id = self.client_request_id(),
                            attempt,
                            reason = reason(),
                            %limit,
                            "not tried again: a limit of the retry policy"
                        );
                        return false;
                    }
                };
                tracing::warn!(
                    // What ties the retries of one call together, and to Graph's logs.
                    client_request_id = self.client_request_id(),
                    attempt,
                    // Retries after no token do not count as attempts: this one does count.
                    retry = retries,
                    reason = reason(),
                    delay_ms = delay.as_millis() as u64,
                    "retrying after a transient failure"
                );
                record.again = Some(delay);
                true
            }
            Verdict::Ambiguous => {
                record.ambiguous = Some(reason());
                false
            }
            Verdict::Final => false,
        }
    }

    /// Notes what the final answer said and rebuilds it around its buffered body for the
    /// generated code to decode. The headers stay behind: the generated code would only copy
    /// them, and what this crate reports from them is in the record, with the token that was
    /// `sent`, for whatever text of the answer becomes an error's.
    fn hand_over(
        &self,
        response: &reqwest::Response,
        body: Bytes,
        retry_after: Option<Duration>,
        sent: Secret,
    ) -> reqwest::Response {
        let status = response.status();
        let body = {
            let mut record = self.record();
            record.note(response, retry_after, sent);
            // An error's body becomes the error's text; a meeting's is kept as it came (`raw`).
            let body = match status.is_success() {
                true => body,
                false => record.redacted(body),
            };
            record.body = body.clone();
            body
        };
        // The URL is carried over, or the rebuilt response would parse a placeholder of its own.
        http::Response::builder()
            .status(status)
            .version(response.version())
            .url(response.url().clone())
            .body(body)
            .expect("status and version come from a response")
            .into()
    }

    /// Notes what a final `response`'s status and headers said, then hands the record to
    /// `then` under the same lock (which `then` must not take again).
    #[cold]
    #[inline(never)]
    fn noted<R>(
        &self,
        response: &reqwest::Response,
        retry_after: Option<Duration>,
        sent: Secret,
        then: impl FnOnce(&Record) -> R,
    ) -> R {
        let mut record = self.record();
        record.note(response, retry_after, sent);
        then(&record)
    }

    /// A final error status whose body was cut off: the status is the answer (the service
    /// did not act), so the error is Graph's, with the status and IDs, not a transport failure
    /// that would look worth repeating.
    #[cold]
    #[inline(never)]
    fn cut_off(
        &self,
        response: &reqwest::Response,
        retry_after: Option<Duration>,
        sent: Secret,
        error: &reqwest::Error,
    ) -> Error {
        let status = response.status();
        let mut graph = self.noted(response, retry_after, sent, |record| {
            self.graph_error(status, record, None)
        });
        graph.message = Some(format!(
            "the error body was cut off ({})",
            transport::describe(error)
        ));
        self.classify(graph, None)
    }

    /// An answer from create whose body cannot be had or read: after a 2xx the meeting exists,
    /// and after an `ambiguous` status (a 5xx) it may, so the caller must not treat either
    /// like a failure that is safe to repeat. Other answers keep `error`. The unknown outcome
    /// keeps what the answer's status and headers said (`record`): its `request-id` is the
    /// best lead a support case has to the meeting.
    #[cold]
    #[inline(never)]
    fn unusable(&self, record: &Record, ambiguous: bool, error: Error) -> Error {
        let Some(status) = record.status else {
            return error;
        };
        if self.idempotency != Idempotency::NotIdempotent {
            return error;
        }
        let reason = if status.is_success() {
            format!("HTTP {status}: the meeting was created but its answer is unusable ({error})")
        } else if ambiguous {
            format!(
                "HTTP {status}: the service may have acted, and its answer is unusable ({error})"
            )
        } else {
            return error;
        };
        let body = error.body().cloned();
        let graph = self.graph_error(status, record, None);
        self.outcome_unknown(reason, Some(graph), body, record.attempts)
    }

    /// The final answer is another request's (see `echoes_another`), and none of it is read:
    /// a meeting in it is another call's. After create, whatever it says and however it
    /// reads, what became of this create is unknown; createOrGet, its retries spent, gets no
    /// meeting from it. Either way its status and `request-id` are kept.
    #[cold]
    #[inline(never)]
    fn foreign_answer(
        &self,
        response: &reqwest::Response,
        retry_after: Option<Duration>,
        sent: Secret,
    ) -> Error {
        let status = response.status();
        let refused = self.record().refused.clone();
        let echoed = echoed(response, &sent, refused.as_ref());
        self.noted(response, retry_after, sent, |record| {
            let attempts = record.attempts;
            if self.idempotency == Idempotency::NotIdempotent {
                let reason = format!(
                    "HTTP {status} answering another request (it echoes client-request-id \
                     {echoed}, not this call's): nothing says what became of this one"
                );
                let answer = self.graph_error(status, record, None);
                let mut error = self.outcome_unknown(reason, Some(answer), None, attempts);
                // Whatever its status, it is not Graph's answer to this call.
                if let Error::OutcomeUnknown { graph, .. } = &mut error {
                    *graph = None;
                }
                return error;
            }
            Error::Decode {
                status: status.as_u16(),
                reason: format!(
                    "the answer is for another request (it echoes client-request-id {echoed}, \
                     not this call's)"
                ),
                body: AnswerBody::new(Bytes::new()),
                request_id: record.text(record.request_id.as_ref()),
                attempts,
                client_request_id: self.client_request_id().to_owned(),
            }
        })
    }

    /// create's unknown outcome. `answer` is what the answer that came said, as Graph's error;
    /// it is kept as one only when it is Graph's answer to this call with a status that is no
    /// success (a 5xx, a redirect not followed), not a 2xx and not another request's answer
    /// (see `foreign_answer`), and its status and `request-id` in any case.
    fn outcome_unknown(
        &self,
        reason: String,
        answer: Option<GraphError>,
        body: Option<AnswerBody>,
        attempts: u32,
    ) -> Error {
        let status = answer.as_ref().map(|a| a.status);
        let request_id = answer.as_ref().and_then(|a| a.request_id.clone());
        let graph = answer
            .filter(|a| !(200..300).contains(&a.status))
            .map(Box::new);
        Error::OutcomeUnknown {
            reason,
            graph,
            status,
            request_id,
            body,
            attempts,
            client_request_id: self.client_request_id().to_owned(),
        }
    }

    /// A success that does not answer the request: no meeting in it (no `id`: an empty
    /// object, a gateway's error sent with 200), or, for createOrGet, another externalId's
    /// meeting. It is not taken for the meeting; after create it is an unknown outcome.
    #[cold]
    #[inline(never)]
    fn not_the_meeting(&self, mut record: Record, status: StatusCode, reason: String) -> Error {
        let body = std::mem::take(&mut record.body);
        let error = Error::Decode {
            status: status.as_u16(),
            // The answer's externalId is the service's text: blanked, then cut short (a token
            // astride the cut would keep its first characters the other way round).
            reason: transport::printable_short(&record.redacted_text(&reason)),
            body: AnswerBody::new(record.redacted(body)),
            request_id: record.text(record.request_id.as_ref()),
            attempts: record.attempts,
            client_request_id: self.client_request_id().to_owned(),
        };
        self.unusable(&record, false, error)
    }

    /// Turns what the generated code returned, and what the hooks recorded, into the answer: a
    /// meeting (one with an `id`, and for createOrGet the `external_id` asked for, when the
    /// answer says one), or the error.
    fn finish(&self, result: GeneratedResult, external_id: Option<&str>) -> Result<Answer, Error> {
        // The result (over a kilobyte) is matched as it is rather than moved into a tuple
        // first, and on the way to a meeting only what the answer needs is taken out of the
        // record: each move of either is a copy.
        let mut guard = self.record();
        if let Some(failure) = guard.failure.take() {
            let refresh = guard.refresh_failure.take();
            return Err(with_refresh(failure, refresh));
        }
        match result {
            Ok(value) => {
                let no_id = value.id.as_deref().is_none_or(|id| id.trim().is_empty());
                let other = external_id.and_then(|asked| {
                    let answered = value.external_id.as_deref()?;
                    // Told apart only when clearly another: should Graph ever echo the key
                    // trimmed or in another case, the meeting is still the one asked for.
                    let same = answered.trim().eq_ignore_ascii_case(asked.trim());
                    (!same).then_some((answered, asked))
                });
                if no_id || other.is_some() {
                    let reason = match other {
                        Some((answered, asked)) if !no_id => format!(
                            "the answer is the meeting of externalId {answered:?}, not of {asked:?}"
                        ),
                        _ => "the answer carries no meeting (no id)".to_owned(),
                    };
                    let record = std::mem::take(&mut *guard);
                    drop(guard);
                    return Err(self.not_the_meeting(record, value.status(), reason));
                }
                let request_id = guard.text(guard.request_id.as_ref());
                let raw = std::mem::take(&mut guard.body);
                let attempts = guard.attempts;
                drop(guard);
                Ok(Answer {
                    status: value.status(),
                    request_id,
                    client_request_id: self.client_request_id().to_owned(),
                    meeting: Box::new(value.into_inner()),
                    raw,
                    attempts,
                })
            }
            Err(error) => {
                let mut record = std::mem::take(&mut *guard);
                drop(guard);
                let refresh = record.refresh_failure.take();
                Err(with_refresh(self.failed(record, error), refresh))
            }
        }
    }

    /// The error for a call the generated code did not answer with a meeting. Out of line:
    /// the way to a meeting is every call's, and stays short.
    #[cold]
    #[inline(never)]
    fn failed(&self, record: Record, error: progenitor_client::Error<types::OdataError>) -> Error {
        let attempts = record.attempts;
        use progenitor_client::Error as E;
        match error {
            E::ErrorResponse(value) => {
                let status = value.status();
                let graph = self.graph_error(status, &record, Some(value.into_inner()));
                self.classify(graph, kept_body(&record))
            }
            E::InvalidResponsePayload(bytes, error) => {
                let status = record.status.unwrap_or(StatusCode::OK);
                if status.is_success() {
                    let error = Error::Decode {
                        status: status.as_u16(),
                        // Blanked before it is cut short, or a token astride the cut would
                        // keep its first characters.
                        reason: transport::printable_short(
                            &record.redacted_text(&error.to_string()),
                        ),
                        body: AnswerBody::new(record.redacted(bytes)),
                        request_id: record.text(record.request_id.as_ref()),
                        attempts,
                        client_request_id: self.client_request_id().to_owned(),
                    };
                    return self.unusable(&record, false, error);
                }
                // An error status whose body is not Graph's error shape: keep the status, and
                // Graph's code and message when they are there (a field of another type
                // elsewhere in the body must not cost the caller what it sorts errors by).
                let mut graph = self.graph_error(status, &record, None);
                let loose = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                let text = |key: &str| {
                    let text = loose.as_ref()?.get("error")?.get(key)?.as_str()?;
                    Some(text.to_owned())
                };
                graph.code = text("code");
                graph.message = text("message").or_else(|| {
                    Some(format!(
                        "unreadable error body: {:?}",
                        transport::excerpt(&bytes)
                    ))
                });
                self.classify(graph, kept_body(&record))
            }
            E::CommunicationError(source) | E::ResponseBodyError(source) => {
                match &record.ambiguous {
                    Some(reason) => {
                        // An answer whose body was lost still said its status, and what came
                        // of the body is kept, blanked already (see `cut_short`).
                        let graph = record.status.map(|s| self.graph_error(s, &record, None));
                        let body =
                            (!record.body.is_empty()).then(|| AnswerBody::new(record.body.clone()));
                        self.outcome_unknown(reason.clone(), graph, body, attempts)
                    }
                    None => Error::Transport {
                        cause: std::sync::Arc::new(source),
                        attempts,
                        client_request_id: self.client_request_id().to_owned(),
                        status: record.status.map(|s| s.as_u16()),
                        request_id: record.text(record.request_id.as_ref()),
                    },
                }
            }
            E::UnexpectedResponse(response) => {
                let status = response.status();
                let mut graph = self.graph_error(status, &record, None);
                if let Some(redirect) = redirect_message(status, &record) {
                    graph.message = Some(redirect);
                    // A 303 after create is an unknown outcome (see `Idempotency::status`).
                } else if status.is_success() {
                    // A success the operation does not declare (create answers 201): the body
                    // may well be the meeting, so it is kept where the caller sees it. It is
                    // no error of Graph's: after createOrGet, an answer that cannot be used.
                    let body = AnswerBody::new(record.redacted(record.body.clone()));
                    if self.idempotency == Idempotency::NotIdempotent {
                        let reason = format!("HTTP {status} instead of 201 Created");
                        return self.outcome_unknown(reason, Some(graph), Some(body), attempts);
                    }
                    return Error::Decode {
                        status: status.as_u16(),
                        reason: format!(
                            "HTTP {status} is not an answer createOrGet gives (201 or 200)"
                        ),
                        body,
                        request_id: graph.request_id,
                        attempts,
                        client_request_id: self.client_request_id().to_owned(),
                    };
                } else {
                    graph.message = Some("unexpected status".into());
                }
                self.classify(graph, kept_body(&record))
            }
            other => Error::Config(other.to_string()),
        }
    }

    /// Graph's error, sorted: a 401 is a refusal, and after create a status that leaves the
    /// outcome unknown is that, keeping what was read of the answer's `body`.
    fn classify(&self, graph: GraphError, body: Option<AnswerBody>) -> Error {
        let status =
            StatusCode::from_u16(graph.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::UNAUTHORIZED {
            return Error::Authentication(AuthError::Rejected(Box::new(graph)));
        }
        if self.idempotency.status(status, graph.retry_after.is_some()) == Verdict::Ambiguous {
            let attempts = graph.attempts;
            return self.outcome_unknown(format!("HTTP {status}"), Some(graph), body, attempts);
        }
        Error::Graph(Box::new(graph))
    }
}

/// Random bits for a `client-request-id`. It correlates a call with Graph's logs and is not a
/// secret, so it comes from a fast generator per thread, seeded once from the OS (through std's
/// `RandomState`), instead of uuid's v4, which asks the OS on every call (a system call, about
/// 0.7 µs here). fastrand's own global generator is not used: it seeds from the clock.
fn correlation_bits() -> [u8; 16] {
    use std::{cell::RefCell, collections::hash_map::RandomState, hash::BuildHasher};
    thread_local! {
        static BITS: RefCell<fastrand::Rng> =
            RefCell::new(fastrand::Rng::with_seed(RandomState::new().hash_one(())));
    }
    BITS.with(|rng| rng.borrow_mut().u128(..).to_le_bytes())
}

/// A redirect (not a 304), not followed, and where it points, blanked and printable: after
/// create, a 303's target is where the meeting made may be found.
fn redirect_message(status: StatusCode, record: &Record) -> Option<String> {
    if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return None;
    }
    let to = record
        .text(record.location.as_ref())
        .map(|to| format!(" to {:?}", transport::excerpt(to.as_bytes())))
        .unwrap_or_default();
    Some(format!(
        "unexpected redirect{to}; redirects are not followed so credentials stay with Graph"
    ))
}

/// What was read of a final answer's body (blanked already: see `hand_over`), for an error
/// that keeps it.
fn kept_body(record: &Record) -> Option<AnswerBody> {
    (!record.body.is_empty()).then(|| AnswerBody::new(record.body.clone()))
}

/// Graph's 401, when no fresh token could be had for the retry (`refresh`): both, so that the
/// caller learns why no retry followed as well as what Graph said.
fn with_refresh(error: Error, refresh: Option<AuthError>) -> Error {
    match (error, refresh) {
        (Error::Authentication(AuthError::Rejected(rejected)), Some(refresh)) => {
            Error::Authentication(AuthError::RefreshFailed {
                rejected,
                refresh: Box::new(refresh),
            })
        }
        (error, _) => error,
    }
}

impl Call {
    /// Graph's error from the final response: its status, the headers the hooks recorded and
    /// the body when it was Graph's error shape. The `client-request-id` is the one Graph
    /// echoed or put in its body, else the one this call sent: a support case needs one.
    fn graph_error(
        &self,
        status: StatusCode,
        record: &Record,
        body: Option<types::OdataError>,
    ) -> GraphError {
        let main = body.as_ref().and_then(|b| b.error.as_ref());
        let inner = main.and_then(|m| m.inner_error.as_ref());
        GraphError {
            status: status.as_u16(),
            code: main.and_then(|m| m.code.clone()),
            // A redirect's target, when Graph's body says nothing: its body may well be cut off
            // (a 303 after create says where the meeting made is).
            message: main
                .and_then(|m| m.message.clone())
                .or_else(|| redirect_message(status, record)),
            request_id: record
                .text(record.request_id.as_ref())
                .or_else(|| inner.and_then(|i| i.request_id.clone())),
            // The call's own: what Graph echoes when the answer is this call's, and what a
            // support case must go by when it is not.
            client_request_id: Some(self.client_request_id().to_owned()),
            date: inner.and_then(|i| i.date.clone()),
            retry_after: record.retry_after,
            attempts: record.attempts,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_differ_between_calls_and_threads() {
        // A generator seeded the same way on every thread would repeat another thread's IDs.
        let here = [super::correlation_bits(), super::correlation_bits()];
        let there = std::thread::spawn(super::correlation_bits).join().unwrap();
        assert_ne!(here[0], here[1]);
        assert!(!here.contains(&there));
    }
}
