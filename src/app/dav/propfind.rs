//! `PROPFIND` (RFC 4918 §9.1) on `/files/...` and on `/`: the properties of a file or folder
//! (`Depth: 0`), and of what a folder holds (`Depth: 1`). `Depth: infinity` (also the default)
//! is refused with 403 and `propfind-finite-depth`, as Apache does by default: a whole tree in
//! one answer is a denial of service waiting to happen.
//!
//! `creationdate` is the file's birth time (statx's `btime`), where the file system keeps one;
//! elsewhere the property is absent (404 when named, left out of `allprop`).
//!
//! A folder's entries are read as they are sent, [`ENTRIES_PER_BLOCK`] at a time, in the file
//! system's order (`listing::EntryStream`: the listing's rules, at most `MAX_LISTING_ENTRIES`,
//! temporary uploads never, dot files only with `--show-hidden`), and written as a chunked
//! body: memory holds one read of names and one block, never the folder nor the multistatus,
//! so a slow client of a 10 000-entry folder costs what one of 100 does. Dead properties are
//! read per block, when asked for.
//!
//! Out of scope: the properties' XML (`props.rs`), the body's XML (`xml.rs`).

use super::answer::xml as xml_answer;
use super::answer::{condition, XML_TYPE};
use super::dead;
use super::headers::{parse_depth, Depth};
use super::locks::{LockTable, Locks};
use super::props::{self, Request, Resource, MULTISTATUS_END, MULTISTATUS_START};
use super::xml::{Element, Reader, DAV, MAX_XML_BYTES};
use crate::app::file_handlers::directory;
use crate::app::negotiate::conditional::Validators;
use crate::app::negotiate::mime;
use crate::app::page::escape::push_url_component;
use crate::app::page::listing::{Entry, EntryStream, MAX_LISTING_ENTRIES};
use crate::app::store::fsroot::{self, OpenDir, Resolved, Root};
use crate::app::store::paths::{parse_file_path, FilePath};
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::handler::{BodySink, Context, Reply};
use crate::http::parse::Head;
use crate::http::response::{BlockStream, Body, Response};
use crate::http::Status;
use crate::sys::dirfd;
use std::ffi::OsString;
use std::fs::{Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Responses written per block of a folder's multistatus (a few hundred bytes each).
pub const ENTRIES_PER_BLOCK: usize = 64;

/// The depth asked for, or the 403 for `infinity`.
fn finite_depth(head: &Head) -> Result<Result<Depth, Response<'static>>, Error> {
    match parse_depth(head.headers.get("depth")).map_err(Error::BadRequest)? {
        None | Some(Depth::Infinity) => {
            Ok(Err(condition(Status::FORBIDDEN, "propfind-finite-depth")))
        }
        Some(d) => Ok(Ok(d)),
    }
}

/// `PROPFIND /files/{path}`.
///
/// # Errors
/// 404 when absent, 400 for a bad path, Depth or body.
pub fn propfind(
    config: &StoreConfig,
    root: Option<&Root>,
    locks: &LockTable,
    cx: &Context,
    head: &Head,
    raw: &[u8],
) -> Result<Reply<'static>, Error> {
    let depth = match finite_depth(head)? {
        Ok(d) => d,
        Err(refused) => return Ok(Reply::Answer(refused)),
    };
    let root = directory(config, root, false)?;
    let path = parse_file_path(raw)?;
    let resolved = fsroot::resolve(root, &path)?;
    if matches!(resolved, Resolved::File { .. }) && path.is_dir {
        return Err(Error::NotFound);
    }
    let target = Target {
        locks: Arc::new(locks.snapshot()?),
        root: root.clone(),
        show_hidden: config.show_hidden,
        path,
        resolved,
        depth,
    };
    if cx.body_len == Some(0) {
        return target.answer(&Request::AllProp).map(Reply::Answer);
    }
    Ok(Reply::Absorb {
        sink: Box::new(PropfindBody {
            reader: Reader::new(),
            fed: false,
            target,
        }),
        limit: MAX_XML_BYTES as u64,
    })
}

/// What a PROPFIND is about, found before its body is read.
struct Target {
    /// The locks when the request came.
    locks: Arc<Locks>,
    root: Root,
    show_hidden: bool,
    path: FilePath,
    resolved: Resolved,
    depth: Depth,
}

/// The body of a PROPFIND, read as it comes.
struct PropfindBody {
    reader: Reader,
    fed: bool,
    target: Target,
}

impl BodySink for PropfindBody {
    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.fed |= !data.is_empty();
        self.reader.feed(data).map_err(Error::from)
    }

    fn finish(self: Box<Self>, _head: &Head) -> Result<Response<'static>, Error> {
        let body = if self.fed {
            Some(self.reader.finish().map_err(Error::from)?)
        } else {
            None
        };
        let request = props::parse_request(body.as_ref()).map_err(Error::BadRequest)?;
        self.target.answer(&request)
    }
}

