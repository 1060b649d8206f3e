//! The `Response` value and how it goes on the wire: status line, headers, and the body with
//! exactly one framing (Content-Length, chunked, or none for 1xx/204/304 and HEAD).
//!
//! Writing never waits: the sink is a non-blocking socket, and when it is full,
//! [`write_response`] returns an [`Outgoing`] that is not done, holding what it needs to go on
//! (the rest of the head, the rest of an in-memory body, an open file and an offset, or a block
//! stream and how much of its current block went), and [`Outgoing::resume`] goes on when the
//! socket can take more. A file body in progress holds no buffer: its bytes are read again from
//! the file (or sent by `sendfile(2)`) at the offset reached.
//!
//! Out of scope: choosing the status and headers (handlers), compression (the application's
//! `encoding.rs`, which makes a gzip stream a [`BlockStream`]), keep-alive policy (`conn`, which
//! passes its decision in `WriteOptions`), and waiting for the socket (the poller).

use super::{Status, Version};
use crate::buf::with_copy_buf;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;

/// Where a response is written: a `Write` that may refuse with `WouldBlock` when it is full. A
/// socket also offers to send file bytes itself (`sendfile(2)`), which saves copying them
/// through user space.
pub trait Sink: Write {
    /// Sends up to `len` bytes of `file` from `offset` in one go, returning how many went (0:
    /// the file ended), or `None` if this sink cannot and the caller should copy.
    ///
    /// # Errors
    /// The write's error; `WouldBlock` when the sink is full.
    fn send_file(&mut self, _file: &File, _offset: u64, _len: u64) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

/// A body made block by block while it is sent (a file gzipped as it goes, say). A stream in
/// progress keeps only its position: a block is made again, the same bytes, if the socket
/// filled up while it was half sent.
pub trait BlockStream: Send {
    /// Puts the current block in `out` (cleared first): the same bytes on every call until
    /// [`BlockStream::advance`]. An empty block ends the body.
    ///
    /// # Errors
    /// The source's error (a read failing, or a file changed while it was sent).
    fn block(&mut self, out: &mut Vec<u8>) -> io::Result<()>;

    /// The current block went out whole: the next call to `block` makes the next one.
    fn advance(&mut self);

    /// The body's length, where it is known before the first block (then it is sent with
    /// `Content-Length` instead of chunked coding); the blocks must add up to it exactly.
    fn known_len(&self) -> Option<u64> {
        None
    }
}

impl Sink for Vec<u8> {}

/// Bodies up to this size are sent in the same `write` as the head.
const MAX_COALESCED_BODY_BYTES: usize = 16 * 1024;

/// What follows the head.
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
    /// A body made as it is sent: of the length it says, or else in chunked coding (to an
    /// HTTP/1.0 client: delimited by closing the connection).
    Stream(Box<dyn BlockStream>),
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Borrowed(b) => write!(f, "Borrowed({} bytes)", b.len()),
            Body::File { offset, len, .. } => write!(f, "File({len} bytes from {offset})"),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl Body<'_> {
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
}

impl<'a> Response<'a> {
    /// An empty response with this status.
    pub fn new(status: Status) -> Response<'a> {
        Response {
            status,
            headers: HeaderList::default(),
            body: Body::Empty,
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

    /// The same response, holding nothing borrowed (a borrowed body is copied), so that it can
    /// wait apart from the request it answers.
    pub fn into_owned(self) -> Response<'static> {
        let body = match self.body {
            Body::Empty => Body::Empty,
            Body::Bytes(b) => Body::Bytes(b),
            Body::Borrowed(b) => Body::Bytes(b.to_vec()),
            Body::File { file, offset, len } => Body::File { file, offset, len },
            Body::Stream(s) => Body::Stream(s),
        };
        Response {
            status: self.status,
            headers: self.headers,
            body,
        }
    }

