//! `GET /files/{dir}/?download=zip|tar|tar.gz`: a folder of the store as one download. The plan
//! holds what the folder's listings would show, folder by folder (no temporary uploads, no dot
//! files unless `--show-hidden`, links only where they stay inside `--directory`), each file
//! opened as safely as any download when its turn comes.
//!
//! At most [`MAX_ARCHIVES_AT_ONCE`] archives are made at once (past it, `503` with
//! `Retry-After`); an archive is not cached (`Cache-Control: no-store`, no validators), and is
//! named after the folder (`Content-Disposition`, RFC 6266, with `filename*` for names that are
//! not ASCII).
//!
//! Out of scope: the formats (`zip.rs`, `tar.rs`) and making the archive (`mod.rs`).

use super::{ArchiveStream, Entry, Format, MAX_ARCHIVE_ENTRIES};
use crate::app::negotiate::mime;
use crate::app::page::listing;
use crate::app::store::files::MIN_GZIP_FILE_BYTES;
use crate::app::store::fsroot::{self, Resolved, Root};
use crate::app::store::paths::{FilePath, MAX_PATH_COMPONENTS};
use crate::http::error::Error;
use crate::http::response::{Body, Response};
use crate::http::Status;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

/// Most archives made at once, by the whole server: each holds a worker while it is planned,
/// and its plan (up to [`MAX_ARCHIVE_ENTRIES`] names) and a block while it is sent.
pub const MAX_ARCHIVES_AT_ONCE: usize = 4;

/// How many archives are being made in this process (one server a process, in use).
static BUILDING: AtomicUsize = AtomicUsize::new(0);

/// One archive being made; given back when its stream is dropped (sent, or cut).
struct Permit;

impl Drop for Permit {
    fn drop(&mut self) {
        BUILDING.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Permit {
    fn take() -> Option<Permit> {
        let mut n = BUILDING.load(Ordering::Relaxed);
        loop {
            if n >= MAX_ARCHIVES_AT_ONCE {
                return None;
            }
            match BUILDING.compare_exchange(n, n + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(Permit),
                Err(now) => n = now,
            }
        }
    }
}

/// The answer to `?download=FORMAT` on the folder `path`.
///
/// # Errors
/// 503 while as many archives are made, 403 for a folder past [`MAX_ARCHIVE_ENTRIES`], and
/// the store's errors.
pub fn download(
    root: &Root,
    path: &FilePath,
    show_hidden: bool,
    format: Format,
) -> Result<Response<'static>, Error> {
    let permit = Permit::take().ok_or(Error::Busy {
        retry_after: 5,
        why: "too many archives are being made",
    })?;
    let top = path
        .parts
        .last()
        .map_or_else(|| b"files".to_vec(), |p| p.as_bytes().to_vec());
    let mut entries = Vec::new();
    plan(root, &path.parts, &top, show_hidden, &mut entries)?;
    let base = path.parts.clone();
    let top_len = top.len();
    let opener_root = root.clone();
    let open = Box::new(move |name: &[u8]| {
        // "top/a/b.txt" names base + a/b.txt.
        let rest = name.get(top_len + 1..).unwrap_or_default();
        let mut parts = base.clone();
        parts.extend(
            rest.split(|&b| b == b'/')
                .map(|p| OsString::from_vec(p.to_vec())),
        );
        let file_path = FilePath {
            parts,
            is_dir: false,
        };
        match fsroot::resolve(&opener_root, &file_path) {
            Ok(Resolved::File { file, .. }) => Ok(file),
            Ok(Resolved::Dir(_)) => Err(io::Error::other("a file became a folder")),
            Err(e) => Err(io::Error::other(e.message())),
        }
    });
    let stream = ArchiveStream::new(format, entries, open, Some(Box::new(permit)));
    let filename = [&top[..], b".", format.extension().as_bytes()].concat();
    Ok(Response::new(Status::OK)
        .header("Content-Type", format.content_type())
        .header("Content-Disposition", content_disposition(&filename))
        .header("Cache-Control", "no-store")
        .body(Body::Stream(Box::new(stream))))
}

/// Appends the entries of the folder `parts` (named `prefix` in the archive), depth first in
/// listing order.
fn plan(
    root: &Root,
    parts: &[OsString],
    prefix: &[u8],
    show_hidden: bool,
    out: &mut Vec<Entry>,
) -> Result<(), Error> {
    let folder = FilePath {
        parts: parts.to_vec(),
        is_dir: true,
    };
    let Resolved::Dir(dir) = fsroot::resolve(root, &folder)? else {
        return Err(Error::NotFound);
    };
    let modified = dir
        .metadata()?
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut name = prefix.to_vec();
    name.push(b'/');
    out.push(Entry {
        name: name.clone(),
        is_dir: true,
        size: 0,
        mtime: modified,
        stored: true,
    });
    let listing = listing::read(&dir, root, show_hidden, MAX_ARCHIVE_ENTRIES)?;
    if listing.is_truncated() || out.len() + listing.entries.len() > MAX_ARCHIVE_ENTRIES {
        return Err(Error::ForbiddenBecause(format!(
            "the folder holds more than {MAX_ARCHIVE_ENTRIES} entries: too many for one archive"
        )));
    }
    for e in listing.entries {
        let mut child = name.clone();
        child.extend_from_slice(&e.name);
        let mtime = e
            .modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if e.is_dir {
            // Deeper than a path may be (a link to a folder above it, say): left out.
            if parts.len() + 1 >= MAX_PATH_COMPONENTS {
                continue;
            }
            let mut deeper = parts.to_vec();
            deeper.push(OsString::from_vec(e.name));
            plan(root, &deeper, &child, show_hidden, out)?;
        } else {
            let stored = mime::file_type(&e.name).is_compressed || e.size < MIN_GZIP_FILE_BYTES;
            out.push(Entry {
                name: child,
                is_dir: false,
                size: e.size,
                mtime,
                stored,
            });
        }
    }
    Ok(())
}

/// `attachment` with the name as it is where it is ASCII (RFC 6266 `filename`, quotes and
/// backslashes made `_`) and whole in `filename*` (RFC 8187, UTF-8, percent-encoded).
fn content_disposition(name: &[u8]) -> String {
    let ascii: String = String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for &b in name {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_download_for_every_client() {
        assert_eq!(
            content_disposition(b"photos.zip"),
            "attachment; filename=\"photos.zip\"; filename*=UTF-8''photos.zip"
        );
        assert_eq!(
            content_disposition("été \"x\".tar".as_bytes()),
            "attachment; filename=\"_t_ _x_.tar\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.tar"
        );
    }

    #[test]
    fn only_so_many_archives_at_once() {
        // (The only test in this binary that takes permits.)
        let held: Vec<Permit> = (0..MAX_ARCHIVES_AT_ONCE)
            .map(|_| Permit::take().unwrap())
            .collect();
        assert!(Permit::take().is_none());
        drop(held);
        assert!(Permit::take().is_some());
    }
}
