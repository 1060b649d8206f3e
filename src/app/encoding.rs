//! Content coding: whether a client accepts gzip (RFC 9110 §12.5.3, with q-values), and gzip of
//! a response body held in memory through `flate2`.
//!
//! Streaming gzip of files lives in `http/response.rs` (`Body::GzipFile`); which files to
//! compress is decided in `files.rs`.

use crate::http::response::{Body, Response};
use crate::http::{self, Headers};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::cell::RefCell;
use std::io;

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
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// Each worker's deflate state, reset between responses: setting one up costs more than
    /// compressing a small body.
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// Gzips `data` into a new buffer with the worker's reusable deflate state.
///
/// # Errors
/// Only if the compressor reports an error, which it does not for in-memory input.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    DEFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let c = slot.get_or_insert_with(|| Compress::new(Compression::new(GZIP_LEVEL), false));
            c.reset();
            gzip_with(c, data)
        }
        Err(_) => gzip_with(
            &mut Compress::new(Compression::new(GZIP_LEVEL), false),
            data,
        ),
    })
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

/// Applies content negotiation to a response whose body is in memory: adds
/// `Vary: Accept-Encoding` to anything compressible, and gzips it when the request's
/// `Accept-Encoding` asks for gzip (read only for answers that could be compressed).
///
/// # Errors
/// Only if compression fails.
pub fn negotiate(resp: &mut Response<'_>, request: &Headers) -> io::Result<()> {
    if !resp.compressible {
        return Ok(());
    }
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

    #[test]
    fn negotiate_marks_vary_and_compresses_only_when_wanted() {
        let mut r = Response::text(Status::OK, "abc");
        r.compressible = true;
        negotiate(&mut r, &headers("identity")).unwrap();
        assert_eq!(r.get_header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.get_header("content-encoding"), None);

        let mut r = Response::text(Status::OK, "abc");
        r.compressible = true;
        negotiate(&mut r, &headers("gzip")).unwrap();
        assert_eq!(r.get_header("content-encoding"), Some("gzip"));

        let mut r = Response::text(Status::NOT_FOUND, "abc");
        negotiate(&mut r, &headers("gzip")).unwrap();
        assert_eq!(r.get_header("content-encoding"), None);
    }
}
