//! Django's timestamp text (`2025-12-01 09:15:04.036326`), dates (`2025-12-01`) and times
//! (`09:15:04`), read and written by hand. chrono's format strings are interpreted anew for
//! every value, which was a sixth of `status --json`'s CPU on a million rows. Anything outside
//! the plain shapes (other offsets, leap seconds, years beyond 9999) is left to chrono, so the
//! answers are chrono's in every case.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0')))
}

/// `YYYY-MM-DD` exactly.
pub fn date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `HH:MM:SS`, `HH:MM:SS.f…` (1 to 9 digits) or `HH:MM`; no leap seconds.
pub fn time(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let (hour, minute) = (digits(&b[0..2])?, digits(&b[3..5])?);
    if b.len() == 5 {
        return NaiveTime::from_hms_opt(hour, minute, 0);
    }
    if b.len() < 8 || b[5] != b':' {
        return None;
    }
    let second = digits(&b[6..8])?;
    let nano = match &b[8..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    if second > 59 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nano)
}

/// Django's naive-UTC form with a space or a `T`, optionally ending in `Z` or `+00:00`.
pub fn utc_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    let b = text.as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let day = date(text.get(..10)?)?;
    let clock = time(text.get(11..)?)?;
    Some(NaiveDateTime::new(day, clock).and_utc())
}

fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut n = n;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(buf[..width].iter().map(|&b| char::from(b)));
}

/// The date as chrono shows it (`2025-12-01`).
pub fn push_date(out: &mut String, d: NaiveDate) {
    match u32::try_from(d.year()) {
        Ok(year) if year <= 9999 => {
            push_padded(out, year, 4);
            out.push('-');
            push_padded(out, d.month(), 2);
            out.push('-');
            push_padded(out, d.day(), 2);
        }
        _ => out.push_str(&d.to_string()),
    }
}

/// The time as `HH:MM:SS` (any fraction left out, as `%H:%M:%S` does).
pub fn push_hms(out: &mut String, t: NaiveTime) {
    if t.nanosecond() >= 1_000_000_000 {
        out.push_str(&t.format("%H:%M:%S").to_string());
        return;
    }
    push_padded(out, t.hour(), 2);
    out.push(':');
    push_padded(out, t.minute(), 2);
    out.push(':');
    push_padded(out, t.second(), 2);
}

/// RFC 3339 in UTC with `Z` and the shortest of 0, 3, 6 or 9 fraction digits, exactly as
/// chrono's `to_rfc3339_opts(SecondsFormat::AutoSi, true)` writes it.
pub fn push_rfc3339(out: &mut String, t: DateTime<Utc>) {
    let nano = t.nanosecond();
    let year = t.year();
    if nano >= 1_000_000_000 || !(0..=9999).contains(&year) {
        out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        return;
    }
    push_date(out, t.date_naive());
    out.push('T');
    push_hms(out, t.time());
    if nano != 0 {
        out.push('.');
        if nano.is_multiple_of(1_000_000) {
            push_padded(out, nano / 1_000_000, 3);
        } else if nano.is_multiple_of(1_000) {
            push_padded(out, nano / 1_000, 6);
        } else {
            push_padded(out, nano, 9);
        }
    }
    out.push('Z');
}

/// Django's SQLite storage of an aware UTC datetime: naive text, space separator, six fraction
/// digits only when there are microseconds.
pub fn push_django(out: &mut String, t: DateTime<Utc>) {
    let micros = t.timestamp_subsec_micros();
    if micros >= 1_000_000 || !(0..=9999).contains(&t.year()) {
        let format = if micros == 0 {
            "%Y-%m-%d %H:%M:%S"
        } else {
            "%Y-%m-%d %H:%M:%S%.6f"
        };
        out.push_str(&t.format(format).to_string());
        return;
    }
    push_date(out, t.date_naive());
    out.push(' ');
    push_hms(out, t.time());
    if micros != 0 {
        out.push('.');
        push_padded(out, micros, 6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, SecondsFormat, TimeZone};

    #[test]
    fn reads_what_chrono_reads_for_every_plain_shape() {
        for text in [
            "2025-12-01 09:15:04",
            "2025-12-01 09:15:04.036326",
            "2025-12-01T09:15:04.5",
            "2025-12-01 09:15:04.123456789",
            "2025-12-01T09:15:04Z",
            "2025-12-01 09:15:04+00:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
        ] {
            let naive = text.trim_end_matches('Z').trim_end_matches("+00:00");
            let chrono = NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f"))
                .map(|n| n.and_utc())
                .ok();
            assert_eq!(utc_datetime(text), chrono, "{text}");
        }
        for bad in [
            "2026-13-45 10:00:00",
            "2026-02-30 10:00:00",
            "2026-02-01 24:00:00",
            "2026-02-01 10:00:60",
            "2026-02-01 10:00",
            "2026-02-01 10:00:00.",
            "2026-02-01 10:00:00.1234567890",
            "2026-02-01 10:00:00+02:00",
            "2026-2-01 10:00:00",
            "",
            "garbage",
        ] {
            assert_eq!(utc_datetime(bad), None, "{bad}");
        }
        assert_eq!(date("2026-03-29"), NaiveDate::from_ymd_opt(2026, 3, 29));
        assert_eq!(date("2026-13-01"), None);
        assert_eq!(time("01:30"), NaiveTime::from_hms_opt(1, 30, 0));
        assert_eq!(
            time("01:30:05.25"),
            NaiveTime::from_hms_milli_opt(1, 30, 5, 250)
        );
        assert_eq!(time("1:30:05"), None);
    }

    #[test]
    fn writes_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2025, 12, 1, 9, 5, 4).unwrap();
        for t in [
            base,
            base + Duration::milliseconds(250),
            base + Duration::microseconds(36326),
            base + Duration::nanoseconds(7),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let mut out = String::new();
            push_rfc3339(&mut out, t);
            assert_eq!(out, t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            let mut out = String::new();
            push_django(&mut out, t);
            let micros = t.timestamp_subsec_micros();
            let expected = if micros == 0 {
                t.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            };
            assert_eq!(out, expected);
            let mut out = String::new();
            push_date(&mut out, t.date_naive());
            out.push(' ');
            push_hms(&mut out, t.time());
            assert_eq!(out, t.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }
}
