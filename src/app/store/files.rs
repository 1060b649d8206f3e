//! Downloads from the file store: validators, conditionals, ranges and gzip for a file that
//! `fsroot::resolve` opened.
//!
//! Out of scope: finding and opening the file safely (`fsroot.rs`), changing the store
//! (`store.rs`), folders (`listing.rs`).

use crate::app::negotiate::conditional::{self, RangeRequest, Validators};
use crate::app::negotiate::encoding;
use crate::app::negotiate::mime;
use crate::app::store::fsroot::fs_error;
use crate::http::date::format_http_date;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::{Method, Status};
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Files up to this size are gzipped in memory and sent with a Content-Length; larger ones are
/// gzipped as they stream, in chunked coding.
pub const MAX_GZIP_IN_MEMORY_BYTES: u64 = 64 * 1024;
/// Files smaller than this are never gzipped: below a kilobyte gzip saves less than a packet,
/// and each answer pays for resetting the compressor (zlib-rs clears a 128 KiB table; a sixth
/// of the CPU of the "echo 1 KiB gzip" benchmark). `/echo` is not a file and still gzips any
/// size, as its CodeCrafters stage requires.
pub const MIN_GZIP_FILE_BYTES: u64 = 1024;
/// How much of a file is compressed first to see whether gzip pays.
pub const GZIP_PROBE_BYTES: usize = 16 * 1024;
/// A file is gzipped only if its first block shrinks to at most this share of its size, in
/// percent: random or already compressed data grows instead (by about 5% at level 1).
pub const MAX_GZIP_PROBE_PERCENT: usize = 90;

pub use crate::app::store::uploads::{remove_live_uploads, remove_stale_uploads};

/// A file's modification time in nanoseconds since the epoch (0 if unknown).
pub fn modified_nanos(meta: &Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Reads up to `n` bytes from the start of `file` without moving its offset.
fn read_prefix(file: &File, n: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, filled as u64) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fs_error(e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Whether gzip shrinks `sample` enough to be worth it (see [`MAX_GZIP_PROBE_PERCENT`]).
fn is_worth_gzip(sample: &[u8], packed: &[u8]) -> bool {
    packed.len().saturating_mul(100) <= sample.len().saturating_mul(MAX_GZIP_PROBE_PERCENT)
}

/// The gzip body of a file, or `None` when gzip does not pay: the first block is compressed
/// first, and only if it shrinks enough is the whole file compressed (in memory when small,
/// else as it streams).
fn gzip_body(file: File, len: u64) -> Result<Option<Body<'static>>, Error> {
    let whole_fits = len <= GZIP_PROBE_BYTES as u64;
    let probe = read_prefix(&file, GZIP_PROBE_BYTES.min(len as usize))?;
    let packed = encoding::gzip(&probe)?;
    if !is_worth_gzip(&probe, &packed) {
        return Ok(None);
    }
    if whole_fits {
        if probe.len() as u64 != len {
            return Err(Error::Io(std::io::Error::other("file changed while read")));
        }
        return Ok(Some(Body::Bytes(packed)));
    }
    if len <= MAX_GZIP_IN_MEMORY_BYTES {
        let data = read_prefix(&file, len as usize)?;
        return Ok(Some(Body::Bytes(encoding::gzip(&data)?)));
    }
    // Streamed in chunked coding (or, to an HTTP/1.0 client, delimited by closing).
    Ok(Some(Body::Stream(Box::new(encoding::GzipStream::new(
        file,
    )))))
}

/// Answers GET or HEAD for a file: 200 (maybe gzipped), 206, 304, 412 or 416. The type comes
/// from the name's extension; every file is sent with `Content-Security-Policy: sandbox`, so
/// that a page or an SVG anyone uploaded runs in an opaque origin: it cannot script the
/// listing, read other files through the origin, or act with another user's credentials.
///
/// # Errors
/// 404, 403, 412, 416 or 500 as the file and the request's headers decide.
pub fn serve(
    file: File,
    meta: &Metadata,
    name: &Path,
    head: &Head,
) -> Result<Response<'static>, Error> {
    let len = meta.len();
    let nanos = modified_nanos(meta);
    let ty = mime::file_type(name.as_os_str().as_bytes());
    let may_gzip = !ty.is_compressed && len >= MIN_GZIP_FILE_BYTES;
    // Never gzip a range: Content-Range counts bytes of the identity representation.
    let wants_gzip =
        may_gzip && encoding::wants_gzip(&head.headers) && head.headers.get("range").is_none();
    // Decided before the validators: the gzip variant is another representation, its own tag.
    let gzipped = if wants_gzip {
        gzip_body(file.try_clone().map_err(fs_error)?, len)?
    } else {
        None
    };
    let v = Validators::new(len, nanos, if gzipped.is_some() { "-gzip" } else { "" });

    let mut resp = Response::new(Status::OK)
        .header("Content-Type", ty.content_type)
        .header("Content-Security-Policy", "sandbox")
        .header("Last-Modified", format_http_date(v.modified))
        .header("ETag", v.etag.clone())
        .header("Accept-Ranges", "bytes");
    if may_gzip {
        resp = resp.header("Vary", "Accept-Encoding");
    }
    let is_get_or_head = matches!(head.method, Method::Get | Method::Head);
    if conditional::not_modified(&head.headers, &v, is_get_or_head)? {
        resp.status = Status::NOT_MODIFIED;
        return Ok(resp);
    }
    // RFC 9110 §14.2: Range is defined for GET only.
    let range = if head.method == Method::Get {
        conditional::range(&head.headers, len, &v)
    } else {
        RangeRequest::Whole
    };
    with_body(resp, file, len, range, gzipped)
}

/// The answer's body: a range of the file, the gzip stream, or the whole file.
///
/// # Errors
/// 416 for a range outside the file.
fn with_body(
    mut resp: Response<'static>,
    file: File,
    len: u64,
    range: RangeRequest,
    gzipped: Option<Body<'static>>,
) -> Result<Response<'static>, Error> {
    match (range, gzipped) {
        (RangeRequest::Unsatisfiable, _) => Err(Error::RangeNotSatisfiable { len }),
        (RangeRequest::Part { start, end }, _) => {
            resp.status = Status::PARTIAL_CONTENT;
            Ok(resp
                .header("Content-Range", format!("bytes {start}-{end}/{len}"))
                .body(Body::File {
                    file,
                    offset: start,
                    len: end - start + 1,
                }))
        }
        (RangeRequest::Whole, Some(body)) => Ok(resp.header("Content-Encoding", "gzip").body(body)),
        (RangeRequest::Whole, None) => Ok(resp.body(Body::File {
            file,
            offset: 0,
            len,
        })),
    }
}

/// The validators of an open file as `serve` computes them for its identity representation,
/// matching its gzip variant's tag too (for PUT and DELETE preconditions).
pub fn validators(meta: &Metadata) -> Validators {
    Validators::with_gzip_variant(meta.len(), modified_nanos(meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzips_only_what_shrinks_enough() {
        let text = b"the same words again and again ".repeat(100);
        assert!(is_worth_gzip(&text, &encoding::gzip(&text).unwrap()));
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..GZIP_PROBE_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(!is_worth_gzip(&noise, &encoding::gzip(&noise).unwrap()));
        // The boundary itself: exactly MAX_GZIP_PROBE_PERCENT is still worth it.
        assert!(is_worth_gzip(&[0; 100], &[0; MAX_GZIP_PROBE_PERCENT]));
        assert!(!is_worth_gzip(&[0; 100], &[0; MAX_GZIP_PROBE_PERCENT + 1]));
    }
}
