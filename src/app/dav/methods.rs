//! The WebDAV methods that change the tree under `/files/`: `MKCOL` (RFC 4918 §9.3), `COPY`
//! and `MOVE` (§9.8, §9.9). Each checks its paths as any write does (`paths.rs`; parents opened
//! without following links, `fsroot::open_parent`), and leaves the store's promises whole: a
//! `MOVE` is one rename where it can be (a file over a file: atomic), a copy lands by rename
//! from a hidden temporary name (`tree.rs`), so a reader never sees half of it.
//!
//! A copy is all or nothing: one entry that cannot be copied fails the request (its status)
//! and nothing is left at the destination, rather than a `207` naming what is missing.
//!
//! Out of scope: PROPFIND and PROPPATCH (`propfind.rs`, `proppatch.rs`), DELETE
//! (`file_handlers.rs`, for everyone).

use super::headers::{parse_depth, parse_destination, parse_overwrite, Depth, Destination};
use crate::app::file_handlers::{directory, with_store_headers};
use crate::app::store::fsroot::{self, fs_error, Resolved, Root};
use crate::app::store::paths::{parse_file_path, FilePath};
use crate::app::store::tree;
use crate::app::store::writes::split;
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::handler::Context;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::is_valid_percent_encoding;
use crate::http::Status;
use std::fs;
use std::io;

/// What `OPTIONS` says of WebDAV: classes 1 and 2 (locks).
pub const DAV_CLASSES: &str = "1, 2";

/// Adds the fields that tell a client this is a WebDAV server (`MS-Author-Via` is what
/// Windows looks for).
pub fn with_dav_headers(resp: Response<'static>) -> Response<'static> {
    resp.header("DAV", DAV_CLASSES)
        .header("MS-Author-Via", "DAV")
}

/// A parent that is not there is a conflict for a write (RFC 4918 §9.3.1, §9.8.5).
fn missing_parent(e: Error) -> Error {
    match e {
        Error::NotFound => Error::Conflict("the parent folder does not exist"),
        e => e,
    }
}

/// `MKCOL /files/{path}`: 201; 405 when something has the name, 409 without a parent, 415
/// with a body (no body type is defined for it).
///
/// # Errors
/// As above, and 403 for a link on the path.
pub fn mkcol(
    config: &StoreConfig,
    root: Option<&Root>,
    cx: &Context,
    raw: &[u8],
    allow: &'static str,
) -> Result<Response<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    if path.is_root() {
        return Err(Error::MethodNotAllowed(allow));
    }
    if cx.body_len != Some(0) {
        return Ok(Response::text(
            Status::UNSUPPORTED_MEDIA_TYPE,
            "MKCOL takes no body\n",
        ));
    }
    let (parents, name) = split(&path)?;
    let dir = fsroot::open_parent(root, parents, false).map_err(missing_parent)?;
    match fs::create_dir(dir.child(name)) {
        Ok(()) => {
            dir.sync();
            Ok(with_store_headers(
                Response::new(Status::CREATED).body(Body::Empty),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::MethodNotAllowed(allow)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(Error::Conflict("the parent folder does not exist"))
        }
        Err(e) => Err(fs_error(e)),
    }
}

/// The destination of a COPY or MOVE, as a path under `/files/`.
///
/// # Errors
/// 400 for a malformed header, 502 for another server, 403 for a path outside `/files/`.
pub fn destination(head: &Head) -> Result<Result<FilePath, Response<'static>>, Error> {
    let dest = parse_destination(head.headers.get("destination"), head.headers.get("host"))
        .map_err(Error::BadRequest)?;
    let raw = match dest {
        Destination::Elsewhere => {
            return Ok(Err(Response::text(
                Status::BAD_GATEWAY,
                "the destination is on another server\n",
            )))
        }
        Destination::Here(raw) => raw,
    };
    let raw = raw
        .split(|&b| b == b'?' || b == b'#')
        .next()
        .unwrap_or_default();
    if !is_valid_percent_encoding(raw) {
        return Err(Error::BadRequest("invalid percent-encoding in Destination"));
    }
    let Some(inside) = raw.strip_prefix(b"/files/") else {
        return Err(Error::Forbidden("the destination must be under /files/"));
    };
    Ok(Ok(parse_file_path(inside)?))
}

/// `COPY` (`moving` false) or `MOVE` of `/files/{path}` to its `Destination`: 201 when the
/// destination was new, 204 when it was replaced.
///
/// # Errors
/// 404 for a missing source, 409 for a destination without a parent or inside the source, 412
/// for `Overwrite: F` over something, 403 for the root or the same path, 400 for a bad header.
pub fn copy_or_move(
    config: &StoreConfig,
    root: Option<&Root>,
    head: &Head,
    raw: &[u8],
    moving: bool,
) -> Result<Response<'static>, Error> {
    let root = directory(config, root, true)?;
    let from = parse_file_path(raw)?;
    let to = match destination(head)? {
        Ok(to) => to,
        Err(refused) => return Ok(refused),
    };
    let overwrite = parse_overwrite(head.headers.get("overwrite")).map_err(Error::BadRequest)?;
    let deep = match parse_depth(head.headers.get("depth")).map_err(Error::BadRequest)? {
        None | Some(Depth::Infinity) => true,
        Some(Depth::Zero) if !moving => false,
        Some(_) => {
            return Err(Error::BadRequest(if moving {
                "MOVE takes only Depth: infinity"
            } else {
                "COPY takes Depth: 0 or infinity"
            }))
        }
    };
    if from.is_root() || to.is_root() {
        return Err(Error::Forbidden(
            "the root folder cannot be copied, moved or replaced",
        ));
    }
    if from.parts == to.parts {
        return Err(Error::Forbidden(
            "the source and the destination are the same",
        ));
    }
    if to.parts.starts_with(&from.parts) {
        return Err(Error::Conflict(
            "a folder cannot be copied or moved into itself",
        ));
    }
    let (to_parents, to_name) = split(&to)?;
    let to_dir = fsroot::open_parent(root, to_parents, false).map_err(missing_parent)?;
    let exists = fs::symlink_metadata(to_dir.child(to_name)).is_ok();
    if exists && !overwrite {
        return Err(Error::PreconditionFailed);
    }
    let replaced = if moving {
        let (from_parents, from_name) = split(&from)?;
        let from_dir = fsroot::open_parent(root, from_parents, false)?;
        let source = from_dir.child(from_name);
        let meta = fs::symlink_metadata(&source).map_err(fs_error)?;
        if from.is_dir && !meta.is_dir() {
            return Err(Error::NotFound);
        }
        let replaced = tree::place(&to_dir, &source, to_name, meta.is_dir())?;
        from_dir.sync();
        replaced
    } else {
        let staged = match fsroot::resolve(root, &from)? {
            Resolved::File { .. } if from.is_dir => return Err(Error::NotFound),
            Resolved::File { mut file, .. } => tree::stage_file(&mut file, &to_dir)?,
            Resolved::Dir(dir) => tree::stage_dir(&dir, &to_dir, deep)?,
        };
        staged.land(to_name)?
    };
    let status = if replaced {
        Status::NO_CONTENT
    } else {
        Status::CREATED
    };
    Ok(with_store_headers(Response::new(status).body(Body::Empty)))
}
