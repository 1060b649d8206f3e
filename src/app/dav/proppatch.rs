//! `PROPPATCH` (RFC 4918 §9.2): sets and removes dead properties, in the order the body gives,
//! all or nothing: when one instruction fails, those already carried out are undone, and every
//! other property is answered `424 Failed Dependency`. The live properties are protected
//! (`403`, `cannot-modify-protected-property`).
//!
//! Windows sends its `Win32CreationTime`, `Win32LastModifiedTime`, `Win32LastAccessTime` and
//! `Win32FileAttributes` after every upload and complains at anything but `200`: they are kept
//! as dead properties like any other, and on a file system without extended attributes they
//! are answered `200` without being kept (the file's own times are what a later PROPFIND
//! gives). Any other property there is `403`, with the reason.
//!
//! Out of scope: where dead properties are kept (`dead.rs`).

use super::answer::xml as xml_answer;
use super::dead;
use super::props::{LIVE, MULTISTATUS_END, MULTISTATUS_START};
use super::xml::{escape_into, write_element, Element, Name, Reader, DAV, MAX_XML_BYTES};
use crate::app::file_handlers::directory;
use crate::app::store::fsroot::{self, fs_error, Resolved, Root};
use crate::app::store::paths::parse_file_path;
use crate::app::store::writes::split;
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::handler::{BodySink, Context, Reply};
use crate::http::parse::Head;
use crate::http::response::Response;
use crate::http::Status;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Most instructions in one PROPPATCH.
pub const MAX_PATCH_PROPS: usize = 256;

/// The namespace of Windows' own properties.
const WINDOWS_NS: &str = "urn:schemas-microsoft-com:";

/// `PROPPATCH /files/{path}`.
///
/// # Errors
/// 404 when absent, 403 for a read-only server or a link, 400 without a body.
pub fn proppatch(
    config: &StoreConfig,
    root: Option<&Root>,
    cx: &Context,
    raw: &[u8],
) -> Result<Reply<'static>, Error> {
    let root = directory(config, root, true)?;
    let path = parse_file_path(raw)?;
    if !path.is_root() {
        // Properties are written on the resource itself, never through a link to it.
        let (parents, name) = split(&path)?;
        let parent = fsroot::open_parent(root, parents, false)?;
        let meta = std::fs::symlink_metadata(parent.child(name)).map_err(fs_error)?;
        if meta.file_type().is_symlink() {
            return Err(Error::Forbidden(
                "properties are never written through a link",
            ));
        }
    }
    let resolved = fsroot::resolve(root, &path)?;
    let href = match &resolved {
        Resolved::File { .. } if path.is_dir => return Err(Error::NotFound),
        Resolved::File { .. } => path.url(false),
        Resolved::Dir(_) => path.url(true),
    };
    if cx.body_len == Some(0) {
        return Err(Error::BadRequest("a PROPPATCH needs a propertyupdate body"));
    }
    Ok(Reply::Absorb {
        sink: Box::new(PatchBody {
            reader: Reader::new(),
            resolved,
            href,
        }),
        limit: MAX_XML_BYTES as u64,
    })
}

struct PatchBody {
    reader: Reader,
    resolved: Resolved,
    href: String,
}

impl BodySink for PatchBody {
    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.reader.feed(data).map_err(Error::from)
    }

    fn finish(self: Box<Self>, _head: &Head) -> Result<Response<'static>, Error> {
        let body = self.reader.finish().map_err(Error::from)?;
        let ops = parse_update(&body).map_err(Error::BadRequest)?;
        let fd = match &self.resolved {
            Resolved::File { file, .. } => file.as_fd(),
            Resolved::Dir(dir) => dir.as_fd(),
        };
        let outcome = apply(fd, &ops);
        Ok(answer(&self.href, &ops, &outcome))
    }
}

/// One instruction of a `propertyupdate`.
#[derive(Debug)]
pub enum Op {
    Set(Element),
    Remove(Name),
}

impl Op {
    fn name(&self) -> &Name {
        match self {
            Op::Set(e) => &e.name,
            Op::Remove(n) => n,
        }
    }
}

/// Reads a `DAV:propertyupdate`: its `set` and `remove` instructions in order.
///
/// # Errors
/// Another root, no instruction, or too many.
pub fn parse_update(body: &Element) -> Result<Vec<Op>, &'static str> {
    if !body.is(DAV, "propertyupdate") {
        return Err("the body of a PROPPATCH must be a DAV:propertyupdate element");
    }
    let mut ops = Vec::new();
    for instruction in &body.children {
        let set = instruction.is(DAV, "set");
        if !set && !instruction.is(DAV, "remove") {
            continue;
        }
        for prop in instruction.children.iter().filter(|p| p.is(DAV, "prop")) {
            for e in &prop.children {
                if ops.len() == MAX_PATCH_PROPS {
                    return Err("a PROPPATCH changes too many properties");
                }
                ops.push(if set {
                    Op::Set(e.clone())
                } else {
                    Op::Remove(e.name.clone())
                });
            }
        }
    }
    if ops.is_empty() {
        return Err("a propertyupdate must set or remove a property");
    }
    Ok(ops)
}

