//! Content coding: whether a client accepts gzip (RFC 9110 §12.5.3, with q-values), gzip of a
//! response body held in memory, and gzip of a file as it is sent ([`GzipStream`]), all through
//! `flate2`.
//!
//! A file's gzip stream is made of independent blocks, as pigz makes its parallel ones: each
//! 64 KiB of the file is deflated on its own (no history from the block before) and ends on a
//! byte boundary with a sync flush, so the blocks join into one valid deflate stream inside one
//! gzip member. A stream waiting for a slow client therefore keeps no compressor (zlib-rs holds
//! about 256 KiB of state): only the file, the offset of its block and the CRC so far. A block
//! that was half sent when the socket filled up is made again, the same bytes, from the file.
//! Which files to compress is decided in `files.rs`.

use crate::buf::with_copy_buf;
use crate::http::response::{BlockStream, Body, Response};
use crate::http::{self, Headers};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The gzip level used for responses (1 = fastest), the level the nginx comparison uses too.
/// Measured on "echo 1 KiB gzip" (bench/run.sh, 2 rounds of 4 s, ours/nginx req/s): level 1
/// 1.11x, level 6 0.93x. Small dynamic bodies gain little from the slower levels.
pub const GZIP_LEVEL: u32 = 1;

/// Whether `Accept-Encoding` lists gzip (or `x-gzip`, or `*`) with q > 0. An explicit gzip entry
/// wins over `*`; `gzip;q=0` means "not gzip".
pub fn wants_gzip(headers: &Headers) -> bool {
    let mut star = None;
    for element in headers.list("accept-encoding") {
        let mut parts = element.split(|&b| b == b';');
        let coding = parts.next().unwrap_or_default().trim_ascii();
        let q = parts
            .filter_map(|p| {
                let (name, value) = split_param(p)?;
                name.eq_ignore_ascii_case(b"q").then_some(value)
            })
            .next()
            .map_or(Some(1000), parse_qvalue);
        let Some(q) = q else {
            continue; // An invalid q-value makes the element meaningless; skip it.
        };
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            return q > 0;
        }
        if coding == b"*" {
            star = Some(q > 0);
        }
    }
    star.unwrap_or(false)
}

/// Splits a `name=value` parameter, both trimmed.
pub(crate) fn split_param(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = p.iter().position(|&b| b == b'=')?;
    Some((p.get(..eq)?.trim_ascii(), p.get(eq + 1..)?.trim_ascii()))
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths
/// (RFC 9110 §12.4.2).
pub(crate) fn parse_qvalue(v: &[u8]) -> Option<u32> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (v.get(..dot)?, v.get(dot + 1..)?),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The fixed 10-byte gzip member header (RFC 1952 §2.3): deflate, no flags, no mtime, OS unknown.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// Each worker's deflate state, reset between responses: setting one up costs more than
    /// compressing a small body.
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// Runs `f` with the worker's deflate state, reset.
fn with_deflate<T>(f: impl FnOnce(&mut Compress) -> T) -> T {
    let fresh = || Compress::new(Compression::new(GZIP_LEVEL), false);
    DEFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let c = slot.get_or_insert_with(fresh);
            c.reset();
            f(c)
        }
        Err(_) => f(&mut fresh()),
    })
}

/// Gzips `data` into a new buffer with the worker's reusable deflate state.
///
/// # Errors
/// Only if the compressor reports an error, which it does not for in-memory input.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    with_deflate(|c| gzip_with(c, data))
}

/// Appends `data` to `out` deflated on its own: no history from before, and a sync flush at the
/// end, so that it ends on a byte boundary and the next block can follow it in one stream.
pub(crate) fn deflate_block(data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    with_deflate(|c| {
        let start_in = c.total_in();
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(data.len() / 2 + 1024);
            }
            let room = out.capacity() - out.len();
            let before = out.len();
            let used = usize::try_from(c.total_in() - start_in).unwrap_or(usize::MAX);
            c.compress_vec(
                data.get(used..).unwrap_or_default(),
                out,
                FlushCompress::Sync,
            )
            .map_err(io::Error::other)?;
            let all_in = c.total_in() - start_in == data.len() as u64;
            // zlib's rule: a flush is complete once a call leaves output room unused.
            if all_in && out.len() - before < room {
                return Ok(());
            }
        }
    })
}

