//! Downloads from the file store: validators, conditionals, ranges and gzip for a file that
//! `fsroot::resolve` opened.
//!
//! Out of scope: finding and opening the file safely (`fsroot.rs`), changing the store
//! (`store.rs`), folders (`listing.rs`).

use crate::app::conditional::{self, Precondition, RangeRequest, Validators};
use crate::app::encoding::{self, GZIP_LEVEL};
use crate::app::fsroot::fs_error;
use crate::http::date::format_http_date;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::{Method, Status};
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Files up to this size are gzipped in memory and sent with a Content-Length; larger ones are
/// gzipped as they stream, in chunked coding.
pub const MAX_GZIP_IN_MEMORY_BYTES: u64 = 64 * 1024;
/// Extensions of formats that are compressed already; gzip would only cost time.
const COMPRESSED_EXTENSIONS: &[&str] = &[
    "gz", "tgz", "zip", "bz2", "xz", "zst", "lz4", "7z", "rar", "br", "jar", "apk", "png", "jpg",
    "jpeg", "gif", "webp", "avif", "heic", "mp3", "mp4", "m4a", "m4v", "mkv", "webm", "ogg",
    "opus", "flac", "mov", "avi", "woff", "woff2", "pdf", "docx", "xlsx", "pptx",
];

pub use crate::app::store::remove_stale_uploads;

/// A file's modification time in nanoseconds since the epoch (0 if unknown).
pub fn modified_nanos(meta: &Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

fn is_compressed_format(name: &Path) -> bool {
    name.extension().and_then(OsStr::to_str).is_some_and(|ext| {
        COMPRESSED_EXTENSIONS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(ext))
    })
}

/// Answers GET or HEAD for a file: 200 (maybe gzipped), 206, 304, 412 or 416.
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
    let may_gzip = !is_compressed_format(name);
    // Never gzip a range: Content-Range counts bytes of the identity representation.
    let gzip =
        may_gzip && encoding::wants_gzip(&head.headers) && head.headers.get("range").is_none();
    let v = Validators::new(len, nanos, if gzip { "-gzip" } else { "" });

    let mut resp = Response::new(Status::OK)
        .header("Content-Type", "application/octet-stream")
        .header("Last-Modified", format_http_date(v.modified))
        .header("ETag", v.etag.clone())
        .header("Accept-Ranges", "bytes");
    if may_gzip {
        resp = resp.header("Vary", "Accept-Encoding");
    }
    let is_get_or_head = matches!(head.method, Method::Get | Method::Head);
    match conditional::evaluate(&head.headers, Some(&v), is_get_or_head) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            resp.status = Status::NOT_MODIFIED;
            return Ok(resp);
        }
        Precondition::Failed => return Err(Error::PreconditionFailed),
    }
    // RFC 9110 §14.2: Range is defined for GET only.
    let range = if head.method == Method::Get {
        conditional::range(&head.headers, len, &v)
    } else {
        RangeRequest::Whole
    };
    match range {
        RangeRequest::Unsatisfiable => Err(Error::RangeNotSatisfiable { len }),
        RangeRequest::Part { start, end } => {
            resp.status = Status::PARTIAL_CONTENT;
            Ok(resp
                .header("Content-Range", format!("bytes {start}-{end}/{len}"))
                .body(Body::File {
                    file,
                    offset: start,
                    len: end - start + 1,
                }))
        }
        RangeRequest::Whole if !gzip => Ok(resp.body(Body::File {
            file,
            offset: 0,
            len,
        })),
        RangeRequest::Whole => {
            resp = resp.header("Content-Encoding", "gzip");
            if len <= MAX_GZIP_IN_MEMORY_BYTES {
                let mut data = Vec::with_capacity(len as usize);
                file.take(MAX_GZIP_IN_MEMORY_BYTES)
                    .read_to_end(&mut data)
                    .map_err(fs_error)?;
                return Ok(resp.body(Body::Bytes(encoding::gzip(&data)?)));
            }
            // Streamed in chunked coding (or, to an HTTP/1.0 client, delimited by closing).
            Ok(resp.body(Body::GzipFile {
                file,
                level: GZIP_LEVEL,
            }))
        }
    }
}

/// The validators of an open file as `serve` computes them for its identity representation
/// (for PUT and DELETE preconditions).
pub fn validators(meta: &Metadata) -> Validators {
    Validators::new(meta.len(), modified_nanos(meta), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_compressed_formats_by_extension() {
        assert!(is_compressed_format(Path::new("a.tar.GZ")));
        assert!(is_compressed_format(Path::new("photo.jpg")));
        assert!(!is_compressed_format(Path::new("notes.txt")));
        assert!(!is_compressed_format(Path::new("gz")));
    }
}
