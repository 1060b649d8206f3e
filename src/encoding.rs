//! Content coding: whether a client accepts gzip (RFC 9110 §12.5.3, with q-values), and gzip of
//! a response body held in memory through `flate2`.
//!
//! Streaming gzip of files lives in `http/response.rs` (`Body::GzipFile`); which files to
//! compress is decided in `files.rs`.

use crate::http::response::{Body, Response};
use crate::http::{Headers, Status};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{self, Write};

/// The gzip level used for responses (1 = fastest), picked by measurement: see README,
/// "Performance".
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

fn split_param(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = p.iter().position(|&b| b == b'=')?;
    Some((p.get(..eq)?.trim_ascii(), p.get(eq + 1..)?.trim_ascii()))
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u32> {
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

/// Gzips `data` into a new buffer.
///
/// # Errors
/// Only if the encoder fails, which writing to a `Vec` does not.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 32),
        Compression::new(GZIP_LEVEL),
    );
    enc.write_all(data)?;
    // finish() reports errors that Drop would swallow.
    enc.finish()
}

/// Applies content negotiation to a response whose body is in memory: adds
/// `Vary: Accept-Encoding` to anything compressible, and gzips it when the client wants gzip.
///
/// # Errors
/// Only if compression fails.
pub fn negotiate(resp: &mut Response, wants_gzip: bool) -> io::Result<()> {
    if !resp.compressible {
        return Ok(());
    }
    resp.headers.push(("Vary", "Accept-Encoding".into()));
    if !wants_gzip || resp.status != Status::OK {
        return Ok(());
    }
    let data: &[u8] = match &resp.body {
        Body::Bytes(b) => b,
        Body::Static(b) => b,
        _ => return Ok(()),
    };
    if data.is_empty() {
        return Ok(());
    }
    resp.body = Body::Bytes(gzip(data)?);
    resp.headers.push(("Content-Encoding", "gzip".into()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{parse_head, Limits, Parsed};
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn headers(accept: &str) -> Headers {
        let raw = format!("GET / HTTP/1.1\r\nAccept-Encoding: {accept}\r\n\r\n");
        let limits = Limits {
            max_head_bytes: 1024,
            max_request_line_bytes: 1024,
            max_headers: 10,
        };
        match parse_head(raw.as_bytes(), &limits, &mut 0) {
            Ok(Parsed::Complete(_, h)) => h.headers,
            other => panic!("{other:?}"),
        }
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
    fn gzip_round_trips() {
        let data = b"hello hello hello hello".repeat(100);
        let packed = gzip(&data).unwrap();
        assert!(packed.len() < data.len());
        let mut out = Vec::new();
        GzDecoder::new(&packed[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn negotiate_marks_vary_and_compresses_only_when_wanted() {
        let mut r = Response::text(Status::OK, "abc");
        r.compressible = true;
        negotiate(&mut r, false).unwrap();
        assert_eq!(r.get_header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.get_header("content-encoding"), None);

        let mut r = Response::text(Status::OK, "abc");
        r.compressible = true;
        negotiate(&mut r, true).unwrap();
        assert_eq!(r.get_header("content-encoding"), Some("gzip"));

        let mut r = Response::text(Status::NOT_FOUND, "abc");
        negotiate(&mut r, true).unwrap();
        assert_eq!(r.get_header("content-encoding"), None);
    }
}
