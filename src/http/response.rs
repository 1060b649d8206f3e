//! The `Response` value and how it goes on the wire: status line, headers, and the body with
//! exactly one framing (Content-Length, chunked, or none for 1xx/204/304 and HEAD).
//!
//! Out of scope: choosing the status and headers (handlers), compression choice (`encoding.rs`),
//! keep-alive policy (`conn.rs`, which passes its decision in `WriteOptions`).

use super::{Status, Version};
use crate::buf::copy_through;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};

/// Where a response is written. Any `Write` can be one; a socket also offers to send file bytes
/// itself (`sendfile(2)`), which saves copying them through user space.
pub trait Sink: Write {
    /// Sends `len` bytes of `file` from `offset`, returning how many were sent (fewer only if
    /// the file ended first), or `None` if this sink cannot and the caller should copy.
    ///
    /// # Errors
    /// The write's error.
    fn send_file(&mut self, _file: &File, _offset: u64, _len: u64) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

impl Sink for Vec<u8> {}

/// Bodies up to this size are sent in the same `write` as the head.
const MAX_COALESCED_BODY_BYTES: usize = 16 * 1024;

/// What follows the head.
#[derive(Debug)]
pub enum Body<'a> {
    Empty,
    Bytes(Vec<u8>),
    /// Bytes borrowed from the request (an echo, a User-Agent) or static: no copy, no allocation.
    Borrowed(&'a [u8]),
    /// `len` bytes of `file` from `offset` (streamed, never held in memory).
    File {
        file: File,
        offset: u64,
        len: u64,
    },
    /// A whole file, gzipped as it streams, in chunked coding (HTTP/1.1 only).
    GzipFile {
        file: File,
        level: u32,
    },
}

impl Body<'_> {
    /// Whether the body goes out in the same single write as the head (small enough to be
    /// written while the socket is in non-blocking mode).
    pub fn is_written_whole(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Bytes(b) => b.len() <= MAX_COALESCED_BODY_BYTES,
            Body::Borrowed(b) => b.len() <= MAX_COALESCED_BODY_BYTES,
            Body::File { len, .. } => *len <= MAX_COALESCED_BODY_BYTES as u64,
            Body::GzipFile { .. } => false,
        }
    }

    /// The bytes of a body held in memory.
    pub fn in_memory(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(b) => Some(b),
            Body::Borrowed(b) => Some(b),
            _ => None,
        }
    }
}

impl<'a> From<&'a [u8]> for Body<'a> {
    fn from(b: &'a [u8]) -> Body<'a> {
        Body::Borrowed(b)
    }
}

impl<'a> From<&'a str> for Body<'a> {
    fn from(s: &'a str) -> Body<'a> {
        Body::Borrowed(s.as_bytes())
    }
}

impl From<Vec<u8>> for Body<'_> {
    fn from(b: Vec<u8>) -> Self {
        Body::Bytes(b)
    }
}

impl From<String> for Body<'_> {
    fn from(s: String) -> Self {
        Body::Bytes(s.into_bytes())
    }
}

/// One header field of a response: a static name and a value that is usually static too.
pub type HeaderField = (&'static str, Cow<'static, str>);

/// Header fields kept inline: every response this server makes fits.
const INLINE_HEADERS: usize = 8;

/// A response's header fields, in order, without a heap allocation for up to
/// `INLINE_HEADERS` of them.
#[derive(Debug)]
pub struct HeaderList {
    inline: [HeaderField; INLINE_HEADERS],
    len: usize,
    more: Vec<HeaderField>,
}

impl Default for HeaderList {
    fn default() -> Self {
        HeaderList {
            inline: std::array::from_fn(|_| ("", Cow::Borrowed(""))),
            len: 0,
            more: Vec::new(),
        }
    }
}

impl HeaderList {
    pub fn push(&mut self, field: HeaderField) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = field;
                self.len += 1;
            }
            None => self.more.push(field),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &HeaderField> {
        self.inline
            .get(..self.len)
            .unwrap_or_default()
            .iter()
            .chain(&self.more)
    }
}

/// A response about to be written. It may borrow from the request (`'a`).
#[derive(Debug)]
pub struct Response<'a> {
    pub status: Status,
    /// Header fields other than the framing ones (Content-Length, Transfer-Encoding,
    /// Connection, Date), which the writer adds.
    pub headers: HeaderList,
    pub body: Body<'a>,
    /// Whether gzip may be applied to this body (`encoding.rs` decides if it is).
    pub compressible: bool,
}

