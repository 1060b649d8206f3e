//! `LOCK` and `UNLOCK` (RFC 4918 §9.10, §9.11), and what locks and the `If` header (§10.4)
//! mean for every write under `/files/`, `PUT` and `DELETE` included: the `If` header must
//! hold (else 412), and a write that would change a locked resource must present the lock's
//! token in it (else `423 Locked` with `lock-token-submitted`).
//!
//! A `LOCK` on a name that is not there creates an empty file (RFC 4918 §7.3: davfs2 and Finder
//! create files that way) and answers 201. A `LOCK` without a body refreshes the lock whose
//! token its `If` header gives.
//!
//! Out of scope: the table of locks (`locks.rs`).

use super::answer::{condition, xml as xml_answer};
use super::headers::{lock_seconds, parse_depth, parse_if, ConditionKind, Depth, IfList};
use super::locks::{dav, new_token, Lock, LockTable, Locks, MAX_OWNER_BYTES};
use super::methods::destination;
use super::xml::{write_element, Element, Reader, DAV, MAX_XML_BYTES};
use crate::app::file_handlers::{current_validators, directory};
use crate::app::store::fsroot::{self, fs_error, Root};
use crate::app::store::paths::{parse_file_path, FilePath};
use crate::app::store::writes::split;
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::handler::{BodySink, Context, Reply};
use crate::http::parse::Head;
use crate::http::response::Response;
use crate::http::{Method, Status};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The path under `/files/` an `If` header's resource tag names, if it names one here.
fn tagged_path(uri: &str) -> Option<Vec<OsString>> {
    let path = match uri.find("://") {
        Some(i) => {
            let rest = uri.get(i + 3..)?;
            rest.get(rest.find('/')?..)?
        }
        None => uri,
    };
    let inside = path.strip_prefix("/files/")?;
    parse_file_path(inside.as_bytes()).ok().map(|p| p.parts)
}

/// Whether an entity tag of the `If` header matches what `parts` names now.
fn etag_matches(root: &Root, parts: &[OsString], tag: &str) -> bool {
    let path = FilePath {
        parts: parts.to_vec(),
        is_dir: false,
    };
    let Ok(Some(v)) = current_validators(root, &path) else {
        return false;
    };
    let bare = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_string();
    bare(&v.etag) == bare(tag) || v.variant.is_some_and(|x| bare(&x) == bare(tag))
}

/// Whether the `If` header holds (any of its lists does) for a request on `parts`.
fn if_holds(lists: &[IfList], parts: &[OsString], root: &Root, locks: &Locks) -> bool {
    lists.iter().any(|list| {
        let target = match &list.resource {
            None => Some(parts.to_vec()),
            Some(uri) => tagged_path(uri),
        };
        list.conditions.iter().all(|c| {
            let holds = match (&c.kind, &target) {
                (_, None) => false,
                (ConditionKind::Token(t), Some(p)) => locks.token_covers(t, p),
                (ConditionKind::ETag(tag), Some(p)) => etag_matches(root, p, tag),
            };
            holds != c.not
        })
    })
}

