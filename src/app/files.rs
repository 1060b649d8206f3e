//! The file store behind `/files/{name}`: safe names, reading without a check-then-open race,
//! downloads with validators, conditionals, ranges and gzip, atomic uploads (temporary file,
//! fsync, rename), deletes, and start-up cleanup of uploads a killed process left behind.
//!
//! Policy on symbolic links: a link inside `--directory` is followed only if it resolves to a
//! regular file inside `--directory`; anything else is 404. Writes and deletes never follow a
//! link: they replace or remove the link itself.

use crate::app::conditional::{self, Precondition, RangeRequest, Validators};
use crate::app::encoding::{self, GZIP_LEVEL};
use crate::buf::with_copy_buf;
use crate::http::body::BodyReader;
use crate::http::date::format_http_date;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::percent_decode;
use crate::http::{Method, Status};
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::UNIX_EPOCH;

/// Longest file name, in bytes (NAME_MAX on Linux).
pub const MAX_NAME_BYTES: usize = 255;
/// Temporary upload files are named `UPLOAD_PREFIX…UPLOAD_SUFFIX`; such names are never served.
pub const UPLOAD_PREFIX: &str = ".http-server-upload-";
pub const UPLOAD_SUFFIX: &str = ".part";
/// Files up to this size are gzipped in memory and sent with a Content-Length; larger ones are
/// gzipped as they stream, in chunked coding.
pub const MAX_GZIP_IN_MEMORY_BYTES: u64 = 64 * 1024;
/// Extensions of formats that are compressed already; gzip would only cost time.
const COMPRESSED_EXTENSIONS: &[&str] = &[
    "gz", "tgz", "zip", "bz2", "xz", "zst", "lz4", "7z", "rar", "br", "jar", "apk", "png", "jpg",
    "jpeg", "gif", "webp", "avif", "heic", "mp3", "mp4", "m4a", "m4v", "mkv", "webm", "ogg",
    "opus", "flac", "mov", "avi", "woff", "woff2", "pdf", "docx", "xlsx", "pptx",
];

static UPLOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Decodes and checks a file name from the URL: exactly one normal path component.
///
/// # Errors
/// 404 for an empty name (no listings) or a reserved temporary name; 400 for anything that is not
/// a single plain component.
pub fn resolve_name(raw: &[u8]) -> Result<PathBuf, Error> {
    if raw.is_empty() {
        return Err(Error::NotFound);
    }
    let name = percent_decode(raw)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::BadRequest("file name too long"));
    }
    if name == b"." || name == b".." {
        return Err(Error::BadRequest("invalid file name"));
    }
    if name
        .iter()
        .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
    {
        return Err(Error::BadRequest("invalid file name"));
    }
    if name.starts_with(UPLOAD_PREFIX.as_bytes()) {
        return Err(Error::NotFound);
    }
    Ok(PathBuf::from(OsStr::from_bytes(&name)))
}

/// Maps a file-system error to the answer it deserves.
fn fs_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            Error::NotFound
        }
        io::ErrorKind::PermissionDenied => Error::Forbidden("permission denied"),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Error::InsufficientStorage,
        _ => Error::Io(e),
    }
}

fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Opens a regular file in `dir` for reading, following the symbolic-link policy. The checks
/// are made on the path first (so that a FIFO is never opened, which would block) and then
/// confirmed on the open handle, so a file swapped in between is refused, not served.
fn open_regular(dir: &Path, name: &Path) -> Result<(File, Metadata), Error> {
    let path = dir.join(name);
    let link = fs::symlink_metadata(&path).map_err(fs_error)?;
    let expected = if link.file_type().is_symlink() {
        let target = fs::canonicalize(&path).map_err(fs_error)?;
        if target.parent() != Some(dir) {
            return Err(Error::NotFound);
        }
        fs::metadata(&target).map_err(fs_error)?
    } else {
        link
    };
    if !expected.is_file() {
        return Err(Error::NotFound);
    }
    let file = File::open(&path).map_err(fs_error)?;
    let meta = file.metadata().map_err(fs_error)?;
    if !meta.is_file() || !same_file(&meta, &expected) {
        return Err(Error::NotFound);
    }
    Ok((file, meta))
}