    /// The body length if it is known before writing.
    fn body_len(&self) -> Option<u64> {
        match &self.body {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Borrowed(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Stream(stream) => stream.known_len(),
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

/// A response on its way out: what is left of it, and how to go on.
pub struct Outgoing<'a> {
    /// Head bytes (with a small body) not yet sent: kept only when the sink filled up inside
    /// the head.
    pending: Vec<u8>,
    body: Source<'a>,
    /// Body bytes sent so far (for the log).
    sent: u64,
    /// Bytes written so far, head and framing included (progress, for the send deadline).
    written: u64,
    keep_alive: bool,
}

/// Where the rest of the body comes from.
enum Source<'a> {
    /// Nothing left (or nothing at all).
    Done,
    Memory {
        bytes: Cow<'a, [u8]>,
        at: usize,
    },
    File {
        file: File,
        at: u64,
        end: u64,
    },
    Blocks {
        stream: Box<dyn BlockStream>,
        chunked: bool,
        /// Bytes of the current block (framing included) already sent.
        at: usize,
    },
}

impl<'a> Source<'a> {
    fn memory(bytes: Cow<'a, [u8]>) -> Source<'a> {
        Source::Memory { bytes, at: 0 }
    }
}

impl<'a> Outgoing<'a> {
    /// Whether the whole response has been sent.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && matches!(self.body, Source::Done)
    }

    /// Body bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes written so far, head and framing included: it grows whenever a send makes
    /// progress.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Whether the connection can stay open after this response (a body of unknown length to an
    /// HTTP/1.0 client is delimited by closing).
    pub fn keeps_alive(&self) -> bool {
        self.keep_alive
    }

    /// The same response, holding nothing borrowed (a borrowed body still to send is copied),
    /// so that it can wait for the socket apart from the request it answers.
    pub fn into_owned(self) -> Outgoing<'static> {
        let body = match self.body {
            Source::Done => Source::Done,
            Source::Memory { bytes, at } => Source::Memory {
                bytes: Cow::Owned(bytes.into_owned()),
                at,
            },
            Source::File { file, at, end } => Source::File { file, at, end },
            Source::Blocks {
                stream,
                chunked,
                at,
            } => Source::Blocks {
                stream,
                chunked,
                at,
            },
        };
        Outgoing {
            pending: self.pending,
            body,
            sent: self.sent,
            written: self.written,
            keep_alive: self.keep_alive,
        }
    }

    /// Sends what the sink takes now, up to the end of the response. `scratch` is the
    /// worker's buffer for making stream blocks.
    ///
    /// # Errors
    /// The sink's or the source's error (`WouldBlock` is not one: it just stops here); the
    /// connection is then not usable.
    pub fn resume<W: Sink>(&mut self, out: &mut W, scratch: &mut Vec<u8>) -> io::Result<()> {
        if !self.pending.is_empty() {
            let n = write_parts(out, &[&self.pending], 0)?;
            self.written += n as u64;
            self.pending.drain(..n);
            if !self.pending.is_empty() {
                return Ok(());
            }
            self.pending = Vec::new();
        }
        let sent_before = self.sent;
        let finished = match &mut self.body {
            Source::Done => true,
            Source::Memory { bytes, at } => {
                let rest = bytes.get(*at..).unwrap_or_default();
                let n = write_parts(out, &[rest], 0)?;
                *at += n;
                self.sent += n as u64;
                n == rest.len()
            }
            Source::File { file, at, end } => send_file_range(out, file, at, *end, &mut self.sent)?,
            Source::Blocks {
                stream,
                chunked,
                at,
            } => {
                let framed_before = *at;
                let done =
                    send_blocks(out, stream.as_mut(), *chunked, at, &mut self.sent, scratch)?;
                // A block half sent counts as progress too.
                self.written += (*at).saturating_sub(framed_before) as u64;
                done
            }
        };
        self.written += self.sent - sent_before;
        if finished {
            self.body = Source::Done;
        }
        Ok(())
    }
}

/// Starts writing `resp` to `out`, using `scratch` (cleared first) to build the head, and
/// sends as much as the sink takes now. The returned [`Outgoing`] says whether it is all sent;
/// if not, call [`Outgoing::resume`] when the sink can take more.
///
/// # Errors
/// The socket's or the file's error; the connection is then not usable.
pub fn write_response<'a, W: Sink>(
    out: &mut W,
    scratch: &mut Vec<u8>,
    resp: Response<'a>,
    opts: &WriteOptions<'_>,
) -> io::Result<Outgoing<'a>> {
    let no_body = resp.status.has_no_body();
    let len = resp.body_len();
    let chunked = !no_body && len.is_none() && opts.version == Version::Http11;
    // An HTTP/1.0 client gets a body of unknown length delimited by the connection's close.
    let keep_alive = opts.keep_alive && (no_body || len.is_some() || chunked);
    let framing = Framing {
        len: if no_body { None } else { len },
        chunked,
        keep_alive,
    };
    // The head is built straight into the worker's scratch buffer: no allocation per answer.
    write_head(scratch, &resp, &framing, opts);
    let (body, coalesced) = if no_body || opts.head_only {
        (Source::Done, 0)
    } else {
        body_source(resp.body, chunked, scratch)?
    };
    let mut outgoing = Outgoing {
        pending: Vec::new(),
        body,
        sent: coalesced,
        written: 0,
        keep_alive,
    };
    let n = write_parts(out, &[scratch], 0)?;
    outgoing.written = n as u64;
    if let Some(rest) = scratch.get(n..).filter(|r| !r.is_empty()) {
        outgoing.pending = rest.to_vec();
        return Ok(outgoing);
    }
    outgoing.resume(out, scratch)?;
    Ok(outgoing)
}

