//! The handlers of `/files/{path}`: GET and HEAD of a file or a folder, PUT and POST of a
//! file, PUT of a folder (a path ending in `/` with an empty body), and DELETE. Each checks the
//! path (`paths.rs`), the preconditions, and calls the store.
//!
//! Creating a folder over HTTP is `PUT /files/a/b/` with an empty body (WebDAV clients use
//! MKCOL, `dav/methods.rs`): the trailing slash already means "a folder" everywhere else here
//! (GET lists it, DELETE removes it), and any HTTP client can send it.
//!
//! Out of scope: routing (`router.rs`), the file system (`fsroot.rs`, `store.rs`).

use crate::app::archive::{folder, Format};
use crate::app::negotiate::conditional::{self, Precondition, Validators};
use crate::app::page::render::Viewer;
use crate::app::store::fsroot::{self, Resolved, Root};
use crate::app::store::paths::{parse_file_path, FilePath};
use crate::app::store::writes::{Landing, Upload};
use crate::app::store::{files, writes};
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::handler::{BodySink, Reply};
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::query_value;
use crate::http::Status;
use std::path::Path;

/// The Allow value of a folder, which takes no POST.
pub const ALLOW_DIR: &str =
    "GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/// The configured directory, or the answer for a server started without one.
pub fn directory<'r>(
    config: &StoreConfig,
    root: Option<&'r Root>,
    writing: bool,
) -> Result<&'r Root, Error> {
    match (root, writing) {
        (Some(_), true) if config.read_only => Err(Error::Forbidden("this server is read-only")),
        (Some(root), _) => Ok(root),
        (None, false) => Err(Error::NotFound),
        (None, true) => Err(Error::Forbidden(
            "this server was started without --directory, so it stores no files",
        )),
    }
}

/// `GET|HEAD /files/{path}`: a file, a folder's listing, or a redirect from a folder's name
/// without its slash to the folder.
///
/// # Errors
/// 404 for anything absent, outside the root or hidden by `--no-listing`, 400 for a bad path,
/// and see [`files::serve`].
pub fn get(
    config: &StoreConfig,
    root: Option<&Root>,
    viewer: Viewer,
    head: &Head,
    raw: &[u8],
) -> Result<Response<'static>, Error> {
    let root = directory(config, root, false)?;
    let path = parse_file_path(raw)?;
    match fsroot::resolve(root, &path)? {
        Resolved::File { file, meta } => {
            // A trailing slash on a file is never the file (nor a different one).
            let Some(name) = path.name().filter(|_| !path.is_dir) else {
                return Err(Error::NotFound);
            };
            files::serve(file, &meta, Path::new(name), head)
        }
        // Without listings, a folder is as absent as anything else (so is its redirect).
        Resolved::Dir(_) if !config.listing => Err(Error::NotFound),
        Resolved::Dir(_) if !path.is_dir => Ok(Response::new(Status::MOVED_PERMANENTLY)
            .header("Location", path.url(true))
            .body(Body::Empty)),
        Resolved::Dir(dir) => match query_value(head.target(), "download").transpose()? {
            None => crate::app::page::listing::list(config, viewer, head, &path, &dir, root),
            Some(_) if !config.archives => Err(Error::Forbidden(
                "folder downloads are turned off on this server (--no-archive)",
            )),
            Some(format) => {
                let format = Format::from_query(&format)
                    .ok_or(Error::BadRequest("download must be zip, tar or tar.gz"))?;
                folder::download(root, &path, config.show_hidden, format)
            }
        },
    }
}

/// `POST /files/{path}`: stores the body; 201 Created (the CodeCrafters stage).
///
/// # Errors
/// 405 for a folder's path, and see [`Upload::begin`].
pub fn post(
    config: &StoreConfig,
    root: Option<&Root>,
    raw: &[u8],
    body_len: Option<u64>,
) -> Result<Reply<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    if path.is_dir {
        return Err(Error::MethodNotAllowed(ALLOW_DIR));
    }
    let upload = Upload::begin(
        root,
        &path,
        body_len,
        config.max_upload_bytes,
        Landing::Anyway,
    )?;
    Ok(absorb(config, upload, |_| Status::CREATED))
}

/// `PUT /files/{path}`: stores the body, or for a path ending in `/` creates the folder; 201
/// if it created it, 204 if it was there (RFC 9110 §9.3.4). Missing parent folders are
/// created. Honours If-Match and If-None-Match (`If-None-Match: *` means "only if absent"),
/// when the request comes and again when its body has.
///
/// # Errors
/// 412 for a failed precondition, 400 for a folder with a body, and see [`Upload::begin`].
pub fn put(
    config: &StoreConfig,
    root: Option<&Root>,
    head: &Head,
    raw: &[u8],
    body_len: Option<u64>,
) -> Result<Reply<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    check_write_preconditions(root, &path, head)?;
    if path.is_dir {
        if body_len != Some(0) {
            return Err(Error::BadRequest("a folder is made with an empty body"));
        }
        let created = writes::make_dir(root, &path)?;
        return Ok(Reply::Answer(with_store_headers(Response::new(
            created_or_replaced(!created),
        ))));
    }
    // The preconditions hold now; they must still hold when the body has come.
    let landing = match write_condition(head) {
        WriteCondition::None => Landing::Anyway,
        WriteCondition::OnlyIfAbsent => Landing::OnlyIfAbsent,
        WriteCondition::Other => {
            let (root, recheck_path) = (root.clone(), path.clone());
            Landing::Checked(Box::new(move |head: &Head| {
                check_write_preconditions(&root, &recheck_path, head)
            }))
        }
    };
    let upload = Upload::begin(root, &path, body_len, config.max_upload_bytes, landing)?;
    Ok(absorb(config, upload, created_or_replaced))
}

