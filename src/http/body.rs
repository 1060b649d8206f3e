//! Request body framing (RFC 9112 §6): which framing a request uses, a chunked decoder written as
//! an explicit state machine, and `BodyDecoder`, which takes the body's bytes as they arrive,
//! in pieces of any size, and hands out its data while enforcing the size limit.
//!
//! Out of scope: what the body means (handlers), reading the socket, `100 Continue` and
//! timeouts (the engine).

use super::parse::Head;
use super::Version;
use crate::config::{MAX_CHUNK_LINE_BYTES, MAX_CHUNK_SIZE_DIGITS};
use crate::http::error::Error;

/// How the length of a request body is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// Decides the framing of a request's body from its headers (RFC 9112 §6.1-§6.3).
///
/// # Errors
/// 400 for both Content-Length and Transfer-Encoding, for differing or malformed lengths, for
/// chunked not last, and for Transfer-Encoding in HTTP/1.0; 501 for codings other than chunked.
pub fn framing(head: &Head) -> Result<Framing, Error> {
    let has_te = head.headers.get("transfer-encoding").is_some();
    let has_cl = head.headers.get("content-length").is_some();
    if has_te {
        if has_cl {
            // RFC 9112 §6.3 (3): a smuggling attempt as often as not; refuse and close.
            return Err(Error::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if head.version == Version::Http10 {
            // RFC 9112 §6.1: a server MAY treat this as faulty framing; we do.
            return Err(Error::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        let codings: Vec<&[u8]> = head.headers.list("transfer-encoding").collect();
        let Some((last, before)) = codings.split_last() else {
            return Err(Error::BadRequest("empty Transfer-Encoding"));
        };
        if !last.eq_ignore_ascii_case(b"chunked") {
            return Err(
                if codings.iter().any(|c| c.eq_ignore_ascii_case(b"chunked")) {
                    Error::BadRequest("chunked is not the last transfer coding")
                } else {
                    Error::UnsupportedTransferCoding
                },
            );
        }
        if !before.is_empty() {
            // gzip, chunked and the like: valid HTTP, but not a coding we decode.
            return Err(
                if before.iter().any(|c| c.eq_ignore_ascii_case(b"chunked")) {
                    Error::BadRequest("chunked applied more than once")
                } else {
                    Error::UnsupportedTransferCoding
                },
            );
        }
        return Ok(Framing::Chunked);
    }
    if has_cl {
        // RFC 9110 §8.6: a list of identical values may be taken as one value.
        let mut length = None;
        for value in head.headers.list("content-length") {
            let n = parse_content_length(value)?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::BadRequest("differing Content-Length values"));
            }
            length = Some(n);
        }
        return match length {
            Some(0) => Ok(Framing::None),
            Some(n) => Ok(Framing::Length(n)),
            None => Err(Error::BadRequest("empty Content-Length")),
        };
    }
    Ok(Framing::None)
}

/// Content-Length = 1*DIGIT, checked for overflow.
fn parse_content_length(v: &[u8]) -> Result<u64, Error> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadRequest("invalid Content-Length"));
    }
    v.iter()
        .try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(Error::BadRequest("Content-Length out of range"))
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk-size.
    Size { value: u64, digits: usize },
    /// After the size: extensions, ignored up to the CR.
    Extension { value: u64 },
    /// Expecting the LF that ends the chunk-size line.
    SizeLf { value: u64 },
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line, which is read and discarded.
    TrailerLine,
    /// Expecting the LF that ends a trailer line.
    TrailerLf,
    /// Expecting the LF of the final empty line.
    EndLf,
    /// The body is over.
    Done,
}

/// A chunked-coding decoder (RFC 9112 §7.1). Feed it bytes with `decode`; it yields the data
/// inside them. Sizes have at most `MAX_CHUNK_SIZE_DIGITS` hex digits, chunk lines at most
/// `MAX_CHUNK_LINE_BYTES`, and trailers at most `max_trailer_bytes` in all.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    line_bytes: usize,
    trailer_bytes: usize,
    max_trailer_bytes: usize,
}

