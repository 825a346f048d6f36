//! A token cache with single-flight refresh.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};

use super::AccessToken;
use crate::{error::AuthError, times::Clock};

/// How long before expiry a token is replaced (or half its lifetime, if that is shorter).
pub const REFRESH_WINDOW: Duration = Duration::minutes(5);

/// After a failed refresh, how long an unexpired token is used before the next try.
pub const RETRY_REFRESH_AFTER: Duration = Duration::seconds(10);

/// Holds one token and refreshes it for everyone at once.
///
/// - A token with more than [`REFRESH_WINDOW`] left (or half its lifetime, for short-lived
///   tokens) is used as is.
/// - Otherwise exactly one caller fetches (single flight); the others wait and share its
///   result, success or failure: a failing token endpoint is asked once, not once per caller.
/// - If that fetch fails while the cached token has not yet expired, the cached token is used,
///   and the next try waits [`RETRY_REFRESH_AFTER`].
#[derive(Debug)]
pub struct TokenCache {
    state: Mutex<State>,
    flight: tokio::sync::RwLock<()>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    token: Option<Cached>,
    /// Bumped by every finished fetch, so waiters can tell one happened while they queued.
    generation: u64,
    /// The last fetch's failure, and when it happened.
    failure: Option<(DateTime<Utc>, AuthError)>,
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    /// When the token stops being fresh.
    refresh_at: Option<DateTime<Utc>>,
}

impl TokenCache {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::default(),
            flight: tokio::sync::RwLock::new(()),
            clock,
        }
    }

    /// The clock the cache uses (providers stamp expiry with it).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh token, fetching with `fetch` only when needed.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, AuthError>>,
    {
        let queued_at = self.state().generation;
        // The fetcher holds the write side while it fetches; everyone else waits on the read
        // side and is released at once when it is done (no convoy through a mutex).
        let _fetcher = loop {
            if let Some(settled) = self.settled(queued_at) {
                return settled;
            }
            match self.flight.try_write() {
                Ok(guard) => break guard,
                Err(_) => drop(self.flight.read().await),
            }
        };
        if let Some(settled) = self.settled(queued_at) {
            return settled;
        }
        let fetched = fetch().await;
        let now = self.clock.now();
        let mut state = self.state();
        state.generation += 1;
        match fetched {
            Ok(token) => {
                state.failure = None;
                state.token = Some(Cached {
                    refresh_at: refresh_at(&token, now),
                    token: token.clone(),
                });
                Ok(token)
            }
            Err(error) => {
                state.failure = Some((now, error.clone()));
                match self.unexpired(&state) {
                    Some(token) => {
                        tracing::warn!(%error, "token refresh failed; using the cached token until it expires");
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// What a caller that queued at generation `queued_at` gets without fetching: a fresh
    /// token, or the outcome of a fetch that failed since it queued (or a moment ago).
    fn settled(&self, queued_at: u64) -> Option<Result<AccessToken, AuthError>> {
        let state = self.state();
        if let Some(token) = self.fresh_in(&state) {
            return Some(Ok(token));
        }
        let now = self.clock.now();
        let (failed_at, error) = state.failure.as_ref()?;
        if state.generation == queued_at && now - *failed_at >= RETRY_REFRESH_AFTER {
            return None;
        }
        Some(self.unexpired(&state).ok_or_else(|| error.clone()))
    }

    /// The cached token if it is fresh: what [`get`](Self::get) would answer at once.
    pub fn fresh(&self) -> Option<AccessToken> {
        self.fresh_in(&self.state())
    }

    /// Forgets `rejected` if it is still the cached token.
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut state = self.state();
        if state.token.as_ref().is_some_and(|c| &c.token == rejected) {
            state.token = None;
            state.failure = None;
        }
    }

    fn fresh_in(&self, state: &State) -> Option<AccessToken> {
        let cached = state.token.as_ref()?;
        let fresh = cached.refresh_at.is_none_or(|at| self.clock.now() < at);
        fresh.then(|| cached.token.clone())
    }

    fn unexpired(&self, state: &State) -> Option<AccessToken> {
        let cached = state.token.as_ref()?;
        let valid = cached
            .token
            .expires_at()
            .is_none_or(|at| self.clock.now() < at);
        valid.then(|| cached.token.clone())
    }
}

/// Five minutes before expiry, or half-way for tokens that live less than ten minutes.
fn refresh_at(token: &AccessToken, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expires_at = token.expires_at()?;
    let window = REFRESH_WINDOW.min((expires_at - now) / 2);
    Some(expires_at - window.max(Duration::zero()))
}
