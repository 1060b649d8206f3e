//! WebDAV properties (RFC 4918 §15): what a `PROPFIND` body asks for, and one resource's
//! `<D:response>` in a `207 Multi-Status`, written straight into the body being sent so that a
//! folder of any size streams in bounded memory.
//!
//! The live properties come from the file system, with the same values as `GET` gives:
//! `getetag` is the `ETag`, `getcontenttype` the `Content-Type`, `getlastmodified` the
//! `Last-Modified`. Dead properties (set with `PROPPATCH`) are given back as they were stored.
//!
//! Out of scope: reading the folder and the dead properties (the caller), the request body's
//! XML (`xml.rs`).

use super::xml::{escape_into, write_element, Element, Name, DAV};
use crate::calendar::civil_from_days;
use crate::http::date::format_http_date;
use std::fmt::Write as _;

/// The live properties this server keeps, in the order `allprop` and `propname` give them.
pub const LIVE: &[&str] = &[
    "resourcetype",
    "getcontentlength",
    "getlastmodified",
    "getetag",
    "getcontenttype",
    "creationdate",
    "displayname",
    "supportedlock",
    "lockdiscovery",
];

/// What a `PROPFIND` asks for (RFC 4918 §9.1): no body means `allprop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Every live property and every dead one (`include` adds none this server leaves out).
    AllProp,
    /// The names of the properties, without values.
    PropName,
    /// These properties.
    Prop(Vec<Name>),
}

/// Reads a `PROPFIND` body (`None`: empty, which is `allprop`).
///
/// # Errors
/// A root other than `DAV:propfind`, or none of `allprop`, `propname`, `prop` in it.
pub fn parse_request(body: Option<&Element>) -> Result<Request, &'static str> {
    let Some(root) = body else {
        return Ok(Request::AllProp);
    };
    if !root.is(DAV, "propfind") {
        return Err("the body of a PROPFIND must be a DAV:propfind element");
    }
    for child in &root.children {
        if child.is(DAV, "allprop") {
            return Ok(Request::AllProp);
        }
        if child.is(DAV, "propname") {
            return Ok(Request::PropName);
        }
        if child.is(DAV, "prop") {
            return Ok(Request::Prop(
                child.children.iter().map(|c| c.name.clone()).collect(),
            ));
        }
    }
    Err("a DAV:propfind must hold allprop, propname or prop")
}

/// What is known of one resource for its properties.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// Its URL path, percent-encoded (a folder's ends in '/').
    pub href: &'a str,
    /// Its name as people read it (the last component, decoded); empty for the root.
    pub display_name: &'a str,
    pub is_dir: bool,
    pub size: u64,
    /// Seconds since the epoch.
    pub modified: u64,
    /// When the file system knows it (statx's birth time).
    pub created: Option<u64>,
    /// The `ETag` GET gives (files only).
    pub etag: Option<&'a str>,
    /// The `Content-Type` GET gives (files only).
    pub content_type: Option<&'a str>,
    /// Its dead properties, as stored.
    pub dead: &'a [Element],
    /// Its active locks, each as a `DAV:activelock` element (empty: none).
    pub locks: &'a [Element],
}

/// Appends one `<D:response>` for `r`, answering `request`.
pub fn write_response(out: &mut String, r: &Resource<'_>, request: &Request) {
    out.push_str("<D:response><D:href>");
    escape_into(r.href, out);
    out.push_str("</D:href>");
    match request {
        Request::PropName => {
            out.push_str("<D:propstat><D:prop>");
            for name in LIVE.iter().filter(|n| has_live(r, n)) {
                let _ = write!(out, "<D:{name}/>");
            }
            for d in r.dead {
                write_element(&empty(&d.name), out);
            }
            out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        }
        Request::AllProp => {
            out.push_str("<D:propstat><D:prop>");
            for name in LIVE.iter().filter(|n| has_live(r, n)) {
                write_live(out, r, name);
            }
            for d in r.dead {
                write_element(d, out);
            }
            out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        }
        Request::Prop(names) => {
            let mut found = String::new();
            let mut missing = String::new();
            for name in names {
                if name.ns == DAV && has_live(r, &name.local) {
                    write_live(&mut found, r, &name.local);
                } else if let Some(d) = r.dead.iter().find(|d| d.name == *name) {
                    write_element(d, &mut found);
                } else {
                    write_element(&empty(name), &mut missing);
                }
            }
            for (props, status) in [(found, "200 OK"), (missing, "404 Not Found")] {
                if !props.is_empty() {
                    let _ = write!(
                        out,
                        "<D:propstat><D:prop>{props}</D:prop>\
                         <D:status>HTTP/1.1 {status}</D:status></D:propstat>"
                    );
                }
            }
        }
    }
    out.push_str("</D:response>");
}