/// The lock tokens the `If` header presents.
fn submitted(lists: &[IfList]) -> Vec<&str> {
    lists
        .iter()
        .flat_map(|l| l.conditions.iter())
        .filter_map(|c| match &c.kind {
            ConditionKind::Token(t) if !c.not => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The parsed `If` header, if any.
fn if_header(head: &Head) -> Result<Option<Vec<IfList>>, Error> {
    head.headers
        .get("if")
        .map(|v| parse_if(v).map_err(Error::BadRequest))
        .transpose()
}

/// The parent of `parts` (none for the root).
fn parent(parts: &[OsString]) -> Option<&[OsString]> {
    parts.split_last().map(|(_, p)| p)
}

/// Checks a write on `/files/{raw}` against the `If` header and the locks. `None`: go on;
/// `Some`: the refusal (423).
///
/// # Errors
/// 400 for a malformed `If`, 412 when it does not hold.
pub fn check_write(
    locks: &LockTable,
    root: &Root,
    head: &Head,
    raw: &[u8],
) -> Result<Option<Response<'static>>, Error> {
    let lists = if_header(head)?;
    let locks = locks.snapshot()?;
    // Nothing to check: the common case costs one look at each.
    if lists.is_none() && locks.is_empty() {
        return Ok(None);
    }
    // A bad path is for the handler to answer.
    let Ok(path) = parse_file_path(raw) else {
        return Ok(None);
    };
    if let Some(lists) = &lists {
        if !if_holds(lists, &path.parts, root, &locks) {
            return Err(Error::PreconditionFailed);
        }
    }
    if locks.is_empty() || head.method == Method::Lock || head.method == Method::Unlock {
        return Ok(None);
    }
    // What the write changes: the resource; what is below it when it is removed or replaced;
    // the folder holding it when it is made or removed (its membership changes).
    // A COPY changes its destination only.
    let mut affected = Vec::new();
    if head.method != Method::Copy {
        let changes_membership = head.method != Method::Proppatch;
        let below = matches!(head.method, Method::Delete | Method::Move);
        affected.extend(locks.affecting(&path.parts, below));
        if changes_membership {
            if let Some(p) = parent(&path.parts) {
                affected.extend(locks.on(p));
            }
        }
    }
    if matches!(head.method, Method::Copy | Method::Move) {
        if let Ok(Ok(to)) = destination(head) {
            affected.extend(locks.affecting(&to.parts, true));
            if let Some(p) = parent(&to.parts) {
                affected.extend(locks.on(p));
            }
        }
    }
    let tokens: HashSet<&str> = lists
        .as_deref()
        .map(submitted)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let missing = affected.iter().find(|l| {
        if tokens.contains(&l.token.as_str()) {
            return false;
        }
        // Of several shared locks on one root, presenting any one is enough.
        l.exclusive
            || !affected
                .iter()
                .any(|o| !o.exclusive && o.root == l.root && tokens.contains(&o.token.as_str()))
    });
    Ok(missing.map(|l| locked(&l.href())))
}

/// `423 Locked`, naming the lock root whose token was not presented.
fn locked(href: &str) -> Response<'static> {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:lock-token-submitted>",
    );
    write_element(&dav("href", href, vec![]), &mut out);
    out.push_str("</D:lock-token-submitted></D:error>\n");
    xml_answer(Status::LOCKED, out)
}

/// `LOCK /files/{path}`.
///
/// # Errors
/// 400 for a bad Depth or body, 409 for a missing parent, 403 when read-only.
pub fn lock(
    config: &StoreConfig,
    root: Option<&Root>,
    locks: &Arc<LockTable>,
    cx: &Context,
    head: &Head,
    raw: &[u8],
) -> Result<Reply<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    let infinite = match parse_depth(head.headers.get("depth")).map_err(Error::BadRequest)? {
        None | Some(Depth::Infinity) => true,
        Some(Depth::Zero) => false,
        Some(Depth::One) => return Err(Error::BadRequest("LOCK takes Depth: 0 or infinity")),
    };
    let job = LockJob {
        locks: Arc::clone(locks),
        root: root.clone(),
        path,
        infinite,
        seconds: lock_seconds(head.headers.get("timeout")),
    };
    if cx.body_len == Some(0) {
        return job.refresh(head).map(Reply::Answer);
    }
    Ok(Reply::Absorb {
        sink: Box::new(LockBody {
            reader: Reader::new(),
            fed: false,
            job,
        }),
        limit: MAX_XML_BYTES as u64,
    })
}

struct LockJob {
    locks: Arc<LockTable>,
    root: Root,
    path: FilePath,
    infinite: bool,
    seconds: u64,
}

struct LockBody {
    reader: Reader,
    fed: bool,
    job: LockJob,
}

impl BodySink for LockBody {
    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.fed |= !data.is_empty();
        self.reader.feed(data).map_err(Error::from)
    }

    fn finish(self: Box<Self>, head: &Head) -> Result<Response<'static>, Error> {
        if !self.fed {
            return self.job.refresh(head);
        }
        let body = self.reader.finish().map_err(Error::from)?;
        self.job.create(&body, head)
    }
}

/// The answer to a granted or refreshed lock: its `lockdiscovery`.
fn granted(status: Status, lock: &Lock, new: bool) -> Response<'static> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let prop = dav(
        "prop",
        "",
        vec![dav("lockdiscovery", "", vec![lock.activelock()])],
    );
    write_element(&prop, &mut out);
    let resp = xml_answer(status, out);
    // Only a new lock carries its token in a header; a refresh's client has it.
    if new {
        resp.header("Lock-Token", format!("<{}>", lock.token))
    } else {
        resp
    }
}