/// What became of one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub why: Option<&'static str>,
}

const DONE: Outcome = Outcome {
    status: Status::OK,
    why: None,
};

fn is_windows(name: &Name) -> bool {
    name.ns == WINDOWS_NS && name.local.starts_with("Win32")
}

/// Carries out `ops` on the open resource, all or nothing: the outcome of each.
pub fn apply(fd: BorrowedFd<'_>, ops: &[Op]) -> Vec<Outcome> {
    let mut outcomes = vec![DONE; ops.len()];
    let mut failed = false;
    // Checked before anything changes.
    for (op, outcome) in ops.iter().zip(outcomes.iter_mut()) {
        let name = op.name();
        if name.ns == DAV && LIVE.contains(&name.local.as_str()) {
            *outcome = Outcome {
                status: Status::FORBIDDEN,
                why: Some("a live property cannot be changed (cannot-modify-protected-property)"),
            };
            failed = true;
        } else if let Op::Set(e) = op {
            if dead::encode(e).is_err() {
                *outcome = Outcome {
                    status: Status::INSUFFICIENT_STORAGE,
                    why: Some("the value is larger than a property may be"),
                };
                failed = true;
            }
        }
    }
    if !failed {
        let mut undo: Vec<(&Name, Option<Vec<u8>>)> = Vec::new();
        for (op, outcome) in ops.iter().zip(outcomes.iter_mut()) {
            let name = op.name();
            let result = change(fd, op, name, &mut undo);
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Unsupported && is_windows(name) => {}
                Err(e) => {
                    *outcome = failure(&e);
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            for (name, old) in undo.iter().rev() {
                let _ = dead::put_raw(fd, name, old.as_deref());
            }
        }
    }
    if failed {
        for outcome in outcomes.iter_mut().filter(|o| **o == DONE) {
            *outcome = Outcome {
                status: Status::FAILED_DEPENDENCY,
                why: None,
            };
        }
    }
    outcomes
}

/// Carries out one instruction, noting first how to undo it.
fn change<'o>(
    fd: BorrowedFd<'_>,
    op: &'o Op,
    name: &'o Name,
    undo: &mut Vec<(&'o Name, Option<Vec<u8>>)>,
) -> io::Result<()> {
    if !undo.iter().any(|(n, _)| *n == name) {
        undo.push((name, dead::get_raw(fd, name)?));
    }
    match op {
        Op::Set(e) => dead::put_raw(fd, name, Some(&dead::encode(e)?)),
        Op::Remove(_) => dead::put_raw(fd, name, None),
    }
}

fn failure(e: &io::Error) -> Outcome {
    const E2BIG: i32 = 7;
    const ENOSPC: i32 = 28;
    if e.kind() == io::ErrorKind::Unsupported {
        return Outcome {
            status: Status::FORBIDDEN,
            why: Some("this file system keeps no extended attributes, so dead properties cannot be stored"),
        };
    }
    match e.raw_os_error() {
        Some(E2BIG | ENOSPC) => Outcome {
            status: Status::INSUFFICIENT_STORAGE,
            why: Some("no room is left for properties on this resource"),
        },
        _ => match fs_error(io::Error::new(e.kind(), e.to_string())) {
            Error::Forbidden(why) => Outcome {
                status: Status::FORBIDDEN,
                why: Some(why),
            },
            _ => Outcome {
                status: Status::INTERNAL_SERVER_ERROR,
                why: Some("the property could not be stored"),
            },
        },
    }
}

/// The 207 answer: one propstat per outcome, in the order they first appear.
fn answer(href: &str, ops: &[Op], outcomes: &[Outcome]) -> Response<'static> {
    let mut out = String::from(MULTISTATUS_START);
    out.push_str("<D:response><D:href>");
    escape_into(href, &mut out);
    out.push_str("</D:href>");
    let mut seen: Vec<Outcome> = Vec::new();
    for o in outcomes {
        if seen.contains(o) {
            continue;
        }
        seen.push(*o);
        out.push_str("<D:propstat><D:prop>");
        for (op, _) in ops.iter().zip(outcomes).filter(|(_, x)| *x == o) {
            let name = op.name();
            write_element(
                &Element {
                    name: name.clone(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                    text: String::new(),
                },
                &mut out,
            );
        }
        out.push_str("</D:prop><D:status>HTTP/1.1 ");
        out.push_str(&o.status.0.to_string());
        out.push(' ');
        out.push_str(o.status.reason());
        out.push_str("</D:status>");
        if let Some(why) = o.why {
            out.push_str("<D:responsedescription>");
            escape_into(why, &mut out);
            out.push_str("</D:responsedescription>");
        }
        out.push_str("</D:propstat>");
    }
    out.push_str("</D:response>");
    out.push_str(MULTISTATUS_END);
    xml_answer(Status::MULTI_STATUS, out)
}
