//! The XML answers WebDAV methods share: a `207 Multi-Status` made whole (for a few resources),
//! an error with its precondition element (RFC 4918 §16), and the list of what a `DELETE` of a
//! folder could not remove.
//!
//! Out of scope: the streamed multistatus of a folder (`propfind.rs`), one resource's
//! properties (`props.rs`).

use super::props::{MULTISTATUS_END, MULTISTATUS_START};
use super::xml::escape_into;
use crate::app::page::escape::push_url_component;
use crate::app::store::paths::FilePath;
use crate::app::store::tree::Failure;
use crate::http::response::Response;
use crate::http::Status;
use std::os::unix::ffi::OsStrExt;

/// The type of every XML answer (RFC 4918 §8.2 prefers `application/xml`).
pub const XML_TYPE: &str = "application/xml; charset=utf-8";

/// An XML answer with this status and body.
pub fn xml(status: Status, body: String) -> Response<'static> {
    Response::new(status)
        .header("Content-Type", XML_TYPE)
        .header("Cache-Control", "no-cache")
        .body(body.into())
}

/// An error answer naming the precondition or postcondition that failed, e.g.
/// `propfind-finite-depth` (RFC 4918 §16).
pub fn condition(status: Status, element: &str) -> Response<'static> {
    xml(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <D:error xmlns:D=\"DAV:\"><D:{element}/></D:error>\n"
        ),
    )
}

/// `207 Multi-Status` naming each resource under `base` (a folder's path) that a removal could
/// not remove, with its status and reason.
pub fn failures(base: &FilePath, failures: &[Failure]) -> Response<'static> {
    let mut out = String::from(MULTISTATUS_START);
    for f in failures {
        let mut href = base.url(true);
        for (i, part) in f.path.iter().enumerate() {
            if i > 0 {
                href.push('/');
            }
            push_url_component(&mut href, part.as_bytes());
        }
        if f.is_dir && !f.path.as_os_str().is_empty() {
            href.push('/');
        }
        let status = f.error.status();
        out.push_str("<D:response><D:href>");
        escape_into(&href, &mut out);
        out.push_str("</D:href><D:status>HTTP/1.1 ");
        out.push_str(&status.0.to_string());
        out.push(' ');
        out.push_str(status.reason());
        out.push_str("</D:status><D:responsedescription>");
        escape_into(&f.error.message(), &mut out);
        out.push_str("</D:responsedescription></D:response>");
    }
    out.push_str(MULTISTATUS_END);
    xml(Status::MULTI_STATUS, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dav::xml::{parse, DAV};
    use crate::http::error::Error;
    use std::path::PathBuf;

    #[test]
    fn names_each_entry_a_removal_left() {
        let base = FilePath {
            parts: vec!["a b".into()],
            is_dir: true,
        };
        let left = [
            Failure {
                path: PathBuf::from("in/x&y"),
                is_dir: false,
                error: Error::Forbidden("permission denied"),
            },
            Failure {
                path: PathBuf::from("sub"),
                is_dir: true,
                error: Error::Forbidden("the folder is nested too deeply"),
            },
        ];
        let r = failures(&base, &left);
        assert_eq!(r.status, Status::MULTI_STATUS);
        let body = parse(r.body.in_memory().unwrap()).unwrap();
        let hrefs: Vec<_> = body
            .children
            .iter()
            .map(|c| c.child(DAV, "href").unwrap().text.clone())
            .collect();
        assert_eq!(hrefs, ["/files/a%20b/in/x%26y", "/files/a%20b/sub/"]);
        let status = &body.children[0].child(DAV, "status").unwrap().text;
        assert_eq!(status, "HTTP/1.1 403 Forbidden");
    }
}
