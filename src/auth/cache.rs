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
/// - Otherwise exactly one caller fetches (single flight). While it does, callers are handed
///   the cached token if it has not expired yet; without one they wait for the fetch and
///   share its result, success or failure: a failing token endpoint is asked once, not once
///   per waiting caller. A caller that comes after a failure asks again.
/// - If a refresh fails while the cached token has not yet expired, the cached token is used,
///   and the next refresh is tried after [`RETRY_REFRESH_AFTER`].
/// - A fetch that is abandoned (its caller's future dropped, say by a timeout) leaves nothing
///   behind: the next caller in line fetches.
#[derive(Debug)]
pub struct TokenCache {
    state: Mutex<State>,
    /// Held by the caller that fetches. Tokio's mutex is fair, so waiters take turns in order
    /// and a dropped fetcher hands over to the next one.
    flight: tokio::sync::Mutex<()>,
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

/// Dropped only when a fetch is abandoned before it finishes (its caller's future dropped, say
/// by a timeout). If the cached token is still valid, that counts as a failed refresh, so the
/// next callers use the token for [`RETRY_REFRESH_AFTER`] rather than each starting a refresh
/// that may hang the same way. Waiters without a valid token are not told anything: the next
/// one in line fetches.
struct Abandoned<'a> {
    cache: &'a TokenCache,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.state();
        if self.cache.unexpired(&state).is_some() {
            let now = self.cache.clock.now();
            let abandoned = AuthError::Provider("the token refresh was abandoned".into());
            state.failure = Some((now, abandoned));
        }
    }
}