/// How an answer is delimited: decided once, written into its head.
struct Framing {
    /// `Content-Length`, where the body has one (never for a status without a body).
    len: Option<u64>,
    chunked: bool,
    keep_alive: bool,
}

/// The status line and header section, into `head` (cleared first).
fn write_head(head: &mut Vec<u8>, resp: &Response<'_>, framing: &Framing, opts: &WriteOptions) {
    head.clear();
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
    if let Some(n) = framing.len {
        let _ = write!(head, "Content-Length: {n}\r\n");
    } else if framing.chunked {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if !framing.keep_alive {
        head.extend_from_slice(b"Connection: close\r\n");
    } else if opts.version == Version::Http10 {
        head.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    if let Some(date) = opts.date {
        let _ = write!(head, "Date: {date}\r\n");
    }
    head.extend_from_slice(b"\r\n");
}

/// Where the body comes from as it is sent. A small body goes in the same write as the head
/// (one system call, one packet): it is appended to `head`, and its length comes back as the
/// second value.
fn body_source<'a>(
    body: Body<'a>,
    chunked: bool,
    head: &mut Vec<u8>,
) -> io::Result<(Source<'a>, u64)> {
    let small = MAX_COALESCED_BODY_BYTES;
    let mut coalesce = |bytes: &[u8]| {
        head.extend_from_slice(bytes);
        Ok((Source::Done, bytes.len() as u64))
    };
    match body {
        Body::Empty => Ok((Source::Done, 0)),
        Body::Bytes(b) if b.len() <= small => coalesce(&b),
        Body::Borrowed(b) if b.len() <= small => coalesce(b),
        Body::Bytes(b) => Ok((Source::memory(Cow::Owned(b)), 0)),
        Body::Borrowed(b) => Ok((Source::memory(Cow::Borrowed(b)), 0)),
        Body::File { file, offset, len } if len <= small as u64 => {
            read_range_into(head, &file, offset, len)?;
            Ok((Source::Done, len))
        }
        Body::File { file, offset, len } => Ok((
            Source::File {
                file,
                at: offset,
                end: offset.saturating_add(len),
            },
            0,
        )),
        Body::Stream(stream) => Ok((
            Source::Blocks {
                stream,
                chunked,
                at: 0,
            },
            0,
        )),
    }
}

/// Writes `parts` one after the other, from byte `at` of their concatenation, until all is
/// written or the sink is full (`WouldBlock`). Returns the position reached.
fn write_parts<W: Write>(out: &mut W, parts: &[&[u8]], mut at: usize) -> io::Result<usize> {
    const MAX_PARTS: usize = 3;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    while at < total {
        let mut slices = [IoSlice::new(&[]); MAX_PARTS];
        let mut count = 0;
        let mut skip = at;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            if let Some(slot) = slices.get_mut(count) {
                *slot = IoSlice::new(part.get(skip..).unwrap_or_default());
                count += 1;
            }
            skip = 0;
        }
        match out.write_vectored(slices.get(..count).unwrap_or_default()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// The file got shorter while we sent it: the promised Content-Length can no longer be met,
/// so the connection must be dropped.
fn file_shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
}

/// Appends `len` bytes of `file` from `offset` to `buf`.
fn read_range_into(buf: &mut Vec<u8>, file: &File, offset: u64, len: u64) -> io::Result<()> {
    let start = buf.len();
    let want = usize::try_from(len).map_err(|_| file_shrank())?;
    buf.resize(start + want, 0);
    let mut got = 0;
    while got < want {
        let into = buf.get_mut(start + got..).unwrap_or_default();
        match file.read_at(into, offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    if got != want {
        buf.truncate(start);
        return Err(file_shrank());
    }
    Ok(())
}

/// Sends the file from `*at` to `end`: by the sink itself where it can (`sendfile`), else
/// through the worker's copy buffer. Returns whether it got to the end (else the sink is full).
fn send_file_range<W: Sink>(
    out: &mut W,
    file: &File,
    at: &mut u64,
    end: u64,
    sent: &mut u64,
) -> io::Result<bool> {
    while *at < end {
        match out.send_file(file, *at, end - *at) {
            Ok(Some(0)) => return Err(file_shrank()),
            Ok(Some(n)) => {
                *at += n;
                *sent += n;
            }
            Ok(None) => return copy_file_range(out, file, at, end, sent),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// [`send_file_range`] by reading and writing: what the sink did not take is read again next
/// time, so nothing is held between turns.
fn copy_file_range<W: Write>(
    out: &mut W,
    file: &File,
    at: &mut u64,
    end: u64,
    sent: &mut u64,
) -> io::Result<bool> {
    with_copy_buf(|buf| {
        while *at < end {
            let want = usize::try_from(end - *at)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let n = match file.read_at(chunk, *at) {
                Ok(0) => return Err(file_shrank()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let written = write_parts(out, &[chunk.get(..n).unwrap_or_default()], 0)?;
            *at += written as u64;
            *sent += written as u64;
            if written < n {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Sends a block stream, each block as one chunk of chunked coding (RFC 9112 §7.1) or as it is,
/// then the last chunk. `at` is how much of the current block went before. Returns whether the
/// body is over (else the sink is full).
fn send_blocks<W: Write>(
    out: &mut W,
    stream: &mut dyn BlockStream,
    chunked: bool,
    at: &mut usize,
    sent: &mut u64,
    scratch: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        stream.block(scratch)?;
        let data: &[u8] = scratch;
        let mut size_line = [0u8; 20];
        let size_len = {
            let mut w = &mut size_line[..];
            let _ = write!(w, "{:x}\r\n", data.len());
            20 - w.len()
        };
        let size = size_line.get(..size_len).unwrap_or_default();
        let parts: [&[u8]; 3] = match (chunked, data.is_empty()) {
            (true, true) => [b"0\r\n\r\n", b"", b""],
            (true, false) => [size, data, b"\r\n"],
            (false, _) => [data, b"", b""],
        };
        let total: usize = parts.iter().map(|p| p.len()).sum();
        *at = write_parts(out, &parts, *at)?;
        if *at < total {
            return Ok(false);
        }
        *at = 0;
        if data.is_empty() {
            return Ok(true);
        }
        *sent += data.len() as u64;
        stream.advance();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(resp: Response<'_>, opts: WriteOptions<'_>) -> String {
        let mut out = Vec::new();
        let sent = write_response(&mut out, &mut Vec::new(), resp, &opts).unwrap();
        assert!(sent.is_done());
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

    /// A sink that takes at most `step` bytes per write and is full on every other call, as a
    /// socket to a slow client is.
    struct Throttled {
        out: Vec<u8>,
        step: usize,
        full: bool,
        sendfile: bool,
    }

    impl Write for Throttled {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.full = !self.full;
            if self.full {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.step);
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink for Throttled {
        fn send_file(&mut self, file: &File, offset: u64, len: u64) -> io::Result<Option<u64>> {
            if !self.sendfile {
                return Ok(None);
            }
            self.full = !self.full;
            if self.full {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut buf = vec![0u8; (len as usize).min(self.step)];
            let n = file.read_at(&mut buf, offset)?;
            self.out.extend_from_slice(&buf[..n]);
            Ok(Some(n as u64))
        }
    }

    /// Blocks of 0..n bytes, the k-th of k copies of byte k, counted as they are made.
    struct Counting {
        k: u8,
        last: u8,
    }

    impl BlockStream for Counting {
        fn block(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
            out.clear();
            if self.k <= self.last {
                out.resize(usize::from(self.k) * 100, self.k);
            }
            Ok(())
        }
        fn advance(&mut self) {
            self.k += 1;
        }
    }

    fn temp_file(data: &[u8]) -> File {
        let path = std::env::temp_dir().join(format!(
            "response-test-{}-{}",
            std::process::id(),
            data.len()
        ));
        std::fs::write(&path, data).unwrap();
        let f = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    /// Every kind of body, sent whole at once and sent to a throttled sink over many resumes,
    /// gives the same bytes; an owned copy taken while parked changes nothing.
    #[test]
    fn a_response_resumed_after_a_full_sink_sends_the_same_bytes() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        type MakeBody = Box<dyn Fn() -> Body<'static>>;
        let bodies: Vec<(&str, MakeBody)> = vec![
            ("empty", Box::new(|| Body::Empty)),
            ("small", Box::new(|| Body::Bytes(b"hello".to_vec()))),
            (
                "large bytes",
                Box::new({
                    let big = big.clone();
                    move || Body::Bytes(big.clone())
                }),
            ),
            (
                "large borrowed",
                Box::new(|| Body::Borrowed(&[7u8; 40_000])),
            ),
            (
                "small file",
                Box::new(|| Body::File {
                    file: temp_file(b"0123456789"),
                    offset: 2,
                    len: 5,
                }),
            ),
            (
                "large file range",
                Box::new({
                    let big = big.clone();
                    move || Body::File {
                        file: temp_file(&big),
                        offset: 1000,
                        len: 150_000,
                    }
                }),
            ),
            (
                "stream",
                Box::new(|| Body::Stream(Box::new(Counting { k: 1, last: 40 }))),
            ),
        ];
        for (name, body) in &bodies {
            for version in [Version::Http11, Version::Http10] {
                let opts = WriteOptions { version, ..KEEP };
                let resp = || Response::new(Status::OK).header("X", "y").body(body());
                let mut whole = Vec::new();
                let done = write_response(&mut whole, &mut Vec::new(), resp(), &opts).unwrap();
                assert!(done.is_done(), "{name}");
                for (step, sendfile) in [(1000, true), (7, false), (65_536, false)] {
                    let mut sink = Throttled {
                        out: Vec::new(),
                        step,
                        full: false,
                        sendfile,
                    };
                    let mut scratch = Vec::new();
                    let mut o = write_response(&mut sink, &mut scratch, resp(), &opts)
                        .unwrap()
                        .into_owned();
                    let mut turns = 0;
                    while !o.is_done() {
                        o.resume(&mut sink, &mut scratch).unwrap();
                        turns += 1;
                        assert!(turns < 1_000_000, "{name}: no progress");
                    }
                    assert_eq!(o.keeps_alive(), done.keeps_alive(), "{name}");
                    assert_eq!(o.sent(), done.sent(), "{name} step {step}");
                    assert!(sink.out == whole, "{name} {version:?} step {step}");
                }
            }
        }
    }

    #[test]
    fn a_stream_is_chunked_for_http11_and_raw_for_http10() {
        let resp =
            || Response::new(Status::OK).body(Body::Stream(Box::new(Counting { k: 1, last: 2 })));
        let text = write(resp(), KEEP);
        assert!(
            text.ends_with(&format!(
                "Transfer-Encoding: chunked\r\n\r\n64\r\n{}\r\nc8\r\n{}\r\n0\r\n\r\n",
                "\u{1}".repeat(100),
                "\u{2}".repeat(200)
            )),
            "{text:?}"
        );
        let old = WriteOptions {
            version: Version::Http10,
            ..KEEP
        };
        let text = write(resp(), old);
        assert!(text.contains("Connection: close\r\n"), "{text:?}");
        assert!(text.ends_with(&format!(
            "\r\n\r\n{}{}",
            "\u{1}".repeat(100),
            "\u{2}".repeat(200)
        )));
    }

    #[test]
    fn a_file_that_shrank_fails_the_send() {
        let resp = Response::new(Status::OK).body(Body::File {
            file: temp_file(&[1u8; 100_000]),
            offset: 0,
            len: 200_000,
        });
        let e = write_response(&mut Vec::new(), &mut Vec::new(), resp, &KEEP)
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
