//! One small function per endpoint outside `/files` (`file_handlers.rs`). Each returns a
//! `Response` or the `Error` to answer with; none writes to the socket.

use crate::app::{accept, assets};
use crate::config::Config;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::percent_decode;
use crate::http::Status;

/// `GET /`: for a client that prefers HTML (a browser), a small page that says what this is
/// and links to `/files/`; for every other client (curl's `*/*`, no Accept at all, the
/// CodeCrafters checker) 200 with an empty body, byte for byte as before.
pub fn root(config: &Config, head: &Head) -> Response<'static> {
    // The empty answer stands for "anything"; on a tie it wins.
    if accept::preferred(&head.headers, &["application/octet-stream", "text/html"]) != Some(1) {
        return Response::new(Status::OK);
    }
    let files = match (&config.directory, config.listing) {
        (Some(_), true) => "<p class=\"big\"><a href=\"/files/\">Browse the files</a></p>",
        (Some(_), false) => {
            "<p>Files are served by name under <code>/files/</code>; folder listings are off.</p>"
        }
        (None, _) => {
            "<p>No folder is shared: the server was started without <code>--directory</code>.</p>"
        }
    };
    let version = format!("{:016x}", assets::VERSION);
    let page = assets::fill(
        assets::ROOT_PAGE,
        &[("files", files), ("version", &version)],
    );
    Response::new(Status::OK)
        .header("Content-Type", "text/html; charset=utf-8")
        .header("Vary", "Accept")
        .header("Cache-Control", "no-cache")
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", assets::PAGE_POLICY)
        .body(Body::Bytes(page.into_bytes()))
}

/// `GET /echo/{text}`: the text, percent-decoded, as `text/plain`.
///
/// # Errors
/// 400 for invalid percent-encoding.
pub fn echo(text: &[u8]) -> Result<Response<'_>, Error> {
    // Without escapes the text is its own decoding: send it from the request, uncopied.
    let body: Body<'_> = if text.contains(&b'%') {
        percent_decode(text)?.into()
    } else {
        text.into()
    };
    let mut resp = Response::text(Status::OK, body);
    resp.compressible = true;
    Ok(resp)
}

/// `GET /user-agent`: the request's User-Agent value (empty if it sent none), with
/// `Vary: User-Agent`.
pub fn user_agent(head: &Head) -> Response<'_> {
    let ua = head.headers.get("user-agent").unwrap_or_default();
    // The answer is a function of User-Agent: a shared cache must key it by that too, or it
    // would hand one client's answer to another (RFC 9110 §12.5.5).
    let mut resp = Response::text(Status::OK, ua).header("Vary", "User-Agent, Accept-Encoding");
    resp.compressible = true;
    resp
}
