//! The one error type of request handling: what went wrong, the status it is answered with, and
//! whether the connection must close after the answer.
//!
//! It does not write anything; `conn.rs` turns an `Error` into a response.

use crate::http::parse::ParseError;
use crate::http::response::Response;
use crate::http::Status;
use std::fmt;
use std::io;

/// Everything that can stop a request from getting its normal answer.
#[derive(Debug)]
pub enum Error {
    /// The request head was malformed (400).
    BadRequest(&'static str),
    /// The request line was too long (414).
    RequestLineTooLong,
    /// The head, or the trailer section, was too large (431).
    HeadTooLarge,
    /// A well-formed but unsupported HTTP version (505).
    VersionNotSupported,
    /// A transfer coding we do not implement (501).
    UnsupportedTransferCoding,
    /// A method this server does not know at all (501).
    MethodNotImplemented,
    /// A method known, but not allowed on this target (405). Holds the `Allow` value.
    MethodNotAllowed(&'static str),
    /// An `Expect` other than `100-continue` (417).
    ExpectationFailed,
    /// A body larger than the limit that applies (413).
    BodyTooLarge,
    /// A body that breaks the chunked coding (400).
    BadChunk(&'static str),
    /// The client stopped sending before its head or body was complete (408).
    Timeout,
    /// The client closed the connection before the body was complete; nothing can be answered.
    IncompleteBody,
    /// Nothing at this target (404).
    NotFound,
    /// No credentials, or wrong ones, where they are needed (401): the reason, and the
    /// `WWW-Authenticate` challenge, which the access policy chooses.
    Unauthorized {
        why: &'static str,
        challenge: &'static str,
    },
    /// The file exists but may not be read or written, or the user may not do this (403).
    Forbidden(&'static str),
    /// The same, with a reason made for this request (a user's name in it).
    ForbiddenBecause(String),
    /// Too many failed logins from this client (429). Holds the seconds until it may try again.
    TooManyRequests { retry_after: u64 },
    /// The server cannot do this now (503). Holds the seconds to wait and the reason.
    Busy { retry_after: u64, why: &'static str },
    /// A `Host` this server does not answer for (421): what a DNS rebinding attack sends.
    Misdirected,
    /// The request conflicts with what is on disk (409): a parent that is a file, a folder
    /// that is not empty. Holds the reason, sent as the body.
    Conflict(&'static str),
    /// A precondition header failed (412).
    PreconditionFailed,
    /// A Range that no byte of the representation satisfies (416). Holds its length.
    RangeNotSatisfiable { len: u64 },
    /// The disk is full (507).
    InsufficientStorage,
    /// A file-system or socket error on our side (500).
    Io(io::Error),
}

impl Error {
    /// The status this error is answered with.
    pub fn status(&self) -> Status {
        match self {
            Error::BadRequest(_) | Error::BadChunk(_) | Error::IncompleteBody => {
                Status::BAD_REQUEST
            }
            Error::RequestLineTooLong => Status::URI_TOO_LONG,
            Error::HeadTooLarge => Status::HEADER_FIELDS_TOO_LARGE,
            Error::VersionNotSupported => Status::VERSION_NOT_SUPPORTED,
            Error::UnsupportedTransferCoding | Error::MethodNotImplemented => {
                Status::NOT_IMPLEMENTED
            }
            Error::MethodNotAllowed(_) => Status::METHOD_NOT_ALLOWED,
            Error::ExpectationFailed => Status::EXPECTATION_FAILED,
            Error::BodyTooLarge => Status::CONTENT_TOO_LARGE,
            Error::Timeout => Status::REQUEST_TIMEOUT,
            Error::NotFound => Status::NOT_FOUND,
            Error::Unauthorized { .. } => Status::UNAUTHORIZED,
            Error::Forbidden(_) | Error::ForbiddenBecause(_) => Status::FORBIDDEN,
            Error::TooManyRequests { .. } => Status::TOO_MANY_REQUESTS,
            Error::Misdirected => Status::MISDIRECTED_REQUEST,
            Error::Busy { .. } => Status::SERVICE_UNAVAILABLE,
            Error::Conflict(_) => Status::CONFLICT,
            Error::PreconditionFailed => Status::PRECONDITION_FAILED,
            Error::RangeNotSatisfiable { .. } => Status::RANGE_NOT_SATISFIABLE,
            Error::InsufficientStorage => Status::INSUFFICIENT_STORAGE,
            Error::Io(_) => Status::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the connection must close after the answer: after a framing error we can no
    /// longer tell where the next request starts, and after a timeout or I/O failure the
    /// connection is not worth keeping.
    pub fn closes_connection(&self) -> bool {
        match self {
            Error::BadRequest(_)
            | Error::RequestLineTooLong
            | Error::HeadTooLarge
            | Error::VersionNotSupported
            | Error::UnsupportedTransferCoding
            | Error::ExpectationFailed
            | Error::BodyTooLarge
            | Error::BadChunk(_)
            | Error::Timeout
            | Error::IncompleteBody
            | Error::Io(_) => true,
            Error::MethodNotImplemented
            | Error::MethodNotAllowed(_)
            | Error::NotFound
            | Error::Unauthorized { .. }
            | Error::Forbidden(_)
            | Error::ForbiddenBecause(_)
            | Error::TooManyRequests { .. }
            | Error::Misdirected
            | Error::Busy { .. }
            | Error::Conflict(_)
            | Error::PreconditionFailed
            | Error::RangeNotSatisfiable { .. }
            | Error::InsufficientStorage => false,
        }
    }

    /// Whether the client is still there to read an answer.
    pub fn can_answer(&self) -> bool {
        !matches!(self, Error::IncompleteBody)
    }

    /// A one-line explanation for the answer's body (and the log).
    pub fn message(&self) -> String {
        match self {
            Error::BadRequest(why) => format!("bad request: {why}"),
            Error::BadChunk(why) => format!("bad chunked body: {why}"),
            Error::Unauthorized { why, .. } => format!("unauthorized: {why}"),
            Error::Forbidden(why) => format!("forbidden: {why}"),
            Error::ForbiddenBecause(why) => format!("forbidden: {why}"),
            Error::TooManyRequests { retry_after } => {
                format!("too many failed logins from this address; try again in {retry_after} s")
            }
            Error::Misdirected => {
                "misdirected request: this server does not answer for that Host".to_string()
            }
            Error::Busy { why, .. } => format!("{why}; try again"),
            Error::Conflict(why) => format!("conflict: {why}"),
            Error::MethodNotAllowed(allow) => format!("method not allowed here; allowed: {allow}"),
            Error::Io(e) => format!("internal error: {e}"),
            other => other.status().reason().to_ascii_lowercase(),
        }
    }

    /// The answer for this error: a one-line text body (empty for 404), plus the headers the
    /// status calls for.
    pub fn response(&self) -> Response<'static> {
        let status = self.status();
        let resp = if status == Status::NOT_FOUND {
            Response::new(status)
        } else {
            Response::text(status, format!("{}\n", self.message()))
        };
        // 404, 405, 414 and 501 are cacheable by default (RFC 9110 §15.1), and /files changes:
        // a shared cache must ask again rather than keep "not found" after an upload.
        let resp = resp.header("Cache-Control", "no-cache");
        match self {
            Error::MethodNotAllowed(allow) => resp.header("Allow", *allow),
            Error::Unauthorized { challenge, .. } => resp.header("WWW-Authenticate", *challenge),
            Error::TooManyRequests { retry_after } | Error::Busy { retry_after, .. } => {
                resp.header("Retry-After", retry_after.to_string())
            }
            Error::RangeNotSatisfiable { len } => {
                resp.header("Content-Range", format!("bytes */{len}"))
            }
            _ => resp,
        }
    }

    /// Turns an I/O error from reading a body back into the request error it carries, if any.
    /// Body readers report framing errors as `io::Error`s wrapping an `Error`.
    pub fn from_body_io(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout,
            io::ErrorKind::UnexpectedEof => Error::IncompleteBody,
            _ if e.get_ref().is_some_and(|inner| inner.is::<Error>()) => {
                match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                    Some(Ok(err)) => *err,
                    // Checked just above; kept total rather than unwrapped.
                    _ => Error::Io(io::Error::other("unreadable body error")),
                }
            }
            _ => Error::Io(e),
        }
    }

    /// Wraps this error in an `io::Error`, so that it can travel through `Read`.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        match e {
            ParseError::Malformed(why) => Error::BadRequest(why),
            ParseError::RequestLineTooLong => Error::RequestLineTooLong,
            ParseError::HeadTooLarge => Error::HeadTooLarge,
            ParseError::VersionNotSupported => Error::VersionNotSupported,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::from_body_io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_survive_a_trip_through_io_error() {
        let e = Error::from_body_io(Error::BodyTooLarge.into_io());
        assert!(matches!(e, Error::BodyTooLarge));
        let e = Error::from_body_io(Error::BadChunk("x").into_io());
        assert!(matches!(e, Error::BadChunk("x")));
        let e = Error::from_body_io(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert!(matches!(e, Error::IncompleteBody));
        let e = Error::from_body_io(io::Error::from(io::ErrorKind::WouldBlock));
        assert!(matches!(e, Error::Timeout));
    }

    #[test]
    fn framing_errors_close_and_routing_errors_do_not() {
        assert!(Error::BadChunk("x").closes_connection());
        assert!(Error::BodyTooLarge.closes_connection());
        assert!(!Error::NotFound.closes_connection());
        assert!(!Error::MethodNotAllowed("GET").closes_connection());
    }
}
