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

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::State as Shared,
    http::StatusCode,
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

pub(super) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/faults", post(add_faults).delete(clear_faults))
        .route("/stats", get(stats))
        .route("/revoke-tokens", post(revoke_tokens))
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

async fn add_faults(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
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
