//! When a request may be sent again, as data.
//!
//! The rule is per operation. createOrGet is keyed by externalId, so sending it again can only
//! find the meeting the first attempt made: it is retried on every transient failure. create is
//! not idempotent: it is retried only when the service said it did not act (429, or 503 with
//! Retry-After) or the request never left (connect failure). Anything ambiguous (a timeout, a
//! lost answer, any other server error but 501 and 505) ends in
//! [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) instead of a second meeting.
//!
//! Both operations also wait out a token endpoint that is out of reach or busy (408, 429, 5xx, no
//! token within the timeout), before sending or after Graph's 401: Graph has not acted. Those
//! tries come at least a second apart (later, when the endpoint says `Retry-After`), are not
//! requests sent, and use up the same retries as the rest; each waits for a token up to the
//! request timeout.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{header::HeaderMap, StatusCode};

/// How many times, how long, and how patiently to retry. The defaults are on its `Default`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retries off). Not counted: the one request
    /// sent again with a fresh token after a 401, which re-authenticates rather than retries
    /// (Graph did not act on the first) and happens whatever the policy.
    pub max_retries: u32,
    /// First backoff step when the service gives no Retry-After.
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_backoff: Duration,
    /// Longest single wait, Retry-After included: a longer Retry-After ends the retries (a
    /// backoff step is cut to it instead). A busy or unreachable token endpoint is asked again
    /// a second later at the earliest, so under a second this turns those tries off.
    pub max_wait: Duration,
    /// Total time a call may spend in the waits between attempts that this policy plans,
    /// those before another try at a busy token endpoint included. Not the attempts
    /// themselves (each up to the client's `timeout`), nor a wait for a token within one. A
    /// wait of zero (`Retry-After: 0`, a date already past) uses none of it:
    /// [`max_retries`](Self::max_retries) is what bounds those.
    pub budget: Duration,
}

/// 3 retries; backoff from 0.5 s, doubling, each step at most 30 s; no single wait over
/// 180 s (a longer Retry-After ends the retries); at most 300 s of waiting in all. Patient
/// enough for Graph's throttling, which can ask for minutes; a caller that answers a user
/// within seconds wants [`with_limits`](RetryPolicy::with_limits) lower.
impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(180),
            budget: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Never retry (a 401 still gets its one fresh-token attempt: see
    /// [`max_retries`](Self::max_retries)).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// At most `n` retries, the other settings as they were. Retries for a token (see the module's
    /// docs) count against the same `n`.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Backoff starting at `base`, capped at `max`. Not for a token endpoint out of reach or
    /// busy: its tries come at least a second apart whatever these say (see the module's docs),
    /// so a test of that path is quicker with fewer retries than with a shorter backoff.
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_backoff = max;
        self
    }

    /// Longest single wait and total waiting budget. Either under a second turns off the
    /// tries for a token at a busy endpoint (see [`max_wait`](Self::max_wait)).
    pub fn with_limits(mut self, max_wait: Duration, budget: Duration) -> Self {
        self.max_wait = max_wait;
        self.budget = budget;
        self
    }

    /// The wait before retry number `retry` (1-based): Retry-After when given, else
    /// exponential backoff with jitter; or the limit that wait would break.
    pub(crate) fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        waited: Duration,
    ) -> Result<Duration, Refused> {
        if retry > self.max_retries {
            return Err(Refused::Retries(self.max_retries));
        }
        let delay = match retry_after {
            Some(d) => d,
            None => {
                let step = self.base_delay.saturating_mul(1u32 << (retry - 1).min(16));
                // Never past `max_wait`: only a Retry-After may end the retries by its length,
                // or jitter would make how many retries a call gets a matter of chance.
                let step = step.min(self.max_backoff).min(self.max_wait);
                // Equal jitter: half fixed, half random, so callers spread out.
                step / 2 + step.mul_f64(fastrand::f64() / 2.0)
            }
        };
        if delay > self.max_wait {
            return Err(Refused::Wait {
                wait: delay,
                max_wait: self.max_wait,
            });
        }
        // Checked: with limits set to `Duration::MAX`, a hostile Retry-After must not overflow.
        match waited.checked_add(delay).is_some_and(|t| t <= self.budget) {
            true => Ok(delay),
            false => Err(Refused::Budget {
                wait: delay,
                waited,
                budget: self.budget,
            }),
        }
    }
}

