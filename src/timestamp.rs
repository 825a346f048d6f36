//! [`Timestamp`]: the model's date-time, a `DateTime<Utc>` that reads and writes Graph's
//! RFC 3339 text quickly.
//!
//! `build.rs` has the generator use it for every `date-time` in `spec/`. chrono's own serde
//! goes through its general-purpose parser and through `fmt` for every character written; a
//! meeting carries four date-times and a request two, which made them a visible share of each
//! call. The common shapes (`2020-02-06T01:49:21.3524945Z`, or with `+hh:mm`) take the fast
//! path; anything else goes to chrono, so what is accepted, and the instant it means, is
//! exactly chrono's.

use std::{fmt, ops::Deref, str::FromStr};

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta,
    Timelike, Utc,
};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// An instant, as the model's date-time properties carry it. Converts to and from chrono's
/// `DateTime<Utc>` (`From` both ways: `Some(Utc::now().into())`, `DateTime::from(t)`; from a
/// `DateTime` in any other zone too, `DateTime::parse_from_rfc3339(..)?.into()`) and
/// derefs to it, so its methods are at hand (`*t` for the `DateTime` itself, e.g. for
/// arithmetic). `Display` and `Debug` print the RFC 3339 text that is sent
/// (`2020-02-06T01:49:21.3524945Z`), not chrono's `Display` (`2020-02-06 01:49:21.352494500 UTC`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// From an instant in any time zone (`Utc`, `FixedOffset` from `parse_from_rfc3339`, `Local`):
/// the same instant, held in UTC as Graph is sent it.
impl<Tz: chrono::TimeZone> From<DateTime<Tz>> for Timestamp {
    fn from(instant: DateTime<Tz>) -> Self {
        Timestamp(instant.with_timezone(&Utc))
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl Deref for Timestamp {
    type Target = DateTime<Utc>;

    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

/// The text sent to Graph: RFC 3339 in UTC with `Z`, as many fraction digits as needed
/// (none, 3, 6 or 9, chrono's serde form; but 7 for a whole number of 100 ns ticks, as .NET
/// and Graph write them, `.2444915`, so a time the rules took to Graph's precision carries no
/// digit past it).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; RFC3339_MAX];
        match write_rfc3339(&self.0, &mut buf) {
            Some(text) => f.write_str(text),
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// RFC 3339 with any offset (converted to UTC), as chrono's `DateTime` parsing accepts it.
impl FromStr for Timestamp {
    type Err = chrono::ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match parse_rfc3339(text.as_bytes()) {
            Some(instant) => Ok(Timestamp(instant)),
            None => Ok(Timestamp(
                text.parse::<DateTime<FixedOffset>>()?.with_timezone(&Utc),
            )),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0; RFC3339_MAX];
        match write_rfc3339(&self.0, &mut buf) {
            Some(text) => serializer.serialize_str(text),
            // Display's own fallback: one place says what the rare shapes look like.
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl de::Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 date-time")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        text.parse().map_err(
            |e| match missing_offset(text).or_else(|| missing_seconds(text)) {
                Some(message) => E::custom(message),
                None => E::custom(e),
            },
        )
    }
}

/// What to say when `text` is an RFC 3339 date-time but for its seconds (`…T09:00Z`, which
/// chrono reports only as "invalid characters"). `None` for any other text.
fn missing_seconds(text: &str) -> Option<String> {
    let padded = with_seconds(text);
    let std::borrow::Cow::Owned(padded) = padded else {
        return None;
    };
    DateTime::parse_from_rfc3339(&padded)
        .ok()
        .map(|_| format!("{text:?} has no seconds: RFC 3339 wants them ({padded:?})"))
}

/// `text` with `:00` for seconds where a date-time leaves them out (`2020-01-01T10:00Z`), as
/// OData's reader pads it before reading (the emulator reads literals so); as it is otherwise.
pub(crate) fn with_seconds(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(t) = text.find('T') else {
        return text.into();
    };
    let seconds_colon = t + 6;
    if !text.is_char_boundary(seconds_colon.min(text.len())) {
        return text.into();
    }
    match text.as_bytes().get(seconds_colon) {
        Some(b':') => text.into(),
        None if text.len() < seconds_colon => text.into(),
        _ => format!("{}:00{}", &text[..seconds_colon], &text[seconds_colon..]).into(),
    }
}

/// What to say when `text` is a date and time without the UTC offset RFC 3339 requires: the
/// likeliest slip in a hand-written time, which chrono reports only as "premature end of
/// input". `None` for any other text.
pub(crate) fn missing_offset(text: &str) -> Option<String> {
    const LOCAL: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ];
    LOCAL
        .iter()
        .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok())
        .then(|| {
            format!("{text:?} has no UTC offset: a date-time ends in Z for UTC, or in the offset of its time zone")
        })
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ`: the longest text [`write_rfc3339`] writes.
const RFC3339_MAX: usize = 30;

/// `instant` as chrono's serde writes it, for years 0 to 9999 and no leap second; `None`
/// otherwise (chrono then writes it).
fn write_rfc3339<'b>(instant: &DateTime<Utc>, buf: &'b mut [u8; RFC3339_MAX]) -> Option<&'b str> {
    let date = instant.date_naive();
    let time = instant.time();
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let two = |buf: &mut [u8; RFC3339_MAX], at: usize, n: u32| {
        buf[at] = b'0' + (n / 10) as u8;
        buf[at + 1] = b'0' + (n % 10) as u8;
    };
    two(buf, 0, year / 100);
    two(buf, 2, year % 100);
    buf[4] = b'-';
    two(buf, 5, date.month());
    buf[7] = b'-';
    two(buf, 8, date.day());
    buf[10] = b'T';
    two(buf, 11, time.hour());
    buf[13] = b':';
    two(buf, 14, time.minute());
    buf[16] = b':';
    two(buf, 17, time.second());
    let (mut fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n if n % 100 == 0 => (n / 100, 7),
        n => (n, 9),
    };
    let mut end = 19;
    if digits > 0 {
        buf[19] = b'.';
        end = 20 + digits;
        for at in (20..end).rev() {
            buf[at] = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
    }
    buf[end] = b'Z';
    std::str::from_utf8(&buf[..=end]).ok()
}

/// The shapes Graph sends, `YYYY-MM-DDTHH:MM:SS[.f…](Z|±hh:mm)` with at most nine fraction
/// digits and no leap second, read directly; `None` for anything else, which chrono then
/// reads (or refuses).
fn parse_rfc3339(text: &[u8]) -> Option<DateTime<Utc>> {
    let digit = |at: usize| -> Option<u32> {
        let d = text.get(at)?.wrapping_sub(b'0');
        (d < 10).then_some(u32::from(d))
    };
    let two = |at: usize| Some(digit(at)? * 10 + digit(at + 1)?);
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| text.get(at) != Some(&c)) {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    let mut at = 19;
    let mut nanos = 0;
    if text.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while let Some(d) = digit(at) {
            if at - start == 9 {
                return None;
            }
            nanos = nanos * 10 + d;
            at += 1;
        }
        let digits = at - start;
        if digits == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - digits as u32);
    }
    let offset_minutes = match text.get(at..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (two(at + 1)?, two(at + 4)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = i64::from(hours * 60 + minutes);
            if *sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let local = NaiveDateTime::new(date, time);
    let utc = local.checked_sub_signed(TimeDelta::minutes(offset_minutes))?;
    Some(utc.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What chrono itself makes of `text`: the reference the fast path must agree with.
    fn chrono(text: &str) -> Option<DateTime<Utc>> {
        text.parse::<DateTime<FixedOffset>>()
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn an_instant_in_any_zone_converts_to_the_same_instant() {
        let pacific = DateTime::parse_from_rfc3339("2019-07-12T14:30:34.2444915-07:00").unwrap();
        let t = Timestamp::from(pacific);
        assert_eq!(t.to_string(), "2019-07-12T21:30:34.2444915Z");
        assert_eq!(*t, pacific);
        let now = chrono::Local::now();
        assert_eq!(*Timestamp::from(now), now);
    }

    #[test]
    fn a_time_without_its_offset_is_named_as_such() {
        let error = |text: &str| {
            serde_json::from_value::<Timestamp>(serde_json::Value::from(text))
                .unwrap_err()
                .to_string()
        };
        for local in [
            "2026-12-01T09:00:00",
            "2026-12-01 09:00",
            "2026-12-01T09:00:00.5",
            "2026-12-01T09:00",
            "2026-12-01 09:00:00.5",
        ] {
            assert!(error(local).contains("has no UTC offset"), "{local}");
        }
        // Seconds left out, with the offset there: named, with the form that reads.
        for short in ["2026-12-01T09:00Z", "2026-12-01T09:00+01:00"] {
            let message = error(short);
            assert!(message.contains("has no seconds"), "{short}: {message}");
            assert!(message.contains("09:00:00"), "{short}: {message}");
        }
        // Anything else keeps chrono's own reason.
        assert!(!error("tomorrow").contains("UTC offset"));
        assert!(!error("tomorrow").contains("seconds"));
        assert!(!error("2026-12-01T0é").contains("seconds"));
    }

    #[test]
    fn reads_graphs_shapes_as_chrono_does() {
        for text in [
            "2020-02-06T01:49:21.3524945+00:00",
            "2020-09-11T06:30:18.0615989Z",
            "2019-07-12T14:30:34.2444915-07:00",
            "2020-01-01T15:00:00Z",
            "2020-01-01T23:30:00+05:45",
            "2020-12-31T23:30:00-01:00",
            "2020-02-29T00:00:00.1Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let fast = parse_rfc3339(text.as_bytes());
            assert!(fast.is_some(), "{text} should take the fast path");
            assert_eq!(fast, chrono(text), "{text}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_chrono() {
        for text in [
            "2020-01-01t15:00:00z",
            "2020-01-01 15:00:00Z",
            "2020-01-01T15:00:00",
            "2020-01-01T15:00:00.Z",
            "2020-01-01T15:00:00.1234567891Z",
            "2020-01-01T23:59:60Z",
            "2020-02-30T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T15:00:00+24:00",
            "2020-01-01T15:00:00+0100",
            "2020-01-01T15:00:00Z ",
            "20-01-01T15:00:00Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(text.as_bytes()), None, "{text}");
            // Through the public parser, the answer is chrono's, whatever it is.
            let ours = text.parse::<Timestamp>().ok().map(DateTime::from);
            assert_eq!(ours, chrono(text), "{text}");
        }
    }

    #[test]
    fn agrees_with_chrono_on_mangled_text() {
        // Near misses of a valid date-time: one byte changed, dropped or repeated. Whatever the
        // fast path accepts must be what chrono reads.
        let valid = b"2021-03-04T05:06:07.123456789+08:30";
        let alphabet = b"0123456789-+:.TZtz ";
        let mut rng = fastrand::Rng::with_seed(6);
        for _ in 0..20_000 {
            let mut text = valid.to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..text.len());
                match rng.u8(..3) {
                    0 => text[at] = alphabet[rng.usize(..alphabet.len())],
                    1 => drop(text.remove(at)),
                    _ => text.insert(at, text[at]),
                }
            }
            let text = String::from_utf8(text).expect("ASCII");
            if let Some(fast) = parse_rfc3339(text.as_bytes()) {
                assert_eq!(Some(fast), chrono(&text), "{text}");
            }
        }
    }

    #[test]
    fn writes_what_chrono_writes() {
        let mut rng = fastrand::Rng::with_seed(7);
        let nanos = [0, 5_000_000, 120_000, 352_494_500, 999_999_999, 1];
        for i in 0..5_000 {
            let seconds = rng.i64(0..253_402_300_800); // 0000-01-01 to 9999-12-31
            let instant =
                DateTime::from_timestamp(seconds - 62_167_219_200, nanos[i % 6]).expect("in range");
            let ours = serde_json::to_string(&Timestamp(instant)).expect("serialize");
            let mut theirs = serde_json::to_string(&instant).expect("serialize");
            // A whole tick's last two zeros are not written (`.352494500` is `.3524945`).
            if nanos[i % 6] % 1_000 != 0 && nanos[i % 6] % 100 == 0 {
                theirs = theirs.replace("00Z", "Z");
            }
            assert_eq!(ours, theirs);
            assert_eq!(format!("\"{}\"", Timestamp(instant)), theirs);
        }
        // Outside what the fast writer covers, chrono writes it.
        let far = DateTime::from_timestamp(300_000_000_000, 0).expect("year 11476");
        assert_eq!(
            serde_json::to_string(&Timestamp(far)).unwrap(),
            serde_json::to_string(&far).unwrap()
        );
    }

    #[test]
    fn leaves_edge_instants_to_chrono_and_agrees_with_it() {
        // Offsets that carry the instant out of years 0..=9999, a leap second, a negative
        // year, year 0: read and written exactly as chrono does, through either path.
        for text in [
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "0000-03-01T00:00:00.5Z",
            "2016-12-31T23:59:60.5Z",
            "2016-12-31T23:59:60Z",
            "-0001-06-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
        ] {
            let ours: Timestamp = text.parse().expect(text);
            let theirs = chrono(text).expect(text);
            assert_eq!(DateTime::from(ours), theirs, "{text}");
            let written = serde_json::to_string(&theirs).unwrap();
            assert_eq!(serde_json::to_string(&ours).unwrap(), written, "{text}");
            assert_eq!(format!("\"{ours}\""), written, "{text}");
            let back: Timestamp = serde_json::from_str(&written).unwrap();
            assert_eq!(back, ours, "{text}");
        }
    }

    #[test]
    fn round_trips_through_json() {
        let t: Timestamp = serde_json::from_str("\"2019-07-12T14:30:34.2444915-07:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2019-07-12T21:30:34.2444915Z\""
        );
        let error = serde_json::from_str::<Timestamp>("\"12 July 2019\"").unwrap_err();
        assert!(error.to_string().contains("input"), "{error}");
        assert!(serde_json::from_str::<Timestamp>("17").is_err());
    }
}
