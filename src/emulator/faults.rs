//! Failures to inject, for testing how a client copes with a service that misbehaves.
//!
//! Faults wait in a queue; each request to a meeting operation takes the next one. The token
//! endpoint has a queue of its own (`Emulator::token_faults`); the admin endpoints take none. Some fail before the service acts, like a
//! gateway that throttles or times out; the `ApplyThen…` faults and [`Fault::TruncatedBody`]
//! act first, so the meeting exists although the caller never hears of it.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::http::StatusCode;

/// Most faults that can wait in the queue; more are dropped, so memory stays bounded.
pub(super) const MAX_PENDING_FAULTS: usize = 10_000;

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer this status with Graph's error body, without acting; `Retry-After` (whole
    /// seconds, rounded up) when given. 429, 503 and 504 are the usual ones.
    Status {
        /// The HTTP status; one that is no error (outside 400 to 599) is sent as 500.
        status: u16,
        /// The wait to announce.
        retry_after: Option<Duration>,
    },
    /// Close the connection without answering, without acting.
    Drop,
    /// Wait this long, then act and answer normally. A caller that gives up first (its timeout)
    /// closes the connection, and then nothing is done: a gateway that holds a request back.
    /// For a slow answer to work that was done, use [`ApplyThenDelay`](Fault::ApplyThenDelay).
    Delay(Duration),
    /// Act, then wait this long before answering the meeting: the meeting exists even when the
    /// caller gives up first, as a slow service leaves it.
    ApplyThenDelay(Duration),
    /// Act (store or create the meeting), then answer this status instead of the meeting (one
    /// that is no error, outside 400 to 599, as 500). An ambiguous one (500, 503 without
    /// `Retry-After`, 504) is what a service that acted and then failed sends. A status that
    /// says the service did not act (429, 4xx) simulates what Graph does not do: a client may
    /// rightly repeat a create after it and make a second meeting.
    ApplyThenStatus(u16),
    /// Act, then close the connection without answering.
    ApplyThenDrop,
    /// Act, then send the headers and only part of the body before closing the connection.
    TruncatedBody,
}

/// The status a fault answers with: an error status as given; anything else as 500, since a
/// Graph error body under a 1xx, a 2xx or a 3xx is no HTTP a client can read (a 204 or a 101
/// with a body puts a kept-alive connection out of step).
pub(super) fn error_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Fault {
    /// 429 Too Many Requests with `Retry-After`.
    pub fn throttle(retry_after: Duration) -> Self {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after),
        }
    }

    /// An error status without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
        }
    }
}

/// The queue of faults, shared between the test that fills it and the server that takes from
/// it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<VecDeque<Fault>>>,
}

impl Faults {
    /// Queues `fault` for the next request that has none.
    pub fn push(&self, fault: Fault) {
        self.push_n(1, fault);
    }

    /// Queues `fault` for each of the next `n` requests that have none.
    pub fn push_n(&self, n: usize, fault: Fault) {
        let mut queue = self.lock();
        let room = MAX_PENDING_FAULTS.saturating_sub(queue.len());
        queue.extend(std::iter::repeat_n(fault, n.min(room)));
    }

    /// Throttles the next `n` requests: 429 with `Retry-After`.
    pub fn throttle(&self, n: usize, retry_after: Duration) {
        self.push_n(n, Fault::throttle(retry_after));
    }

    /// Forgets every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Faults still waiting.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// The fault for the request at hand, if any.
    pub(super) fn take(&self) -> Option<Fault> {
        self.lock().pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Fault>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_and_the_queue_is_bounded() {
        let faults = Faults::default();
        faults.throttle(2, Duration::from_secs(1));
        faults.push(Fault::Drop);
        assert_eq!(faults.pending(), 3);
        assert_eq!(faults.take(), Some(Fault::throttle(Duration::from_secs(1))));
        assert_eq!(faults.take(), Some(Fault::throttle(Duration::from_secs(1))));
        assert_eq!(faults.take(), Some(Fault::Drop));
        assert_eq!(faults.take(), None);
        faults.push_n(usize::MAX, Fault::status(503));
        assert_eq!(faults.pending(), MAX_PENDING_FAULTS);
        faults.clear();
        assert_eq!(faults.pending(), 0);
    }
}