fn empty(name: &Name) -> Element {
    Element {
        name: name.clone(),
        attrs: Vec::new(),
        children: Vec::new(),
        text: String::new(),
    }
}

/// Whether `r` has the live property `name` (a folder has no length, type or tag).
fn has_live(r: &Resource<'_>, name: &str) -> bool {
    match name {
        "getcontentlength" => !r.is_dir,
        "getetag" => r.etag.is_some(),
        "getcontenttype" => r.content_type.is_some(),
        "creationdate" => r.created.is_some(),
        _ => LIVE.contains(&name),
    }
}

fn write_live(out: &mut String, r: &Resource<'_>, name: &str) {
    match name {
        "resourcetype" if r.is_dir => out.push_str("<D:resourcetype><D:collection/></D:resourcetype>"),
        "resourcetype" => out.push_str("<D:resourcetype/>"),
        "getcontentlength" => {
            let _ = write!(out, "<D:getcontentlength>{}</D:getcontentlength>", r.size);
        }
        "getlastmodified" => {
            let _ = write!(
                out,
                "<D:getlastmodified>{}</D:getlastmodified>",
                format_http_date(r.modified)
            );
        }
        "getetag" => {
            out.push_str("<D:getetag>");
            escape_into(r.etag.unwrap_or_default(), out);
            out.push_str("</D:getetag>");
        }
        "getcontenttype" => {
            out.push_str("<D:getcontenttype>");
            escape_into(r.content_type.unwrap_or_default(), out);
            out.push_str("</D:getcontenttype>");
        }
        "creationdate" => {
            let _ = write!(
                out,
                "<D:creationdate>{}</D:creationdate>",
                rfc3339(r.created.unwrap_or_default())
            );
        }
        "displayname" => {
            out.push_str("<D:displayname>");
            escape_into(r.display_name, out);
            out.push_str("</D:displayname>");
        }
        "supportedlock" => out.push_str(
            "<D:supportedlock>\
             <D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
             <D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
             </D:supportedlock>",
        ),
        "lockdiscovery" => {
            out.push_str("<D:lockdiscovery>");
            for lock in r.locks {
                write_element(lock, out);
            }
            out.push_str("</D:lockdiscovery>");
        }
        _ => {}
    }
}

