//! `POST /{tenant}/oauth2/v2.0/token`: the identity platform's client-credentials grant, with
//! its error shape (`error`, `error_description` starting with an `AADSTS` code,
//! `error_codes`), so clients can be tested against refusals as well as successes.

use axum::{
    body::Body,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    body,
    faults::{error_status, Fault},
    graph_error,
    operations::close,
    server::ConnectionControl,
    State,
};

/// Token requests are small forms.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Lifetime announced for issued tokens, as the identity platform usually does.
const EXPIRES_IN: u64 = 3599;

/// Answers one token request.
pub(super) async fn token(
    state: &State,
    tenant: &str,
    headers: &HeaderMap,
    body: Body,
    control: Option<ConnectionControl>,
) -> Response {
    state.count_token_request();
    let failing = |status: u16, retry_after: Option<std::time::Duration>| {
        // As the meetings' queue does: a status that is no error is sent as 500.
        let status = error_status(status).as_u16();
        let mut response = Refusal::new(
            status,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Try again.",
        )
        .into_response(state);
        if let Some(wait) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, graph_error::retry_after(wait));
        }
        response
    };
    match state.token_faults.take() {
        Some(Fault::Status {
            status,
            retry_after,
        }) => return failing(status, retry_after),
        Some(Fault::ApplyThenStatus(status)) => return failing(status, None),
        Some(Fault::Drop | Fault::ApplyThenDrop | Fault::TruncatedBody) => {
            return close(control).await
        }
        Some(Fault::Delay(wait) | Fault::ApplyThenDelay(wait)) => tokio::time::sleep(wait).await,
        _ => {}
    }
    match issue(state, tenant, headers, body).await {
        Ok(token) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store, no-cache"),
            ],
            json!({
                "token_type": "Bearer",
                "expires_in": EXPIRES_IN,
                "ext_expires_in": EXPIRES_IN,
                "access_token": token,
            })
            .to_string(),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(state),
    }
}

async fn issue(
    state: &State,
    tenant: &str,
    headers: &HeaderMap,
    request: Body,
) -> Result<String, Refusal> {
    let valid_tenant = !tenant.is_empty()
        && tenant.len() <= 256
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid_tenant {
        return Err(Refusal::new(
            400,
            "invalid_request",
            90002,
            "Tenant not found. Check the tenant ID or domain in the URL.",
        ));
    }
    if !body::content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(Refusal::new(
            400,
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let form = body::read_capped(headers, request, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            Refusal::new(
                400,
                "invalid_request",
                900144,
                "The request body is too large or incomplete.",
            )
        })?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&form)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .filter(|value| !value.is_empty())
    };
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(Refusal::new(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type; this emulator issues client_credentials only.",
            ))
        }
        None => return Err(missing("grant_type")),
    }
    field("client_id").ok_or_else(|| missing("client_id"))?;
    let scope = field("scope").ok_or_else(|| missing("scope"))?;
    let Some(secret) = field("client_secret") else {
        return Err(Refusal::new(
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ));
    };
    if state
        .client_secret
        .as_ref()
        .is_some_and(|expected| expected.expose() != secret)
    {
        return Err(Refusal::new(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        ));
    }
    if !scope.split(' ').all(|s| s.ends_with("/.default")) {
        return Err(Refusal::new(
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        ));
    }
    // One resource per request, as the identity platform has it, and the token is for that
    // resource: Graph takes only its own (any cloud's root, or its application ID).
    let mut resources = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches("/.default").trim_end_matches('/'));
    let first = resources.next().unwrap_or_default();
    if resources.any(|other| !other.eq_ignore_ascii_case(first)) {
        return Err(Refusal::new(
            400,
            "invalid_scope",
            70011,
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid: it names more than one resource."),
        ));
    }
    Ok(state.tokens.issue(tenant, is_graph(first)))
}

/// Whether a scope's resource is Microsoft Graph: a token for anything else is refused by
/// Graph's routes as a token of another audience.
fn is_graph(resource: &str) -> bool {
    let resource = resource.to_ascii_lowercase();
    resource == GRAPH_APP_ID || crate::Cloud::of_scope(&format!("{resource}/")).is_some()
}

/// Microsoft Graph's application ID, which a scope may name instead of its URL.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

fn missing(parameter: &str) -> Refusal {
    Refusal::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

/// The identity platform's refusal.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    aadsts: u32,
    description: String,
}

impl Refusal {
    fn new(status: u16, error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            aadsts,
            description: description.into(),
        }
    }

    fn into_response(self, state: &State) -> Response {
        let now = state.clock.now();
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.aadsts, self.description
            ),
            "error_codes": [self.aadsts],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response()
    }
}
