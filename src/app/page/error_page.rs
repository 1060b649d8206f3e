//! Errors as a browser sees them: a client that prefers `text/html` gets a small page for a 4xx
//! or 5xx answer (the status, the reason the server gives in text anyway, and a link to the
//! nearest folder that exists), instead of the browser's own "HTTP ERROR 404". Every other
//! client (curl, scripts, the CodeCrafters checker) keeps the one-line text, byte for byte.
//!
//! The page keeps the error's status and headers (`Allow`, `WWW-Authenticate`, `Retry-After`,
//! ...), adds `Vary: Accept`, and has the same policy as the server's other pages.
//!
//! Out of scope: what each error says (`http/error.rs`).

use crate::app::negotiate::accept;
use crate::app::page::assets;
use crate::app::page::escape;
use crate::app::router::{route, Route};
use crate::app::store::fsroot::{self, Resolved, Root};
use crate::app::store::paths::parse_file_path;
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};

/// The answer to `e` for this request: the page for a browser, the error's own otherwise.
pub fn answer(
    config: &StoreConfig,
    root: Option<&Root>,
    head: &Head,
    e: &Error,
) -> Response<'static> {
    let plain = e.response();
    let is_error = (400..600).contains(&plain.status.0);
    // The same rule as `/`: on a tie with "anything", the plain answer wins (curl's `*/*`).
    let wants_page =
        accept::preferred(&head.headers, &["application/octet-stream", "text/html"]) == Some(1);
    if !is_error || !wants_page {
        return plain;
    }
    let status = plain.status;
    let title = format!("{} {}", status.0, status.reason());
    let (back, back_text) = nearest_folder(config, root, head.target());
    let text = match e {
        Error::NotFound => format!(
            "There is nothing at {}.",
            String::from_utf8_lossy(head.target())
        ),
        e => sentence(&e.message()),
    };
    let mut message = String::new();
    escape::push_html(&mut message, &text);
    let mut back_url = String::new();
    escape::push_html(&mut back_url, &back);
    let mut back_label = String::new();
    escape::push_html(&mut back_label, &back_text);
    let version = format!("{:016x}", assets::VERSION);
    let page = assets::fill(
        assets::ERROR_PAGE,
        &[
            ("title", &title),
            ("message", &message),
            ("back", &back_url),
            ("back_text", &back_label),
            ("version", &version),
        ],
    );
    let mut resp = Response::new(status);
    for (name, value) in plain.headers.iter() {
        if !name.eq_ignore_ascii_case("content-type") {
            resp.headers.push((name, value.clone()));
        }
    }
    resp.header("Content-Type", "text/html; charset=utf-8")
        .header("Vary", "Accept")
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", assets::PAGE_POLICY)
        .body(Body::Bytes(page.into_bytes()))
}

/// The error's text as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Where to go from here: the closest folder above the target that exists (for a target under
/// `/files/`), else the folder page's root, else the start page.
fn nearest_folder(config: &StoreConfig, root: Option<&Root>, target: &[u8]) -> (String, String) {
    let home = ("/".to_string(), "Back to the start page".to_string());
    let Some(root) = root.filter(|_| config.listing) else {
        return home;
    };
    let files = ("/files/".to_string(), "Go to the folder's top".to_string());
    let Ok(Route::File(raw)) = route(target) else {
        return files;
    };
    // Parents of the target, nearest first: "a/b/c" gives "a/b/", then "a/".
    let mut end = raw.len();
    while let Some(slash) = raw
        .get(..end.saturating_sub(1))
        .and_then(|r| r.iter().rposition(|&b| b == b'/'))
    {
        end = slash + 1;
        let candidate = raw.get(..end).unwrap_or_default();
        let is_dir = parse_file_path(candidate)
            .and_then(|path| fsroot::resolve(root, &path))
            .is_ok_and(|r| matches!(r, Resolved::Dir(_)));
        if is_dir {
            let url = format!("/files/{}", String::from_utf8_lossy(candidate));
            return (url.clone(), format!("Go to {url}"));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_sentences() {
        assert_eq!(sentence("not found"), "Not found.");
        assert_eq!(sentence("forbidden: done."), "Forbidden: done.");
        assert_eq!(sentence(""), ".");
    }
}
