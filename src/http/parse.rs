//! A pure, incremental parser for the request head (request line + header section, RFC 9112 §2-§5).
//!
//! `parse_head` looks at the bytes received so far and says: complete (with the head's length),
//! need more, or error. It does no I/O and keeps nothing between calls except an optional scan
//! position that only saves work. It checks the size limits on partial input too, so a caller
//! that reads until `Complete` never holds more than `max_head_bytes` of head.
//!
//! Out of scope: bodies (`body.rs`), what the headers mean for framing (`conn.rs`), and the
//! target's path syntax (`router.rs`).

use super::scan::{all_visible, find};
use super::{FieldSpans, Headers, Method, Version};
use std::ops::Range;

/// The limits the parser enforces (kept with the rest of the configuration).
pub use crate::config::Limits;

/// Why a head was refused. Each maps to one status code in `error.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Malformed syntax: 400. The text says what was wrong, for the log and the answer body.
    Malformed(&'static str),
    /// The request line is longer than allowed: 414.
    RequestLineTooLong,
    /// The head is larger than allowed or has too many fields: 431.
    HeadTooLarge,
    /// A well-formed version other than HTTP/1.x: 505.
    VersionNotSupported,
}

/// A parsed request head. It owns a copy of the head's bytes; everything else is ranges into it.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: Method,
    pub version: Version,
    method_range: Range<usize>,
    target_range: Range<usize>,
    pub headers: Headers,
}

impl Head {
    /// The method token as sent (useful in logs for methods we do not know).
    pub fn method_token(&self) -> &[u8] {
        self.headers.raw_slice(self.method_range.clone())
    }

    /// The request target as sent (origin-form, absolute-form, authority-form or `*`).
    pub fn target(&self) -> &[u8] {
        self.headers.raw_slice(self.target_range.clone())
    }
}

impl Headers {
    fn raw_slice(&self, r: Range<usize>) -> &[u8] {
        self.raw_bytes().get(r).unwrap_or_default()
    }
}

/// The result of looking at the bytes so far.
#[derive(Debug)]
pub enum Parsed {
    /// A whole head: its length in bytes (the body, if any, starts there) and its contents.
    Complete(usize, Head),
    /// Not enough bytes yet.
    Partial,
}

/// Parses the head at the start of `buf`.
///
/// `scanned` is where the search for the end of the head may resume: pass the same variable,
/// starting at 0, on every call for one request, so that a head that arrives one byte at a time
/// is scanned once, not once per byte. It does not change the result.
///
/// # Errors
/// A [`ParseError`] for a head that is malformed or over the limits. An error on a prefix of the
/// input is the same error the whole input gives.
pub fn parse_head(buf: &[u8], limits: &Limits, scanned: &mut usize) -> Result<Parsed, ParseError> {
    parse_head_reusing(buf, limits, scanned, &mut Spare::default())
}

/// Buffers of a finished request's head, kept so that the next head on the connection is
/// parsed without allocating.
#[derive(Debug, Default)]
pub struct Spare {
    raw: Vec<u8>,
    fields: FieldSpans,
}

/// A head's bytes buffer larger than this is not kept for the next request.
const MAX_SPARE_BYTES: usize = 4 * 1024;

impl Spare {
    /// Takes back the buffers of a head that is done with (unless they grew large).
    pub fn reclaim(&mut self, head: Head) {
        let (raw, fields) = head.headers.into_parts();
        if raw.capacity() <= MAX_SPARE_BYTES {
            self.raw = raw;
            self.fields = fields;
        }
    }
}

/// [`parse_head`], taking the new head's buffers from `spare` instead of allocating them.
///
/// # Errors
/// As for [`parse_head`].
pub fn parse_head_reusing(
    buf: &[u8],
    limits: &Limits,
    scanned: &mut usize,
    spare: &mut Spare,
) -> Result<Parsed, ParseError> {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    let start = skip_empty_lines(buf);
    let Some(end) = find_head_end(buf, start, scanned) else {
        check_partial_limits(buf, start, limits)?;
        return Ok(Parsed::Partial);
    };
    if end > limits.max_head_bytes {
        // Checked before the request line so that the error does not depend on where reads split.
        return Err(line_or_head_too_long(buf, start, limits));
    }
    let head = parse_complete(buf, start, end, limits, spare)?;
    Ok(Parsed::Complete(end, head))
}