/// The locks that apply to `parts`, as `DAV:activelock` elements.
fn activelocks(locks: &Locks, parts: &[OsString]) -> Vec<Element> {
    locks
        .affecting(parts, false)
        .iter()
        .map(|l| l.activelock())
        .collect()
}

/// Whether answering `request` needs the dead properties.
fn wants_dead(request: &Request) -> bool {
    match request {
        Request::AllProp | Request::PropName => true,
        Request::Prop(names) => names
            .iter()
            .any(|n| n.ns != DAV || !props::LIVE.contains(&n.local.as_str())),
    }
}

/// One resource's properties, owned (what [`Resource`] borrows).
struct Found {
    href: String,
    display: String,
    is_dir: bool,
    size: u64,
    modified: u64,
    /// Seconds since the epoch, where the file system keeps a birth time.
    created: Option<u64>,
    etag: Option<String>,
    content_type: Option<&'static str>,
    dead: Vec<Element>,
    /// Its active locks, as `DAV:activelock` elements.
    locks: Vec<Element>,
}

impl Found {
    fn write(&self, out: &mut String, request: &Request) {
        let r = Resource {
            href: &self.href,
            display_name: &self.display,
            is_dir: self.is_dir,
            size: self.size,
            modified: self.modified,
            created: self.created,
            etag: self.etag.as_deref(),
            content_type: self.content_type,
            dead: &self.dead,
            locks: &self.locks,
        };
        props::write_response(out, &r, request);
    }

    fn file(href: String, name: &[u8], size: u64, modified: SystemTime) -> Found {
        let nanos = modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let v = Validators::with_gzip_variant(size, nanos);
        Found {
            href,
            display: String::from_utf8_lossy(name).into_owned(),
            is_dir: false,
            size,
            modified: v.modified,
            created: None,
            etag: Some(v.etag),
            content_type: Some(mime::file_type(name).content_type),
            dead: Vec::new(),
            locks: Vec::new(),
        }
    }

    fn dir(href: String, name: &[u8], modified: SystemTime) -> Found {
        Found {
            href,
            display: String::from_utf8_lossy(name).into_owned(),
            is_dir: true,
            size: 0,
            modified: modified
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            created: None,
            etag: None,
            content_type: None,
            dead: Vec::new(),
            locks: Vec::new(),
        }
    }
}

impl Target {
    fn answer(self, request: &Request) -> Result<Response<'static>, Error> {
        let name = self.path.name().map(|n| n.as_bytes()).unwrap_or_default();
        let dead = wants_dead(request);
        let locks = activelocks(&self.locks, &self.path.parts);
        match self.resolved {
            Resolved::File { file, meta } => {
                let modified = meta.modified().unwrap_or(UNIX_EPOCH);
                let mut found = Found::file(self.path.url(false), name, meta.len(), modified);
                found.created = birth_time(file.as_fd(), &meta);
                found.locks = locks;
                if dead {
                    found.dead = dead::read_all(file.as_fd()).map_err(fsroot::fs_error)?;
                }
                let mut out = String::from(MULTISTATUS_START);
                found.write(&mut out, request);
                out.push_str(MULTISTATUS_END);
                Ok(xml_answer(Status::MULTI_STATUS, out))
            }
            Resolved::Dir(dir) => {
                let meta = dir.metadata()?;
                let base = self.path.url(true);
                let mut found =
                    Found::dir(base.clone(), name, meta.modified().unwrap_or(UNIX_EPOCH));
                found.created = birth_time(dir.as_fd(), &meta);
                found.locks = locks;
                if dead {
                    found.dead = dead::read_all(dir.as_fd()).map_err(fsroot::fs_error)?;
                }
                let mut first = String::from(MULTISTATUS_START);
                found.write(&mut first, request);
                if self.depth == Depth::Zero {
                    first.push_str(MULTISTATUS_END);
                    return Ok(xml_answer(Status::MULTI_STATUS, first));
                }
                let entries =
                    EntryStream::start(&dir, &self.root, self.show_hidden, MAX_LISTING_ENTRIES)?;
                let stream = Multistatus {
                    locks: self.locks,
                    parts: self.path.parts,
                    dir,
                    base,
                    request: request.clone(),
                    dead,
                    first,
                    entries,
                    phase: Phase::Start,
                    block: Vec::new(),
                    made: false,
                };
                Ok(Response::new(Status::MULTI_STATUS)
                    .header("Content-Type", XML_TYPE)
                    .header("Cache-Control", "no-cache")
                    .body(Body::Stream(Box::new(stream))))
            }
        }
    }
}

