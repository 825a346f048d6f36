//! Reading request bodies under a cap, so no request can make the emulator allocate without
//! bound.

use std::time::Duration;

use axum::{
    body::{Body, BodyDataStream},
    http::{header, HeaderMap, StatusCode},
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::graph_error::GraphFailure;

/// Largest Graph request body accepted; larger ones are answered 413.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Most JSON values (objects, arrays, strings, numbers...) in one request body: a megabyte of
/// `{}` would otherwise become a third of a million objects, each grown by what the emulator
/// adds to a meeting, and hundreds of megabytes for one request.
pub const MAX_REQUEST_VALUES: usize = 20_000;

/// How many JSON values `value` is made of, itself included.
pub(super) fn values(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    1 + match value {
        Value::Array(items) => items.iter().map(values).sum(),
        Value::Object(fields) => fields.values().map(values).sum(),
        _ => 0,
    }
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    TooLarge,
    /// The client went away mid-body.
    Incomplete,
    /// The body did not come whole within [`BODY_TIME`].
    TooSlow,
}

impl BodyError {
    /// Graph's answer to a request whose body was not read.
    pub(super) fn failure(&self) -> GraphFailure {
        match self {
            BodyError::TooLarge => GraphFailure::too_large(format!(
                "The request body is larger than {MAX_REQUEST_BYTES} bytes."
            )),
            BodyError::Incomplete => GraphFailure::bad_request("The request body is incomplete."),
            BodyError::TooSlow => GraphFailure::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!("The request body did not arrive within {BODY_TIME:?}."),
            ),
        }
    }
}

/// How long a request's body may take to arrive: a client that sends its headers and then
/// trickles the body (or nothing) would otherwise hold one of the emulator's connections for
/// good.
pub const BODY_TIME: Duration = Duration::from_secs(30);

/// How much of a refused body is still read, and dropped, before the refusal is sent; for how
/// long; and how long a pause in it ends the wait. A client is usually still sending when a
/// body turns out too large; a connection closed with its data unread makes the client's next
/// write fail (a broken pipe), and the client then reports that instead of the 413. Beyond
/// these bounds the connection is closed anyway.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);
const DRAIN_PAUSE: Duration = Duration::from_millis(250);

/// Reads `body`, refusing it as soon as it passes `limit` (before keeping any of it, when
/// `Content-Length` already says so). What is left of a refused body is drained, not kept.
pub(super) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > limit as u64) {
        // Also under `Expect: 100-continue`, though reading sends the `100 Continue` that
        // invites the body: a client may send it without waiting (hyper's does, curl after a
        // second), and would then meet a closed connection instead of the 413.
        drain(&mut stream).await;
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut out = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Incomplete)?;
            if out.len() + chunk.len() > limit {
                drain(&mut stream).await;
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    };
    tokio::time::timeout(BODY_TIME, read)
        .await
        .unwrap_or(Err(BodyError::TooSlow))
}

/// Reads and drops the rest of a refused body, within [`DRAIN_BYTES`] and [`DRAIN_TIME`], and
/// until the client pauses for [`DRAIN_PAUSE`].
async fn drain(stream: &mut BodyDataStream) {
    let discard = async {
        let mut seen = 0;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout(DRAIN_PAUSE, stream.next()).await {
            seen += chunk.len();
            if seen > DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// Whether the `Content-Type` is `media` (parameters such as charset allowed).
pub(super) fn content_type_is(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body whose first bytes come and whose rest never does.
    fn stalled() -> Body {
        let first =
            futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("{\"ex")) });
        Body::from_stream(first.chain(futures_util::stream::pending()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_coming_is_given_up_on() {
        let started = tokio::time::Instant::now();
        let read = read_capped(&HeaderMap::new(), stalled(), MAX_REQUEST_BYTES).await;
        assert_eq!(read, Err(BodyError::TooSlow));
        assert_eq!(started.elapsed(), BODY_TIME);
        assert_eq!(
            BodyError::TooSlow.failure().status,
            StatusCode::REQUEST_TIMEOUT
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_comes_whole_is_read() {
        let read = read_capped(&HeaderMap::new(), Body::from("{}"), MAX_REQUEST_BYTES).await;
        assert_eq!(read.unwrap(), Bytes::from("{}"));
    }
}
