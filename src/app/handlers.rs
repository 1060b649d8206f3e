//! One small function per endpoint outside `/files` (`file_handlers.rs`). Each returns a
//! `Response` or the `Error` to answer with; none writes to the socket.

use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::percent_decode;
use crate::http::Status;

/// `GET /`: 200 with an empty body.
pub fn root() -> Response<'static> {
    Response::new(Status::OK)
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