fn skip_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match buf.get(i..) {
            Some([b'\r', b'\n', ..]) => i += 2,
            Some([b'\n', ..]) => i += 1,
            _ => return i,
        }
    }
}

/// Finds the end of the head: the index just past the empty line that closes it.
fn find_head_end(buf: &[u8], start: usize, scanned: &mut usize) -> Option<usize> {
    let mut i = (*scanned).max(start);
    while let Some(off) = find(buf.get(i..)?, b'\n') {
        let nl = i + off;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            // "\n\r" with nothing after it yet: look at this newline again next time.
            Some([b'\r']) | Some([]) => {
                *scanned = nl;
                return None;
            }
            _ => i = nl + 1,
        }
    }
    *scanned = buf.len();
    None
}

fn check_partial_limits(buf: &[u8], start: usize, limits: &Limits) -> Result<(), ParseError> {
    if request_line_len(buf, start) > limits.max_request_line_bytes {
        return Err(ParseError::RequestLineTooLong);
    }
    if buf.len() > limits.max_head_bytes {
        return Err(line_or_head_too_long(buf, start, limits));
    }
    Ok(())
}

fn line_or_head_too_long(buf: &[u8], start: usize, limits: &Limits) -> ParseError {
    if request_line_len(buf, start) > limits.max_request_line_bytes {
        ParseError::RequestLineTooLong
    } else {
        ParseError::HeadTooLarge
    }
}

/// The length of the request line (without its CR LF) as far as it has arrived. A CR at the very
/// end is not counted, since it may be the start of the line's end: so the length only grows as
/// bytes arrive, and a limit check on a prefix agrees with one on the whole.
fn request_line_len(buf: &[u8], start: usize) -> usize {
    let rest = buf.get(start..).unwrap_or_default();
    let line = match find(rest, b'\n') {
        Some(nl) => rest.get(..nl).unwrap_or_default(),
        None => rest,
    };
    line.strip_suffix(b"\r").unwrap_or(line).len()
}

fn parse_complete(
    buf: &[u8],
    start: usize,
    end: usize,
    limits: &Limits,
    spare: &mut Spare,
) -> Result<Head, ParseError> {
    // Length first, as on a partial head, so that the answer does not depend on the split.
    if request_line_len(buf, start) > limits.max_request_line_bytes {
        return Err(ParseError::RequestLineTooLong);
    }
    let mut raw = std::mem::take(&mut spare.raw);
    raw.clear();
    raw.extend_from_slice(buf.get(..end).unwrap_or_default());
    let mut lines = Lines {
        buf: &raw,
        pos: start,
    };
    let (line_start, line) = lines.next_line()?;
    let (method_range, target_range, version) = parse_request_line(line, line_start)?;
    // Sized once by the line count, instead of regrowing field by field.
    let lines_left = raw
        .get(lines.pos..)
        .map_or(0, |r| r.iter().filter(|&&b| b == b'\n').count());
    let mut fields = std::mem::take(&mut spare.fields);
    fields.clear();
    fields.reserve(lines_left.saturating_sub(1).min(limits.max_headers));
    loop {
        let (at, line) = lines.next_line()?;
        if line.is_empty() {
            break;
        }
        if fields.len() == limits.max_headers {
            return Err(ParseError::HeadTooLarge);
        }
        fields.push(parse_field(line, at)?);
    }
    let method = Method::from_token(raw.get(method_range.clone()).unwrap_or_default());
    Ok(Head {
        method,
        version,
        method_range,
        target_range,
        headers: Headers::new(raw, fields),
    })
}

/// Walks the lines of a complete head. A line ends at LF; one CR before it is dropped
/// (RFC 9112 §2.2 allows a lone LF). A CR anywhere else is an error.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Result<(usize, &'a [u8]), ParseError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let nl = find(rest, b'\n').ok_or(ParseError::Malformed("unterminated line"))?;
        let start = self.pos;
        self.pos += nl + 1;
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return Err(ParseError::Malformed("bare CR in head"));
        }
        Ok((start, line))
    }
}