/// `creationdate` is RFC 3339 (RFC 4918 §15.1), unlike `getlastmodified`.
fn rfc3339(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The start of a multistatus body.
pub const MULTISTATUS_START: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">";
/// Its end.
pub const MULTISTATUS_END: &str = "</D:multistatus>\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dav::xml::parse;

    fn file<'a>(dead: &'a [Element]) -> Resource<'a> {
        Resource {
            href: "/files/a%20b.txt",
            display_name: "a b.txt",
            is_dir: false,
            size: 12,
            modified: 784_111_777,
            created: Some(784_111_000),
            etag: Some("\"c-1\""),
            content_type: Some("text/plain; charset=utf-8"),
            dead,
            locks: &[],
        }
    }

    /// The response, wrapped in a multistatus and read back with the XML reader.
    fn answer(r: &Resource<'_>, request: &Request) -> Element {
        let mut out = String::from(MULTISTATUS_START);
        write_response(&mut out, r, request);
        out.push_str(MULTISTATUS_END);
        parse(out.as_bytes()).unwrap()
    }

    fn props(response: &Element, status: &str) -> Vec<String> {
        response
            .children
            .iter()
            .filter(|p| p.is(DAV, "propstat"))
            .filter(|p| p.child(DAV, "status").unwrap().text.contains(status))
            .flat_map(|p| p.child(DAV, "prop").unwrap().children.iter())
            .map(|e| format!("{}{}", e.name.ns, e.name.local))
            .collect()
    }

    #[test]
    fn parses_propfind_bodies() {
        assert_eq!(parse_request(None), Ok(Request::AllProp));
        let body = parse(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap();
        assert_eq!(parse_request(Some(&body)), Ok(Request::PropName));
        let body = parse(br#"<D:propfind xmlns:D="DAV:" xmlns:z="urn:z"><D:prop><D:getetag/><z:x/></D:prop></D:propfind>"#).unwrap();
        let Ok(Request::Prop(names)) = parse_request(Some(&body)) else {
            panic!()
        };
        assert_eq!(names.len(), 2);
        let body = parse(b"<propfind/>").unwrap();
        assert!(parse_request(Some(&body)).is_err(), "not in DAV:");
    }

    #[test]
    fn allprop_gives_every_live_property_and_the_dead_ones() {
        let dead = [parse(br#"<z:author xmlns:z="urn:z">Ann &amp; Bo</z:author>"#).unwrap()];
        let ms = answer(&file(&dead), &Request::AllProp);
        let response = ms.child(DAV, "response").unwrap();
        assert_eq!(
            response.child(DAV, "href").unwrap().text,
            "/files/a%20b.txt"
        );
        let ok = props(response, "200");
        assert_eq!(ok.len(), LIVE.len() + 1, "{ok:?}");
        assert!(ok.contains(&"urn:zauthor".to_string()));
        let prop = response
            .child(DAV, "propstat")
            .unwrap()
            .child(DAV, "prop")
            .unwrap();
        assert_eq!(
            prop.child(DAV, "getlastmodified").unwrap().text,
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(prop.child(DAV, "getetag").unwrap().text, "\"c-1\"");
        assert_eq!(
            prop.child(DAV, "creationdate").unwrap().text,
            "1994-11-06T08:36:40Z"
        );
        assert_eq!(prop.child("urn:z", "author").unwrap().text, "Ann & Bo");
    }

    #[test]
    fn named_properties_unknown_ones_get_404() {
        let request = Request::Prop(vec![
            Name {
                ns: DAV.into(),
                local: "getcontentlength".into(),
            },
            Name {
                ns: "urn:x".into(),
                local: "nothing".into(),
            },
        ]);
        let ms = answer(&file(&[]), &request);
        let response = ms.child(DAV, "response").unwrap();
        assert_eq!(props(response, "200"), ["DAV:getcontentlength"]);
        assert_eq!(props(response, "404"), ["urn:xnothing"]);
        // A folder has no length.
        let mut dir = file(&[]);
        dir.is_dir = true;
        let ms = answer(&dir, &request);
        let response = ms.child(DAV, "response").unwrap();
        assert_eq!(props(response, "404").len(), 2);
    }

    #[test]
    fn without_a_birth_time_creationdate_is_absent() {
        let mut r = file(&[]);
        r.created = None;
        let named = Request::Prop(vec![Name {
            ns: DAV.into(),
            local: "creationdate".into(),
        }]);
        let response = answer(&r, &named);
        let response = response.child(DAV, "response").unwrap();
        assert_eq!(props(response, "404"), ["DAV:creationdate"]);
        assert!(props(response, "200").is_empty());
        for request in [Request::AllProp, Request::PropName] {
            let ms = answer(&r, &request);
            let ok = props(ms.child(DAV, "response").unwrap(), "200");
            assert_eq!(ok.len(), LIVE.len() - 1, "{request:?}");
            assert!(!ok.contains(&"DAV:creationdate".to_string()), "{request:?}");
        }
    }

    #[test]
    fn propname_gives_names_only_and_names_are_escaped() {
        let mut r = file(&[]);
        r.href = "/files/<&>";
        r.display_name = "<&>";
        let mut out = String::new();
        write_response(&mut out, &r, &Request::AllProp);
        assert!(
            out.contains("<D:href>/files/&lt;&amp;&gt;</D:href>"),
            "{out}"
        );
        assert!(
            out.contains("<D:displayname>&lt;&amp;&gt;</D:displayname>"),
            "{out}"
        );
        let ms = answer(&file(&[]), &Request::PropName);
        let prop = ms
            .child(DAV, "response")
            .unwrap()
            .child(DAV, "propstat")
            .unwrap()
            .child(DAV, "prop")
            .unwrap();
        assert!(prop
            .children
            .iter()
            .all(|c| c.text.is_empty() && c.children.is_empty()));
    }
}