impl LockJob {
    fn refresh(self, head: &Head) -> Result<Response<'static>, Error> {
        let lists = if_header(head)?.ok_or(Error::BadRequest(
            "a LOCK without a body refreshes a lock, and needs an If header with its token",
        ))?;
        for token in submitted(&lists) {
            if let Some(lock) = self.locks.refresh(token, &self.path.parts, self.seconds)? {
                return Ok(granted(Status::OK, &lock, false));
            }
        }
        Err(Error::PreconditionFailed)
    }

    fn create(self, body: &Element, head: &Head) -> Result<Response<'static>, Error> {
        if !body.is(DAV, "lockinfo") {
            return Err(Error::BadRequest(
                "the body of a LOCK must be a DAV:lockinfo",
            ));
        }
        let exclusive = match body.child(DAV, "lockscope") {
            Some(s) if s.child(DAV, "exclusive").is_some() => true,
            Some(s) if s.child(DAV, "shared").is_some() => false,
            _ => return Err(Error::BadRequest("a lockinfo needs a lockscope")),
        };
        let write = body
            .child(DAV, "locktype")
            .and_then(|t| t.child(DAV, "write"));
        if write.is_none() {
            return Err(Error::BadRequest("only write locks exist"));
        }
        if let Some(lists) = if_header(head)? {
            if !if_holds(
                &lists,
                &self.path.parts,
                &self.root,
                &self.locks.snapshot()?,
            ) {
                return Err(Error::PreconditionFailed);
            }
        }
        let (exists, is_dir) = match fsroot::resolve(&self.root, &self.path) {
            Ok(fsroot::Resolved::Dir(_)) => (true, true),
            Ok(fsroot::Resolved::File { .. }) => (true, false),
            Err(Error::NotFound) => (false, self.path.is_dir),
            Err(e) => return Err(e),
        };
        let owner = body.child(DAV, "owner").cloned();
        if let Some(owner) = &owner {
            let mut xml = String::new();
            write_element(owner, &mut xml);
            if xml.len() > MAX_OWNER_BYTES {
                return Err(Error::BadRequest("the lock's owner is too long"));
            }
        }
        let lock = Lock {
            token: new_token(),
            root: self.path.parts.clone(),
            root_is_dir: is_dir,
            infinite: self.infinite,
            exclusive,
            owner,
            seconds: self.seconds,
            expires: SystemTime::now() + Duration::from_secs(self.seconds),
        };
        if !self.locks.try_add(lock.clone())? {
            return Ok(condition(Status::LOCKED, "no-conflicting-lock"));
        }
        if exists {
            return Ok(granted(Status::OK, &lock, true));
        }
        // RFC 4918 §7.3: a lock on an unmapped URL makes an empty resource.
        match make_empty_file(&self.root, &self.path) {
            Ok(()) => Ok(granted(Status::CREATED, &lock, true)),
            Err(e) => {
                // The lock stays if this fails too: it ends at its timeout.
                let _ = self.locks.remove(&lock.token, &lock.root);
                Err(e)
            }
        }
    }
}

fn make_empty_file(root: &Root, path: &FilePath) -> Result<(), Error> {
    if path.is_dir {
        return Err(Error::Conflict("a lock makes a file, not a folder"));
    }
    let (parents, name) = split(path)?;
    let dir = fsroot::open_parent(root, parents, false).map_err(|e| match e {
        Error::NotFound => Error::Conflict("the parent folder does not exist"),
        e => e,
    })?;
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.child(name))
    {
        Ok(_) => {
            dir.sync();
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(fs_error(e)),
    }
}

/// `UNLOCK /files/{path}` with `Lock-Token: <token>`: 204.
///
/// # Errors
/// 400 without the header, 403 when read-only.
pub fn unlock(
    config: &StoreConfig,
    root: Option<&Root>,
    locks: &LockTable,
    head: &Head,
    raw: &[u8],
) -> Result<Response<'static>, Error> {
    directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    let token = head
        .headers
        .get_str("lock-token")
        .map(str::trim)
        .and_then(|t| t.strip_prefix('<'))
        .and_then(|t| t.strip_suffix('>'))
        .ok_or(Error::BadRequest(
            "UNLOCK needs a Lock-Token: <token> header",
        ))?;
    if locks.remove(token, &path.parts)? {
        Ok(Response::new(Status::NO_CONTENT))
    } else {
        Ok(condition(
            Status::CONFLICT,
            "lock-token-matches-request-uri",
        ))
    }
}
