//! `/_emulator/...`: control of a running emulator over HTTP, for tests in other processes and
//! other languages (in-process tests use [`Emulator`](super::Emulator) directly).
//!
//! - `POST /_emulator/faults` `{"fault": "throttle", "retryAfterSeconds": 2, "count": 3}`;
//!   `fault` is one of `status` (with `status`, optional `retryAfterSeconds`), `throttle`
//!   (429; `retryAfterSeconds` defaults to 1), `drop`, `delay` (`delayMs`), `applyThenDelay`
//!   (`delayMs`), `applyThenStatus` (`status`), `applyThenDrop`, `truncatedBody`; `count`
//!   defaults to 1.
//! - `DELETE /_emulator/faults`: forget queued faults.
//! - `GET /_emulator/stats`: `{"meetings", "graphRequests", "tokenRequests", "pendingFaults"}`.
//! - `POST /_emulator/revoke-tokens`: every issued application token now gets 401.
//!
//! Only for clients on this machine: a request whose `Host` or `Origin` names another host is
//! refused (403), and faults come as `application/json` only (415). Otherwise a web page open
//! in a browser beside the emulator could drive it, by a form's plain-text POST or by DNS
//! rebinding.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State as Shared},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    faults::{Fault, MAX_PENDING_FAULTS},
    State,
};
use crate::transport;

pub(super) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/faults", post(add_faults).delete(clear_faults))
        .route("/stats", get(stats))
        .route("/revoke-tokens", post(revoke_tokens))
        .route_layer(axum::middleware::from_fn(from_this_machine))
}

/// Refuses what a browser sends on behalf of another site: a `Host` that is not loopback (DNS
/// rebinding), an `Origin` that is not (a cross-site request; `null` included).
async fn from_this_machine(request: Request, next: Next) -> Response {
    if !from_loopback(request.headers()) {
        let message = "the emulator's control endpoints answer clients on this machine only";
        return (StatusCode::FORBIDDEN, Json(json!({"error": message}))).into_response();
    }
    next.run(request).await
}

fn from_loopback(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let host_ok = header(header::HOST).is_none_or(loopback_authority);
    let origin_ok = header(header::ORIGIN)
        .is_none_or(|origin| url::Url::parse(origin).is_ok_and(|u| transport::is_loopback(&u)));
    host_ok && origin_ok
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port (digits after one `:`).
fn loopback_authority(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && (host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    fault: String,
    status: Option<u16>,
    retry_after_seconds: Option<u64>,
    delay_ms: Option<u64>,
    count: Option<usize>,
}

/// A fault request is a few fields; this is generous.
const MAX_FAULT_REQUEST_BYTES: usize = 64 * 1024;

async fn add_faults(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // A browser sends `text/plain` across sites without asking first; JSON it must ask for.
    if !super::body::content_type_is(&headers, "application/json") {
        let message = "a fault request is JSON: Content-Type: application/json";
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Json(json!({"error": message})),
        )
            .into_response();
    }
    // Read as Graph's routes read theirs: within `BODY_TIME`, so that a helper that stalls
    // mid-body does not hold a connection (of the emulator's few hundred) for good.
    let body = match super::body::read_capped(&headers, body, MAX_FAULT_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            let failure = e.failure();
            return (failure.status, Json(json!({"error": failure.message}))).into_response();
        }
    };
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(format!("unreadable fault request: {e}")),
    };
    let count = request.count.unwrap_or(1);
    if count == 0 || count > MAX_PENDING_FAULTS {
        return refuse(format!("count must be 1..={MAX_PENDING_FAULTS}"));
    }
    let fault = match to_fault(&request) {
        Ok(f) => f,
        Err(message) => return refuse(message),
    };
    state.faults.push_n(count, fault);
    Json(json!({"pending": state.faults.pending()})).into_response()
}

fn to_fault(r: &FaultRequest) -> Result<Fault, String> {
    let status = || match r.status {
        Some(s) if (400..=599).contains(&s) => Ok(s),
        _ => Err(format!("fault {:?} needs a status of 400..=599", r.fault)),
    };
    let retry_after = r.retry_after_seconds.map(Duration::from_secs);
    // At most ten minutes: a queued fault must not hold a connection for ever.
    let delay = || match r.delay_ms {
        Some(ms) => Ok(Duration::from_millis(ms.min(600_000))),
        None => Err(format!("fault {:?} needs delayMs", r.fault)),
    };
    Ok(match r.fault.as_str() {
        "status" => Fault::Status {
            status: status()?,
            retry_after,
        },
        "throttle" => Fault::throttle(retry_after.unwrap_or(Duration::from_secs(1))),
        "drop" => Fault::Drop,
        "delay" => Fault::Delay(delay()?),
        "applyThenDelay" => Fault::ApplyThenDelay(delay()?),
        "applyThenStatus" => Fault::ApplyThenStatus(status()?),
        "applyThenDrop" => Fault::ApplyThenDrop,
        "truncatedBody" => Fault::TruncatedBody,
        other => return Err(format!("unknown fault {other:?}")),
    })
}

async fn clear_faults(Shared(state): Shared<Arc<State>>) -> Response {
    state.faults.clear();
    Json(json!({"pending": 0})).into_response()
}

async fn stats(Shared(state): Shared<Arc<State>>) -> Response {
    Json(json!({
        "meetings": state.store().len(),
        "graphRequests": state.graph_requests(),
        "tokenRequests": state.token_requests(),
        "pendingFaults": state.faults.pending(),
    }))
    .into_response()
}

async fn revoke_tokens(Shared(state): Shared<Arc<State>>) -> StatusCode {
    state.tokens.revoke_all();
    StatusCode::NO_CONTENT
}

fn refuse(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::{
        body::{Body, Bytes},
        http::{header, Request, StatusCode},
    };
    use futures_util::StreamExt;
    use tower::ServiceExt;

    use super::*;
    use crate::times::FixedClock;

    #[tokio::test(start_paused = true)]
    async fn a_fault_request_whose_body_stops_coming_is_given_up_on() {
        // As Graph's routes do: within `BODY_TIME`, then 408, the connection free again.
        let state = Arc::new(State::new(
            "http://127.0.0.1:1".into(),
            None,
            Arc::new(FixedClock(chrono::Utc::now())),
        ));
        let first = futures_util::stream::once(async {
            Ok::<_, std::io::Error>(Bytes::from("{\"fault\""))
        });
        let stalled = Body::from_stream(first.chain(futures_util::stream::pending()));
        let request = Request::post("/faults")
            .header(header::HOST, "127.0.0.1")
            .header(header::CONTENT_TYPE, "application/json")
            .body(stalled)
            .unwrap();
        let started = tokio::time::Instant::now();
        let answer = router().with_state(state).oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), crate::emulator::body::BODY_TIME);
    }
}