/// The limit of a [`RetryPolicy`] that ended a call's retries. Said in the log: a Retry-After
/// longer than the policy allows ends the retries at once, which the error alone does not tell
/// from a policy that never retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Refused {
    /// All of `max_retries` are used.
    Retries(u32),
    /// The wait is longer than `max_wait`.
    Wait { wait: Duration, max_wait: Duration },
    /// The wait would take the call's waiting past its `budget`.
    Budget {
        wait: Duration,
        waited: Duration,
        budget: Duration,
    },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retries(n) => write!(f, "all {n} retries of the retry policy are used"),
            Self::Wait { wait, max_wait } => write!(
                f,
                "a wait of {wait:?} is longer than the retry policy's max_wait of {max_wait:?}"
            ),
            Self::Budget {
                wait,
                waited,
                budget,
            } => write!(
                f,
                "a wait of {wait:?} after {waited:?} of waiting is past the retry policy's \
                 budget of {budget:?}"
            ),
        }
    }
}

/// Whether sending a request twice can make two meetings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// createOrGet: keyed by externalId.
    Keyed,
    /// create: every accepted request makes a meeting.
    NotIdempotent,
}

/// What an answer (or its absence) means for the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Safe to send again.
    Retry,
    /// Final: hand it to the caller.
    Final,
    /// The service may have acted; sending again could duplicate. create only.
    Ambiguous,
}

impl Idempotency {
    /// For an HTTP status.
    pub(crate) fn status(self, status: StatusCode, has_retry_after: bool) -> Verdict {
        match (self, status.as_u16()) {
            (_, 429) => Verdict::Retry,
            (Idempotency::Keyed, 408 | 500 | 502 | 503 | 504) => Verdict::Retry,
            (Idempotency::NotIdempotent, 503) if has_retry_after => Verdict::Retry,
            // 501 and 505: the service does not do what was asked, so it did nothing.
            (Idempotency::NotIdempotent, 501 | 505) => Verdict::Final,
            // 303 See Other points at the result of a request that was carried out: the
            // meeting may exist, whatever becomes of the 303's own body.
            (Idempotency::NotIdempotent, 303) => Verdict::Ambiguous,
            // A final 1xx (101 to a request that asked for no upgrade) or a 304 (a POST has
            // no cached copy to be "not modified" against) cannot be read as Graph's word on
            // the request: it was received, and nothing says it was not carried out.
            (Idempotency::NotIdempotent, 100..=199 | 304) => Verdict::Ambiguous,
            // Any other server error, and statuses past the classes HTTP defines (which a
            // proxy may still send): nothing says the meeting was not made. A caller told
            // "error" would retry, and a caller's own "retry on 5xx" loop would duplicate.
            (Idempotency::NotIdempotent, 408 | 500..) => Verdict::Ambiguous,
            _ => Verdict::Final,
        }
    }

    /// For a request that got no complete answer.
    pub(crate) fn transport(self, error: &reqwest::Error) -> Verdict {
        if error.is_connect() {
            // The connection was never made: nothing was sent.
            return Verdict::Retry;
        }
        if error.is_builder() || error.is_redirect() {
            return Verdict::Final;
        }
        match self {
            Idempotency::Keyed => Verdict::Retry,
            Idempotency::NotIdempotent => Verdict::Ambiguous,
        }
    }
}

