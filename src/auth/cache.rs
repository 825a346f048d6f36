//! A token cache with single-flight refresh in the background.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    task::Poll,
};

use chrono::{DateTime, Duration, Utc};
use futures_util::FutureExt;
use tokio::{sync::Notify, time::Instant};

use super::AccessToken;
use crate::{error::AuthError, times::Clock};

/// How long before expiry a token is replaced (or half its lifetime, if that is shorter).
pub const REFRESH_WINDOW: Duration = Duration::minutes(5);

/// After a failed refresh, how long an unexpired token is used before the next try.
pub const RETRY_REFRESH_AFTER: Duration = Duration::seconds(10);

/// A token fetched to replace one Graph refused, and refused in turn within this long of
/// arriving, is kept that long instead of being fetched again: the refusal is then not the
/// token's age but something a new token does not change (another tenant or audience, a
/// consent missing), and each call's 401 would otherwise ask the token endpoint once.
pub const REFUSED_AGAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a fetch may take before it counts as failed, unless the provider sets its own
/// limit ([`TokenCache::with_fetch_limit`]).
pub const DEFAULT_FETCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Holds one token and refreshes it for everyone at once.
///
/// - A token with more than [`REFRESH_WINDOW`] left (or half its lifetime, for short-lived
///   tokens) is used as is.
/// - Otherwise one fetch runs for everyone (single flight), as a task of its own: a caller
///   that stops waiting (its timeout, say) does not cancel it, so a slow token endpoint still
///   fills the cache for the next caller.
/// - A token due for a refresh but not expired is handed out at once while the refresh runs:
///   nobody waits for a refresh. Without such a token, callers wait for the fetch and share
///   its result, success or failure: a failing token endpoint is asked once, not once per
///   waiting caller. A caller that comes after a failure asks again, except while a token
///   endpoint found busy or out of reach rests (a second, or as long as its `Retry-After`
///   says, up to [`LONGEST_REST`]): until then, callers without a token get that failure
///   without asking, so that calls arriving during an outage do not ask once each.
/// - If a refresh fails while the cached token has not yet expired, the cached token is used,
///   and the next refresh is tried after [`RETRY_REFRESH_AFTER`], or once the endpoint's rest
///   is over if that is later.
/// - A fetch that takes longer than its limit fails, so a hung provider cannot hold the
///   cache for good. The limit, and a caller's wait for a fetch, need the runtime's timer
///   (which reqwest needs too). Outside a Tokio runtime the fetch runs in the caller instead.
/// - A fetch lives on the runtime it started on: a runtime made for one call and dropped after
///   it abandons a refresh still under way, which counts as a failed refresh. The token at hand
///   serves until it expires, and the caller that then finds none fetches and waits. Callers
///   waiting for a fetch whose runtime went (on another runtime, say) start one of their own,
///   and so does a caller that finds a fetch older than its limit (its runtime no longer
///   driven, so that its timer cannot fire).
/// - [`invalidate`](Self::invalidate) (Graph refused the token) drops the token, and the next
///   caller fetches at once, except when that token was itself fetched to replace a refused
///   one less than [`REFUSED_AGAIN_WAIT`] before: it is kept until then, so that a refusal no
///   new token cures costs one fetch per wait, not one per call.
pub struct TokenCache {
    shared: Arc<Shared>,
    fetch_limit: std::time::Duration,
}

/// What the cache holds, not how: the token's times, a fetch under way, the last failure.
impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("TokenCache");
        // Not `state()`: a Debug made while this thread holds the lock must not wait for it.
        match self.shared.state.try_lock() {
            Ok(state) => {
                let cached = state.token.as_ref();
                out.field("expires_at", &cached.and_then(|c| c.token.expires_at()))
                    .field("refresh_at", &cached.and_then(|c| c.refresh_at))
                    .field("fetching", &state.flight.is_some())
                    .field("last_failure", &state.failure.as_ref().map(|(_, e)| e))
                    .field("resting_for", &resting_for(&state))
            }
            Err(_) => out.field("state", &"(in use)"),
        };
        out.finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Woken when a fetch lands (or is abandoned).
    landed: Notify,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    token: Option<Cached>,
    /// Bumped by every fetch that lands, so waiters can tell one did.
    generation: u64,
    /// The last fetch's failure, and when it happened.
    failure: Option<(DateTime<Utc>, AuthError)>,
    /// Until when the token endpoint, found busy or out of reach, is not asked again by a
    /// caller without a token, and what it said. Measured on the runtime's clock, not the
    /// cache's [`Clock`] (which may stand still): this is a wait, not a date.
    resting: Option<(Instant, AuthError)>,
    /// The fetch under way.
    flight: Option<Flight>,
    /// Flights started so far, to tell a late landing from the current one.
    flights: u64,
    /// The token was dropped as refused when this many flights had started: the first token a
    /// later flight brings replaces a refused one. (One asked for before the refusal, by a
    /// refresh already under way, does not.)
    replacing_refused: Option<u64>,
}

/// Where [`TokenCache::launch`] ran a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// As a task of its own, still under way.
    AsTask,
    /// In the caller, outside a runtime: landed already.
    Here,
}

/// A fetch under way: which one, since when, and whether it runs under the cache's limit (as a
/// task; outside a runtime it runs in its caller, with no timer to end it).
#[derive(Debug, Clone, Copy)]
struct Flight {
    id: u64,
    since: Instant,
    limited: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    /// When the token stops being fresh.
    refresh_at: Option<DateTime<Utc>>,
    /// When it arrived, if it was fetched to replace a refused token (on the runtime's clock:
    /// a wait, like `resting`).
    replaced_refused_at: Option<Instant>,
}

/// The fetch under way, owned from the moment it is decided: whatever way it ends, it lands
/// or is given up. Dropped before landing (its runtime shut down, before or during the fetch;
/// outside a runtime, its caller gave up; the closure making the fetch panicked), the flight is
/// over without an outcome: callers waiting for it start another, on their own runtime.
struct Landing(Option<(Arc<Shared>, u64)>);