/// What one `decode` call found.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used.
    pub consumed: usize,
    /// Where in the input the data handed out by this call lies (empty if none).
    pub data: std::ops::Range<usize>,
}

impl ChunkedDecoder {
    pub fn new(max_trailer_bytes: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line_bytes: 0,
            trailer_bytes: 0,
            max_trailer_bytes,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input` until it has found up to `max_data` bytes of data, used up the input,
    /// or reached the end of the body.
    ///
    /// # Errors
    /// `BadChunk` for bytes that break the coding, `HeadTooLarge` for oversized trailers.
    pub fn decode(&mut self, input: &[u8], max_data: usize) -> Result<Decoded, Error> {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            if let State::Data(left) = self.state {
                let avail = (input.len() - i) as u64;
                let take = left.min(avail).min(max_data as u64) as usize;
                if take == 0 {
                    break;
                }
                let rest = left - take as u64;
                self.state = if rest == 0 {
                    State::DataCr
                } else {
                    State::Data(rest)
                };
                return Ok(Decoded {
                    consumed: i + take,
                    data: i..i + take,
                });
            }
            self.step(b)?;
            i += 1;
            if self.state == State::Done {
                break;
            }
        }
        Ok(Decoded {
            consumed: i,
            data: i..i,
        })
    }

    /// Advances over one byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), Error> {
        self.state = match self.state {
            State::Size { .. } | State::Extension { .. } | State::SizeLf { .. } => {
                self.size_line(b)?
            }
            State::Data(_) => State::Data(0), // Not reached: `decode` handles data itself.
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::Size {
                value: 0,
                digits: 0,
            },
            State::DataCr | State::DataLf => {
                return Err(Error::BadChunk("chunk data not followed by CRLF"))
            }
            State::TrailerStart | State::TrailerLine | State::TrailerLf | State::EndLf => {
                self.trailer(b)?
            }
            State::Done => State::Done,
        };
        Ok(())
    }

    /// One byte of a chunk-size line: the size's hex digits, ignored extensions, the CRLF.
    fn size_line(&mut self, b: u8) -> Result<State, Error> {
        Ok(match self.state {
            State::Size { value, digits } => {
                self.count_line_byte()?;
                match (b as char).to_digit(16) {
                    Some(d) if digits < MAX_CHUNK_SIZE_DIGITS => State::Size {
                        value: (value << 4) | u64::from(d),
                        digits: digits + 1,
                    },
                    Some(_) => return Err(Error::BadChunk("chunk size has too many digits")),
                    None if digits == 0 => return Err(Error::BadChunk("missing chunk size")),
                    None => match b {
                        b'\r' => State::SizeLf { value },
                        // Extensions (and the whitespace allowed before them) are ignored.
                        b';' | b' ' | b'\t' => State::Extension { value },
                        _ => return Err(Error::BadChunk("invalid chunk size")),
                    },
                }
            }
            State::Extension { value } => {
                self.count_line_byte()?;
                match b {
                    b'\r' => State::SizeLf { value },
                    b'\t' => State::Extension { value },
                    _ if b < 0x20 || b == 0x7f => {
                        return Err(Error::BadChunk("control character in chunk extension"))
                    }
                    _ => State::Extension { value },
                }
            }
            State::SizeLf { value } => {
                if b != b'\n' {
                    return Err(Error::BadChunk("chunk size line not ended by CRLF"));
                }
                self.line_bytes = 0;
                if value == 0 {
                    State::TrailerStart
                } else {
                    State::Data(value)
                }
            }
            other => other,
        })
    }

    /// One byte of the trailer section (read and dropped) or of the final empty line.
    fn trailer(&mut self, b: u8) -> Result<State, Error> {
        Ok(match self.state {
            State::TrailerStart if b == b'\r' => State::EndLf,
            State::TrailerStart => {
                self.count_trailer_byte()?;
                State::TrailerLine
            }
            State::TrailerLine => {
                self.count_trailer_byte()?;
                match b {
                    b'\r' => State::TrailerLf,
                    b'\n' => return Err(Error::BadChunk("bare LF in trailer")),
                    _ => State::TrailerLine,
                }
            }
            State::TrailerLf if b == b'\n' => State::TrailerStart,
            State::EndLf if b == b'\n' => State::Done,
            State::TrailerLf | State::EndLf => {
                return Err(Error::BadChunk("trailer line not ended by CRLF"))
            }
            other => other,
        })
    }

    fn count_line_byte(&mut self) -> Result<(), Error> {
        self.line_bytes += 1;
        if self.line_bytes > MAX_CHUNK_LINE_BYTES {
            return Err(Error::BadChunk("chunk size line too long"));
        }
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), Error> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailer_bytes {
            return Err(Error::HeadTooLarge);
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Kind {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// The body of one request, decoded as its bytes arrive: the engine feeds it whatever the socket
/// gave, and it hands out the body's data, never going past the body's end (what follows stays
/// with the engine for the next request). Bytes past `set_limit` fail with `BodyTooLarge`.
///
/// It keeps a few words of state between pieces, so a body can arrive over many turns of the
/// connection with nothing but this value kept in between.
#[derive(Debug)]
pub struct BodyDecoder {
    kind: Kind,
    declared: Option<u64>,
    limit: u64,
    received: u64,
}

impl BodyDecoder {
    /// A decoder for a body with the given framing; `max_trailer_bytes` bounds a chunked
    /// body's trailers.
    pub fn new(framing: Framing, max_trailer_bytes: usize) -> BodyDecoder {
        let (kind, declared) = match framing {
            Framing::None => (Kind::Length(0), Some(0)),
            Framing::Length(n) => (Kind::Length(n), Some(n)),
            Framing::Chunked => (Kind::Chunked(ChunkedDecoder::new(max_trailer_bytes)), None),
        };
        BodyDecoder {
            kind,
            declared,
            limit: u64::MAX,
            received: 0,
        }
    }

    /// The Content-Length, if the body has one (0 when there is no body; `None` if chunked).
    pub fn declared_len(&self) -> Option<u64> {
        self.declared
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes past `limit` (in all) fail with `BodyTooLarge`; a declared length past it fails
    /// before any byte is taken.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Whether the whole body has been received.
    pub fn is_finished(&self) -> bool {
        match &self.kind {
            Kind::Length(left) => *left == 0,
            Kind::Chunked(d) => d.is_done(),
        }
    }

    /// The most bytes worth reading from the socket now, up to `room`: never past the end of a
    /// body of known length, so that the next request's bytes are not read with it.
    pub fn wants(&self, room: usize) -> usize {
        match &self.kind {
            Kind::Length(left) => usize::try_from(*left).unwrap_or(usize::MAX).min(room),
            Kind::Chunked(_) => room,
        }
    }

    /// Decodes from `input`, handing each piece of data to `sink`, until the input is used up
    /// or the body ends. Returns how many input bytes belong to the body (the rest, if any,
    /// follows it).
    ///
    /// # Errors
    /// `BodyTooLarge` past the limit, `BadChunk` or `HeadTooLarge` from the chunked coding,
    /// and the sink's errors.
    pub fn feed(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        if self.declared.is_some_and(|d| d > self.limit) {
            return Err(Error::BodyTooLarge);
        }
        let mut used = 0;
        while !self.is_finished() {
            let rest = input.get(used..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            let (consumed, data) = match &mut self.kind {
                Kind::Length(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    *left -= n as u64;
                    (n, 0..n)
                }
                Kind::Chunked(decoder) => {
                    let d = decoder.decode(rest, usize::MAX)?;
                    (d.consumed, d.data)
                }
            };
            if !data.is_empty() {
                self.received += data.len() as u64;
                if self.received > self.limit {
                    return Err(Error::BodyTooLarge);
                }
                sink(rest.get(data).unwrap_or_default())?;
            }
            used += consumed;
            if consumed == 0 {
                // Not reached: a decoder that takes nothing is at the body's end.
                break;
            }
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests;