fn parse_request_line(
    line: &[u8],
    at: usize,
) -> Result<(Range<usize>, Range<usize>, Version), ParseError> {
    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
    let malformed = ParseError::Malformed("malformed request line");
    let method_end = find(line, b' ').ok_or(malformed.clone())?;
    let (method, rest) = line.split_at(method_end);
    let rest = rest.get(1..).unwrap_or_default();
    let target_end = find(rest, b' ').ok_or(malformed)?;
    let (target, version) = rest.split_at(target_end);
    let version = version.get(1..).unwrap_or_default();
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::Malformed("invalid method"));
    }
    if target.is_empty() || !all_visible(target) {
        return Err(ParseError::Malformed("invalid request target"));
    }
    let version = parse_version(version)?;
    let method_range = at..at + method.len();
    let target_start = method_range.end + 1;
    Ok((
        method_range,
        target_start..target_start + target.len(),
        version,
    ))
}

fn parse_version(v: &[u8]) -> Result<Version, ParseError> {
    // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(Version::Http10),
                // Any other 1.x is answered as 1.1 (RFC 9110 §6.2).
                (b'1', _) => Ok(Version::Http11),
                _ => Err(ParseError::VersionNotSupported),
            }
        }
        _ => Err(ParseError::Malformed("invalid HTTP version")),
    }
}

fn parse_field(line: &[u8], at: usize) -> Result<(Range<usize>, Range<usize>), ParseError> {
    // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    if matches!(line.first(), Some(b' ' | b'\t')) {
        // RFC 9112 §5.2: a server may reject obs-fold with 400.
        return Err(ParseError::Malformed("obsolete line folding"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ParseError::Malformed("header line without a colon"))?;
    let name = line.get(..colon).unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        // This also catches whitespace before the colon (RFC 9112 §5.1: MUST reject with 400).
        return Err(ParseError::Malformed("invalid header name"));
    }
    let value = line.get(colon + 1..).unwrap_or_default();
    let lead = value
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let trail = value
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let value_start = colon + 1 + lead;
    let value_end = (colon + 1 + value.len() - trail).max(value_start);
    let value = line.get(value_start..value_end).unwrap_or_default();
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ParseError::Malformed("control character in header value"));
    }
    Ok((at..at + colon, at + value_start..at + value_end))
}