impl Landing {
    fn land(mut self, fetched: Result<AccessToken, AuthError>) {
        if let Some((shared, id)) = self.0.take() {
            shared.land(id, fetched);
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if let Some((shared, id)) = self.0.take() {
            shared.abandon(id);
        }
    }
}

impl TokenCache {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                landed: Notify::new(),
                clock,
            }),
            fetch_limit: DEFAULT_FETCH_LIMIT,
        }
    }

    /// How long one fetch may take before it counts as failed (default
    /// [`DEFAULT_FETCH_LIMIT`]).
    pub fn with_fetch_limit(mut self, limit: std::time::Duration) -> Self {
        self.fetch_limit = limit;
        self
    }

    /// The clock the cache uses (providers stamp expiry with it).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// A fresh token, starting a fetch with `fetch` only when needed. `fetch` may be called
    /// more than once per call (a token fetched and then rejected before this caller saw it),
    /// and its future outlives the call, so it owns what it uses.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, AuthError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<AccessToken, AuthError>> + Send + 'static,
    {
        let shared = &*self.shared;
        // The generation this caller waits to see change.
        let mut waiting_on = None;
        // The generation when this caller started a fetch of its own.
        let mut launched = None;
        loop {
            // Made before the state is read, so a landing in between still wakes it: a
            // `Notified` hears every `notify_waiters` from its creation on, polled or not.
            let landed = shared.landed.notified();
            // Decided under the state's lock, acted on after it is released: whether to fetch,
            // and the token to use meanwhile, if one is still valid.
            let (launch, valid, stuck_at) = {
                let mut state = shared.state();
                if let Some(token) = shared.fresh_in(&state) {
                    return Ok(token);
                }
                if waiting_on.is_some_and(|seen| seen != state.generation) {
                    // A fetch landed while this caller waited: its outcome is this one's too.
                    match (&state.failure, &state.token) {
                        (Some((_, error)), _) => {
                            return shared.unexpired(&state).ok_or_else(|| error.clone())
                        }
                        (None, Some(cached)) => return Ok(cached.token.clone()),
                        // Fetched, then rejected since: fetch again.
                        (None, None) => {}
                    }
                } else if launched == Some(state.generation) && state.flight.is_none() {
                    // This caller's own fetch ended without an outcome, and no other has begun:
                    // its runtime is shutting down, and would drop another just the same.
                    return Err(AuthError::Provider(ABANDONED.into()));
                }
                let valid = shared.unexpired(&state);
                if valid.is_none() && state.flight.is_none() {
                    if let Some(error) = resting(&state) {
                        return Err(error);
                    }
                }
                // One fetch at a time (unless it is stuck past its limit), and none while a
                // failed refresh or the endpoint's rest is waited out.
                let waiting_out = valid.is_some()
                    && (shared.backing_off(&state) || resting_for(&state).is_some());
                let stuck = self
                    .stuck_at(state.flight)
                    .is_some_and(|at| Instant::now() >= at);
                let launch = (state.flight.is_none() || stuck) && !waiting_out;
                let flight = launch.then(|| {
                    state.flights += 1;
                    let id = state.flights;
                    state.flight = Some(Flight {
                        id,
                        since: Instant::now(),
                        limited: tokio::runtime::Handle::try_current().is_ok(),
                    });
                    launched = Some(state.generation);
                    id
                });
                if valid.is_none() {
                    waiting_on = Some(state.generation);
                }
                (flight, valid, self.stuck_at(state.flight))
            };
            if let Some(id) = launch {
                // Owned before the caller's closure runs, so that even its panic ends the flight.
                let landing = Landing(Some((self.shared.clone(), id)));
                if self.launch(landing, fetch()).await == Ran::Here {
                    // Run here, outside a runtime, with no limit: it has landed, however long it
                    // took. Its outcome is this caller's, judged on the clock as it is now (the
                    // token still valid before it may have expired during it).
                    waiting_on = launched;
                    continue;
                }
            }
            if let Some(token) = valid {
                // Due for a refresh but still good: nobody waits for the refresh.
                return Ok(token);
            }
            // Not past the moment the fetch counts as stuck (when inside a runtime, which has
            // the timer for it): a fetch on a runtime nobody drives never lands, and this caller
            // then takes its place.
            match stuck_at.filter(|_| tokio::runtime::Handle::try_current().is_ok()) {
                Some(at) => until_landed_or(landed, at).await,
                None => landed.await,
            }
        }
    }

    /// When `flight` counts as stuck, if it can: only a fetch run as a task has a limit.
    fn stuck_at(&self, flight: Option<Flight>) -> Option<Instant> {
        let flight = flight.filter(|flight| flight.limited)?;
        flight
            .since
            .checked_add(self.fetch_limit.saturating_add(STUCK_AFTER_LIMIT))
    }

    /// Runs `fetch` for everyone: as a task of its own, or, outside a runtime, here (and then
    /// it has landed by the time this returns).
    async fn launch<Fut>(&self, landing: Landing, fetch: Fut) -> Ran
    where
        Fut: Future<Output = Result<AccessToken, AuthError>> + Send + 'static,
    {
        use tracing::instrument::{Instrument, WithSubscriber};
        match tokio::runtime::Handle::try_current() {
            // In the caller's span and with its subscriber: a service's logging set up per
            // task or thread still sees the fetch (its "refresh failed" warning, above all).
            Ok(runtime) => {
                let fly = Self::fly(landing, Some(self.fetch_limit), fetch);
                drop(runtime.spawn(fly.in_current_span().with_current_subscriber()));
                Ran::AsTask
            }
            // No runtime, no timer either: the caller's own limits apply.
            Err(_) => {
                Self::fly(landing, None, fetch).await;
                Ran::Here
            }
        }
    }

    /// One fetch, within `limit`, its outcome recorded for everyone. `landing` is an argument,
    /// not made here: a task dropped before its first poll drops its arguments all the same. A
    /// provider that panics fails the fetch, rather than ending the flight without an outcome
    /// (which waiters would answer with a fetch of their own, and a panic each).
    async fn fly<Fut>(landing: Landing, limit: Option<std::time::Duration>, fetch: Fut)
    where
        Fut: Future<Output = Result<AccessToken, AuthError>>,
    {
        let timed = async {
            match limit {
                Some(limit) => tokio::time::timeout(limit, fetch)
                    .await
                    .unwrap_or_else(|_| {
                        Err(AuthError::Transport(format!("no token within {limit:?}")))
                    }),
                None => fetch.await,
            }
        };
        // The timer's panic too (a runtime without one): the fetch failed, for a reason to
        // report, and its runtime has not gone.
        let fetched = std::panic::AssertUnwindSafe(timed)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let why = (panic.downcast_ref::<&str>().copied())
                    .or(panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("no message");
                Err(AuthError::Provider(format!(
                    "the token fetch panicked: {why}"
                )))
            });
        landing.land(fetched);
    }

    /// The cached token if it is fresh: what [`get`](Self::get) would answer at once.
    pub fn fresh(&self) -> Option<AccessToken> {
        self.shared.fresh_in(&self.shared.state())
    }

    /// The cached token if it has not expired, fresh or due for a refresh.
    pub fn still_valid(&self) -> Option<AccessToken> {
        self.shared.unexpired(&self.shared.state())
    }

    /// Forgets `rejected` if it is still the cached token, unless it replaced a refused token
    /// less than [`REFUSED_AGAIN_WAIT`] ago (see [`TokenCache`]).
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut state = self.shared.state();
        let Some(cached) = state.token.as_ref().filter(|c| &c.token == rejected) else {
            return;
        };
        if cached
            .replaced_refused_at
            .is_some_and(|at| at.elapsed() < REFUSED_AGAIN_WAIT)
        {
            tracing::debug!(
                "Graph refused a token fetched to replace a refused one; not fetching another \
                 for {REFUSED_AGAIN_WAIT:?}"
            );
            return;
        }
        state.token = None;
        state.failure = None;
        state.replacing_refused = Some(state.flights);
    }

    /// Waits until no fetch is under way.
    #[cfg(test)]
    async fn settled(&self) {
        loop {
            let landed = self.shared.landed.notified();
            if self.shared.state().flight.is_none() {
                return;
            }
            landed.await;
        }
    }
}

