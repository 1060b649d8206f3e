//! HTTP dates (RFC 9110 §5.6.7) with std only: formats IMF-fixdate for `Date` and
//! `Last-Modified`, and parses all three forms a recipient must accept (IMF-fixdate, RFC 850,
//! asctime) for `If-Modified-Since`, `If-Unmodified-Since` and `If-Range`.
//!
//! Times are whole seconds since the Unix epoch; dates before 1970 are not representable and
//! do not parse.

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const FULL_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Seconds since the epoch of a `SystemTime` (0 for times before it).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Formats seconds since the epoch as IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn format_http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS.get((days % 7) as usize).copied().unwrap_or("Thu");
    let month = MONTHS.get(m as usize - 1).copied().unwrap_or("Jan");
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Appends a time as `2026-11-23T20:40:29.123Z`, for logs.
pub fn write_log_time(t: SystemTime, out: &mut String) {
    use std::fmt::Write;
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    );
}

/// Parses an HTTP date in any of the three forms of RFC 9110 §5.6.7. `None` if it is not one.
pub fn parse_http_date(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?.trim();
    parse_imf_fixdate(s)
        .or_else(|| parse_rfc850(s))
        .or_else(|| parse_asctime(s))
}

// Sun, 06 Nov 1994 08:49:37 GMT
fn parse_imf_fixdate(s: &str) -> Option<u64> {
    let (day_name, rest) = s.split_once(", ")?;
    if !DAYS.contains(&day_name) {
        return None;
    }
    let mut parts = rest.split(' ');
    let day = parse_digits(parts.next()?, 2)?;
    let month = month_number(parts.next()?)?;
    let year = parse_digits(parts.next()?, 4)?;
    let time = parse_time(parts.next()?)?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    to_seconds(year, month, day, time)
}

// Sunday, 06-Nov-94 08:49:37 GMT
fn parse_rfc850(s: &str) -> Option<u64> {
    let (day_name, rest) = s.split_once(", ")?;
    if !FULL_DAYS.contains(&day_name) {
        return None;
    }
    let mut parts = rest.split(' ');
    let mut date = parts.next()?.split('-');
    let day = parse_digits(date.next()?, 2)?;
    let month = month_number(date.next()?)?;
    let yy = parse_digits(date.next()?, 2)?;
    let time = parse_time(parts.next()?)?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    // Within this server's range (1970 on), 70-99 means 19xx and 00-69 means 20xx.
    let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
    to_seconds(year, month, day, time)
}

// Sun Nov  6 08:49:37 1994
fn parse_asctime(s: &str) -> Option<u64> {
    let mut parts = s.split(' ').filter(|p| !p.is_empty());
    let day_name = parts.next()?;
    if !DAYS.contains(&day_name) {
        return None;
    }
    let month = month_number(parts.next()?)?;
    let day_text = parts.next()?;
    if day_text.is_empty() || day_text.len() > 2 {
        return None;
    }
    let day = parse_digits(day_text, day_text.len())?;
    let time = parse_time(parts.next()?)?;
    let year = parse_digits(parts.next()?, 4)?;
    if parts.next().is_some() {
        return None;
    }
    to_seconds(year, month, day, time)
}

fn parse_digits(s: &str, len: usize) -> Option<u64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month_number(s: &str) -> Option<u64> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u64 + 1)
}

fn parse_time(s: &str) -> Option<u64> {
    let mut parts = s.split(':');
    let h = parse_digits(parts.next()?, 2)?;
    let m = parse_digits(parts.next()?, 2)?;
    let sec = parse_digits(parts.next()?, 2)?;
    if parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

fn to_seconds(year: u64, month: u64, day: u64, time: u64) -> Option<u64> {
    if year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + time)
}

fn is_leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (year >= 1970).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let mut days = 0;
    for year in 1970..y {
        days += if is_leap(year) { 366 } else { 365 };
    }
    for month in 1..m {
        days += days_in_month(y, month);
    }
    days + d - 1
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01.
pub fn civil_from_days(mut days: u64) -> (u64, u64, u64) {
    // 400 Gregorian years are exactly 146 097 days; skip whole cycles first.
    let mut year = 1970 + 400 * (days / 146_097);
    days %= 146_097;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let mut month = 1;
    while days >= days_in_month(year, month) {
        days -= days_in_month(year, month);
        month += 1;
    }
    (year, month, days + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example instant of RFC 9110 §5.6.7.
    const EXAMPLE: u64 = 784_111_777;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(format_http_date(EXAMPLE), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(951_782_400),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            format_http_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }

    #[test]
    fn parses_all_three_forms() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), Some(EXAMPLE), "{s}");
        }
    }

    #[test]
    fn rejects_malformed_dates() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
        ] {
            assert_eq!(parse_http_date(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn format_and_parse_round_trip() {
        let mut t = 0u64;
        while t < 5_000_000_000 {
            assert_eq!(parse_http_date(format_http_date(t).as_bytes()), Some(t));
            t += 7_777_777;
        }
    }

    #[test]
    fn formats_log_time() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(EXAMPLE * 1000 + 42);
        let mut out = String::from("at ");
        write_log_time(t, &mut out);
        assert_eq!(out, "at 1994-11-06T08:49:37.042Z");
    }
}
