//! Calendar arithmetic for UTC times, shared by the log (`2026-11-23T20:40:29.123Z`), HTTP
//! dates (`http/date.rs`) and the folder page: the proleptic Gregorian calendar from 1970 on.
//! It knows nothing of HTTP or of logs, so both can use it.

use std::time::{SystemTime, UNIX_EPOCH};

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

/// Whether a year has a 29 February.
pub fn is_leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

/// Days in a month (1-12) of a year.
pub fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (year >= 1970).
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
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

    #[test]
    fn formats_log_time() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(784_111_777 * 1000 + 42);
        let mut out = String::from("at ");
        write_log_time(t, &mut out);
        assert_eq!(out, "at 1994-11-06T08:49:37.042Z");
    }

    #[test]
    fn days_and_dates_round_trip() {
        for days in (0..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
