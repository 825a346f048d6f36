//! One call: the generated client's hooks, the attempt loop, and the mapping of what happened
//! to [`Error`].
//!
//! The generated code builds the request (typed body, encoded path) and decodes the answer. In
//! between, its `exec` hook hands the request to [`CallContext::execute`], which adds the
//! bearer token and request IDs, retries as the operation allows, and buffers the body under
//! the cap. Failures the generated code has no words for are kept in the context and win over
//! whatever it returns.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, ResponseValue};
use reqwest::{
    header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION},
    StatusCode,
};

use super::Shared;
use crate::{
    auth::AccessToken,
    error::{AuthError, Error, GraphError},
    generated,
    retry::{self, Idempotency, Verdict},
    transport::{self, ReadError},
    types,
};

const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const REQUEST_ID: &str = "request-id";
const RETRY_ATTEMPT: HeaderName = HeaderName::from_static("retry-attempt");

/// The per-call state the generated client carries as its inner value.
#[derive(Debug, Clone)]
pub struct CallContext {
    shared: Arc<Shared>,
    idempotency: Idempotency,
    client_request_id: HeaderValue,
    record: Arc<Mutex<Record>>,
}

/// What happened during the call, for [`CallContext::finish`].
#[derive(Debug, Default)]
struct Record {
    attempts: u32,
    /// A failure the generated code cannot express; it takes precedence.
    failure: Option<Error>,
    /// Why a non-idempotent request's outcome is unknown.
    ambiguous: Option<String>,
    /// Status, Retry-After and body of the final response.
    status: Option<StatusCode>,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// A successful answer, before it is shaped for the operation.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub meeting: types::OnlineMeeting,
    pub request_id: Option<String>,
    pub client_request_id: String,
    pub raw: Bytes,
}

impl ClientHooks<CallContext> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        // The generator adds the spec's version as a header; Graph takes it from the path.
        request.headers_mut().remove("api-version");
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        self.inner().execute(self.client(), request).await
    }
}

