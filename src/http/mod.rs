//! The words of HTTP/1.1 that every other module shares: methods, versions, status codes and the
//! header list of a request.
//!
//! Parsing lives in `parse`, body framing in `body`, response writing in `response`, dates in
//! `date`, byte searches in `scan`, percent-encoding in `uri`, and the one error type of request
//! handling in `error`. This layer knows the protocol only: no threads, no sockets of its own, no
//! files beyond the bodies it is handed.

pub mod body;
pub mod checks;
pub mod date;
pub mod error;
pub mod handler;
pub mod parse;
pub mod response;
pub mod scan;
pub mod uri;

use std::ops::Range;

/// A request method. Methods this server knows but does not serve anywhere (`CONNECT`, `TRACE`,
/// `PATCH`) get 405; a method it does not know at all is `Other` and gets 501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Connect,
    Trace,
    Patch,
    /// WebDAV's (RFC 4918 §9).
    Propfind,
    Proppatch,
    Mkcol,
    Copy,
    Move,
    Lock,
    Unlock,
    Other,
}

impl Method {
    /// Whether it is one of WebDAV's.
    pub fn is_webdav(self) -> bool {
        matches!(
            self,
            Method::Propfind
                | Method::Proppatch
                | Method::Mkcol
                | Method::Copy
                | Method::Move
                | Method::Lock
                | Method::Unlock
        )
    }

    /// Maps a method token (case-sensitive, RFC 9110 §9.1) to a `Method`.
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            b"PROPFIND" => Method::Propfind,
            b"PROPPATCH" => Method::Proppatch,
            b"MKCOL" => Method::Mkcol,
            b"COPY" => Method::Copy,
            b"MOVE" => Method::Move,
            b"LOCK" => Method::Lock,
            b"UNLOCK" => Method::Unlock,
            _ => Method::Other,
        }
    }

    /// The method's name as sent on the wire (`Other` has none of its own).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Propfind => "PROPFIND",
            Method::Proppatch => "PROPPATCH",
            Method::Mkcol => "MKCOL",
            Method::Copy => "COPY",
            Method::Move => "MOVE",
            Method::Lock => "LOCK",
            Method::Unlock => "UNLOCK",
            Method::Other => "?",
        }
    }
}

/// The protocol version of a request. Answers always say HTTP/1.1 (RFC 9110 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// A response status: the code and its standard reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const CONTINUE: Status = Status(100);
    pub const OK: Status = Status(200);
    pub const CREATED: Status = Status(201);
    pub const NO_CONTENT: Status = Status(204);
    pub const PARTIAL_CONTENT: Status = Status(206);
    /// WebDAV's answer about several resources or properties (RFC 4918 §13).
    pub const MULTI_STATUS: Status = Status(207);
    pub const MOVED_PERMANENTLY: Status = Status(301);
    pub const SEE_OTHER: Status = Status(303);
    pub const NOT_MODIFIED: Status = Status(304);
    pub const BAD_REQUEST: Status = Status(400);
    pub const UNAUTHORIZED: Status = Status(401);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const CONFLICT: Status = Status(409);
    pub const LENGTH_REQUIRED: Status = Status(411);
    pub const PRECONDITION_FAILED: Status = Status(412);
    pub const CONTENT_TOO_LARGE: Status = Status(413);
    pub const URI_TOO_LONG: Status = Status(414);
    pub const RANGE_NOT_SATISFIABLE: Status = Status(416);
    pub const EXPECTATION_FAILED: Status = Status(417);
    pub const MISDIRECTED_REQUEST: Status = Status(421);
    pub const UNSUPPORTED_MEDIA_TYPE: Status = Status(415);
    /// A write to a resource locked by a lock whose token was not presented (RFC 4918 §11.3).
    pub const LOCKED: Status = Status(423);
    /// A property not changed because another in the same PROPPATCH failed (RFC 4918 §11.4).
    pub const FAILED_DEPENDENCY: Status = Status(424);
    pub const TOO_MANY_REQUESTS: Status = Status(429);
    pub const HEADER_FIELDS_TOO_LARGE: Status = Status(431);
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    pub const NOT_IMPLEMENTED: Status = Status(501);
    pub const BAD_GATEWAY: Status = Status(502);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);
    pub const INSUFFICIENT_STORAGE: Status = Status(507);

    /// The standard reason phrase (RFC 9110 §15).
    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            206 => "Partial Content",
            207 => "Multi-Status",
            301 => "Moved Permanently",
            303 => "See Other",
            304 => "Not Modified",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Content Too Large",
            414 => "URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Range Not Satisfiable",
            417 => "Expectation Failed",
            421 => "Misdirected Request",
            423 => "Locked",
            424 => "Failed Dependency",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            507 => "Insufficient Storage",
            _ => "Unknown",
        }
    }

    /// 1xx, 204 and 304 answers never carry a body or body framing (RFC 9110 §6.4.1).
    pub fn has_no_body(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }
}

/// Where each header field's name and value lie in the head's bytes.
pub(crate) type FieldSpans = Vec<(Range<usize>, Range<usize>)>;

/// The header fields of a request, in the order received, as byte ranges into the request's
/// head. Names compare case-insensitively; values stay bytes until a caller needs text.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    raw: Vec<u8>,
    fields: FieldSpans,
}