/// `Retry-After` as delta-seconds or an HTTP date (compared in UTC); a date in the past means
/// now; anything unreadable is ignored. Dates are read in all three forms HTTP recipients must
/// accept (RFC 9110, 5.6.7): the IMF-fixdate senders use, and the obsolete RFC 850 and asctime
/// forms an old proxy may still write.
pub(crate) fn retry_after(
    headers: &HeaderMap,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many seconds to count is still a wait, longer than any policy allows: it ends
        // the retries rather than being ignored (and retried after a short backoff).
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let now = now();
    let at = match DateTime::parse_from_rfc2822(value) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => obsolete_http_date(value, now)?,
    };
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850) or `Sun Nov  6 08:49:37 1994` (asctime), in UTC,
/// and an IMF-fixdate whose weekday is not its date's (which chrono's RFC 2822 reader
/// refuses). A two-digit year is taken in `now`'s century, or the one before when that would
/// be more than 50 years ahead (RFC 9110's rule, not chrono's fixed 1970-2069 window).
/// Weekdays are skipped rather than checked, in every form: the date alone says when, and RFC
/// 9110 asks recipients to read dates robustly; a wrong one must not turn the server's wait
/// into a short backoff.
fn obsolete_http_date(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, NaiveDateTime};
    if let Some((_weekday, date)) = value.split_once(", ") {
        // Four digits of year, as IMF-fixdate has: chrono's `%Y` would read `27` as the year
        // 27, long past, and turn the wait into none.
        if date.split(' ').nth(2).is_some_and(|year| year.len() == 4) {
            if let Ok(at) = NaiveDateTime::parse_from_str(date, "%d %b %Y %H:%M:%S GMT") {
                return Some(at.and_utc());
            }
        }
        let at = NaiveDateTime::parse_from_str(date, "%d-%b-%y %H:%M:%S GMT").ok()?;
        let mut year = now.year() - now.year().rem_euclid(100) + at.year().rem_euclid(100);
        if year > now.year() + 50 {
            year -= 100;
        }
        return at.with_year(year).map(|at| at.and_utc());
    }
    // asctime pads a one-digit day with a space; chrono's `%e` reads it either way.
    let mut words = value.split_ascii_whitespace();
    let _weekday = words.next()?;
    let date = words.collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&date, "%b %e %H:%M:%S %Y")
        .ok()
        .map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn retry_after_seconds_date_past_and_garbage() {
        assert_eq!(
            retry_after(&headers("2"), now),
            Some(Duration::from_secs(2))
        );
        // 90 s ahead: the whole duration, not its seconds component.
        assert_eq!(
            retry_after(&headers("Mon, 23 Nov 2026 10:01:30 GMT"), now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after(&headers("Mon, 23 Nov 2026 09:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        // The obsolete forms HTTP recipients must still read.
        assert_eq!(
            retry_after(&headers("Monday, 23-Nov-26 10:00:45 GMT"), now),
            Some(Duration::from_secs(45))
        );
        // Exactly 50 years ahead is not "more than 50 years in the future" (RFC 9110): a
        // wait far past any policy, which ends the retries, not a date a century ago.
        let fifty = retry_after(&headers("Monday, 23-Nov-76 10:00:00 GMT"), now).unwrap();
        assert_eq!(
            fifty.as_secs(),
            (DateTime::parse_from_rfc3339("2076-11-23T10:00:00Z")
                .unwrap()
                .timestamp()
                - now().timestamp()) as u64
        );
        assert_eq!(
            retry_after(&headers("Mon Nov 23 10:02:00 2026"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Sun Nov  1 10:00:00 2026"), now),
            Some(Duration::ZERO),
            "a space-padded day, in the past"
        );
        // A two-digit year more than 50 years ahead is the century before (2094: 1994, long
        // past); one less far ahead stays in this century (70: 2070, a Wednesday, not 1970).
        assert_eq!(
            retry_after(&headers("Sunday, 06-Nov-94 08:49:37 GMT"), now),
            Some(Duration::ZERO)
        );
        let far = retry_after(&headers("Wednesday, 01-Jan-70 00:00:00 GMT"), now).unwrap();
        assert!(far > Duration::from_secs(40 * 365 * 86_400), "{far:?}");
        assert_eq!(
            retry_after(&headers("Monday, 31-Feb-26 10:00:00 GMT"), now),
            None
        );
        // A weekday that is not the date's (23 November 2026 is a Monday) does not cost the
        // wait the server asked for, in any of the three forms.
        for wrong in [
            "Tue, 23 Nov 2026 10:00:45 GMT",
            "Tuesday, 23-Nov-26 10:00:45 GMT",
            "Tue Nov 23 10:00:45 2026",
        ] {
            assert_eq!(
                retry_after(&headers(wrong), now),
                Some(Duration::from_secs(45)),
                "{wrong}"
            );
        }
        // Nor is a two-digit year in the IMF form read as the year 26: unreadable, as before.
        assert_eq!(
            retry_after(&headers("Tue, 23 Nov 26 10:00:45 GMT"), now),
            None
        );
        assert_eq!(
            retry_after(&headers("99999999999999999999"), now),
            Some(Duration::MAX),
            "more seconds than a u64 holds"
        );
        assert_eq!(retry_after(&headers("soon-ish"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn create_is_retried_only_when_the_service_did_not_act() {
        let create = Idempotency::NotIdempotent;
        assert_eq!(
            create.status(StatusCode::TOO_MANY_REQUESTS, false),
            Verdict::Retry
        );
        assert_eq!(
            create.status(StatusCode::SERVICE_UNAVAILABLE, true),
            Verdict::Retry
        );
        assert_eq!(
            create.status(StatusCode::SERVICE_UNAVAILABLE, false),
            Verdict::Ambiguous
        );
        assert_eq!(
            create.status(StatusCode::GATEWAY_TIMEOUT, true),
            Verdict::Ambiguous
        );
        assert_eq!(
            create.status(StatusCode::INTERNAL_SERVER_ERROR, false),
            Verdict::Ambiguous
        );
        for s in [301, 302, 307, 308, 400, 401, 403, 404, 409, 501, 505] {
            assert_eq!(
                create.status(StatusCode::from_u16(s).unwrap(), true),
                Verdict::Final,
                "{s}"
            );
        }
        // A final 1xx or a 304 (neither answers a POST), a 303 (which answers a request
        // carried out), server errors Graph documents beyond
        // the usual ones, the rest of the class, and statuses no class defines: the meeting
        // may exist.
        for s in [100, 101, 199, 303, 304, 507, 509, 520, 599, 600, 999] {
            assert_eq!(
                create.status(StatusCode::from_u16(s).unwrap(), false),
                Verdict::Ambiguous,
                "{s}"
            );
        }
    }

    #[test]
    fn create_or_get_is_retried_on_every_transient_status() {
        let keyed = Idempotency::Keyed;
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                keyed.status(StatusCode::from_u16(s).unwrap(), false),
                Verdict::Retry,
                "{s}"
            );
        }
        for s in [200, 201, 400, 401, 403, 404, 501] {
            assert_eq!(
                keyed.status(StatusCode::from_u16(s).unwrap(), true),
                Verdict::Final,
                "{s}"
            );
        }
    }

    #[test]
    fn delays_respect_limits() {
        let p = RetryPolicy::default().with_max_retries(2);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2)), Duration::ZERO),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay(3, None, Duration::ZERO),
            Err(Refused::Retries(2)),
            "past max_retries"
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(181)), Duration::ZERO),
            Err(Refused::Wait {
                wait: Duration::from_secs(181),
                max_wait: Duration::from_secs(180)
            }),
            "past max_wait"
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(10)), Duration::from_secs(295)),
            Err(Refused::Budget {
                wait: Duration::from_secs(10),
                waited: Duration::from_secs(295),
                budget: Duration::from_secs(300)
            }),
            "past budget"
        );
        for retry in 1..=2 {
            let step = Duration::from_millis(500) * (1 << (retry - 1));
            let d = p.delay(retry, None, Duration::ZERO).unwrap();
            assert!(d >= step / 2 && d <= step, "{d:?} for retry {retry}");
        }
        assert_eq!(
            RetryPolicy::none().delay(1, None, Duration::ZERO),
            Err(Refused::Retries(0))
        );
    }

    #[test]
    fn limits_are_inclusive_and_backoff_stops_at_its_cap() {
        let p = RetryPolicy::default();
        // A wait of exactly the longest allowed, or one that uses the budget up exactly, is
        // still taken.
        let longest = Duration::from_secs(180);
        assert_eq!(p.delay(1, Some(longest), Duration::ZERO), Ok(longest));
        let ten = Duration::from_secs(10);
        assert_eq!(p.delay(1, Some(ten), Duration::from_secs(290)), Ok(ten));
        // Backoff doubles up to its cap and no further: the third step of 10 s would be 40 s.
        let capped = RetryPolicy::default()
            .with_max_retries(5)
            .with_backoff(ten, Duration::from_secs(15));
        for _ in 0..20 {
            let d = capped.delay(3, None, Duration::ZERO).unwrap();
            assert!(
                d >= Duration::from_millis(7_500) && d <= Duration::from_secs(15),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_backoff_step_longer_than_the_longest_wait_is_cut_to_it_not_the_end_of_retries() {
        // Every retry asked for is made: the steps (5, 10, 20, 40 s, jittered) past a 5 s
        // longest wait are 5 s at most, never a reason to stop.
        let p = RetryPolicy::default()
            .with_max_retries(6)
            .with_backoff(Duration::from_secs(5), Duration::from_secs(60))
            .with_limits(Duration::from_secs(5), Duration::from_secs(3600));
        for _ in 0..50 {
            for retry in 1..=6 {
                let d = p.delay(retry, None, Duration::ZERO);
                assert!(
                    d.is_ok_and(|d| d <= Duration::from_secs(5)),
                    "{retry}: {d:?}"
                );
            }
        }
        // A Retry-After past it still ends them.
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(6)), Duration::ZERO)
                .ok(),
            None
        );
    }

    #[test]
    fn backoff_is_jittered_so_callers_spread_out() {
        // Equal jitter: between half the step and the whole of it, and not the same every
        // time (200 draws all in one half of that range: one chance in 2^199).
        let p = RetryPolicy::default();
        let step = Duration::from_millis(500);
        let draws: Vec<Duration> = (0..200)
            .map(|_| p.delay(1, None, Duration::ZERO).unwrap())
            .collect();
        assert!(draws.iter().all(|d| *d >= step / 2 && *d <= step));
        assert!(draws.iter().any(|d| *d < step * 3 / 4), "{draws:?}");
        assert!(draws.iter().any(|d| *d > step * 3 / 4), "{draws:?}");
    }

    #[test]
    fn unlimited_waits_do_not_overflow() {
        // No limits, a wait already taken and a Retry-After as long as a Duration gets: the
        // sum does not fit, so it is past the budget rather than a panic.
        let p = RetryPolicy::default().with_limits(Duration::MAX, Duration::MAX);
        let huge = Duration::from_secs(u64::MAX);
        assert_eq!(p.delay(2, Some(huge), Duration::from_secs(1)).ok(), None);
        assert_eq!(p.delay(1, Some(huge), Duration::ZERO), Ok(huge));
    }
}
