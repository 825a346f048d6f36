//! Reading request bodies under a cap, so no request can make the emulator allocate without
//! bound.

use axum::{
    body::Body,
    http::{header, HeaderMap},
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Largest Graph request body accepted; larger ones are answered 413.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    TooLarge,
    /// The client went away mid-body.
    Incomplete,
}

/// Reads `body`, refusing it as soon as it passes `limit` (before reading, when
/// `Content-Length` already says so).
pub(super) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Incomplete)?;
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Whether the `Content-Type` is `media` (parameters such as charset allowed).
pub(super) fn content_type_is(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}