impl CallContext {
    pub(crate) fn new(shared: Arc<Shared>, idempotency: Idempotency) -> Self {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        Self {
            shared,
            idempotency,
            client_request_id: HeaderValue::from_str(&id).expect("a UUID is a valid header value"),
            record: Arc::default(),
        }
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `error` for `finish` and gives the generated code an inert answer to discard.
    fn fail(&self, error: Error) -> reqwest::Result<reqwest::Response> {
        self.record().failure = Some(error);
        Ok(http::Response::new(Bytes::new()).into())
    }

    /// Sends `request` until it has a final answer, as the operation's retry rule allows.
    async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let shared = &*self.shared;
        request
            .headers_mut()
            .insert(CLIENT_REQUEST_ID, self.client_request_id.clone());

        let mut retries = 0u32;
        let mut waited = Duration::ZERO;
        let mut reauthenticated = false;
        let mut token: Option<AccessToken> = None;
        loop {
            let current = match token.take() {
                Some(t) => t,
                None => match shared.tokens.token().await {
                    Ok(t) => t,
                    Err(e) => return self.fail(Error::Authentication(e)),
                },
            };
            let Some(mut attempt) = request.try_clone() else {
                return self.fail(Error::Config("request body cannot be replayed".into()));
            };
            let Ok(mut bearer) =
                HeaderValue::from_str(&format!("Bearer {}", current.secret().expose()))
            else {
                return self.fail(Error::Authentication(AuthError::Provider(
                    "the token has characters that cannot be sent in a header".into(),
                )));
            };
            bearer.set_sensitive(true);
            attempt.headers_mut().insert(AUTHORIZATION, bearer);
            let number = {
                let mut record = self.record();
                record.attempts += 1;
                record.attempts
            };
            if number > 1 {
                attempt
                    .headers_mut()
                    .insert(RETRY_ATTEMPT, HeaderValue::from(number - 1));
            }

            let response = match http.execute(attempt).await {
                Ok(response) => response,
                Err(e) => {
                    let verdict = self.idempotency.transport(&e);
                    if verdict == Verdict::Retry
                        && self
                            .pause(&mut retries, &mut waited, None, &describe(&e), number)
                            .await
                    {
                        continue;
                    }
                    if verdict == Verdict::Ambiguous {
                        self.record().ambiguous = Some(describe(&e));
                    }
                    return Err(e);
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                // 401: the service did not act, so a fresh token may try again, once.
                reauthenticated = true;
                shared.tokens.invalidate(&current);
                match shared.tokens.token().await {
                    Ok(fresh) if fresh != current => {
                        tracing::info!(
                            attempt = number,
                            "Graph answered 401; retrying once with a fresh token"
                        );
                        token = Some(fresh);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => return self.fail(Error::Authentication(e)),
                }
            }
            let retry_after = retry::retry_after(response.headers(), shared.clock.now());
            if self.idempotency.status(status, retry_after.is_some()) == Verdict::Retry
                && self
                    .pause(
                        &mut retries,
                        &mut waited,
                        retry_after,
                        &format!("HTTP {status}"),
                        number,
                    )
                    .await
            {
                continue;
            }
            // Final (or out of retries): hand the answer over, body and all.
            match self.buffer(response, retry_after).await {
                Ok(answer) => return Ok(answer),
                Err(ReadError::TooLarge) => {
                    let limit = shared.max_response_bytes;
                    return self.fail(Error::ResponseTooLarge {
                        status: status.as_u16(),
                        limit,
                    });
                }
                Err(ReadError::Transport(e)) => {
                    let reason = format!("HTTP {status} with a cut-off body");
                    let verdict = self.idempotency.transport(&e);
                    if verdict == Verdict::Retry
                        && self
                            .pause(&mut retries, &mut waited, None, &reason, number)
                            .await
                    {
                        continue;
                    }
                    if verdict == Verdict::Ambiguous {
                        self.record().ambiguous = Some(reason);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Waits before the next retry if the policy allows one; `false` when retries are over.
    async fn pause(
        &self,
        retries: &mut u32,
        waited: &mut Duration,
        retry_after: Option<Duration>,
        reason: &str,
        attempt: u32,
    ) -> bool {
        *retries += 1;
        let Some(delay) = self.shared.retry.delay(*retries, retry_after, *waited) else {
            return false;
        };
        tracing::warn!(
            attempt,
            reason,
            delay_ms = delay.as_millis() as u64,
            "retrying after a transient failure"
        );
        tokio::time::sleep(delay).await;
        *waited += delay;
        true
    }

    /// Reads the body under the cap and rebuilds a response the generated code can decode.
    async fn buffer(
        &self,
        response: reqwest::Response,
        retry_after: Option<Duration>,
    ) -> Result<reqwest::Response, ReadError> {
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        let body = transport::read_capped(response, self.shared.max_response_bytes).await?;
        {
            let mut record = self.record();
            record.status = Some(status);
            record.retry_after = retry_after;
            record.body = body.clone();
        }
        let mut rebuilt = http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        Ok(rebuilt.into())
    }

    /// Turns what the generated code returned, and what the hooks recorded, into the answer.
    pub(crate) fn finish(
        self,
        result: Result<
            ResponseValue<types::OnlineMeeting>,
            progenitor_client::Error<types::OdataError>,
        >,
    ) -> Result<Answer, Error> {
        let client_request_id = self
            .client_request_id
            .to_str()
            .unwrap_or_default()
            .to_owned();
        let mut record = std::mem::take(&mut *self.record());
        if let Some(failure) = record.failure.take() {
            return Err(failure);
        }
        let attempts = record.attempts;
        let status = record.status;
        use progenitor_client::Error as E;
        match result {
            Ok(value) => Ok(Answer {
                status: value.status(),
                request_id: header(value.headers(), REQUEST_ID),
                client_request_id,
                meeting: value.into_inner(),
                raw: record.body,
            }),
            Err(E::ErrorResponse(value)) => {
                let (status, headers) = (value.status().as_u16(), value.headers().clone());
                let graph = GraphError::from_response(
                    status,
                    &headers,
                    Some(value.into_inner()),
                    record.retry_after,
                    attempts,
                );
                Err(self.classify(graph))
            }
            Err(E::InvalidResponsePayload(bytes, error)) => {
                let status = status.map_or(0, |s| s.as_u16());
                if (200..300).contains(&status) {
                    return Err(Error::Decode {
                        status,
                        reason: error.to_string(),
                        excerpt: transport::excerpt(&bytes),
                    });
                }
                // An error status whose body is not Graph's error shape: keep the status.
                let mut graph = GraphError::from_response(
                    status,
                    &HeaderMap::new(),
                    None,
                    record.retry_after,
                    attempts,
                );
                graph.message = Some(format!(
                    "unreadable error body: {:?}",
                    transport::excerpt(&bytes)
                ));
                Err(self.classify(graph))
            }
            Err(E::CommunicationError(source) | E::ResponseBodyError(source)) => {
                match record.ambiguous {
                    Some(reason) => Err(Error::OutcomeUnknown {
                        reason,
                        graph: None,
                        attempts,
                    }),
                    None => Err(Error::Transport { source, attempts }),
                }
            }
            Err(E::UnexpectedResponse(response)) => {
                let mut graph = GraphError::from_response(
                    response.status().as_u16(),
                    response.headers(),
                    None,
                    record.retry_after,
                    attempts,
                );
                graph.message = Some(if response.status().is_redirection() {
                    "unexpected redirect; redirects are not followed so credentials stay with Graph"
                        .into()
                } else {
                    "unexpected status".into()
                });
                Err(self.classify(graph))
            }
            Err(other) => Err(Error::Config(other.to_string())),
        }
    }

    fn classify(&self, graph: GraphError) -> Error {
        let status =
            StatusCode::from_u16(graph.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::UNAUTHORIZED {
            return Error::Authentication(AuthError::Rejected(Box::new(graph)));
        }
        if self.idempotency.status(status, graph.retry_after.is_some()) == Verdict::Ambiguous {
            let attempts = graph.attempts;
            return Error::OutcomeUnknown {
                reason: format!("HTTP {status}"),
                graph: Some(Box::new(graph)),
                attempts,
            };
        }
        Error::Graph(Box::new(graph))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out after the request was sent".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "connection lost before a complete answer".into()
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl GraphError {
    fn from_response(
        status: u16,
        headers: &HeaderMap,
        body: Option<types::OdataError>,
        retry_after: Option<Duration>,
        attempts: u32,
    ) -> Self {
        let main = body.as_ref().and_then(|b| b.error.as_ref());
        let inner = main.and_then(|m| m.inner_error.as_ref());
        GraphError {
            status,
            code: main.and_then(|m| m.code.clone()),
            message: main.and_then(|m| m.message.clone()),
            request_id: header(headers, REQUEST_ID)
                .or_else(|| inner.and_then(|i| i.request_id.clone())),
            client_request_id: header(headers, "client-request-id")
                .or_else(|| inner.and_then(|i| i.client_request_id.clone())),
            date: inner.and_then(|i| i.date.clone()),
            retry_after,
            attempts,
            body,
        }
    }
}
