//! Reading request bodies under a cap, so no request can make the emulator allocate without
//! bound.

use std::time::Duration;

use axum::{
    body::{Body, BodyDataStream},
    http::{header, HeaderMap},
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

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
}

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
        drain(&mut stream).await;
        return Err(BodyError::TooLarge);
    }
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