/// The final, empty deflate block (fixed Huffman codes, BFINAL set): ends the stream.
pub(crate) const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// A file gzipped block by block as it is sent (see the module doc).
pub struct GzipStream {
    file: File,
    /// Where the current block's input starts in the file.
    at: u64,
    part: Part,
    /// The CRC of the input before the current block.
    crc: Crc,
    /// The current block, once made: its input's CRC and length (so that a block made again
    /// must match, and `advance` can count it).
    block: Option<(Crc, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Data,
    Trailer,
    Done,
}

impl GzipStream {
    /// A gzip stream of `file` from its start.
    pub fn new(file: File) -> GzipStream {
        GzipStream {
            file,
            at: 0,
            part: Part::Header,
            crc: Crc::new(),
            block: None,
        }
    }

    /// Deflates the input block at `at` into `out`; false at the end of the file.
    fn data_block(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        with_copy_buf(|buf| {
            let n = read_full_at(&self.file, buf, self.at)?;
            if n == 0 {
                return Ok(false);
            }
            let input = buf.get(..n).unwrap_or_default();
            let mut crc = Crc::new();
            crc.update(input);
            if let Some((made, len)) = &self.block {
                if made.sum() != crc.sum() || *len != n {
                    // Made again after a full socket, from bytes that changed meanwhile: the
                    // client must see a broken transfer, never a well-formed wrong file.
                    return Err(io::Error::other("file changed while being sent"));
                }
            }
            deflate_block(input, out)?;
            self.block = Some((crc, n));
            Ok(true)
        })
    }
}

impl BlockStream for GzipStream {
    fn block(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        if self.part == Part::Header {
            out.extend_from_slice(&GZIP_HEADER);
        }
        if self.part == Part::Data && !self.data_block(out)? {
            self.part = Part::Trailer;
        }
        if self.part == Part::Trailer {
            out.extend_from_slice(&FINAL_EMPTY_BLOCK);
            out.extend_from_slice(&self.crc.sum().to_le_bytes());
            // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1), as `amount` counts it.
            out.extend_from_slice(&self.crc.amount().to_le_bytes());
        }
        Ok(())
    }