/// Waits for `landed`, or until `at` on the caller's runtime's timer. tokio panics over a
/// timer of a runtime that has none (when it is made) or is shutting down (a caller that
/// entered it after its end; when it is first polled): the wait is then for the landing alone,
/// as outside a runtime, rather than a panic in the caller over a fetch another runtime is
/// making. (The panic hook still prints tokio's message; tokio offers no way to ask first.)
async fn until_landed_or(landed: impl Future<Output = ()>, at: Instant) {
    let mut landed = std::pin::pin!(landed);
    let mut timer = std::panic::catch_unwind(|| Box::pin(tokio::time::sleep_until(at))).ok();
    std::future::poll_fn(|cx| {
        if landed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if let Some(sleep) = timer.as_mut() {
            match std::panic::catch_unwind(AssertUnwindSafe(|| sleep.as_mut().poll(cx))) {
                Ok(Poll::Ready(())) => return Poll::Ready(()),
                Ok(Poll::Pending) => {}
                Err(_) => timer = None,
            }
        }
        Poll::Pending
    })
    .await
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a fetch's outcome and wakes everyone waiting for it. A token that cannot be
    /// sent in a header, or that is empty (once cleaned of blanks and a `Bearer` word), is a
    /// failure, not a token to hand out until it expires.
    /// A flight that lands after another took its place (see `get`) still records a token it
    /// fetched, if it is valid and outlasts the one at hand, but leaves the newer flight under
    /// way.
    fn land(&self, id: u64, fetched: Result<AccessToken, AuthError>) {
        let fetched = fetched.and_then(|token| match token.bearer() {
            Ok(_) => Ok(token),
            Err(reason) => Err(AuthError::Provider(reason.into())),
        });
        let now = self.clock.now();
        let refresh_failed = {
            let mut state = self.state();
            let current = state.flight.is_some_and(|flight| flight.id == id);
            // A token that has already expired (`expires_in` 0 or less) is no refresh of one
            // that has not: it fails the refresh, and the valid one stays in use. With nothing
            // valid at hand it is still handed out, since a provider's clock may be off.
            let fetched = match fetched {
                Ok(token)
                    if token.expires_at().is_some_and(|at| at <= now)
                        && self.unexpired(&state).is_some() =>
                {
                    Err(AuthError::Provider(EXPIRED.into()))
                }
                other => other,
            };
            // A replaced flight's failure, or a token no better than the one at hand: the newer
            // flight is still under way, and its waiters wait for its outcome, not this one's.
            let better = |token: &AccessToken| {
                let until = |t: &AccessToken| t.expires_at().unwrap_or(DateTime::<Utc>::MAX_UTC);
                until(token) > now
                    && state
                        .token
                        .as_ref()
                        .is_none_or(|c| until(token) > until(&c.token))
            };
            if !current && !fetched.as_ref().is_ok_and(better) {
                return;
            }
            state.generation += 1;
            if current {
                state.flight = None;
            }
            match fetched {
                Ok(token) => {
                    state.failure = None;
                    state.resting = None;
                    // Any token that lands ends the wait for a replacement: one from a fetch
                    // begun before the refusal serves without being one, and must not leave
                    // the mark for the next routine refresh to pick up an hour later.
                    let replaced_refused = match state.replacing_refused.take() {
                        Some(dropped_at) if id > dropped_at => Some(Instant::now()),
                        _ => None,
                    };
                    state.token = Some(Cached {
                        refresh_at: refresh_at(&token, now),
                        token,
                        replaced_refused_at: replaced_refused,
                    });
                    None
                }
                Err(error) => {
                    let rest = error.ask_again_after().min(LONGEST_REST);
                    state.resting = error
                        .unavailable()
                        .then(|| (Instant::now() + rest, error.clone()));
                    let refresh_failed = self.unexpired(&state).is_some().then(|| error.clone());
                    state.failure = Some((now, error));
                    refresh_failed
                }
            }
        };
        if let Some(error) = refresh_failed {
            // Printable: a provider's own error may quote what a vault or endpoint said, and a
            // line break in it would forge a line of the service's log.
            let error = crate::transport::printable_short(&error.to_string());
            tracing::warn!(%error, "token refresh failed; using the cached token until it expires");
        }
        self.landed.notify_waiters();
    }

    /// Ends flight `id` without an outcome. A refresh abandoned (a runtime made for one call
    /// and dropped after it) counts as a failed refresh, so that the calls after it, each with
    /// a runtime of its own, do not start one each; callers waiting for a token start a fetch
    /// of their own.
    fn abandon(&self, id: u64) {
        {
            let mut state = self.state();
            if state.flight.is_none_or(|flight| flight.id != id) {
                return;
            }
            state.flight = None;
            if self.unexpired(&state).is_some() {
                state.failure = Some((self.clock.now(), AuthError::Provider(ABANDONED.into())));
            }
        }
        self.landed.notify_waiters();
    }

    /// Whether the last refresh failed less than [`RETRY_REFRESH_AFTER`] ago. A clock that
    /// stepped back past the failure does not stretch the wait.
    fn backing_off(&self, state: &State) -> bool {
        let now = self.clock.now();
        state.failure.as_ref().is_some_and(|(failed_at, _)| {
            now >= *failed_at && now - *failed_at < RETRY_REFRESH_AFTER
        })
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

/// The longest a busy token endpoint is left alone, whatever its `Retry-After` says: a year's
/// worth, say, must not keep every caller without a token until the process restarts.
pub const LONGEST_REST: std::time::Duration = std::time::Duration::from_secs(300);

/// How long past its limit a fetch must be before another caller takes its place: a fetch on a
/// running runtime has failed by then.
const STUCK_AFTER_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a fetch ended without an outcome.
const ABANDONED: &str = "the token fetch was abandoned (its runtime shut down)";
/// Why an already-expired token does not replace one that is still valid.
const EXPIRED: &str = "the token fetched had already expired when it came";

/// How long the token endpoint, found busy or out of reach, still rests.
fn resting_for(state: &State) -> Option<std::time::Duration> {
    let (until, _) = state.resting.as_ref()?;
    until
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// The failure a token endpoint found busy or out of reach gave, while it rests; its
/// `Retry-After`, if it said one, is what is left of it.
fn resting(state: &State) -> Option<AuthError> {
    let left = resting_for(state)?;
    let (_, error) = state.resting.as_ref()?;
    let mut error = error.clone();
    if let AuthError::TokenEndpoint {
        retry_after: Some(asked),
        ..
    } = &mut error
    {
        *asked = left;
    }
    Some(error)
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

    /// A fetch that gives `name`, valid until `expires_at`.
    fn gives(
        name: &'static str,
        expires_at: DateTime<Utc>,
    ) -> impl Fn() -> std::future::Ready<Result<AccessToken, AuthError>> {
        move || std::future::ready(Ok(token(name, expires_at)))
    }

    fn fails() -> std::future::Ready<Result<AccessToken, AuthError>> {
        std::future::ready(Err(AuthError::Transport("blip".into())))
    }

    fn never() -> std::future::Ready<Result<AccessToken, AuthError>> {
        unreachable!("no fetch expected")
    }

    /// A cache already holding `name`, valid for an hour from `start()`.
    async fn holding(name: &'static str, clock: Arc<dyn Clock>) -> TokenCache {
        let cache = TokenCache::new(clock);
        cache
            .get(gives(name, start() + Duration::hours(1)))
            .await
            .unwrap();
        cache
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_caller_that_stops_waiting_does_not_cancel_the_fetch() {
        // The first caller gives up on a slow fetch (as the client's token timeout does); the
        // fetch goes on, and the callers that come meanwhile, more than there are workers,
        // share its token without a fetch of their own.
        let cache = Arc::new(TokenCache::new(Arc::new(FixedClock(start()))));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Arc::new(Mutex::new(Some(released)));
        let slow = {
            let fetches = fetches.clone();
            move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let released = released.lock().unwrap().take();
                async move {
                    released.expect("fetched once").await.unwrap();
                    Ok(token("slow", start() + Duration::hours(1)))
                }
            }
        };
        let impatient = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            cache.get(slow.clone()),
        );
        assert!(impatient.await.is_err(), "the first caller gave up");
        let started = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let (cache, slow, started) = (cache.clone(), slow.clone(), started.clone());
                tokio::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    cache.get(slow).await
                })
            })
            .collect();
        // Released once every caller is in (and, most likely, waiting).
        while started.load(Ordering::SeqCst) < 20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(cache.fresh().is_none(), "the fetch has not landed yet");
        release.send(()).unwrap();
        // Not a speed limit: a hang detector, far beyond what this takes.
        let all = futures_util::future::join_all(waiters);
        let results = tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("every waiter got an answer");
        for result in results {
            assert_eq!(result.unwrap().unwrap().secret().expose(), "slow");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(cache.fresh().unwrap().secret().expose(), "slow");
    }

    #[test]
    fn a_refresh_dropped_with_its_runtime_before_it_ran_does_not_block_the_next_fetch() {
        // A runtime per call, as a synchronous wrapper makes: the refresh the second call
        // starts is never polled before its runtime goes. Once the token has expired, the
        // next caller must be able to fetch, not wait for that refresh forever.
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let clock = Arc::new(Moving(Mutex::new(start())));
        let set = |at| *clock.0.lock().unwrap() = at;
        let cache = runtime().block_on(holding("old", clock.clone()));
        set(start() + Duration::minutes(57));
        let old = runtime().block_on(cache.get(std::future::pending));
        assert_eq!(old.unwrap().secret().expose(), "old");
        set(start() + Duration::minutes(61));
        let next = runtime().block_on(async {
            // A hang detector, not a speed limit.
            let next = cache.get(gives("new", start() + Duration::hours(2)));
            tokio::time::timeout(std::time::Duration::from_secs(30), next).await
        });
        assert_eq!(
            next.expect("not stuck behind the dropped refresh")
                .unwrap()
                .secret()
                .expose(),
            "new"
        );
    }

    fn explode() -> Result<AccessToken, AuthError> {
        panic!("the provider's bug")
    }

    #[tokio::test]
    async fn a_provider_that_panics_fails_the_fetch_and_the_next_caller_fetches() {
        let cache = Arc::new(TokenCache::new(Arc::new(FixedClock(start()))));
        // In the fetch itself (its task): the waiting caller gets a failure.
        let err = cache.get(|| async { explode() }).await.unwrap_err();
        assert!(
            err.to_string().contains("panicked: the provider's bug"),
            "{err}"
        );
        // In the closure that makes the fetch (the caller's own code): the caller panics.
        let caller = cache.clone();
        let panicked = tokio::spawn(async move {
            caller
                .get(|| -> std::future::Ready<_> { std::future::ready(explode()) })
                .await
        });
        assert!(panicked.await.unwrap_err().is_panic());
        // Neither left a fetch "under way" behind.
        let next = cache.get(gives("next", start() + Duration::hours(1)));
        let next = tokio::time::timeout(std::time::Duration::from_secs(30), next);
        assert_eq!(
            next.await.expect("not stuck").unwrap().secret().expose(),
            "next"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fetch_that_hangs_fails_at_its_limit_and_the_next_caller_fetches() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())))
            .with_fetch_limit(std::time::Duration::from_secs(5));
        let hung = cache.get(std::future::pending).await.unwrap_err();
        assert!(hung.to_string().contains("no token within 5s"), "{hung}");
        // Out of reach, as far as anyone can tell: a second's rest first.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let next = cache.get(gives("next", start() + Duration::hours(1)));
        assert_eq!(next.await.unwrap().secret().expose(), "next");
    }

    #[tokio::test]
    async fn a_valid_token_is_handed_out_while_its_refresh_is_under_way() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        // Three minutes left: due for a refresh, still valid.
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let refreshing = cache
            .get(std::future::pending)
            .now_or_never()
            .expect("the caller that starts the refresh does not wait for it");
        assert_eq!(refreshing.unwrap().secret().expose(), "old");
        let other = cache
            .get(never)
            .now_or_never()
            .expect("answered without waiting for the refresh");
        assert_eq!(other.unwrap().secret().expose(), "old");
    }

    #[tokio::test]
    async fn a_caller_after_a_refusal_asks_again() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let refused = || std::future::ready(Err(busy(400, None)));
        assert!(cache.get(refused).await.is_err());
        let next = cache.get(gives("next", start() + Duration::hours(1)));
        assert_eq!(next.await.unwrap().secret().expose(), "next");
    }

    /// What the token endpoint says with `status`.
    fn busy(status: u16, retry_after: Option<std::time::Duration>) -> AuthError {
        AuthError::TokenEndpoint {
            status,
            error: None,
            description: None,
            aadsts: None,
            retry_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn callers_without_a_token_leave_an_unreachable_endpoint_alone_for_a_second() {
        // An outage met by one call is not asked about again by every call that comes next.
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        assert!(cache.get(fails).await.is_err());
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        let resting = cache.get(never).await.unwrap_err();
        assert!(resting.unavailable(), "{resting}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let next = cache.get(gives("next", start() + Duration::hours(1)));
        assert_eq!(next.await.unwrap().secret().expose(), "next");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_endpoint_asking_for_ever_is_left_alone_five_minutes_at_most() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        for asked in [
            Duration::days(365).to_std().unwrap(),
            std::time::Duration::MAX,
        ] {
            let throttled = move || std::future::ready(Err(busy(503, Some(asked))));
            assert!(cache.get(throttled).await.is_err());
            // Five minutes, as README and the rustdoc say (not whatever the constant holds).
            assert_eq!(LONGEST_REST, std::time::Duration::from_secs(300));
            tokio::time::sleep(LONGEST_REST - std::time::Duration::from_secs(1)).await;
            assert!(cache.get(never).await.is_err(), "still resting");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let asks_again = cache.get(gives("next", start() + Duration::hours(1)));
            assert_eq!(asks_again.await.unwrap().secret().expose(), "next");
            cache.invalidate(&cache.fresh().unwrap());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_endpoint_is_left_alone_as_long_as_it_asked_and_says_what_is_left() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let asked = std::time::Duration::from_secs(30);
        let throttled = || std::future::ready(Err(busy(429, Some(asked))));
        assert!(cache.get(throttled).await.is_err());
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        let left = match cache.get(never).await.unwrap_err() {
            AuthError::TokenEndpoint {
                status: 429,
                retry_after: Some(left),
                ..
            } => left,
            other => panic!("{other:?}"),
        };
        assert_eq!(left, std::time::Duration::from_secs(20));
        tokio::time::sleep(left).await;
        let next = cache.get(gives("next", start() + Duration::hours(1)));
        assert_eq!(next.await.unwrap().secret().expose(), "next");
    }

    /// A runtime on a thread of its own, whose caller gives up on a fetch that never ends:
    /// the fetch stays, as a task of that runtime, which nothing drives any more.
    fn fetch_left_on_another_runtime(cache: &Arc<TokenCache>) -> tokio::runtime::Runtime {
        let cache = cache.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let gave_up = runtime.block_on(async {
                let fetch = cache.get(std::future::pending);
                tokio::time::timeout(std::time::Duration::from_millis(10), fetch).await
            });
            assert!(gave_up.is_err(), "the caller gave up: {gave_up:?}");
            runtime
        })
        .join()
        .unwrap()
    }

    #[tokio::test]
    async fn callers_waiting_on_a_fetch_whose_runtime_went_fetch_on_their_own() {
        let cache = Arc::new(TokenCache::new(Arc::new(FixedClock(start()))));
        let other = fetch_left_on_another_runtime(&cache);
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(gives("own", start() + Duration::hours(1))).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "waiting for the other runtime's fetch"
        );
        other.shutdown_background();
        // A hang detector, not a speed limit.
        let got = tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
            .await
            .expect("not stuck behind the abandoned fetch")
            .unwrap();
        assert_eq!(got.unwrap().secret().expose(), "own");
    }

    #[tokio::test]
    async fn a_fetch_past_its_limit_on_a_runtime_nobody_drives_is_taken_over() {
        // The caller comes while the fetch is young (most likely: it is 100 ms from counting
        // as stuck) and waits; once it counts as stuck, the caller, still waiting, takes over.
        let limit = std::time::Duration::from_millis(100);
        let cache = TokenCache::new(Arc::new(FixedClock(start()))).with_fetch_limit(limit);
        let cache = Arc::new(cache);
        let kept = fetch_left_on_another_runtime(&cache);
        let waiter = cache.get(gives("own", start() + Duration::hours(1)));
        // A hang detector, not a speed limit.
        let waiter = tokio::time::timeout(std::time::Duration::from_secs(30), waiter);
        assert_eq!(
            waiter.await.expect("taken over").unwrap().secret().expose(),
            "own"
        );
        kept.shutdown_background();
    }

    #[test]
    fn a_refresh_in_a_runtime_without_a_timer_fails_and_says_why() {
        // Not "abandoned": the runtime is alive, it only has no timer for the fetch's limit.
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(holding("old", clock.clone()));
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let timerless = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        timerless.block_on(async {
            let old = cache.get(gives("new", start() + Duration::hours(2))).await;
            assert_eq!(old.unwrap().secret().expose(), "old");
            // The refresh runs as a task once this caller yields.
            while cache.shared.state().flight.is_some() {
                tokio::task::yield_now().await;
            }
        });
        let state = cache.shared.state();
        let (_, failure) = state.failure.as_ref().expect("the refresh failed");
        assert!(
            failure.to_string().contains("timers are disabled"),
            "{failure}"
        );
    }

    #[test]
    fn a_replaced_flights_late_token_is_kept_only_if_it_is_better() {
        let clock = Arc::new(Moving(Mutex::new(start() + Duration::minutes(90))));
        let cache = TokenCache::new(clock);
        let shared = &cache.shared;
        shared.state().flight = Some(Flight {
            id: 2,
            since: Instant::now(),
            limited: true,
        });
        shared.land(2, Ok(token("newer", start() + Duration::hours(2))));
        for (name, expires) in [
            ("expired", start() + Duration::hours(1)),
            ("shorter", start() + Duration::minutes(100)),
        ] {
            shared.land(1, Ok(token(name, expires)));
            assert_eq!(cache.fresh().unwrap().secret().expose(), "newer", "{name}");
        }
        shared.land(1, Ok(token("longer", start() + Duration::hours(3))));
        assert_eq!(cache.fresh().unwrap().secret().expose(), "longer");
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_a_header_is_a_failure_not_a_cached_token() {
        // Cached, it would fail every call until it expired, with nothing to clear it: no
        // request is sent, so no 401 comes back. An empty one would be sent as `Bearer ` on
        // every call, each answered with a 401 that does not say why.
        for (token, reason) in [
            ("line\nbreak", "cannot be sent in a header"),
            ("", "the token is empty"),
            (" Bearer \n", "the token is empty"),
        ] {
            let cache = TokenCache::new(Arc::new(FixedClock(start())));
            let err = cache
                .get(gives(token, start() + Duration::hours(1)))
                .await
                .unwrap_err();
            assert!(err.to_string().contains(reason), "{token:?}: {err}");
            assert!(cache.still_valid().is_none(), "{token:?}");
            let next = cache.get(gives("next", start() + Duration::hours(1)));
            assert_eq!(next.await.unwrap().secret().expose(), "next");
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_waits_before_the_next_even_if_the_clock_steps_back() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let set = |at| *clock.0.lock().unwrap() = at;
        set(start() + Duration::minutes(56));
        // A refusal: an endpoint out of reach would add a rest of its own, on the runtime's clock.
        let refused = || std::future::ready(Err(busy(400, None)));
        assert_eq!(cache.get(refused).await.unwrap().secret().expose(), "old");
        cache.settled().await;
        // Within RETRY_REFRESH_AFTER: the cached token, no new fetch.
        set(start() + Duration::minutes(56) + Duration::seconds(5));
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "old");
        // The clock stepped back to before the failure (still in the refresh window): the
        // wait is over, not stretched by the step. The refresh runs, and lands for the next
        // caller.
        set(start() + Duration::minutes(55) + Duration::seconds(30));
        let renewing = cache.get(gives("new", start() + Duration::hours(2)));
        assert_eq!(renewing.await.unwrap().secret().expose(), "old");
        cache.settled().await;
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "new");
    }

    #[tokio::test]
    async fn the_next_refresh_after_a_failed_one_starts_once_its_wait_is_over() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let set = |at| *clock.0.lock().unwrap() = at;
        let failed_at = start() + Duration::minutes(56);
        set(failed_at);
        let refused = || std::future::ready(Err(busy(400, None)));
        assert_eq!(cache.get(refused).await.unwrap().secret().expose(), "old");
        cache.settled().await;
        // Exactly RETRY_REFRESH_AFTER later: the wait is over, so this caller starts a refresh
        // (and gets the valid token meanwhile); it lands for the next.
        set(failed_at + RETRY_REFRESH_AFTER);
        let renewing = cache.get(gives("new", start() + Duration::hours(2)));
        assert_eq!(renewing.await.unwrap().secret().expose(), "old");
        cache.settled().await;
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "new");
    }

    /// Runs `future` on this thread, outside any runtime.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    /// The handle of a runtime that has shut down: what a caller who entered it after its end
    /// (a runtime made for one call, dropped while a clone of its handle lived on) runs in.
    fn shut_down_runtime() -> tokio::runtime::Handle {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let gone = runtime.handle().clone();
        runtime.shutdown_background();
        gone
    }

    #[test]
    fn outside_a_runtime_a_slow_refresh_does_not_hand_out_the_token_that_expired_meanwhile() {
        // Due for a refresh, still valid; the refresh runs in the caller and takes longer than
        // the old token had left.
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = block_on(holding("old", clock.clone()));
        *clock.0.lock().unwrap() = start() + Duration::minutes(58);
        let moved = clock.clone();
        let slow = move || {
            *moved.0.lock().unwrap() = start() + Duration::minutes(61);
            std::future::ready(Ok(token("new", start() + Duration::hours(2))))
        };
        assert_eq!(block_on(cache.get(slow)).unwrap().secret().expose(), "new");
        // A slow refresh that fails: the old token, expired meanwhile, is not handed out.
        *clock.0.lock().unwrap() = start();
        let cache = block_on(holding("old", clock.clone()));
        *clock.0.lock().unwrap() = start() + Duration::minutes(58);
        let moved = clock.clone();
        let failing = move || {
            *moved.0.lock().unwrap() = start() + Duration::minutes(61);
            fails()
        };
        assert!(block_on(cache.get(failing)).is_err());
        // One that fails quickly leaves the old token, still valid, to the caller.
        *clock.0.lock().unwrap() = start();
        let cache = block_on(holding("old", clock.clone()));
        *clock.0.lock().unwrap() = start() + Duration::minutes(58);
        assert_eq!(block_on(cache.get(fails)).unwrap().secret().expose(), "old");
    }

    #[test]
    fn a_caller_whose_runtime_is_gone_gets_an_error_not_a_loop() {
        // Inside a runtime that has shut down, every fetch started is dropped at once: the
        // caller must be told, not start another for ever.
        let gone = shut_down_runtime();
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = counting(&fetches, "t");
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _inside = gone.enter();
            let _ = done.send(block_on(cache.get(counted)));
        });
        // A hang detector, not a speed limit.
        let got = result
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("an answer, not a loop");
        assert!(got.unwrap_err().to_string().contains("abandoned"));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_replaced_flights_failure_is_not_the_newer_ones_outcome() {
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let shared = &cache.shared;
        let newer = Flight {
            id: 2,
            since: Instant::now(),
            limited: true,
        };
        shared.state().flight = Some(newer);
        shared.land(1, Err(busy(503, None)));
        {
            let state = shared.state();
            assert_eq!(state.generation, 0, "waiters not woken");
            assert!(state.failure.is_none() && state.resting.is_none());
            assert_eq!(state.flight.map(|f| f.id), Some(2));
        }
        // A token is a token, whichever flight brought it.
        shared.land(1, Ok(token("late", start() + Duration::hours(1))));
        assert_eq!(cache.fresh().unwrap().secret().expose(), "late");
        assert_eq!(shared.state().flight.map(|f| f.id), Some(2));
    }

    #[tokio::test]
    async fn a_fetch_running_in_a_caller_outside_a_runtime_is_not_taken_over() {
        // No timer ends such a fetch, so its age says nothing about whether it is stuck.
        let limit = std::time::Duration::from_millis(50);
        let cache =
            Arc::new(TokenCache::new(Arc::new(FixedClock(start()))).with_fetch_limit(limit));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let outside = {
            let cache = cache.clone();
            let released = Mutex::new(Some(released));
            std::thread::spawn(move || {
                block_on(cache.get(move || {
                    let released = released.lock().unwrap().take().expect("one fetch");
                    async move {
                        released.await.unwrap();
                        Ok(token("slow", start() + Duration::hours(1)))
                    }
                }))
            })
        };
        // Its age counts from when it began.
        while cache.shared.state().flight.is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        tokio::time::sleep(limit + STUCK_AFTER_LIMIT + std::time::Duration::from_millis(100)).await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(100), cache.get(never));
        assert!(second.await.is_err(), "waits for the slow fetch");
        release.send(()).unwrap();
        assert_eq!(outside.join().unwrap().unwrap().secret().expose(), "slow");
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "slow");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_waits_out_the_rest_a_busy_endpoint_asked_for() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let pass = |by: std::time::Duration| {
            let mut now = clock.0.lock().unwrap();
            *now += Duration::from_std(by).unwrap();
        };
        *clock.0.lock().unwrap() = start() + Duration::minutes(56);
        let asked = std::time::Duration::from_secs(60);
        let throttled = move || std::future::ready(Err(busy(429, Some(asked))));
        assert_eq!(cache.get(throttled).await.unwrap().secret().expose(), "old");
        cache.settled().await;
        // Past RETRY_REFRESH_AFTER, within the minute asked for: no refresh yet.
        let later = std::time::Duration::from_secs(11);
        tokio::time::sleep(later).await;
        pass(later);
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "old");
        let rest = asked - later;
        tokio::time::sleep(rest).await;
        pass(rest);
        let renewing = cache.get(gives("new", start() + Duration::hours(2)));
        assert_eq!(renewing.await.unwrap().secret().expose(), "old");
        cache.settled().await;
        assert_eq!(cache.get(never).await.unwrap().secret().expose(), "new");
    }

    /// A fetch that counts its calls and gives `name`, valid for two hours from the start.
    fn counting(
        fetches: &Arc<AtomicUsize>,
        name: &'static str,
    ) -> impl Fn() -> std::future::Ready<Result<AccessToken, AuthError>> {
        let fetches = fetches.clone();
        move || {
            fetches.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(token(name, start() + Duration::hours(2))))
        }
    }

    #[tokio::test]
    async fn a_refresh_abandoned_with_its_runtime_waits_like_a_failed_one() {
        // A runtime made for one call starts the refresh and is dropped under it: the calls
        // after it must not start one each (every one of them on a runtime of its own).
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = Arc::new(holding("old", clock.clone()).await);
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let on_its_own = cache.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let got = runtime.block_on(on_its_own.get(std::future::pending));
            assert_eq!(got.unwrap().secret().expose(), "old", "still valid");
            drop(runtime);
        })
        .join()
        .unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let got = cache.get(counting(&fetches, "new")).await.unwrap();
        cache.settled().await;
        assert_eq!(got.secret().expose(), "old");
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            0,
            "no refresh within the wait"
        );
        // Once the wait is over, the next call refreshes.
        *clock.0.lock().unwrap() = start() + Duration::minutes(57) + RETRY_REFRESH_AFTER;
        cache.get(counting(&fetches, "new")).await.unwrap();
        cache.settled().await;
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(cache.fresh().unwrap().secret().expose(), "new");
    }

    #[tokio::test]
    async fn a_token_graph_refused_is_fetched_anew_at_once_whatever_failed_before() {
        // A refresh was refused, which holds the next one off while the token lasts; then
        // Graph refuses that token. The next call fetches at once: the wait was for a cache
        // with a token to serve meanwhile. (An endpoint out of reach or busy is left alone
        // for its rest either way.)
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let refused = || {
            std::future::ready(Err(AuthError::TokenEndpoint {
                retry_after: None,
                status: 400,
                error: Some("invalid_grant".into()),
                description: None,
                aadsts: None,
            }))
        };
        let old = cache.get(refused).await.unwrap();
        cache.settled().await;
        assert!(cache.shared.state().failure.is_some(), "the refresh failed");
        cache.invalidate(&old);
        let fetches = Arc::new(AtomicUsize::new(0));
        let got = cache.get(counting(&fetches, "new")).await.unwrap();
        assert_eq!(got.secret().expose(), "new");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// A cache whose token Graph refused while a refresh begun before was under way; that
    /// refresh's token, "early" (valid two hours from the start), landed after the refusal.
    async fn refused_while_refreshing(clock: Arc<Moving>) -> TokenCache {
        let cache = holding("old", clock.clone()).await;
        *clock.0.lock().unwrap() = start() + Duration::minutes(57);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Arc::new(Mutex::new(Some(released)));
        let slow = move || {
            let released = released.lock().unwrap().take();
            async move {
                released.expect("fetched once").await.unwrap();
                Ok(token("early", start() + Duration::hours(2)))
            }
        };
        let old = cache.get(slow).await.unwrap();
        assert_eq!(
            old.secret().expose(),
            "old",
            "the refresh runs in the background"
        );
        cache.invalidate(&old);
        release.send(()).unwrap();
        cache.settled().await;
        cache
    }

    #[tokio::test]
    async fn a_routine_refresh_after_a_refusal_cured_by_an_earlier_fetch_is_no_replacement() {
        // The early token serves. An hour later the routine refresh's token is refused: it
        // replaced nothing refused, so the next call fetches at once instead of keeping it.
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = refused_while_refreshing(clock.clone()).await;
        let fetches = Arc::new(AtomicUsize::new(0));
        let early = cache.get(counting(&fetches, "unused")).await.unwrap();
        assert_eq!(early.secret().expose(), "early");

        *clock.0.lock().unwrap() = start() + Duration::minutes(116);
        cache
            .get(gives("later", start() + Duration::hours(3)))
            .await
            .unwrap();
        cache.settled().await;
        let later = cache.get(counting(&fetches, "unused")).await.unwrap();
        assert_eq!(later.secret().expose(), "later");
        cache.invalidate(&later);
        let next = cache.get(counting(&fetches, "fresh")).await.unwrap();
        assert_eq!(next.secret().expose(), "fresh");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replacement_refused_in_turn_is_kept_a_while_not_fetched_again_per_call() {
        // Graph refuses the token, and then the one fetched to replace it: the next refusals
        // within the wait ask for nothing, whatever number of calls meet them; after it, one
        // fetch again.
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let fetches = Arc::new(AtomicUsize::new(0));
        let old = cache.get(counting(&fetches, "unused")).await.unwrap();
        cache.invalidate(&old);
        let new = cache.get(counting(&fetches, "new")).await.unwrap();
        assert_eq!(
            (new.secret().expose(), fetches.load(Ordering::SeqCst)),
            ("new", 1)
        );
        for _ in 0..5 {
            cache.invalidate(&new);
            let kept = cache.get(counting(&fetches, "newer")).await.unwrap();
            assert_eq!(kept.secret().expose(), "new");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(REFUSED_AGAIN_WAIT).await;
        cache.invalidate(&new);
        let newer = cache.get(counting(&fetches, "newer")).await.unwrap();
        assert_eq!(newer.secret().expose(), "newer");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        // A token that replaced nothing refused (a refresh before expiry) goes at once.
        *clock.0.lock().unwrap() = start() + Duration::minutes(117);
        let refreshed = cache.get(counting(&fetches, "refreshed")).await.unwrap();
        cache.settled().await;
        let refreshed = match refreshed.secret().expose() {
            "refreshed" => refreshed,
            _ => cache.get(counting(&fetches, "unused")).await.unwrap(),
        };
        assert_eq!(refreshed.secret().expose(), "refreshed");
        cache.invalidate(&refreshed);
        let after = cache.get(counting(&fetches, "after")).await.unwrap();
        assert_eq!(after.secret().expose(), "after");
    }

    #[tokio::test]
    async fn a_refresh_asked_for_before_the_refusal_replaces_nothing_refused() {
        // A refresh is under way when Graph refuses the token; it lands after, with a token
        // asked for before the refusal. That one is no replacement: refused in turn, it goes
        // at once, and the token after it is fetched.
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = refused_while_refreshing(clock).await;
        let fetches = Arc::new(AtomicUsize::new(0));
        let early = cache.get(counting(&fetches, "unused")).await.unwrap();
        assert_eq!(early.secret().expose(), "early");
        cache.invalidate(&early);
        let fresh = cache.get(counting(&fetches, "fresh")).await.unwrap();
        assert_eq!(fresh.secret().expose(), "fresh");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_is_valid_until_its_expiry_and_not_at_it() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        let expiry = start() + Duration::hours(1);
        *clock.0.lock().unwrap() = expiry - Duration::nanoseconds(1);
        assert_eq!(cache.still_valid().unwrap().secret().expose(), "old");
        *clock.0.lock().unwrap() = expiry;
        assert!(cache.still_valid().is_none(), "expired at its expiry");
    }

    #[tokio::test]
    async fn a_refresh_that_brings_an_expired_token_keeps_the_valid_one() {
        let clock = Arc::new(Moving(Mutex::new(start())));
        let cache = holding("old", clock.clone()).await;
        // Due for a refresh, three minutes left; the endpoint answers `expires_in: 0`.
        let now = start() + Duration::minutes(57);
        *clock.0.lock().unwrap() = now;
        let old = cache.get(gives("expired", now)).await.unwrap();
        assert_eq!(old.secret().expose(), "old");
        cache.settled().await;
        assert_eq!(cache.still_valid().unwrap().secret().expose(), "old");
        let state = cache.shared.state();
        let (_, failure) = state
            .failure
            .as_ref()
            .expect("the refresh counts as failed");
        assert!(failure.to_string().contains("already expired"), "{failure}");
    }

    #[tokio::test]
    async fn an_expired_token_is_still_handed_out_when_nothing_valid_is_at_hand() {
        // A provider's clock may be off from this one: with nothing else, it is worth a try.
        let cache = TokenCache::new(Arc::new(FixedClock(start())));
        let got = cache.get(gives("expired", start())).await.unwrap();
        assert_eq!(got.secret().expose(), "expired");
    }

    type Waiting = std::pin::Pin<Box<dyn Future<Output = Result<AccessToken, AuthError>> + Send>>;

    /// A caller that `run`s its `get` somewhere of its own while a live runtime's fetch is
    /// under way, released only once that caller is waiting for it: it gets the fetch's token.
    fn a_waiter_gets_the_live_fetchs_token(
        run: impl FnOnce(Waiting) -> Result<AccessToken, AuthError> + Send + 'static,
    ) {
        let cache = Arc::new(TokenCache::new(Arc::new(FixedClock(start()))));
        let live = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = Mutex::new(Some(released));
        let first = live.spawn({
            let cache = cache.clone();
            async move {
                let fetch = move || {
                    let released = released.lock().unwrap().take();
                    async move {
                        let _ = released.expect("one fetch").await;
                        Ok(token("live", start() + Duration::hours(1)))
                    }
                };
                cache.get(fetch).await
            }
        });
        while cache.shared.state().flight.is_none() {
            std::thread::yield_now();
        }
        let (parked, waiting) = std::sync::mpsc::channel();
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Says so once its `get` is waiting: the fetch lands after that, never before.
            let mut get = Box::pin(async move { cache.get(never).await });
            let mut told = false;
            let noted: Waiting = Box::pin(std::future::poll_fn(move |cx| {
                let poll = get.as_mut().poll(cx);
                if poll.is_pending() && !std::mem::replace(&mut told, true) {
                    let _ = parked.send(());
                }
                poll
            }));
            let _ = done.send(run(noted));
        });
        // Hang detectors, not speed limits; a panic drops `done` and fails here too.
        let limit = std::time::Duration::from_secs(30);
        waiting
            .recv_timeout(limit)
            .expect("the caller waits for the fetch");
        release.send(()).unwrap();
        let got = result
            .recv_timeout(limit)
            .expect("the waiting caller answered, without a panic");
        assert_eq!(got.unwrap().secret().expose(), "live");
        assert_eq!(
            live.block_on(first).unwrap().unwrap().secret().expose(),
            "live"
        );
    }

    #[test]
    fn a_caller_on_a_gone_runtime_waiting_on_a_live_runtimes_fetch_gets_its_token() {
        let gone = shut_down_runtime();
        a_waiter_gets_the_live_fetchs_token(move |get| {
            let _inside = gone.enter();
            block_on(get)
        });
    }

    #[test]
    fn a_caller_on_a_runtime_without_a_timer_waiting_on_a_live_runtimes_fetch_gets_its_token() {
        a_waiter_gets_the_live_fetchs_token(|get| {
            let timerless = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            timerless.block_on(get)
        });
    }
}
