//! What every connection of one emulator shares.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use axum::http::{header, request::Parts};

use super::{faults::Faults, store::Store, tokens::Tokens};
use crate::{times::Clock, Secret};

/// Most requests [`State::received`] keeps; older ones are forgotten, so memory stays bounded.
pub(super) const MAX_RECEIVED: usize = 1_000;
/// Most headers kept of one request, and most bytes of each name and value: with
/// [`MAX_RECEIVED`], 32 MB at most whatever a client sends (a real client's headers, a few
/// kilobytes a request, keep it to a few megabytes).
const MAX_HEADERS: usize = 64;
const MAX_VALUE_BYTES: usize = 256;
/// A request's body is kept up to this many bytes: with [`MAX_RECEIVED`], 16 MB at most. A
/// meeting request is a kilobyte or two.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// A request's path is kept up to this many bytes (its method and header names to
/// [`MAX_VALUE_BYTES`]): a thousand 64 KB paths would otherwise be 64 MB.
const MAX_PATH_BYTES: usize = 2048;

/// `text`'s first `max` bytes or fewer, cut at a character's boundary.
fn first(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A request to a meeting operation as the emulator received it, for a test to check what a
/// client sent: its retries' `Retry-Attempt` and `client-request-id`, its `Accept-Language`.
/// The `Authorization` header keeps only its scheme (`Bearer ***`): the emulator keeps no
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// `POST`, or whatever came.
    pub method: String,
    /// The path as sent, percent-encoding and all (`/v1.0/users/alex%40contoso.example/…`), its
    /// first 2,048 bytes.
    pub path: String,
    /// The headers as sent (names lowercase, a repeated one's values together; values that
    /// are not text left out), the first 64, each name's and value's first 256 bytes.
    pub headers: Vec<(String, String)>,
    /// The body as sent, as text (bytes that are not UTF-8 replaced), its first 16 KiB: what a
    /// test checks the request by (`serde_json::from_str`), the attendees sent, say. Empty when
    /// it could not be read (too large, too slow).
    pub body: String,
}

impl Received {
    fn new(parts: &Parts, body: &[u8]) -> Self {
        let headers = parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                let value = match *name == header::AUTHORIZATION {
                    // The scheme, when it is one (a word of letters); never what follows.
                    true => match value.split_once(' ') {
                        Some((scheme, _))
                            if scheme.len() <= 16
                                && scheme.chars().all(|c| c.is_ascii_alphabetic()) =>
                        {
                            format!("{scheme} ***")
                        }
                        _ => "***".to_owned(),
                    },
                    // `to_str` took only visible ASCII: any byte is a boundary.
                    false => first(value, MAX_VALUE_BYTES),
                };
                Some((first(name.as_str(), MAX_VALUE_BYTES), value))
            })
            .take(MAX_HEADERS)
            .collect();
        Self {
            method: first(parts.method.as_str(), MAX_VALUE_BYTES),
            path: first(parts.uri.path(), MAX_PATH_BYTES),
            headers,
            // Cut again once text: each byte that is not UTF-8 became three.
            body: first(
                &String::from_utf8_lossy(&body[..body.len().min(MAX_BODY_BYTES)]),
                MAX_BODY_BYTES,
            ),
        }
    }

    /// The first value of header `name` (any case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub(super) struct State {
    /// `http://127.0.0.1:PORT`, for `@odata.context`.
    pub root: String,
    store: Mutex<Store>,
    pub faults: Faults,
    /// Faults for the token endpoint, a queue of their own.
    pub token_faults: Faults,
    pub tokens: Tokens,
    /// When set, the only client secret the token endpoint accepts.
    pub client_secret: Option<Secret>,
    pub clock: Arc<dyn Clock>,
    graph_requests: AtomicU64,
    token_requests: AtomicU64,
    received: ReceivedLog,
}

/// The requests kept; `Debug` gives only how many (the emulator's `Debug` would otherwise
/// print a thousand of them).
#[derive(Default)]
struct ReceivedLog(Mutex<VecDeque<Received>>);

impl ReceivedLog {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Received>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for ReceivedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.0.lock().map(|l| l.len()).unwrap_or_default();
        write!(f, "ReceivedLog({kept} requests)")
    }
}

impl State {
    pub fn new(root: String, client_secret: Option<Secret>, clock: Arc<dyn Clock>) -> Self {
        Self {
            root,
            store: Mutex::default(),
            faults: Faults::default(),
            token_faults: Faults::default(),
            tokens: Tokens::default(),
            client_secret,
            clock,
            graph_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            received: ReceivedLog::default(),
        }
    }

    /// Counts a request to a meeting operation, and keeps what it was.
    pub fn receive(&self, parts: &Parts, body: &[u8]) {
        self.graph_requests.fetch_add(1, Ordering::Relaxed);
        let mut received = self.received.lock();
        if received.len() == MAX_RECEIVED {
            received.pop_front();
        }
        received.push_back(Received::new(parts, body));
    }

    /// The requests kept, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().iter().cloned().collect()
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn graph_requests(&self) -> u64 {
        self.graph_requests.load(Ordering::Relaxed)
    }

    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_log_keeps_the_latest_and_no_token() {
        let state = State::new(String::new(), None, Arc::new(crate::times::SystemClock));
        for i in 0..=MAX_RECEIVED {
            let (parts, ()) = axum::http::Request::post(format!("/v1.0/users/u{i}/onlineMeetings"))
                .header("authorization", format!("Bearer token-{i}"))
                .header("x-long", "x".repeat(1_000))
                .body(())
                .unwrap()
                .into_parts();
            state.receive(&parts, "y".repeat(20_000).as_bytes());
        }
        let received = state.received();
        assert_eq!(received.len(), MAX_RECEIVED);
        assert_eq!(
            received[0].path, "/v1.0/users/u1/onlineMeetings",
            "the oldest was forgotten"
        );
        assert_eq!(state.graph_requests(), MAX_RECEIVED as u64 + 1);
        assert_eq!(received[0].header("authorization"), Some("Bearer ***"));
        let long = received[0].header("x-long").unwrap();
        assert_eq!(long.len(), MAX_VALUE_BYTES);
        assert_eq!(
            received[0].body.len(),
            MAX_BODY_BYTES,
            "the body kept in part"
        );
        assert!(
            !format!("{state:?}").contains("x-long"),
            "Debug gives only a count"
        );
        assert!(!format!("{received:?}").contains("token-"));
    }

    #[test]
    fn a_long_path_is_kept_in_part() {
        let state = State::new(String::new(), None, Arc::new(crate::times::SystemClock));
        // Non-ASCII as a path may carry it: the cut falls between characters.
        let path = format!("/v1.0/users/x{}/onlineMeetings", "é".repeat(20_000));
        let (parts, ()) = axum::http::Request::post(path.as_str())
            .body(())
            .unwrap()
            .into_parts();
        state.receive(&parts, b"{}");
        let kept = &state.received()[0].path;
        assert!(kept.len() <= MAX_PATH_BYTES && kept.len() > MAX_PATH_BYTES - 2);
        assert!(path.starts_with(kept.as_str()));
    }
}
