//! Validators, conditional requests (RFC 9110 §13) and byte ranges (RFC 9110 §14), as pure
//! functions of request headers and a file's length and modification time.
//!
//! Out of scope: opening files and writing answers (`files.rs`).

use crate::http::date::parse_http_date;
use crate::http::Headers;

/// What a representation is, for comparing with the client's validators.
#[derive(Debug, Clone)]
pub struct Validators {
    /// An entity tag, quotes included (weak ones start with `W/`).
    pub etag: String,
    /// Last modification, in seconds since the epoch.
    pub modified: u64,
}

impl Validators {
    /// A strong ETag from the size and the modification time in nanoseconds, with a suffix for a
    /// content coding (the gzip variant is a different representation with its own tag).
    pub fn new(len: u64, modified_nanos: u128, coding_suffix: &str) -> Validators {
        Validators {
            etag: format!("\"{len:x}-{modified_nanos:x}{coding_suffix}\""),
            modified: (modified_nanos / 1_000_000_000) as u64,
        }
    }

    /// A weak entity tag from a fingerprint of the content (folder listings), with the time of
    /// the latest change in seconds.
    pub fn weak(fingerprint: u64, variant: &str, modified: u64) -> Validators {
        Validators {
            etag: format!("W/\"{fingerprint:016x}-{variant}\""),
            modified,
        }
    }
}