fn modified_nanos(meta: &Metadata) -> u128 {
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
pub fn serve(dir: &Path, name: &Path, head: &Head) -> Result<Response<'static>, Error> {
    let (file, meta) = open_regular(dir, name)?;
    let len = meta.len();
    let nanos = modified_nanos(&meta);
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

/// Deletes a temporary upload file when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

/// The temporary files of uploads in progress in this process, so that a shutdown that cuts
/// them can remove them (the workers writing them do not unwind when the process exits).
static LIVE_UPLOADS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_uploads() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE_UPLOADS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TempFile {
    fn new(path: PathBuf) -> TempFile {
        live_uploads().push(path.clone());
        TempFile { path, armed: true }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
        let mut live = live_uploads();
        if let Some(i) = live.iter().position(|p| *p == self.path) {
            live.swap_remove(i);
        }
    }
}

/// Removes the temporary files of this process's uploads still in progress; returns how many.
/// For a shutdown that cuts them: their uploads were not acknowledged, and the files they would
/// have replaced are untouched.
pub fn remove_live_uploads() -> usize {
    let live = live_uploads();
    live.iter().filter(|p| fs::remove_file(p).is_ok()).count()
}

/// Stores a request body as `dir/name`, atomically: the body streams into a temporary file in
/// the same directory, which is synced and then renamed over the target. On any failure the
/// temporary file is removed and the target is untouched. Returns whether a file was replaced.
///
/// # Errors
/// 413 past `max_bytes` (before reading when the length is declared), 403 when the directory is
/// not writable or a directory has that name, 507 when the disk is full, and the body's errors.
pub fn store<S: Read + Write>(
    dir: &Path,
    name: &Path,
    body: &mut BodyReader<'_, S>,
    max_bytes: u64,
) -> Result<bool, Error> {
    if body.declared_len().is_some_and(|n| n > max_bytes) {
        return Err(Error::BodyTooLarge);
    }
    body.set_limit(max_bytes);
    let path = dir.join(name);
    let existed = match fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => return Err(Error::Forbidden("a directory has that name")),
        Ok(_) => true,
        Err(_) => false,
    };
    let tmp_name = format!(
        "{UPLOAD_PREFIX}{}-{}{UPLOAD_SUFFIX}",
        std::process::id(),
        UPLOAD_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp_path = dir.join(tmp_name);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(fs_error)?;
    let mut tmp = TempFile::new(tmp_path);
    copy_body(body, &mut file)?;
    file.sync_all().map_err(fs_error)?;
    drop(file);
    fs::rename(&tmp.path, &path).map_err(fs_error)?;
    tmp.armed = false;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(existed)
}

fn copy_body<S: Read + Write>(body: &mut BodyReader<'_, S>, file: &mut File) -> Result<(), Error> {
    with_copy_buf(|chunk| loop {
        let n = match body.read(chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_body_io(e)),
        };
        file.write_all(chunk.get(..n).unwrap_or_default())
            .map_err(fs_error)?;
    })
}

/// The validators of `dir/name` as it is now, if it is a regular file (for PUT and DELETE
/// preconditions).
pub fn current_validators(dir: &Path, name: &Path) -> Option<Validators> {
    let meta = fs::metadata(dir.join(name))
        .ok()
        .filter(Metadata::is_file)?;
    Some(Validators::new(meta.len(), modified_nanos(&meta), ""))
}

/// Removes `dir/name` (a link is removed, not followed).
///
/// # Errors
/// 404 when absent or a directory, 403 when not allowed.
pub fn delete(dir: &Path, name: &Path) -> Result<(), Error> {
    let path = dir.join(name);
    let meta = fs::symlink_metadata(&path).map_err(fs_error)?;
    if meta.is_dir() {
        return Err(Error::NotFound);
    }
    fs::remove_file(&path).map_err(fs_error)
}

/// Removes temporary upload files that a killed process left in `dir`. Returns how many.
///
/// # Errors
/// When the directory cannot be listed.
pub fn remove_stale_uploads(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = upload_owner(name.as_bytes()) else {
            continue;
        };
        // Another server may be running on this directory: its uploads are not stale.
        if is_running(pid) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The process id in a temporary upload's name (`PREFIX{pid}-{n}SUFFIX`), if it is one.
fn upload_owner(name: &[u8]) -> Option<u32> {
    let middle = name
        .strip_prefix(UPLOAD_PREFIX.as_bytes())?
        .strip_suffix(UPLOAD_SUFFIX.as_bytes())?;
    let pid = middle.split(|&b| b == b'-').next()?;
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// Whether a process with this id is alive (Linux: it has a /proc entry). Where /proc is
/// missing every owner looks gone, and its uploads are removed.
fn is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_decodes_them() {
        for (raw, want) in [
            ("a.txt", "a.txt"),
            ("with%20space", "with space"),
            ("%2e%2e%2e", "..."),
            ("..a", "..a"),
            (".hidden", ".hidden"),
            ("caf%C3%A9", "caf\u{e9}"),
        ] {
            assert_eq!(
                resolve_name(raw.as_bytes()).unwrap(),
                PathBuf::from(want),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_every_name_that_is_not_one_plain_component() {
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        for raw in [
            "..",
            ".",
            "%2e%2e",
            "%2E%2E",
            "..%2f",
            "%2F",
            "a%2fb",
            "%2fetc%2fpasswd",
            "a%5cb",
            "..%5c..",
            "a%00b",
            "%00",
            "a%0ab",
            "a%7f",
            "%",
            "%zz",
            &long,
        ] {
            let e = resolve_name(raw.as_bytes()).unwrap_err();
            assert_eq!(e.status(), Status::BAD_REQUEST, "{raw}");
        }
        assert!(matches!(resolve_name(b""), Err(Error::NotFound)));
        let reserved = format!("{UPLOAD_PREFIX}1-2{UPLOAD_SUFFIX}");
        assert!(matches!(
            resolve_name(reserved.as_bytes()),
            Err(Error::NotFound)
        ));
    }

    #[test]
    fn reads_the_owner_of_an_upload_from_its_name() {
        let name = format!("{UPLOAD_PREFIX}1234-7{UPLOAD_SUFFIX}");
        assert_eq!(upload_owner(name.as_bytes()), Some(1234));
        assert_eq!(upload_owner(b"notes.part"), None);
        let odd = format!("{UPLOAD_PREFIX}x-7{UPLOAD_SUFFIX}");
        assert_eq!(upload_owner(odd.as_bytes()), None);
        assert!(is_running(std::process::id()));
    }

    #[test]
    fn knows_compressed_formats_by_extension() {
        assert!(is_compressed_format(Path::new("a.tar.GZ")));
        assert!(is_compressed_format(Path::new("photo.jpg")));
        assert!(!is_compressed_format(Path::new("notes.txt")));
        assert!(!is_compressed_format(Path::new("gz")));
    }
}