impl<'a> Response<'a> {
    /// An empty response with this status.
    pub fn new(status: Status) -> Response<'a> {
        Response {
            status,
            headers: HeaderList::default(),
            body: Body::Empty,
            compressible: false,
        }
    }

    /// A `text/plain` response carrying `body`.
    pub fn text(status: Status, body: impl Into<Body<'a>>) -> Response<'a> {
        Response::new(status)
            .header("Content-Type", "text/plain")
            .body(body.into())
    }

    /// Adds a header field.
    pub fn header(
        mut self,
        name: &'static str,
        value: impl Into<Cow<'static, str>>,
    ) -> Response<'a> {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Body<'a>) -> Response<'a> {
        self.body = body;
        self
    }

    /// The value of a header set on this response, if any (case-insensitive).
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The body length if it is known before writing.
    fn body_len(&self) -> Option<u64> {
        match &self.body {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Borrowed(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::GzipFile { .. } => None,
        }
    }
}

/// How the connection wants this response written.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// The request was HEAD: headers as for GET, no body.
    pub head_only: bool,
    /// The request's version (chunked coding is never sent to HTTP/1.0).
    pub version: Version,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// The `Date` value to send, if any.
    pub date: Option<&'a str>,
}

/// Writes `resp` to `out`, using `scratch` (cleared first) to build the head. Returns the number
/// of body bytes written and whether the connection can stay open (a body of unknown length to
/// an HTTP/1.0 client is delimited by closing).
///
/// # Errors
/// The socket's or the file's error; the connection is then not usable.
pub fn write_response<W: Sink>(
    out: &mut W,
    scratch: &mut Vec<u8>,
    resp: Response<'_>,
    opts: &WriteOptions<'_>,
) -> io::Result<(u64, bool)> {
    let no_body = resp.status.has_no_body();
    let len = resp.body_len();
    let chunked = !no_body && len.is_none() && opts.version == Version::Http11;
    // An HTTP/1.0 client gets a body of unknown length delimited by the connection's close.
    let keep_alive = opts.keep_alive && (no_body || len.is_some() || chunked);

    // The head is built straight into the worker's scratch buffer: no allocation per answer.
    scratch.clear();
    let head = scratch;
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\n",
        resp.status.0,
        resp.status.reason()
    );
    for (name, value) in resp.headers.iter() {
        for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
            head.extend_from_slice(part);
        }
    }
    if !no_body {
        match len {
            Some(n) => {
                let _ = write!(head, "Content-Length: {n}\r\n");
            }
            None if chunked => head.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            None => {}
        }
    }
    if !keep_alive {
        head.extend_from_slice(b"Connection: close\r\n");
    } else if opts.version == Version::Http10 {
        head.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    if let Some(date) = opts.date {
        let _ = write!(head, "Date: {date}\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let scratch = head;
    if no_body || opts.head_only {
        out.write_all(scratch)?;
        out.flush()?;
        return Ok((0, keep_alive));
    }
    let sent = match resp.body {
        Body::Empty => {
            out.write_all(scratch)?;
            0
        }
        Body::Bytes(ref b) => write_small_or_large(out, scratch, b)?,
        Body::Borrowed(b) => write_small_or_large(out, scratch, b)?,
        Body::File { file, offset, len } if len <= MAX_COALESCED_BODY_BYTES as u64 => {
            // A small file goes in the same write as the head: one system call, one packet.
            read_range_into(scratch, file, offset, len)?;
            out.write_all(scratch)?;
            len
        }
        Body::File { file, offset, len } => {
            out.write_all(scratch)?;
            write_file_range(out, file, offset, len)?
        }
        Body::GzipFile { file, level } => {
            out.write_all(scratch)?;
            write_gzip_stream(out, file, level, chunked)?
        }
    };
    out.flush()?;
    Ok((sent, keep_alive))
}

fn write_small_or_large<W: Write>(out: &mut W, scratch: &mut Vec<u8>, b: &[u8]) -> io::Result<u64> {
    if b.len() <= MAX_COALESCED_BODY_BYTES {
        scratch.extend_from_slice(b);
        out.write_all(scratch)?;
    } else {
        out.write_all(scratch)?;
        out.write_all(b)?;
    }
    Ok(b.len() as u64)
}

/// The file got shorter while we sent it: the promised Content-Length can no longer be met,
/// so the connection must be dropped.
fn file_shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
}

/// Appends `len` bytes of `file` from `offset` to `buf`.
fn read_range_into(buf: &mut Vec<u8>, mut file: File, offset: u64, len: u64) -> io::Result<()> {
    use std::io::Seek;
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset))?;
    }
    let start = buf.len();
    file.take(len).read_to_end(buf)?;
    if (buf.len() - start) as u64 != len {
        return Err(file_shrank());
    }
    Ok(())
}

