//! Validators, conditional requests (RFC 9110 §13) and byte ranges (RFC 9110 §14), as pure
//! functions of request headers and a file's length and modification time.
//!
//! Out of scope: opening files and writing answers (`files.rs`).

use crate::http::date::parse_http_date;
use crate::http::error::Error;
use crate::http::Headers;

/// What a representation is, for comparing with the client's validators.
#[derive(Debug, Clone)]
pub struct Validators {
    /// An entity tag, quotes included (weak ones start with `W/`).
    pub etag: String,
    /// Last modification, in seconds since the epoch.
    pub modified: u64,
    /// The tag of another representation of the same state that a write's precondition also
    /// matches: the gzip variant's, since a browser that downloaded the file gzipped holds
    /// that tag (`with_gzip_variant`). `None` for GET and HEAD, where each variant has its own.
    pub variant: Option<String>,
}

impl Validators {
    /// A strong ETag from the size and the modification time in nanoseconds, with a suffix for a
    /// content coding (the gzip variant is a different representation with its own tag).
    pub fn new(len: u64, modified_nanos: u128, coding_suffix: &str) -> Validators {
        Validators {
            etag: format!("\"{len:x}-{modified_nanos:x}{coding_suffix}\""),
            modified: (modified_nanos / 1_000_000_000) as u64,
            variant: None,
        }
    }

    /// The identity representation's validators, for a write: its precondition matches the
    /// gzip variant's tag too (the file's state is the same whichever way it was sent).
    pub fn with_gzip_variant(len: u64, modified_nanos: u128) -> Validators {
        Validators {
            variant: Some(Validators::new(len, modified_nanos, "-gzip").etag),
            ..Validators::new(len, modified_nanos, "")
        }
    }

    /// A weak entity tag from a fingerprint of the content (folder listings), with the time of
    /// the latest change in seconds.
    pub fn weak(fingerprint: u64, variant: &str, modified: u64) -> Validators {
        Validators {
            etag: format!("W/\"{fingerprint:016x}-{variant}\""),
            modified,
            variant: None,
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

/// The preconditions of a read of a resource that exists (GET and HEAD when `safe`):
/// `Ok(true)` when the answer is `304 Not Modified`, `Ok(false)` to go on.
///
/// # Errors
/// 412 when a precondition fails.
pub fn not_modified(headers: &Headers, current: &Validators, safe: bool) -> Result<bool, Error> {
    match evaluate(headers, Some(current), safe) {
        Precondition::Proceed => Ok(false),
        Precondition::NotModified => Ok(true),
        Precondition::Failed => Err(Error::PreconditionFailed),
    }
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
        let matched = current.is_some_and(|v| list_matches(headers, "if-match", v, true));
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
        let matched = current.is_some_and(|v| list_matches(headers, "if-none-match", v, false));
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

/// Whether the list-valued `name` holds `*` or a tag matching the current one, or its
/// `variant` (strong or weak comparison, RFC 9110 §8.8.3.2).
fn list_matches(headers: &Headers, name: &str, current: &Validators, strong: bool) -> bool {
    headers.list(name).any(|tag| {
        if tag == b"*" {
            return true;
        }
        let (tag_is_weak, tag) = match tag.strip_prefix(b"W/") {
            Some(opaque) => (true, opaque),
            None => (false, tag),
        };
        let same = |etag: &str| {
            let (ours_is_weak, ours) = match etag.strip_prefix("W/") {
                Some(opaque) => (true, opaque),
                None => (false, etag),
            };
            tag == ours.as_bytes() && !(strong && (tag_is_weak || ours_is_weak))
        };
        same(&current.etag) || current.variant.as_deref().is_some_and(same)
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
mod tests;
