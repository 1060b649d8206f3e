//! One small function per endpoint outside `/files` (`file_handlers.rs`). Each returns a
//! `Response` or the `Error` to answer with; none writes to the socket.

use crate::app::negotiate::accept;
use crate::app::page::assets;
use crate::config::StoreConfig;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::percent_decode;
use crate::http::{Method, Status};

/// `GET /`: for a client that prefers HTML (a browser), a small page that says what this is
/// and links to `/files/`; for every other client (curl's `*/*`, no Accept at all, the
/// CodeCrafters checker) 200 with an empty body, byte for byte as before.
pub fn root(config: &StoreConfig, head: &Head) -> Response<'static> {
    // The empty answer stands for "anything"; on a tie it wins. Either varies with Accept, so
    // a shared cache must not give one to a client that asked for the other.
    if accept::preferred(&head.headers, &["application/octet-stream", "text/html"]) != Some(1) {
        return Response::new(Status::OK).header("Vary", "Accept");
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
    Ok(Response::text(Status::OK, body))
}

/// `GET /user-agent`: the request's User-Agent value (empty if it sent none), with
/// `Vary: User-Agent`.
pub fn user_agent(head: &Head) -> Response<'_> {
    let ua = head.headers.get("user-agent").unwrap_or_default();
    // The answer is a function of User-Agent: a shared cache must key it by that too, or it
    // would hand one client's answer to another (RFC 9110 §12.5.5).
    Response::text(Status::OK, ua).header("Vary", "User-Agent, Accept-Encoding")
}

/// `GET /health`: 200 `ok` while serving, 503 `draining` once a shutdown has begun (so that a
/// load balancer stops sending here). Never stored by a cache.
///
/// # Errors
/// None today; a `Result` like its neighbours.
pub fn health(draining: bool, head: &Head) -> Result<Response<'static>, Error> {
    if !matches!(head.method, Method::Get | Method::Head) {
        return Err(Error::MethodNotAllowed("GET, HEAD"));
    }
    let (status, text) = if draining {
        (Status::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (Status::OK, "ok\n")
    };
    Ok(Response::text(status, text.to_string()).header("Cache-Control", "no-store"))
}

/// `GET /_login?to=/files/...`: a browser's way to log in where anonymous clients may read:
/// 401 with the Basic challenge until it sends credentials that the access check accepted,
/// then 303 back to `to` (only a path under `/files/`; anything else goes to `/files/`).
///
/// # Errors
/// 401 while not logged in.
pub fn login(query: Option<&[u8]>, logged_in: bool) -> Result<Response<'static>, Error> {
    if !logged_in {
        return Err(crate::access::unauthorized("log in to continue"));
    }
    let to = query
        .into_iter()
        .flat_map(|q| q.split(|&b| b == b'&'))
        .find_map(|pair| pair.strip_prefix(b"to="))
        .filter(|to| {
            to.starts_with(b"/files/")
                && to
                    .iter()
                    .all(|&b| b.is_ascii_graphic() && b != b'\\' && b != b'"')
        })
        .unwrap_or(b"/files/");
    Ok(Response::new(Status::SEE_OTHER)
        .header("Location", String::from_utf8_lossy(to).into_owned())
        .header("Cache-Control", "no-store")
        .body(Body::Empty))
}
