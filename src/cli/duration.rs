//! Meeting lengths as people write them: `30m`, `1h30m`, `90s`, `2h`.

use chrono::Duration;

/// Longest length accepted; far beyond any meeting, well within chrono's range.
const MAX: Duration = Duration::days(366);

/// Parses hours, minutes and seconds in that order, each at most once, at least one.
pub(super) fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as 30m, 1h30m or 45s");
    let too_long = || format!("{text:?} is longer than 366 days");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    // Reached as `--duration=-30m` (clap takes `--duration -30m` for a flag of its own).
    if rest.starts_with('-') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is negative: a meeting's length is 0 or more (for an earlier start, move \
             --start)"
        ));
    }
    let mut total = Duration::zero();
    for (unit, seconds) in [('h', 3600), ('m', 60), ('s', 1)] {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || !rest[digits..].starts_with(unit) {
            continue;
        }
        // Only digits: a number that does not parse, or overflows below, is too large.
        let part = rest[..digits]
            .parse::<i64>()
            .ok()
            .and_then(|amount| amount.checked_mul(seconds))
            .and_then(Duration::try_seconds)
            .ok_or_else(too_long)?;
        total = total.checked_add(&part).ok_or_else(too_long)?;
        rest = &rest[digits + 1..];
    }
    if !rest.is_empty() {
        return Err(invalid());
    }
    if total > MAX {
        return Err(too_long());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_minutes_seconds() {
        assert_eq!(parse("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse("1h"), Ok(Duration::hours(1)));
        assert_eq!(parse("45s"), Ok(Duration::seconds(45)));
        assert_eq!(parse("2h0m5s"), Ok(Duration::seconds(7205)));
        assert_eq!(parse("0m"), Ok(Duration::zero()));
    }

    #[test]
    fn the_longest_length_is_366_days_to_the_second() {
        assert_eq!(parse("8784h"), Ok(Duration::days(366)));
        let err = parse("8784h0m1s").unwrap_err();
        assert!(err.contains("longer than 366 days"), "{err}");
    }

    #[test]
    fn spaces_around_a_length_are_a_shells_quoting_not_part_of_it() {
        assert_eq!(parse(" 30m "), Ok(Duration::minutes(30)));
        assert_eq!(parse("1h30m\n"), Ok(Duration::minutes(90)));
    }

    #[test]
    fn a_unit_without_its_number_is_unreadable_not_too_long() {
        for bad in ["m", "h30m", "1hm"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_negative_length_is_named_as_such() {
        let err = parse("-30m").unwrap_err();
        assert!(err.contains("negative"), "{err}");
        // Only a number after the sign is a negative length.
        let err = parse("-v").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "30",
            "m",
            "1m1h",
            "1h1h",
            "1m1m",
            "1s1s",
            "1d",
            "-5m",
            "1.5h",
            "1h 30m",
            "99999999999999999999h",
            "9000h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_number_too_large_for_any_clock_is_too_long_not_unreadable() {
        for huge in [
            "99999999999999h",
            "99999999999999999999h",
            "9999999999999999999s",
        ] {
            let err = parse(huge).unwrap_err();
            assert!(err.contains("longer than 366 days"), "{huge}: {err}");
        }
    }
}