/// Sends a file range: by the sink itself where it can (`sendfile`), else through the worker's
/// copy buffer (never the whole file in memory).
fn write_file_range<W: Sink>(
    out: &mut W,
    mut file: File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    use std::io::Seek;
    if let Some(sent) = out.send_file(&file, offset, len)? {
        return if sent == len {
            Ok(sent)
        } else {
            Err(file_shrank())
        };
    }
    if offset > 0 {
        file.seek(io::SeekFrom::Start(offset))?;
    }
    let sent = copy_through(&mut file, out, len)?;
    if sent != len {
        return Err(file_shrank());
    }
    Ok(sent)
}

/// Streams `file` through gzip, in chunked coding when `chunked`, else raw (closed after).
fn write_gzip_stream<W: Write>(
    out: &mut W,
    mut file: File,
    level: u32,
    chunked: bool,
) -> io::Result<u64> {
    let mut sink = ChunkedWriter {
        out,
        chunked,
        sent: 0,
    };
    let mut gz = GzEncoder::new(&mut sink, Compression::new(level));
    copy_through(&mut file, &mut gz, u64::MAX)?;
    gz.finish()?;
    let sent = sink.sent;
    if chunked {
        sink.out.write_all(b"0\r\n\r\n")?;
    }
    Ok(sent)
}

/// Writes each `write` as one chunk of chunked coding (RFC 9112 §7.1), or passes it through.
struct ChunkedWriter<'a, W> {
    out: &'a mut W,
    chunked: bool,
    sent: u64,
}

impl<W: Write> Write for ChunkedWriter<'_, W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if b.is_empty() {
            return Ok(0);
        }
        if self.chunked {
            write!(self.out, "{:x}\r\n", b.len())?;
            self.out.write_all(b)?;
            self.out.write_all(b"\r\n")?;
        } else {
            self.out.write_all(b)?;
        }
        self.sent += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(resp: Response<'_>, opts: WriteOptions<'_>) -> String {
        let mut out = Vec::new();
        write_response(&mut out, &mut Vec::new(), resp, &opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    const KEEP: WriteOptions<'static> = WriteOptions {
        head_only: false,
        version: Version::Http11,
        keep_alive: true,
        date: None,
    };

    #[test]
    fn writes_status_headers_length_and_body() {
        let r = Response::text(Status::OK, "abc");
        assert_eq!(
            write(r, KEEP),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
        );
    }

    #[test]
    fn head_gets_the_same_headers_and_no_body() {
        let r = Response::text(Status::OK, "abc");
        let opts = WriteOptions {
            head_only: true,
            ..KEEP
        };
        assert_eq!(
            write(r, opts),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn bodiless_statuses_get_no_framing_headers() {
        for status in [Status::NO_CONTENT, Status::NOT_MODIFIED] {
            let r = Response::new(status).header("ETag", "\"x\"");
            let text = write(r, KEEP);
            assert!(!text.contains("Content-Length"), "{text}");
            assert!(text.ends_with("\r\n\r\n"), "{text}");
        }
    }

    #[test]
    fn says_close_and_keep_alive_as_needed() {
        let close = WriteOptions {
            keep_alive: false,
            ..KEEP
        };
        assert!(write(Response::new(Status::OK), close).contains("Connection: close\r\n"));
        let old = WriteOptions {
            version: Version::Http10,
            ..KEEP
        };
        assert!(write(Response::new(Status::OK), old).contains("Connection: keep-alive\r\n"));
        assert!(!write(Response::new(Status::OK), KEEP).contains("Connection"));
    }

    #[test]
    fn adds_date_when_asked() {
        let opts = WriteOptions {
            date: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            ..KEEP
        };
        assert!(write(Response::new(Status::OK), opts)
            .contains("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    }

    #[test]
    fn header_list_keeps_order_past_its_inline_room() {
        let mut r = Response::new(Status::OK);
        for name in ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"] {
            r = r.header(name, name.to_lowercase());
        }
        let got: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            got,
            ["A=a", "B=b", "C=c", "D=d", "E=e", "F=f", "G=g", "H=h", "I=i", "J=j"]
        );
        assert_eq!(r.get_header("j"), Some("j"));
    }

    #[test]
    fn chunked_writer_frames_each_write() {
        let mut out = Vec::new();
        let mut w = ChunkedWriter {
            out: &mut out,
            chunked: true,
            sent: 0,
        };
        w.write_all(b"hello").unwrap();
        w.write_all(&[b'x'; 16]).unwrap();
        assert_eq!(out, b"5\r\nhello\r\n10\r\nxxxxxxxxxxxxxxxx\r\n");
    }
}