/// tchar from RFC 9110 §5.6.2.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a whole head with generous limits, for other modules' unit tests.
#[cfg(test)]
pub(crate) fn parse_for_test(raw: &str) -> Head {
    let limits = Limits {
        max_head_bytes: 4096,
        max_request_line_bytes: 1024,
        max_headers: 20,
    };
    match parse_head(raw.as_bytes(), &limits, &mut 0) {
        Ok(Parsed::Complete(_, h)) => h,
        other => panic!("{raw:?}: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_head_bytes: 256,
        max_request_line_bytes: 64,
        max_headers: 4,
    };

    fn parse(buf: &[u8]) -> Result<Parsed, ParseError> {
        parse_head(buf, &LIMITS, &mut 0)
    }

    /// (name, input, method, target, version, headers) for requests that must parse.
    type Valid = (
        &'static str,
        &'static [u8],
        Method,
        &'static str,
        Version,
        &'static [(&'static str, &'static str)],
    );

    const VALID: &[Valid] = &[
        (
            "minimal",
            b"GET / HTTP/1.1\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            &[],
        ),
        (
            "headers",
            b"GET /echo/abc HTTP/1.1\r\nHost: localhost:4221\r\nUser-Agent: curl/8.0\r\n\r\n",
            Method::Get,
            "/echo/abc",
            Version::Http11,
            &[("Host", "localhost:4221"), ("User-Agent", "curl/8.0")],
        ),
        (
            "http 1.0",
            b"HEAD /x HTTP/1.0\r\n\r\n",
            Method::Head,
            "/x",
            Version::Http10,
            &[],
        ),
        (
            "http 1.9 is answered as 1.1",
            b"GET / HTTP/1.9\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            &[],
        ),
        (
            "bare LF line ends",
            b"GET / HTTP/1.1\nHost: a\n\n",
            Method::Get,
            "/",
            Version::Http11,
            &[("Host", "a")],
        ),
        (
            "leading empty lines are skipped",
            b"\r\n\r\nPOST /files/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            Method::Post,
            "/files/a",
            Version::Http11,
            &[("Content-Length", "0")],
        ),
        (
            "whitespace around values is trimmed, inside kept",
            b"GET / HTTP/1.1\r\nX:  a \t b \t\r\nEmpty:\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            &[("X", "a \t b"), ("Empty", "")],
        ),
        (
            "unknown method token",
            b"BREW /pot HTTP/1.1\r\n\r\n",
            Method::Other,
            "/pot",
            Version::Http11,
            &[],
        ),
        (
            "obs-text in a value",
            b"GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            &[("X", "caf\u{e9}")],
        ),
        (
            "absolute form",
            b"GET http://h/echo/x?q HTTP/1.1\r\n\r\n",
            Method::Get,
            "http://h/echo/x?q",
            Version::Http11,
            &[],
        ),
    ];

    const INVALID: &[(&str, &[u8], ParseError)] = &[
        (
            "no target",
            b"GET HTTP/1.1\r\n\r\n",
            ParseError::Malformed("malformed request line"),
        ),
        (
            "double space",
            b"GET  / HTTP/1.1\r\n\r\n",
            ParseError::Malformed("invalid request target"),
        ),
        (
            "lowercase version",
            b"GET / http/1.1\r\n\r\n",
            ParseError::Malformed("invalid HTTP version"),
        ),
        (
            "version garbage",
            b"GET / HTTP/1\r\n\r\n",
            ParseError::Malformed("invalid HTTP version"),
        ),
        (
            "trailing space",
            b"GET / HTTP/1.1 \r\n\r\n",
            ParseError::Malformed("invalid HTTP version"),
        ),
        (
            "http 2",
            b"GET / HTTP/2.0\r\n\r\n",
            ParseError::VersionNotSupported,
        ),
        (
            "http 0.9",
            b"GET / HTTP/0.9\r\n\r\n",
            ParseError::VersionNotSupported,
        ),
        (
            "bad method char",
            b"G(T / HTTP/1.1\r\n\r\n",
            ParseError::Malformed("invalid method"),
        ),
        (
            "control in target",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            ParseError::Malformed("invalid request target"),
        ),
        (
            "no colon",
            b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            ParseError::Malformed("header line without a colon"),
        ),
        (
            "space before colon",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            ParseError::Malformed("invalid header name"),
        ),
        (
            "empty name",
            b"GET / HTTP/1.1\r\n: a\r\n\r\n",
            ParseError::Malformed("invalid header name"),
        ),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
            ParseError::Malformed("obsolete line folding"),
        ),
        (
            "NUL in value",
            b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
            ParseError::Malformed("control character in header value"),
        ),
        (
            "bare CR in value",
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
            ParseError::Malformed("bare CR in head"),
        ),
        (
            "DEL in value",
            b"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
            ParseError::Malformed("control character in header value"),
        ),
        (
            "too many headers",
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
            ParseError::HeadTooLarge,
        ),
    ];

    #[test]
    fn parses_valid_requests() {
        for (name, input, method, target, version, headers) in VALID {
            let Ok(Parsed::Complete(len, head)) = parse(input) else {
                panic!("{name}: expected Complete, got {:?}", parse(input));
            };
            assert_eq!(len, input.len(), "{name}");
            assert_eq!(head.method, *method, "{name}");
            assert_eq!(head.target(), target.as_bytes(), "{name}");
            assert_eq!(head.version, *version, "{name}");
            let got: Vec<_> = head.headers.iter().collect();
            let want: Vec<_> = headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn every_strict_prefix_of_a_valid_request_is_partial() {
        for (name, input, ..) in VALID {
            for cut in 0..input.len() {
                let prefix = &input[..cut];
                assert!(
                    matches!(parse(prefix), Ok(Parsed::Partial)),
                    "{name}: prefix of {cut} bytes gave {:?}",
                    parse(prefix)
                );
            }
        }
    }

    #[test]
    fn resumed_scanning_gives_the_same_answer_as_a_fresh_one() {
        for (name, input, ..) in VALID {
            let mut scanned = 0;
            for cut in 0..=input.len() {
                let resumed = format!("{:?}", parse_head(&input[..cut], &LIMITS, &mut scanned));
                let fresh = format!("{:?}", parse(&input[..cut]));
                assert_eq!(resumed, fresh, "{name} at {cut}");
            }
        }
    }

    #[test]
    fn bytes_after_the_head_are_left_for_the_body() {
        let input = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET";
        let Ok(Parsed::Complete(len, _)) = parse(input) else {
            panic!("not complete");
        };
        assert_eq!(&input[len..], b"abcGET");
    }

    #[test]
    fn rejects_invalid_requests() {
        for (name, input, want) in INVALID {
            assert_eq!(parse(input).err().as_ref(), Some(want), "{name}");
        }
    }

    #[test]
    fn rejects_long_request_line_before_it_ends() {
        let mut line = b"GET /".to_vec();
        line.resize(LIMITS.max_request_line_bytes + 1, b'a');
        assert_eq!(parse(&line).err(), Some(ParseError::RequestLineTooLong));
        line.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(parse(&line).err(), Some(ParseError::RequestLineTooLong));
    }

    #[test]
    fn a_long_request_line_is_414_whether_or_not_it_has_ended() {
        // Found by the property test: once the line had ended, a partial head used to say
        // "need more" where a prefix had already said 414.
        let mut line = b"GET /".to_vec();
        line.resize(LIMITS.max_request_line_bytes + 1, b'a');
        for tail in [&b"\r\nHost: a\r\n"[..], b"\rjunk\nHost: a\r\n\r\n"] {
            let mut input = line.clone();
            input.extend_from_slice(tail);
            assert_eq!(parse(&input).err(), Some(ParseError::RequestLineTooLong));
        }
        // A line of exactly the limit, whose CR arrives before its LF, is fine.
        let mut exact = b"GET /".to_vec();
        exact.resize(LIMITS.max_request_line_bytes - 9, b'a');
        exact.extend_from_slice(b" HTTP/1.1\r");
        assert!(matches!(parse(&exact), Ok(Parsed::Partial)));
        exact.extend_from_slice(b"\n\r\n");
        assert!(matches!(parse(&exact), Ok(Parsed::Complete(..))));
    }

    #[test]
    fn rejects_large_head_before_it_ends() {
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(LIMITS.max_head_bytes + 1, b'a');
        assert_eq!(parse(&head).err(), Some(ParseError::HeadTooLarge));
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&head).err(), Some(ParseError::HeadTooLarge));
    }

    #[test]
    fn accepts_a_head_of_exactly_the_limit() {
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(LIMITS.max_head_bytes - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head.len(), LIMITS.max_head_bytes);
        assert!(matches!(parse(&head), Ok(Parsed::Complete(..))));
    }

    #[test]
    fn reusing_a_spare_gives_the_same_heads_in_the_same_buffers() {
        let mut spare = Spare::default();
        for (name, input, ..) in VALID {
            let mut ptrs = Vec::new();
            // The second parse of a head no larger than the first must not allocate.
            for _ in 0..2 {
                let reused = parse_head_reusing(input, &LIMITS, &mut 0, &mut spare);
                assert_eq!(
                    format!("{reused:?}"),
                    format!("{:?}", parse(input)),
                    "{name}"
                );
                let Ok(Parsed::Complete(_, head)) = reused else {
                    panic!("{name}");
                };
                ptrs.push(head.headers.raw_bytes().as_ptr());
                spare.reclaim(head);
            }
            assert_eq!(ptrs[0], ptrs[1], "{name}: the head's buffer was not reused");
        }
    }

    #[test]
    fn empty_input_is_partial() {
        assert!(matches!(parse(b""), Ok(Parsed::Partial)));
        assert!(matches!(parse(b"\r\n"), Ok(Parsed::Partial)));
    }
}
