//! Graph's answer envelope: the request IDs stamped on every response, and the error body
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.

use std::time::Duration;

use axum::{
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde_json::json;

const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
const DIAGNOSTIC: HeaderName = HeaderName::from_static("x-ms-ags-diagnostic");

/// Content type Graph sends with an entity.
pub(super) const ENTITY_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The IDs Graph puts on an answer: its own `request-id`, and the caller's `client-request-id`
/// echoed (or the request-id when the caller sent none or an unusable one).
#[derive(Debug, Clone)]
pub(super) struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

impl RequestIds {
    pub fn new(headers: &HeaderMap) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get(CLIENT_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map_or_else(|| request_id.clone(), str::to_owned);
        Self {
            request_id,
            client_request_id,
        }
    }

    /// Adds the IDs and Graph's diagnostic header to `response`.
    pub fn stamp(&self, response: &mut Response) {
        let headers = response.headers_mut();
        for (name, value) in [
            (REQUEST_ID, &self.request_id),
            (CLIENT_REQUEST_ID, &self.client_request_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        headers.insert(
            DIAGNOSTIC,
            HeaderValue::from_static(
                r#"{"ServerInfo":{"DataCenter":"Loopback","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graph-meetings-emulator"}}"#,
            ),
        );
    }
}

/// A refusal in Graph's shape.
#[derive(Debug, Clone)]
pub(super) struct GraphFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl GraphFailure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 413: a request body past one of the emulator's bounds.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            message,
        )
    }

    /// The usual code and message for a status that carries no more specific reason.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            401 => (
                "InvalidAuthenticationToken",
                "Access token validation failure.",
            ),
            403 => ("Forbidden", "Forbidden"),
            429 => (
                "TooManyRequests",
                "Too many requests; retry after the time in the Retry-After header.",
            ),
            503 => (
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            ),
            504 => ("GatewayTimeout", "The gateway timed out."),
            500 => ("InternalServerError", "An internal server error occurred."),
            _ => ("UnknownError", "Injected failure."),
        };
        Self::new(status, code, message)
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The response, stamped with `ids` and dated `now` as Graph dates its innerError.
    pub fn into_response(self, ids: &RequestIds, now: DateTime<Utc>) -> Response {
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": ids.request_id,
                    "client-request-id": ids.client_request_id,
                }
            }
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(wait));
        }
        ids.stamp(&mut response);
        response
    }
}

/// `Retry-After` for `wait`: whole seconds, rounded up, so a client never retries earlier than
/// asked.
pub(super) fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(
        wait.as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0)),
    )
}
