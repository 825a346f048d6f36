//! The time-defaulting rules Graph documents for createOrGet, applied before sending, to create
//! as well (this crate's choice: both operations then send explicit instants).
//!
//! - neither start nor end: start = now, end = start + 1 hour;
//! - start only: end = start + 1 hour;
//! - end without start: refused;
//! - end earlier than start: refused (equal is allowed).
//!
//! Instants are taken to Graph's precision first, 100 ns (.NET's ticks), as the service reads
//! them: to the nearest tick, a half to the even one (.NET's XML date-time reader, which
//! OData's uses). The request then never carries digits Graph would round away, and the rules
//! compare what Graph will hold: an end 80 ns before its start can round below it.
//!
//! The request then always carries explicit UTC instants, so what the service stores does not
//! depend on its own clock or on how it reads a missing field.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

use crate::{error::InvalidRequest, timestamp::Timestamp};

/// Where "now" comes from. Injectable so tests (and replays) are exact.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// How long a meeting lasts when only its start is known.
pub const DEFAULT_DURATION: Duration = Duration::hours(1);

/// Resolves the documented rules into an explicit `(start, end)`.
pub fn resolve(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), InvalidRequest> {
    resolve_with(start, end, || now)
}

/// [`resolve`], reading the clock only when the rules need "now".
fn resolve_with(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: impl FnOnce() -> DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), InvalidRequest> {
    let (start, end) = (start.map(to_ticks), end.map(to_ticks));
    let (start, end) = match (start, end) {
        (None, None) => {
            let now = to_ticks(now());
            (now, default_end(now)?)
        }
        (Some(start), None) => (start, default_end(within_range("startDateTime", start)?)?),
        (None, Some(end)) => return Err(InvalidRequest::EndWithoutStart { end }),
        (Some(start), Some(end)) if end < start => {
            return Err(InvalidRequest::EndBeforeStart { start, end })
        }
        (Some(start), Some(end)) => (start, end),
    };
    Ok((
        within_range("startDateTime", start)?,
        within_range("endDateTime", end)?,
    ))
}

/// `at` at the nearest 100 ns tick, a half to the even tick, as Graph reads it (a leap second
/// stays one, for `within_range`, which refuses it).
fn to_ticks(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond();
    let (ticks, rest) = (nanos / 100, nanos % 100);
    let down = at.with_nanosecond(nanos - rest).unwrap_or(at);
    let up = rest > 50 || (rest == 50 && ticks % 2 == 1);
    match up && nanos < 1_000_000_000 {
        // Into the next second, even the next year: `within_range` judges the result.
        true => down
            .checked_add_signed(Duration::nanoseconds(100))
            .unwrap_or(down),
        false => down,
    }
}