/// The outcome of evaluating preconditions.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Go on and answer normally.
    Proceed,
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
/// RFC 9110 §13.2.2. `current` is `None` when the target does not exist (for PUT and DELETE).
pub fn evaluate(
    headers: &Headers,
    current: Option<&Validators>,
    is_get_or_head: bool,
) -> Precondition {
    // Step 1: If-Match; step 2 (only without it): If-Unmodified-Since.
    if headers.get("if-match").is_some() {
        let matched = current.is_some_and(|v| list_matches(headers, "if-match", &v.etag, true));
        if !matched {
            return Precondition::Failed;
        }
    } else if let (Some(v), Some(since)) = (current, headers.get("if-unmodified-since")) {
        if parse_http_date(since).is_some_and(|since| v.modified > since) {
            return Precondition::Failed;
        }
    }
    // Step 3: If-None-Match; step 4 (only without it, GET/HEAD only): If-Modified-Since.
    if headers.get("if-none-match").is_some() {
        let matched =
            current.is_some_and(|v| list_matches(headers, "if-none-match", &v.etag, false));
        if matched {
            return if is_get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if is_get_or_head {
        if let (Some(v), Some(since)) = (current, headers.get("if-modified-since")) {
            if parse_http_date(since).is_some_and(|since| v.modified <= since) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Whether the list-valued `name` holds `*` or a tag matching `etag` (strong or weak comparison,
/// RFC 9110 §8.8.3.2).
fn list_matches(headers: &Headers, name: &str, etag: &str, strong: bool) -> bool {
    headers.list(name).any(|tag| {
        if tag == b"*" {
            return true;
        }
        let (tag_is_weak, tag) = match tag.strip_prefix(b"W/") {
            Some(opaque) => (true, opaque),
            None => (false, tag),
        };
        let (ours_is_weak, ours) = match etag.strip_prefix("W/") {
            Some(opaque) => (true, opaque),
            None => (false, etag),
        };
        tag == ours.as_bytes() && !(strong && (tag_is_weak || ours_is_weak))
    })
}

/// What to do with a Range header.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole representation (no Range, a malformed one, several ranges, or a failed
    /// If-Range).
    Whole,
    /// Send bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

/// Interprets Range (and If-Range) for a GET of a representation of `len` bytes.
pub fn range(headers: &Headers, len: u64, v: &Validators) -> RangeRequest {
    let Some(value) = headers.get("range") else {
        return RangeRequest::Whole;
    };
    if headers.count("range") > 1 || !if_range_holds(headers, v) {
        return RangeRequest::Whole;
    }
    parse_range(value, len)
}

/// RFC 9110 §13.1.5: the range applies only if If-Range matches strongly (an ETag) or exactly
/// (a date equal to Last-Modified).
fn if_range_holds(headers: &Headers, v: &Validators) -> bool {
    let Some(cond) = headers.get("if-range") else {
        return true;
    };
    let cond = cond.trim_ascii();
    if cond.starts_with(b"\"") || cond.starts_with(b"W/") {
        cond == v.etag.as_bytes()
    } else {
        parse_http_date(cond) == Some(v.modified)
    }
}

/// Parses one `bytes=` range in any of its three forms against a length.
pub fn parse_range(value: &[u8], len: u64) -> RangeRequest {
    let value = value.trim_ascii();
    let Some(eq) = value.iter().position(|&b| b == b'=') else {
        return RangeRequest::Whole;
    };
    let (unit, spec) = (
        value.get(..eq).unwrap_or_default(),
        value.get(eq + 1..).unwrap_or_default(),
    );
    if !unit.trim_ascii().eq_ignore_ascii_case(b"bytes") || spec.contains(&b',') {
        // Other units, and several ranges, are not supported: ignoring Range is always allowed.
        return RangeRequest::Whole;
    }
    let spec = spec.trim_ascii();
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeRequest::Whole;
    };
    let first = spec.get(..dash).unwrap_or_default();
    let last = spec.get(dash + 1..).unwrap_or_default();
    if first.is_empty() {
        // "-n": the last n bytes.
        return match number(last) {
            None => RangeRequest::Whole,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return RangeRequest::Whole;
    };
    // "a-" runs to the end; "a-b" is clipped to it.
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(b) if b >= start => b,
            _ => return RangeRequest::Whole,
        }
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part {
        start,
        end: end.min(len - 1),
    }
}

/// 1*DIGIT as a number; `None` if empty or not digits. A number too large for u64 saturates,
/// which keeps its meaning here: past any end.
fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::date::format_http_date;
    use crate::http::parse::parse_for_test;

    fn headers(lines: &[&str]) -> Headers {
        let mut raw = String::from("GET / HTTP/1.1\r\n");
        for l in lines {
            raw.push_str(l);
            raw.push_str("\r\n");
        }
        raw.push_str("\r\n");
        parse_for_test(&raw).headers
    }

    const MODIFIED: u64 = 1_700_000_000;

    fn v() -> Validators {
        Validators::new(100, u128::from(MODIFIED) * 1_000_000_000 + 5, "")
    }

    #[test]
    fn etag_is_strong_and_differs_per_coding() {
        let plain = v();
        let gz = Validators::new(100, u128::from(MODIFIED) * 1_000_000_000 + 5, "-gzip");
        assert!(plain.etag.starts_with('"') && plain.etag.ends_with('"'));
        assert_ne!(plain.etag, gz.etag);
        assert_eq!(plain.modified, MODIFIED);
    }

    #[test]
    fn evaluates_preconditions_in_rfc_order() {
        let tag = v().etag;
        let before = format_http_date(MODIFIED - 10);
        let at = format_http_date(MODIFIED);
        let cases: Vec<(Vec<String>, bool, Precondition)> = vec![
            (vec![], true, Precondition::Proceed),
            (
                vec![format!("If-None-Match: {tag}")],
                true,
                Precondition::NotModified,
            ),
            (
                vec![format!("If-None-Match: \"x\", W/{tag}")],
                true,
                Precondition::NotModified,
            ),
            (
                vec!["If-None-Match: \"other\"".into()],
                true,
                Precondition::Proceed,
            ),
            (
                vec!["If-None-Match: *".into()],
                true,
                Precondition::NotModified,
            ),
            (
                vec![format!("If-None-Match: {tag}")],
                false,
                Precondition::Failed,
            ),
            (
                vec![format!("If-Modified-Since: {at}")],
                true,
                Precondition::NotModified,
            ),
            (
                vec![format!("If-Modified-Since: {before}")],
                true,
                Precondition::Proceed,
            ),
            (
                vec!["If-Modified-Since: garbage".into()],
                true,
                Precondition::Proceed,
            ),
            (
                vec![format!("If-Modified-Since: {at}")],
                false,
                Precondition::Proceed,
            ),
            // If-None-Match takes precedence over If-Modified-Since.
            (
                vec![
                    "If-None-Match: \"other\"".into(),
                    format!("If-Modified-Since: {at}"),
                ],
                true,
                Precondition::Proceed,
            ),
            (
                vec![format!("If-Match: {tag}")],
                true,
                Precondition::Proceed,
            ),
            (vec!["If-Match: *".into()], true, Precondition::Proceed),
            (
                vec!["If-Match: \"other\"".into()],
                true,
                Precondition::Failed,
            ),
            (
                vec![format!("If-Match: W/{tag}")],
                true,
                Precondition::Failed,
            ),
            (
                vec![format!("If-Unmodified-Since: {before}")],
                true,
                Precondition::Failed,
            ),
            (
                vec![format!("If-Unmodified-Since: {at}")],
                true,
                Precondition::Proceed,
            ),
            // If-Match is evaluated before If-None-Match.
            (
                vec![
                    "If-Match: \"other\"".into(),
                    format!("If-None-Match: {tag}"),
                ],
                true,
                Precondition::Failed,
            ),
        ];
        for (lines, get, want) in cases {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(
                evaluate(&headers(&refs), Some(&v()), get),
                want,
                "{lines:?} get={get}"
            );
        }
    }

    #[test]
    fn weak_tags_match_only_weakly() {
        let w = Validators::weak(0xabc, "html", MODIFIED);
        let tag = w.etag.clone();
        let opaque = tag.trim_start_matches("W/").to_string();
        let cases = [
            (
                format!("If-None-Match: {tag}"),
                true,
                Precondition::NotModified,
            ),
            (
                format!("If-None-Match: {opaque}"),
                true,
                Precondition::NotModified,
            ),
            (
                "If-None-Match: W/\"other\"".to_string(),
                true,
                Precondition::Proceed,
            ),
            // If-Match compares strongly: a weak tag never matches (RFC 9110 §13.1.1).
            (format!("If-Match: {tag}"), true, Precondition::Failed),
            ("If-Match: *".to_string(), true, Precondition::Proceed),
        ];
        for (line, get, want) in cases {
            assert_eq!(evaluate(&headers(&[&line]), Some(&w), get), want, "{line}");
        }
    }

    #[test]
    fn preconditions_on_a_missing_target() {
        assert_eq!(
            evaluate(&headers(&["If-Match: *"]), None, false),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&headers(&["If-None-Match: *"]), None, false),
            Precondition::Proceed
        );
    }

    #[test]
    fn parses_ranges_at_the_edges() {
        use RangeRequest::*;
        let cases: &[(&str, u64, RangeRequest)] = &[
            ("bytes=0-0", 10, Part { start: 0, end: 0 }),
            ("bytes=9-9", 10, Part { start: 9, end: 9 }),
            ("bytes=0-", 10, Part { start: 0, end: 9 }),
            ("bytes=3-", 10, Part { start: 3, end: 9 }),
            ("bytes=2-5", 10, Part { start: 2, end: 5 }),
            ("bytes=5-100", 10, Part { start: 5, end: 9 }),
            ("bytes=-3", 10, Part { start: 7, end: 9 }),
            ("bytes=-100", 10, Part { start: 0, end: 9 }),
            ("BYTES = 1-2", 10, Part { start: 1, end: 2 }),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=99999999999999999999-", 10, Unsatisfiable),
            (
                "bytes=0-99999999999999999999",
                10,
                Part { start: 0, end: 9 },
            ),
            ("bytes=5-2", 10, Whole),
            ("bytes=0-1,3-4", 10, Whole),
            ("bytes=a-b", 10, Whole),
            ("bytes=-", 10, Whole),
            ("bytes=1", 10, Whole),
            ("items=0-1", 10, Whole),
            ("0-1", 10, Whole),
        ];
        for (value, len, want) in cases {
            assert_eq!(
                &parse_range(value.as_bytes(), *len),
                want,
                "{value} of {len}"
            );
        }
    }

    #[test]
    fn if_range_gates_the_range() {
        let tag = v().etag;
        let part = RangeRequest::Part { start: 0, end: 0 };
        let h = headers(&["Range: bytes=0-0", &format!("If-Range: {tag}")]);
        assert_eq!(range(&h, 10, &v()), part);
        let h = headers(&["Range: bytes=0-0", "If-Range: \"old\""]);
        assert_eq!(range(&h, 10, &v()), RangeRequest::Whole);
        let h = headers(&[
            "Range: bytes=0-0",
            &format!("If-Range: {}", format_http_date(MODIFIED)),
        ]);
        assert_eq!(range(&h, 10, &v()), part);
        let h = headers(&[
            "Range: bytes=0-0",
            &format!("If-Range: {}", format_http_date(MODIFIED - 1)),
        ]);
        assert_eq!(range(&h, 10, &v()), RangeRequest::Whole);
        let h = headers(&["Range: bytes=0-0", "Range: bytes=1-1"]);
        assert_eq!(range(&h, 10, &v()), RangeRequest::Whole);
    }
}