/// What a caller without a fresh token does next.
enum Next<'a> {
    /// Wait for the flight, having seen this generation.
    Wait(u64),
    /// Refresh, holding the flight.
    Fetch(tokio::sync::MutexGuard<'a, ()>),
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
            flight: tokio::sync::Mutex::new(()),
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
        // Decided under the state's lock, acted on after it is released: it is not `Send`.
        let next = {
            let state = self.state();
            if let Some(token) = self.fresh_in(&state) {
                return Ok(token);
            }
            match self.unexpired(&state) {
                // Due for a refresh but still good: nobody waits for the refresh. One caller
                // makes it, unless one is under way or the last one failed a moment ago.
                Some(token) if self.backing_off(&state) => return Ok(token),
                Some(token) => match self.flight.try_lock() {
                    Ok(fetcher) => Next::Fetch(fetcher),
                    Err(_) => return Ok(token),
                },
                None => Next::Wait(state.generation),
            }
        };
        let queued_at = match next {
            Next::Wait(generation) => generation,
            Next::Fetch(fetcher) => return self.fetch_holding(fetcher, fetch).await,
        };
        let fetcher = self.flight.lock().await;
        {
            let state = self.state();
            if let Some(token) = self.fresh_in(&state) {
                return Ok(token);
            }
            if state.generation != queued_at {
                // A fetch finished while this caller waited: its outcome is this caller's too.
                match (&state.failure, &state.token) {
                    (Some((_, error)), _) => {
                        return self.unexpired(&state).ok_or_else(|| error.clone())
                    }
                    (None, Some(cached)) => return Ok(cached.token.clone()),
                    // Fetched, then invalidated since: fetch again.
                    (None, None) => {}
                }
            }
        }
        self.fetch_holding(fetcher, fetch).await
    }

    /// Fetches while holding the flight, and records the outcome for everyone.
    async fn fetch_holding<F, Fut>(
        &self,
        _fetcher: tokio::sync::MutexGuard<'_, ()>,
        fetch: F,
    ) -> Result<AccessToken, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, AuthError>>,
    {
        let abandoned = Abandoned { cache: self };
        let fetched = fetch().await;
        std::mem::forget(abandoned);
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

    /// Whether the last refresh failed less than [`RETRY_REFRESH_AFTER`] ago. A clock that
    /// stepped back past the failure does not stretch the wait.
    fn backing_off(&self, state: &State) -> bool {
        let now = self.clock.now();
        state.failure.as_ref().is_some_and(|(failed_at, _)| {
            now >= *failed_at && now - *failed_at < RETRY_REFRESH_AFTER
        })
    }

    /// The cached token if it is fresh: what [`get`](Self::get) would answer at once.
    pub fn fresh(&self) -> Option<AccessToken> {
        self.fresh_in(&self.state())
    }

    /// The cached token if it has not expired, fresh or due for a refresh.
    pub fn still_valid(&self) -> Option<AccessToken> {
        self.unexpired(&self.state())
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt;

    use super::*;
    use crate::times::FixedClock;

    /// A clock the test moves.
    #[derive(Debug)]
    struct Moving(Mutex<DateTime<Utc>>);

    impl Clock for Moving {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn start() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn token(name: &str, expires_at: DateTime<Utc>) -> AccessToken {
        AccessToken::new(name.to_owned(), Some(expires_at))
    }

    /// A cache already holding `name`, valid for an hour from `start()`.
    async fn holding(name: &str, clock: Arc<dyn Clock>) -> TokenCache {
        let cache = TokenCache::new(clock);
        let t = token(name, start() + Duration::hours(1));
        cache.get(|| async { Ok(t) }).await.unwrap();
        cache
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_abandoned_fetch_hands_over_to_one_waiter() {
        // More waiters than workers, and the fetcher's future dropped mid-fetch (as the
        // client's token timeout does): one waiter fetches next, the rest share its token.
        let cache = Arc::new(TokenCache::new(Arc::new(FixedClock(start()))));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (started, fetching) = tokio::sync::oneshot::channel();
        let stuck = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let hung = cache.get(|| {
                    let _ = started.send(());
                    std::future::pending()
                });
                tokio::time::timeout(std::time::Duration::from_millis(50), hung).await
            })
        };
        // The waiters come while the first fetch is under way.
        fetching.await.unwrap();
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), fetches.clone());
                tokio::spawn(async move {
                    cache
                        .get(|| async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            Ok(token("after", start() + Duration::hours(1)))
                        })
                        .await
                })
            })
            .collect();
        assert!(
            stuck.await.unwrap().is_err(),
            "the first fetch was abandoned"
        );
        // Not a speed limit: a hang detector, far beyond what this takes.
        let all = futures_util::future::join_all(waiters);
        let results = tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("every waiter got an answer");
        for result in results {
            assert_eq!(result.unwrap().unwrap().secret().expose(), "after");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_valid_token_is_handed_out_while_its_refresh_is_under_way() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        // Three minutes left: due for a refresh, still valid.
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let refresh = cache.get(std::future::pending);
        tokio::pin!(refresh);
        assert!((&mut refresh).now_or_never().is_none(), "the refresh hangs");
        let other = cache
            .get(|| async { unreachable!("one refresh at a time") })
            .now_or_never()
            .expect("answered without waiting for the refresh");
        assert_eq!(other.unwrap().secret().expose(), "old");
    }

    #[tokio::test]
    async fn a_caller_after_a_failure_without_a_token_asks_again() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let failed = cache
            .get(|| async { Err(AuthError::Transport("blip".into())) })
            .await;
        assert!(failed.is_err());
        let t = token("next", start() + Duration::hours(1));
        let next = cache.get(|| async { Ok(t) }).await.unwrap();
        assert_eq!(next.secret().expose(), "next");
    }

    #[tokio::test]
    async fn a_failed_refresh_waits_before_the_next_even_if_the_clock_steps_back() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let set = |at| *clock.0.lock().unwrap() = at;
        set(start() + Duration::minutes(56));
        let failing = || async { Err(AuthError::Transport("blip".into())) };
        assert_eq!(cache.get(failing).await.unwrap().secret().expose(), "old");
        // Within RETRY_REFRESH_AFTER: the cached token, no new fetch.
        set(start() + Duration::minutes(56) + Duration::seconds(5));
        let no_fetch = || async { unreachable!("still backing off") };
        assert_eq!(cache.get(no_fetch).await.unwrap().secret().expose(), "old");
        // The clock stepped back to before the failure (still in the refresh window): the
        // wait is over, not stretched by the step.
        set(start() + Duration::minutes(55) + Duration::seconds(30));
        let t = token("new", start() + Duration::hours(2));
        assert_eq!(
            cache
                .get(|| async { Ok(t) })
                .await
                .unwrap()
                .secret()
                .expose(),
            "new"
        );
    }
}