/// An hour after `start`, within the years Graph takes.
fn default_end(start: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidRequest> {
    start
        .checked_add_signed(DEFAULT_DURATION)
        .filter(|end| end.year() <= LAST_YEAR)
        .ok_or(InvalidRequest::StartOutOfRange { start })
}

/// Graph's date-times have four-digit years from 1 (.NET's `DateTimeOffset`): an instant
/// outside them would be written as a year the service cannot read, and refused after sending.
const LAST_YEAR: i32 = 9999;

fn within_range(field: &'static str, at: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidRequest> {
    if !(1..=LAST_YEAR).contains(&at.year()) {
        return Err(InvalidRequest::OutOfRange { field, at });
    }
    // chrono keeps a leap second as a nanosecond count past the last second.
    if at.nanosecond() >= 1_000_000_000 {
        return Err(InvalidRequest::LeapSecond { field, at });
    }
    Ok(at)
}

/// Another instant of a request (`expiryDateTime`): at Graph's 100 ns, within its years, not
/// a leap second, as the start and end are.
pub(crate) fn instant(
    field: &'static str,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, InvalidRequest> {
    within_range(field, to_ticks(at))
}

/// Applies [`resolve`] to a pair of request fields in place.
pub(crate) fn apply(
    start: &mut Option<Timestamp>,
    end: &mut Option<Timestamp>,
    clock: &dyn Clock,
) -> Result<(), InvalidRequest> {
    // A request with a start does not ask the clock.
    let (s, e) = resolve_with(start.map(Into::into), end.map(Into::into), || clock.now())?;
    *start = Some(s.into());
    *end = Some(e.into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn instants_are_taken_to_graphs_100_ns_ticks() {
        // The clock's nanoseconds are not sent: Graph would round them to the nearest tick.
        let now = at("2020-02-06T01:49:21.352494599Z");
        assert_eq!(
            resolve(None, None, now).unwrap(),
            (
                at("2020-02-06T01:49:21.3524946Z"),
                at("2020-02-06T02:49:21.3524946Z")
            )
        );
        // Nearest, a half to the even tick.
        for (given, held) in [
            ("2020-02-06T01:00:00.000000049Z", "2020-02-06T01:00:00Z"),
            ("2020-02-06T01:00:00.000000050Z", "2020-02-06T01:00:00Z"),
            (
                "2020-02-06T01:00:00.000000150Z",
                "2020-02-06T01:00:00.0000002Z",
            ),
            (
                "2020-02-06T01:00:00.000000051Z",
                "2020-02-06T01:00:00.0000001Z",
            ),
            ("2020-02-06T01:00:59.999999951Z", "2020-02-06T01:01:00Z"),
        ] {
            assert_eq!(
                resolve(Some(at(given)), None, now).unwrap().0,
                at(held),
                "{given}"
            );
        }
        // Within a tick of each other, an end and its start can hold the same instant, or the
        // end an earlier one: 80 ns before the start rounds below it, and is refused.
        let start = at("2020-02-06T01:00:00.000000049Z");
        let end = at("2020-02-06T01:00:00.000000001Z");
        let tick = at("2020-02-06T01:00:00Z");
        assert_eq!(resolve(Some(start), Some(end), now).unwrap(), (tick, tick));
        let start = at("2020-02-06T01:00:00.000000090Z");
        assert!(matches!(
            resolve(Some(start), Some(end), now),
            Err(InvalidRequest::EndBeforeStart { .. })
        ));
        // The last tick of year 9999 rounds into a year Graph cannot hold.
        let last = at("9999-12-31T23:59:59.99999996Z");
        assert!(resolve(Some(last), Some(last), now).is_err());
    }

    #[test]
    fn neither_given_starts_now_for_an_hour() {
        let now = at("2020-02-06T01:49:21.3524945Z");
        assert_eq!(
            resolve(None, None, now).unwrap(),
            (now, at("2020-02-06T02:49:21.3524945Z"))
        );
    }

    #[test]
    fn start_only_lasts_an_hour_and_keeps_sub_seconds() {
        let start = at("2019-07-12T14:30:34.2444915-07:00");
        let (s, e) = resolve(Some(start), None, at("2000-01-01T00:00:00Z")).unwrap();
        assert_eq!(s, at("2019-07-12T21:30:34.2444915Z"));
        assert_eq!(e, at("2019-07-12T22:30:34.2444915Z"));
    }

    #[test]
    fn end_without_start_is_refused() {
        let err = resolve(None, Some(at("2020-01-01T00:00:00Z")), Utc::now()).unwrap_err();
        assert!(matches!(err, InvalidRequest::EndWithoutStart { .. }));
        assert!(err.to_string().contains("without a start"), "{err}");
    }

    #[test]
    fn end_before_start_is_refused_by_one_tick() {
        let start = at("2020-01-01T00:00:00.0000001Z");
        let end = at("2020-01-01T00:00:00Z");
        let err = resolve(Some(start), Some(end), Utc::now()).unwrap_err();
        assert!(matches!(err, InvalidRequest::EndBeforeStart { .. }));
    }

    #[test]
    fn equal_start_and_end_is_allowed() {
        let t = at("2020-01-01T00:00:00Z");
        assert_eq!(resolve(Some(t), Some(t), Utc::now()).unwrap(), (t, t));
    }

    #[test]
    fn a_start_at_the_end_of_time_is_an_error_not_a_panic() {
        let err = resolve(Some(DateTime::<Utc>::MAX_UTC), None, Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                InvalidRequest::OutOfRange {
                    field: "startDateTime",
                    ..
                }
            ),
            "{err}"
        );
        let err = resolve(None, None, DateTime::<Utc>::MAX_UTC).unwrap_err();
        assert!(
            matches!(err, InvalidRequest::StartOutOfRange { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_start_in_year_9999_gets_its_default_hour_when_that_hour_stays_in_it() {
        let start = at("9999-06-01T00:00:00Z");
        assert_eq!(
            resolve(Some(start), None, Utc::now()).unwrap(),
            (start, start + DEFAULT_DURATION)
        );
    }

    #[test]
    fn instants_outside_four_digit_years_are_refused_before_sending() {
        // The default hour would end in year 10000.
        let late = at("9999-12-31T23:30:00Z");
        let err = resolve(Some(late), None, Utc::now()).unwrap_err();
        assert!(
            matches!(err, InvalidRequest::StartOutOfRange { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("too late"), "{err}");
        // The last instant of year 9999 is still an instant Graph reads.
        let last = at("9999-12-31T23:59:59.9999999Z");
        assert_eq!(
            resolve(Some(late), Some(last), Utc::now()).unwrap(),
            (late, last)
        );
        let after = last + Duration::nanoseconds(100);
        let err = resolve(Some(late), Some(after), Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                InvalidRequest::OutOfRange {
                    field: "endDateTime",
                    ..
                }
            ),
            "{err}"
        );
        // Year 0 and before.
        // (A nanosecond before year 1 rounds to its first tick, which Graph reads.)
        let ancient = at("0001-01-01T00:00:00Z") - Duration::nanoseconds(51);
        let err = resolve(Some(ancient), None, Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                InvalidRequest::OutOfRange {
                    field: "startDateTime",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("9999"), "{err}");
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        // 1970..2200 with nanoseconds.
        (0i64..7_258_118_400, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
    }

    fn offset() -> impl Strategy<Value = FixedOffset> {
        // RFC 3339 offsets are whole minutes.
        (-1439i32..=1439).prop_map(|m| FixedOffset::east_opt(m * 60).unwrap())
    }

    #[test]
    fn a_leap_second_is_refused_as_neither_graph_nor_dotnet_carries_it() {
        let leap = at("2016-12-31T23:59:60.5Z");
        let now = at("2016-12-31T00:00:00Z");
        assert!(matches!(
            resolve(Some(leap), None, now),
            Err(InvalidRequest::LeapSecond {
                field: "startDateTime",
                ..
            })
        ));
        let err = resolve(Some(now), Some(leap), now).unwrap_err();
        assert!(matches!(
            err,
            InvalidRequest::LeapSecond {
                field: "endDateTime",
                ..
            }
        ));
        assert!(err.to_string().contains("2016-12-31T23:59:60.5"), "{err}");
        // The leap second's first instant too (chrono: 59 s and a whole second of nanos).
        assert!(matches!(
            resolve(Some(at("2016-12-31T23:59:60Z")), None, now),
            Err(InvalidRequest::LeapSecond { .. })
        ));
        // The second before and the one after are ordinary.
        assert!(resolve(Some(at("2016-12-31T23:59:59.999Z")), None, now).is_ok());
        assert!(resolve(Some(at("2017-01-01T00:00:00Z")), None, now).is_ok());
    }

    proptest! {
        #[test]
        fn start_only_is_exactly_one_hour_in_any_offset(t in instant(), off in offset()) {
            // Written with an offset, read back as an instant: nothing but the zone changes.
            let written = t.with_timezone(&off).to_rfc3339();
            let parsed = at(&written);
            prop_assert_eq!(parsed, t);
            let (s, e) = resolve(Some(parsed), None, Utc::now()).unwrap();
            prop_assert_eq!(s, to_ticks(t));
            prop_assert_eq!(e - s, Duration::hours(1));
        }

        #[test]
        fn order_decides_between_accept_and_refuse(a in instant(), b in instant(), now in instant()) {
            match resolve(Some(a), Some(b), now) {
                // Compared as Graph holds them, in 100 ns ticks.
                Ok((s, e)) => {
                    prop_assert!(to_ticks(a) <= to_ticks(b));
                    prop_assert_eq!((s, e), (to_ticks(a), to_ticks(b)));
                }
                Err(InvalidRequest::EndBeforeStart { .. }) => prop_assert!(to_ticks(b) < to_ticks(a)),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn end_alone_is_always_refused(b in instant(), now in instant()) {
            let refused = matches!(resolve(None, Some(b), now), Err(InvalidRequest::EndWithoutStart { .. }));
            prop_assert!(refused);
        }

        #[test]
        fn nothing_given_follows_the_clock(now in instant()) {
            let start = to_ticks(now);
            prop_assert_eq!(resolve(None, None, now).unwrap(), (start, start + Duration::hours(1)));
            prop_assert_eq!(start.nanosecond() % 100, 0);
            // The nearest tick: at most half of one away.
            prop_assert!((now - start).abs() <= Duration::nanoseconds(50));
        }
    }
}