/// 201 for a new file or folder, 204 for one replaced (RFC 9110 §9.3.4).
fn created_or_replaced(replaced: bool) -> Status {
    if replaced {
        Status::NO_CONTENT
    } else {
        Status::CREATED
    }
}

/// Adds what every answer from the file store carries: `Cache-Control: no-cache` (the store is
/// mutable, so a cache must revalidate, which the validators make cheap; RFC 9111 §5.2.2.4)
/// and `X-Content-Type-Options: nosniff` (the type we send is the type: a browser must not
/// guess HTML or script from the bytes).
pub fn with_store_headers(mut resp: Response<'static>) -> Response<'static> {
    // An answer that set its own (an archive: `no-store`) keeps it.
    if resp.get_header("cache-control").is_none() {
        resp = resp.header("Cache-Control", "no-cache");
    }
    if resp.get_header("x-content-type-options").is_none() {
        resp = resp.header("X-Content-Type-Options", "nosniff");
    }
    resp
}

/// An upload's body goes into the store as it arrives; its answer's status says whether a file
/// was replaced.
struct UploadBody {
    upload: Upload,
    status: fn(bool) -> Status,
}

impl BodySink for UploadBody {
    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.upload.write(data)
    }

    fn finish(self: Box<Self>, head: &Head) -> Result<Response<'static>, Error> {
        let status = self.status;
        let replaced = self.upload.finish(head)?;
        Ok(with_store_headers(Response::new(status(replaced))))
    }
}

/// Asks the engine for the body of an upload that has begun.
fn absorb(config: &StoreConfig, upload: Upload, status: fn(bool) -> Status) -> Reply<'static> {
    Reply::Absorb {
        sink: Box::new(UploadBody { upload, status }),
        limit: config.max_upload_bytes,
    }
}

/// `DELETE /files/{path}`: removes a file, a link, or a folder with everything in it (RFC 4918
/// §9.6.1); 204, or 207 naming each entry inside the folder that could not be removed.
///
/// # Errors
/// 404 when absent, 403 or 412.
pub fn delete(
    config: &StoreConfig,
    root: Option<&Root>,
    head: &Head,
    raw: &[u8],
) -> Result<Response<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    check_write_preconditions(root, &path, head)?;
    let failures = writes::delete(root, &path)?;
    if !failures.is_empty() {
        return Ok(crate::app::dav::answer::failures(&path, &failures));
    }
    Ok(Response::new(Status::NO_CONTENT).body(Body::Empty))
}

/// The validators of what `path` names now, if anything (for PUT and DELETE preconditions).
///
/// # Errors
/// Whatever stops the look other than absence: a file that cannot be read (403), or one that
/// kept being replaced (503). Never "absent" for a file that is there.
pub fn current_validators(root: &Root, path: &FilePath) -> Result<Option<Validators>, Error> {
    match fsroot::resolve(root, path) {
        Ok(Resolved::File { meta, .. }) => Ok(Some(files::validators(&meta))),
        Ok(Resolved::Dir(dir)) => {
            let meta = dir.metadata()?;
            Ok(Some(Validators::new(
                0,
                files::modified_nanos(&meta),
                "-dir",
            )))
        }
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The preconditions a write carries, as far as landing it goes.
enum WriteCondition {
    None,
    /// `If-None-Match: *` alone: create, never replace.
    OnlyIfAbsent,
    /// Anything else (`If-Match`, tags, dates): checked again before the file lands.
    Other,
}

fn write_condition(head: &Head) -> WriteCondition {
    let h = &head.headers;
    let (if_match, since) = (h.get("if-match"), h.get("if-unmodified-since"));
    match h.get("if-none-match") {
        None if if_match.is_none() && since.is_none() => WriteCondition::None,
        Some(v)
            if v.trim_ascii() == b"*"
                && h.count("if-none-match") == 1
                && if_match.is_none()
                && since.is_none() =>
        {
            WriteCondition::OnlyIfAbsent
        }
        _ => WriteCondition::Other,
    }
}

fn check_write_preconditions(root: &Root, path: &FilePath, head: &Head) -> Result<(), Error> {
    if matches!(write_condition(head), WriteCondition::None) {
        // Nothing to compare: the target need not be looked at (or be readable).
        return Ok(());
    }
    let current = current_validators(root, path)?;
    match conditional::evaluate(&head.headers, current.as_ref(), false) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified | Precondition::Failed => Err(Error::PreconditionFailed),
    }
}