impl Headers {
    pub(crate) fn new(raw: Vec<u8>, fields: FieldSpans) -> Headers {
        Headers { raw, fields }
    }

    /// Gives back the buffers, for reuse by the next request.
    pub(crate) fn into_parts(self) -> (Vec<u8>, FieldSpans) {
        (self.raw, self.fields)
    }

    /// The request head's bytes that the ranges point into.
    pub(crate) fn raw_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Every (name, value) pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|(n, v)| {
            (
                self.raw.get(n.clone()).unwrap_or_default(),
                self.raw.get(v.clone()).unwrap_or_default(),
            )
        })
    }

    /// Every value of the field `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of the field `name`, if any.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of `name` as text, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The elements of a list-valued field over all its lines (RFC 9110 §5.6.1): split on commas,
    /// trimmed of whitespace, empty elements dropped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|e| e.trim_ascii())
            .filter(|e| !e.is_empty())
    }

    /// Whether the list-valued field `name` holds `token` (case-insensitive), ignoring parameters.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|e| {
            let bare = e.split(|&b| b == b';').next().unwrap_or_default();
            bare.trim_ascii().eq_ignore_ascii_case(token.as_bytes())
        })
    }
}

/// The most bytes of a client's value (a target, a method) that go into one log line; the rest
/// is cut and marked, so a client cannot make each of its requests cost kilobytes of log.
pub const MAX_LOGGED_BYTES: usize = 512;

/// Writes bytes from the client into a log line, escaping anything that is not printable ASCII
/// so that a request cannot forge log lines or send terminal control sequences, and cutting it
/// at `MAX_LOGGED_BYTES`.
pub fn escape_for_log(bytes: &[u8], out: &mut String) {
    use std::fmt::Write;
    for &b in bytes.iter().take(MAX_LOGGED_BYTES) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    if bytes.len() > MAX_LOGGED_BYTES {
        let _ = write!(out, "...({} bytes)", bytes.len());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn method_tokens_round_trip() {
        for token in [
            "GET",
            "HEAD",
            "POST",
            "PUT",
            "DELETE",
            "OPTIONS",
            "CONNECT",
            "TRACE",
            "PATCH",
            "PROPFIND",
            "PROPPATCH",
            "MKCOL",
            "COPY",
            "MOVE",
            "LOCK",
            "UNLOCK",
        ] {
            let m = Method::from_token(token.as_bytes());
            assert_eq!(m.as_str(), token);
            assert_eq!(
                m.is_webdav(),
                [
                    "PROPFIND",
                    "PROPPATCH",
                    "MKCOL",
                    "COPY",
                    "MOVE",
                    "LOCK",
                    "UNLOCK"
                ]
                .contains(&token)
            );
        }
        assert_eq!(
            Method::from_token(b"propfind"),
            Method::Other,
            "case-sensitive"
        );
    }

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut raw = Vec::new();
        let mut fields = Vec::new();
        for (n, v) in pairs {
            let ns = raw.len();
            raw.extend_from_slice(n.as_bytes());
            let vs = raw.len();
            raw.extend_from_slice(v.as_bytes());
            fields.push((ns..vs, vs..raw.len()));
        }
        Headers::new(raw, fields)
    }

    #[test]
    fn looks_up_names_case_insensitively_in_order() {
        let h = headers(&[("Host", "a"), ("X-A", "1"), ("x-a", "2")]);
        assert_eq!(h.get("host"), Some(&b"a"[..]));
        assert_eq!(h.get_all("X-a").collect::<Vec<_>>(), vec![b"1", b"2"]);
        assert_eq!(h.count("x-A"), 2);
        assert_eq!(h.get("missing"), None);
    }

    #[test]
    fn splits_lists_over_lines_and_drops_empty_elements() {
        let h = headers(&[
            ("Connection", " , Keep-Alive ,,"),
            ("connection", "Upgrade"),
        ]);
        assert_eq!(
            h.list("connection").collect::<Vec<_>>(),
            vec![&b"Keep-Alive"[..], b"Upgrade"]
        );
        assert!(h.has_token("Connection", "keep-alive"));
        assert!(!h.has_token("Connection", "close"));
    }

    #[test]
    fn escapes_control_characters_in_log_text() {
        let mut s = String::new();
        escape_for_log(b"a\r\nb\x1b[31m\\", &mut s);
        assert_eq!(s, "a\\x0d\\x0ab\\x1b[31m\\x5c");
        let mut long = String::new();
        escape_for_log(&[b'a'; MAX_LOGGED_BYTES + 1], &mut long);
        assert!(
            long.ends_with(&format!("a...({} bytes)", MAX_LOGGED_BYTES + 1)),
            "{long}"
        );
        assert_eq!(long.matches('a').count(), MAX_LOGGED_BYTES);
    }

    #[test]
    fn bodiless_statuses() {
        assert!(Status::CONTINUE.has_no_body());
        assert!(Status::NO_CONTENT.has_no_body());
        assert!(Status::NOT_MODIFIED.has_no_body());
        assert!(!Status::OK.has_no_body());
        assert!(!Status::NOT_FOUND.has_no_body());
    }
}
