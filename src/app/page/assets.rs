//! The page's static assets (`assets/`: the listing and start page templates, the style sheet
//! and the script), compiled into the binary with `include_str!`, and their route.
//!
//! They are served under `/_assets/{name}`, outside `/files/`, so no upload can ever shadow the
//! server's own script or style, and so they never get the sandbox policy that user files get.
//! Pages link them as `/_assets/{name}?v={VERSION}`: with the version in the URL, an answer can
//! be kept for a year (`immutable`), and a new build changes the URL. Without the right
//! version the answer must be revalidated (`no-cache`); the strong ETag makes that cheap.
//!
//! Out of scope: filling the listing template (`render.rs`).

use crate::app::negotiate::conditional::{self, Validators};
use crate::app::negotiate::encoding;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::Status;

/// The listing page's template (`{{name}}` placeholders, filled by [`fill`]).
pub const LISTING_PAGE: &str = include_str!("assets/listing.html");
/// The start page's template, for browsers asking for `/`.
pub const ROOT_PAGE: &str = include_str!("assets/root.html");
/// The page a browser gets with a 4xx or 5xx answer.
pub const ERROR_PAGE: &str = include_str!("assets/error.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/listing.js");

/// How long a browser may keep an asset fetched with the current version, in seconds (a year,
/// the longest RFC 9111 §5.2.2.1 suggests caches honour).
pub const MAX_ASSET_AGE_SECONDS: u32 = 31_536_000;

/// The Content-Security-Policy of the server's own pages: only their own script and style,
/// nothing inline, nothing from elsewhere, no framing. A name that slipped through escaping
/// still could not run.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The assets by name: (name, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("listing.js", "text/javascript; charset=utf-8", SCRIPT),
    ("style.css", "text/css; charset=utf-8", STYLE),
];

/// FNV-1a over bytes, at compile time (the same function as `listing::Fnv`).
const fn fnv(mut h: u64, mut bytes: &[u8]) -> u64 {
    while let [b, rest @ ..] = bytes {
        h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        bytes = rest;
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The version of all assets together, in their URLs.
pub const VERSION: u64 = fnv(
    fnv(fnv(FNV_START, STYLE.as_bytes()), SCRIPT.as_bytes()),
    LISTING_PAGE.as_bytes(),
);

/// Fills `{{name}}` placeholders in one pass: text put in is never scanned again, so a file
/// name that contains `{{rows}}` stays just text. An unknown placeholder is left out.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("}}") else {
            out.push_str(rest.get(start..).unwrap_or_default());
            return out;
        };
        let key = after.get(..end).unwrap_or_default();
        if let Some((_, value)) = values.iter().find(|(k, _)| *k == key) {
            out.push_str(value);
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Answers `GET|HEAD /_assets/{name}`: the asset with a strong ETag (its own, per coding),
/// gzipped when the client takes it, and cacheable for a year when asked for with the current
/// version (`?v=`).
///
/// # Errors
/// 404 for an unknown name, 412 for a failed precondition.
pub fn serve(name: &[u8], query: Option<&[u8]>, head: &Head) -> Result<Response<'static>, Error> {
    let Some(&(_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| n.as_bytes() == name)
    else {
        return Err(Error::NotFound);
    };
    let current = format!("v={VERSION:016x}");
    let cache = if query == Some(current.as_bytes()) {
        format!("public, max-age={MAX_ASSET_AGE_SECONDS}, immutable")
    } else {
        "no-cache".to_string()
    };
    let gzip = encoding::wants_gzip(&head.headers);
    let tag = fnv(FNV_START, body.as_bytes());
    let v = Validators {
        etag: format!("\"{tag:016x}{}\"", if gzip { "-gzip" } else { "" }),
        modified: 0,
        variant: None,
    };
    let mut resp = Response::new(Status::OK)
        .header("Content-Type", content_type)
        .header("Cache-Control", cache)
        .header("ETag", v.etag.clone())
        .header("Vary", "Accept-Encoding")
        .header("X-Content-Type-Options", "nosniff");
    if conditional::not_modified(&head.headers, &v, true)? {
        resp.status = Status::NOT_MODIFIED;
        return Ok(resp);
    }
    if gzip {
        let packed = encoding::gzip(body.as_bytes())?;
        return Ok(resp
            .header("Content-Encoding", "gzip")
            .body(Body::Bytes(packed)));
    }
    Ok(resp.body(Body::Borrowed(body.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_once() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("a{{x}}b", &[("x", "1")], "a1b"),
            ("{{x}}{{y}}", &[("x", "{{y}}"), ("y", "2")], "{{y}}2"),
            ("{{unknown}}!", &[], "!"),
            ("open {{x", &[("x", "1")], "open {{x"),
            ("none", &[("x", "1")], "none"),
        ];
        for (template, values, want) in cases {
            assert_eq!(fill(template, values), *want, "{template}");
        }
    }

    #[test]
    fn every_placeholder_of_the_pages_is_known() {
        let known = [
            "title",
            "version",
            "can_write",
            "login",
            "crumbs",
            "notice",
            "rows",
            "count",
            "query",
            "archive",
            "message",
            "back",
            "back_text",
        ];
        for page in [LISTING_PAGE, ROOT_PAGE, ERROR_PAGE] {
            let mut rest = page;
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let end = after.find("}}").unwrap();
                let key = &after[..end];
                assert!(known.contains(&key) || key == "files", "{key}");
                rest = &after[end + 2..];
            }
        }
    }

    #[test]
    fn the_pages_load_nothing_from_elsewhere() {
        for page in [LISTING_PAGE, ROOT_PAGE, ERROR_PAGE, STYLE, SCRIPT] {
            assert!(!page.contains("http://") && !page.contains("https://"));
            assert!(!page.contains("innerHTML"), "no HTML built from strings");
        }
    }
}