/// Whole seconds since the epoch (none before it).
fn seconds(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// When the open file `fd` was made, in seconds since the epoch, where the file system keeps
/// it: statx's birth time, or std's where statx is missing (macOS).
fn birth_time(fd: BorrowedFd<'_>, meta: &Metadata) -> Option<u64> {
    match dirfd::stat_open(fd) {
        Ok(st) => st.btime.and_then(|(sec, _)| u64::try_from(sec).ok()),
        Err(_) => meta.created().ok().and_then(seconds),
    }
}

/// A folder's multistatus, made block by block as it is sent: first the start and the folder's
/// own response, then [`ENTRIES_PER_BLOCK`] entries a block, read from the folder as each
/// block is made (so a folder of 10 000 entries is never held whole), then the end.
struct Multistatus {
    locks: Arc<Locks>,
    /// The folder's path.
    parts: Vec<OsString>,
    dir: OpenDir,
    base: String,
    request: Request,
    dead: bool,
    first: String,
    entries: EntryStream,
    phase: Phase,
    /// The current block, kept until it has gone whole (it must be the same bytes each time).
    block: Vec<u8>,
    made: bool,
}

/// Where a [`Multistatus`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Entries,
    End,
    Done,
}

impl Multistatus {
    fn make(&mut self) -> io::Result<()> {
        self.block.clear();
        match self.phase {
            Phase::Start => {
                self.block.extend_from_slice(self.first.as_bytes());
                self.first = String::new();
            }
            Phase::Entries => {
                let batch = self.entries.next_batch(&self.dir, ENTRIES_PER_BLOCK)?;
                if batch.is_empty() {
                    self.phase = Phase::End;
                    self.block.extend_from_slice(MULTISTATUS_END.as_bytes());
                } else {
                    let mut out = String::new();
                    for e in &batch {
                        self.entry(e).write(&mut out, &self.request);
                    }
                    self.block = out.into_bytes();
                }
            }
            Phase::End => self.block.extend_from_slice(MULTISTATUS_END.as_bytes()),
            Phase::Done => {}
        }
        self.made = true;
        Ok(())
    }

    fn entry(&self, e: &Entry) -> Found {
        let mut href = self.base.clone();
        push_url_component(&mut href, &e.name);
        let mut found = if e.is_dir {
            href.push('/');
            Found::dir(href, &e.name, e.modified)
        } else {
            Found::file(href, &e.name, e.size, e.modified)
        };
        found.created = e.created.and_then(seconds);
        if !self.locks.is_empty() {
            let mut parts = self.parts.clone();
            parts.push(OsString::from(std::ffi::OsStr::from_bytes(&e.name)));
            found.locks = activelocks(&self.locks, &parts);
        }
        if self.dead {
            let opened = OpenOptions::new()
                .read(true)
                .custom_flags(crate::sys::O_NONBLOCK)
                .open(self.dir.child(std::ffi::OsStr::from_bytes(&e.name)));
            // One gone or unreadable since the folder was read shows no dead properties.
            if let Ok(f) = opened {
                found.dead = dead::read_all(f.as_fd()).unwrap_or_default();
            }
        }
        found
    }
}

impl BlockStream for Multistatus {
    fn block(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        if !self.made {
            self.make()?;
        }
        out.clear();
        out.extend_from_slice(&self.block);
        Ok(())
    }

    fn advance(&mut self) {
        self.phase = match self.phase {
            Phase::Start => Phase::Entries,
            Phase::Entries => Phase::Entries,
            Phase::End | Phase::Done => Phase::Done,
        };
        self.made = false;
    }
}

/// `PROPFIND /`: the server's root is a collection holding `/files/` (when there is a
/// directory), so that clients that start at `/` (Windows, media players) find the files.
///
/// # Errors
/// 400 for a bad Depth.
pub fn propfind_root(
    config: &StoreConfig,
    root: Option<&Root>,
    head: &Head,
) -> Result<Response<'static>, Error> {
    let depth = match finite_depth(head)? {
        Ok(d) => d,
        Err(refused) => return Ok(refused),
    };
    let request = Request::AllProp;
    let mut out = String::from(MULTISTATUS_START);
    Found::dir("/".into(), b"", SystemTime::now()).write(&mut out, &request);
    if depth == Depth::One {
        if let Ok(root) = directory(config, root, false) {
            let modified = std::fs::metadata(root.path())
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH);
            Found::dir("/files/".into(), b"files", modified).write(&mut out, &request);
        }
    }
    out.push_str(MULTISTATUS_END);
    Ok(xml_answer(Status::MULTI_STATUS, out))
}
