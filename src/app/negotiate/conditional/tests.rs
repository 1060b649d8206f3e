//! Table-driven tests of preconditions and ranges.

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

#[test]
fn a_write_matches_the_gzip_variants_tag_too() {
    let nanos = u128::from(MODIFIED) * 1_000_000_000 + 5;
    let write = Validators::with_gzip_variant(100, nanos);
    let (plain, gz) = (v().etag, Validators::new(100, nanos, "-gzip").etag);
    let other = Validators::new(101, nanos, "-gzip").etag;
    let cases = [
        (format!("If-Match: {plain}"), Precondition::Proceed),
        (format!("If-Match: {gz}"), Precondition::Proceed),
        (format!("If-Match: {other}"), Precondition::Failed),
        (format!("If-Match: W/{gz}"), Precondition::Failed),
        (format!("If-None-Match: {gz}"), Precondition::Failed),
        (format!("If-None-Match: {other}"), Precondition::Proceed),
    ];
    for (field, want) in cases {
        assert_eq!(
            evaluate(&headers(&[&field]), Some(&write), false),
            want,
            "{field}"
        );
    }
    // A GET keeps the variants apart: the identity tag does not answer for the gzip one.
    let get = headers(&[&format!("If-None-Match: {gz}")]);
    assert_eq!(evaluate(&get, Some(&v()), true), Precondition::Proceed);
}
