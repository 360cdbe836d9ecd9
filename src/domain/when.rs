//! Points in time as operators type them: `24h`, `7d`, `90m`, `2w` ago, a date, or RFC 3339.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

pub fn parse_when(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "'{text}' is not a time: use an age like 30m, 24h, 7d, 2w, a date like 2025-12-01, \
             or an RFC 3339 time"
        )
    };
    // An age is digits and a unit; anything else ending in a letter (`…T12:00:00Z`) is a time.
    let age = text
        .chars()
        .last()
        .filter(|c| c.is_ascii_alphabetic())
        .and_then(|unit| Some((text[..text.len() - 1].parse::<i64>().ok()?, unit)));
    if let Some((amount, unit)) = age {
        let age = match unit {
            's' => Duration::try_seconds(amount),
            'm' => Duration::try_minutes(amount),
            'h' => Duration::try_hours(amount),
            'd' => Duration::try_days(amount),
            'w' => Duration::try_weeks(amount),
            _ => None,
        }
        .ok_or_else(bad)?;
        return now.checked_sub_signed(age).ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_count_back_from_now() {
        let now = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(parse_when("24h", now).unwrap(), now - Duration::hours(24));
        assert_eq!(parse_when("7d", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            parse_when("2026-01-01", now).unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_when("2026-01-09T12:30:00Z", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 9, 12, 30, 0).unwrap()
        );
        assert!(parse_when("yesterday", now).is_err());
        assert!(parse_when("5y", now).is_err());
    }
}