    fn advance(&mut self) {
        self.part = match self.part {
            Part::Header => Part::Data,
            Part::Data => {
                if let Some((crc, len)) = self.block.take() {
                    self.crc.combine(&crc);
                    self.at += len as u64;
                }
                Part::Data
            }
            Part::Trailer | Part::Done => Part::Done,
        };
    }
}

/// Reads from `offset` until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(buf.get_mut(got..).unwrap_or_default(), offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn gzip_with(c: &mut Compress, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(GZIP_HEADER.len() + data.len() / 2 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let start_in = c.total_in();
    loop {
        let used = (c.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let status = c
            .compress_vec(
                data.get(used..).unwrap_or_default(),
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

/// Applies content negotiation to a compressible response whose body is in memory (the caller
/// knows it is one: an echo, a listing): adds `Vary: Accept-Encoding`, and gzips it when the
/// request's `Accept-Encoding` asks for gzip.
///
/// # Errors
/// Only if compression fails.
pub fn negotiate(resp: &mut Response<'_>, request: &Headers) -> io::Result<()> {
    // A handler that varies on more (`/user-agent`) names Accept-Encoding in its own Vary.
    if !resp
        .get_header("vary")
        .is_some_and(|v| v.contains("Accept-Encoding"))
    {
        resp.headers.push(("Vary", "Accept-Encoding".into()));
    }
    if resp.status != http::Status::OK || !wants_gzip(request) {
        return Ok(());
    }
    let Some(data) = resp.body.in_memory().filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    resp.body = Body::Bytes(gzip(data)?);
    resp.headers.push(("Content-Encoding", "gzip".into()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::parse_for_test;
    use crate::http::Status;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn headers(accept: &str) -> Headers {
        parse_for_test(&format!(
            "GET / HTTP/1.1\r\nAccept-Encoding: {accept}\r\n\r\n"
        ))
        .headers
    }

    #[test]
    fn negotiates_gzip_from_accept_encoding() {
        let cases = [
            ("gzip", true),
            ("GZIP", true),
            ("encoding-1, gzip, encoding-2", true),
            ("invalid-encoding", false),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("gzip;q=0.001", true),
            ("gzip;Q=1.0", true),
            ("gzip;q=1.5", false),
            ("gzip;q=abc", false),
            ("deflate, br", false),
            ("*", true),
            ("*;q=0", false),
            ("gzip;q=0, *", false),
            ("*, gzip;q=0", false),
            ("x-gzip", true),
            (" , ,gzip", true),
            ("", false),
            ("identity", false),
        ];
        for (accept, want) in cases {
            assert_eq!(wants_gzip(&headers(accept)), want, "{accept:?}");
        }
    }

    #[test]
    fn gzip_round_trips_with_a_reused_compressor() {
        for data in [
            b"hello hello hello hello".repeat(100),
            Vec::new(),
            b"x".to_vec(),
            (0..300_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ] {
            let packed = gzip(&data).unwrap();
            let mut out = Vec::new();
            GzDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }

    /// Sends a stream the way the engine does, making each block twice (as after a full
    /// socket) and checking both are the same.
    fn collect(mut s: GzipStream) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        loop {
            s.block(&mut a).unwrap();
            s.block(&mut b).unwrap();
            assert_eq!(a, b, "a block made again is the same");
            if a.is_empty() {
                return out;
            }
            out.extend_from_slice(&a);
            s.advance();
        }
    }

    fn file_with(data: &[u8], name: &str) -> (File, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("gzip-stream-{}-{name}", std::process::id()));
        std::fs::write(&path, data).unwrap();
        (File::open(&path).unwrap(), path)
    }

    #[test]
    fn a_gzip_stream_of_independent_blocks_is_one_valid_member() {
        let text: Vec<u8> = (0..500_000u32)
            .flat_map(|i| format!("line {i} of a log, status {}\n", i % 7).into_bytes())
            .collect();
        let noise: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for (name, data) in [("text", text), ("noise", noise), ("empty", Vec::new())] {
            let (file, path) = file_with(&data, name);
            let packed = collect(GzipStream::new(file));
            let mut out = Vec::new();
            let mut dec = GzDecoder::new(&packed[..]);
            dec.read_to_end(&mut out).unwrap();
            assert!(out == data, "{name}");
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn a_block_made_again_from_changed_bytes_fails() {
        let (file, path) = file_with(&[b'a'; 100_000], "changed");
        let mut s = GzipStream::new(file);
        let mut out = Vec::new();
        s.block(&mut out).unwrap();
        s.advance();
        s.block(&mut out).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(b"b", 10)
            .unwrap();
        assert!(s.block(&mut out).is_err());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn negotiate_marks_vary_and_compresses_only_when_wanted() {
        let mut r = Response::text(Status::OK, "abc");
        negotiate(&mut r, &headers("identity")).unwrap();
        assert_eq!(r.get_header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.get_header("content-encoding"), None);

        let mut r = Response::text(Status::OK, "abc");
        negotiate(&mut r, &headers("gzip")).unwrap();
        assert_eq!(r.get_header("content-encoding"), Some("gzip"));

        let mut r = Response::text(Status::NOT_FOUND, "abc");
        negotiate(&mut r, &headers("gzip")).unwrap();
        assert_eq!(r.get_header("content-encoding"), None);
    }
}
