//! Which handler a request goes to. Graph's paths are matched by hand, case-insensitively as
//! Graph matches them, with `{userId}` percent-decoded; anything else gets Graph's error
//! shape rather than a framework's plain-text one.
//!
//! Every request is read whole (up to [`MAX_REQUEST_BYTES`]) before it is answered, refusals
//! included, so a keep-alive connection stays usable for the client's next request: HTTP
//! clients such as the SDKs' pool connections, and a server that answers without reading the
//! body then closes the connection under them. A body over the cap is answered 413 with
//! `Connection: close`.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State as Shared},
    http::{header, HeaderValue, Method, StatusCode},
    response::Response,
    Router,
};

use super::{
    admin,
    body::{self as request_body, BodyError, MAX_REQUEST_BYTES},
    graph_error::{GraphFailure, RequestIds},
    operations::{self, Call, Target},
    request::Operation,
    server::ConnectionControl,
    token_endpoint, State,
};
use crate::ApiVersion;

/// The whole emulator: admin endpoints, the token endpoint and Graph.
pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .nest("/_emulator", admin::router())
        .fallback(dispatch)
        .with_state(state)
}

enum Route {
    Token { tenant: String },
    Graph(Call),
    Unknown { status: StatusCode, message: String },
}

async fn dispatch(Shared(state): Shared<Arc<State>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let control = parts.extensions.get::<ConnectionControl>().cloned();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let route = route(&path);
    let body = match request_body::read_capped(&parts.headers, body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(unread) => {
            if matches!(route, Route::Graph(_)) {
                state.receive(&parts, &[]);
            }
            let response = unreadable(unread, &RequestIds::new(&parts.headers), &state);
            tracing::info!(%method, path = ?path, status = response.status().as_u16(), "emulator answered");
            return response;
        }
    };
    let response = match route {
        Route::Token { tenant } if method == Method::POST => {
            token_endpoint::token(&state, &tenant, &parts.headers, Body::from(body), control).await
        }
        Route::Token { .. } => GraphFailure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "The token endpoint takes POST.",
        )
        .into_response(&RequestIds::new(&parts.headers), state.clock.now()),
        Route::Graph(call) => operations::handle(&state, call, parts, body, control).await,
        Route::Unknown { status, message } => {
            let code = if status == StatusCode::NOT_FOUND {
                "NotFound"
            } else {
                "BadRequest"
            };
            GraphFailure::new(status, code, message)
                .into_response(&RequestIds::new(&parts.headers), state.clock.now())
        }
    };
    tracing::info!(%method, path = ?path, status = response.status().as_u16(), "emulator answered");
    response
}

/// The answer to a request whose body was not read whole: the rest of it is still on the
/// connection (or never came), so the connection closes and the answer says so.
fn unreadable(unread: BodyError, ids: &RequestIds, state: &State) -> Response {
    let mut response = unread.failure().into_response(ids, state.clock.now());
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn route(path: &str) -> Route {
    let decoded: Option<Vec<String>> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect();
    let Some(segments) = decoded else {
        return Route::Unknown {
            status: StatusCode::BAD_REQUEST,
            message: "The path is not valid UTF-8 after percent-decoding.".into(),
        };
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let is = |s: &str, literal: &str| s.eq_ignore_ascii_case(literal);

    if let [tenant, oauth, v2, token] = segments.as_slice() {
        if is(oauth, "oauth2") && is(v2, "v2.0") && is(token, "token") {
            return Route::Token {
                tenant: (*tenant).to_owned(),
            };
        }
    }
    let Some((&version, rest)) = segments.split_first() else {
        return not_found(path);
    };
    let version = if is(version, "v1.0") {
        ApiVersion::V1
    } else if is(version, "beta") {
        ApiVersion::Beta
    } else {
        return Route::Unknown {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "Invalid version: {}",
                version.chars().take(64).collect::<String>()
            ),
        };
    };
    let (target, rest) = match rest {
        [me, rest @ ..] if is(me, "me") => (Target::Me, rest),
        [users, id, rest @ ..] if is(users, "users") => (Target::User((*id).to_owned()), rest),
        _ => return not_found(path),
    };
    let operation = match rest {
        [meetings] if is(meetings, "onlineMeetings") => Operation::Create,
        [meetings, action] if is(meetings, "onlineMeetings") && is(action, "createOrGet") => {
            Operation::CreateOrGet
        }
        _ => return not_found(path),
    };
    Route::Graph(Call {
        version,
        target,
        operation,
    })
}

fn not_found(path: &str) -> Route {
    Route::Unknown {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "Resource not found for the segment '{}'; this emulator serves onlineMeetings and createOrGet only.",
            path.chars().take(128).collect::<String>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(path: &str) -> Option<(ApiVersion, Target, Operation)> {
        match route(path) {
            Route::Graph(c) => Some((c.version, c.target, c.operation)),
            _ => None,
        }
    }

    #[test]
    fn graph_paths_are_matched_like_graph() {
        assert_eq!(
            call("/v1.0/me/onlineMeetings"),
            Some((ApiVersion::V1, Target::Me, Operation::Create))
        );
        assert_eq!(
            call("/BETA/Me/OnlineMeetings/CreateOrGet/"),
            Some((ApiVersion::Beta, Target::Me, Operation::CreateOrGet))
        );
        assert_eq!(
            call("/v1.0/users/ann%40contoso.example/onlineMeetings/createOrGet"),
            Some((
                ApiVersion::V1,
                Target::User("ann@contoso.example".into()),
                Operation::CreateOrGet
            ))
        );
        assert_eq!(
            call("/v1.0/users/a%2Fb/onlineMeetings"),
            Some((
                ApiVersion::V1,
                Target::User("a/b".into()),
                Operation::Create
            ))
        );
        for other in [
            "/",
            "/v2.0/me/onlineMeetings",
            "/v1.0/me/events",
            "/v1.0/users/x",
            "/v1.0/me/onlineMeetings/x/y",
            "/v1.0/users/%ff/onlineMeetings",
        ] {
            assert!(call(other).is_none(), "{other}");
        }
        assert!(
            matches!(route("/contoso.example/oauth2/v2.0/token"), Route::Token { tenant } if tenant == "contoso.example")
        );
    }
}
