//! The two meeting operations, from an authenticated request to the answer, with the injected
//! faults applied around them.

use std::io;

use axum::{
    body::Body,
    http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde_json::Value;

use super::{
    body::{self, MAX_REQUEST_BYTES},
    directory::UserRef,
    faults::{error_status, Fault},
    graph_error::{GraphFailure, RequestIds, ENTITY_CONTENT_TYPE},
    join_info, meeting,
    request::{self, Operation},
    rules,
    server::ConnectionControl,
    store::Key,
    tokens::Caller,
    State,
};
use crate::ApiVersion;

/// How long a truncated body waits before the connection is cut.
const TRUNCATION_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Whose meetings the path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Me,
    /// The `{userId}` segment, percent-decoded.
    User(String),
}

/// One call of an operation.
pub(super) struct Call {
    pub version: ApiVersion,
    pub target: Target,
    pub operation: Operation,
}

/// Answers one request to a meeting operation.
pub(super) async fn handle(
    state: &State,
    call: Call,
    parts: Parts,
    body: Bytes,
    control: Option<ConnectionControl>,
) -> Response {
    state.receive(&parts, &body);
    let ids = RequestIds::new(&parts.headers);
    if parts.method != Method::POST {
        let failure = GraphFailure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            format!(
                "The method '{}' is not supported here; use POST.",
                parts.method
            ),
        );
        return failure.into_response(&ids, state.clock.now());
    }

    let after = match state.faults.take() {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            return GraphFailure::for_status(error_status(status))
                .with_retry_after(retry_after)
                .into_response(&ids, state.clock.now());
        }
        Some(Fault::Drop) => return close(control).await,
        Some(Fault::Delay(wait)) => {
            tokio::time::sleep(wait).await;
            None
        }
        later => later,
    };

    let (status, meeting) = match act(state, call, &parts, Body::from(body)).await {
        Ok(done) => done,
        Err(failure) => return failure.into_response(&ids, state.clock.now()),
    };
    let bytes = Bytes::from(meeting.to_string());
    if let Some(Fault::ApplyThenDelay(wait)) = after {
        // Done already: dropped here (the caller gone), the meeting stays.
        tokio::time::sleep(wait).await;
    }
    match after {
        Some(Fault::ApplyThenStatus(status)) => {
            GraphFailure::for_status(error_status(status)).into_response(&ids, state.clock.now())
        }
        Some(Fault::ApplyThenDrop) => close(control).await,
        Some(Fault::TruncatedBody) => {
            let whole = bytes.len();
            let part = bytes.slice(..whole / 2);
            // Half the body, a pause so it is flushed with the headers, then an error, which
            // makes hyper close the connection short of the announced length.
            let chunks = futures_util::stream::unfold(Some(part), |part| async move {
                match part {
                    Some(part) => Some((Ok(part), None)),
                    None => {
                        tokio::time::sleep(TRUNCATION_PAUSE).await;
                        let cut: io::Result<Bytes> = Err(io::Error::other("injected truncation"));
                        Some((cut, None))
                    }
                }
            });
            let mut response = entity(status, Body::from_stream(chunks));
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(whole));
            ids.stamp(&mut response);
            response
        }
        _ => {
            let mut response = entity(status, Body::from(bytes));
            ids.stamp(&mut response);
            if asks_for_evolved_members(&parts.headers) {
                response.headers_mut().insert(
                    "preference-applied",
                    HeaderValue::from_static(EVERY_ENUM_MEMBER),
                );
            }
            response
        }
    }
}

/// Authenticates, checks and performs the operation: the status and the meeting.
async fn act(
    state: &State,
    call: Call,
    parts: &Parts,
    request_body: Body,
) -> Result<(StatusCode, Value), GraphFailure> {
    let caller = state.tokens.authenticate(&parts.headers)?;
    let organizer = match (&call.target, &caller) {
        (Target::Me, Caller::Delegated { user, .. }) => user.clone(),
        (Target::Me, Caller::Application { .. }) => {
            return Err(GraphFailure::bad_request(
                "/me request is only valid with delegated authentication flow.",
            ))
        }
        (Target::User(segment), _) => {
            let named = UserRef::resolve(segment).ok_or_else(|| {
                GraphFailure::new(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    format!(
                        "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                        segment.chars().take(128).collect::<String>()
                    ),
                )
            })?;
            // A delegated token acts as its signed-in user only; making meetings for others
            // takes an application token (and an application access policy).
            if let Caller::Delegated { user, .. } = &caller {
                if named.id != user.id {
                    return Err(GraphFailure::new(
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        "A delegated token can act only for its signed-in user: use /me, or an \
                         application token for /users/{id}.",
                    ));
                }
            }
            named
        }
    };
    if !body::content_type_is(&parts.headers, "application/json") {
        return Err(GraphFailure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "The Content-Type must be application/json.",
        ));
    }
    let bytes = body::read_capped(&parts.headers, request_body, MAX_REQUEST_BYTES)
        .await
        .map_err(|unread| unread.failure())?;
    let now = state.clock.now();
    let asked = request::parse(call.operation, call.version, &bytes, now)?;
    let language = parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let tenant = caller.tenant();
    let origin = meeting::Origin {
        root: &state.root,
        version: call.version,
        tenant,
        organizer: &organizer,
        now,
    };
    let full = || {
        GraphFailure::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "QuotaLimitReached",
            "The emulator holds as many meetings as it keeps; start a new one.",
        )
    };
    let (status, mut meeting) = match (call.operation, asked.external_id.clone()) {
        (Operation::CreateOrGet, Some(external_id)) => {
            let key = Key {
                tenant: tenant.to_owned(),
                user: organizer.id.clone(),
                external_id,
            };
            let (meeting, created) = state
                .store()
                .get_or_insert(key, || meeting::build(&asked, &origin, language))
                .map_err(|_| full())?;
            if created {
                (StatusCode::CREATED, meeting)
            } else {
                // The stored meeting as this request's version shows it, its invitation in
                // this request's language.
                let mut meeting = meeting::fit_version(meeting, &origin);
                meeting["joinInformation"] = join_info::render(&meeting, language);
                (StatusCode::OK, meeting)
            }
        }
        _ => {
            let meeting = meeting::build(&asked, &origin, language);
            state.store().add();
            (StatusCode::CREATED, meeting)
        }
    };
    // As stored, and as shown to a request that asked for every member.
    if !asks_for_evolved_members(&parts.headers) {
        if let (Ok(rules), Value::Object(fields)) = (rules::get(), &mut meeting) {
            rules.hide_evolved_members(fields);
        }
    }
    Ok((status, meeting))
}

/// The preference for every member of an evolvable enumeration, which Graph also names in
/// `Preference-Applied` when it honoured it.
const EVERY_ENUM_MEMBER: &str = "include-unknown-enum-members";

/// `Prefer: include-unknown-enum-members`, among any other preferences (comma-separated, or
/// in headers of their own).
fn asks_for_evolved_members(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| preference.trim().eq_ignore_ascii_case(EVERY_ENUM_MEMBER))
}

fn entity(status: StatusCode, body: Body) -> Response {
    (status, [(header::CONTENT_TYPE, ENTITY_CONTENT_TYPE)], body).into_response()
}

/// Closes the connection without answering.
pub(super) async fn close(control: Option<ConnectionControl>) -> Response {
    match control {
        Some(control) => {
            control.close_without_answer();
            std::future::pending().await
        }
        // Served outside the emulator's own server: the nearest thing is an empty 502.
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}
