//! One small function per endpoint. Each returns a `Response` or the `Error` to answer with;
//! none writes to the socket.

use crate::app::conditional::{self, Precondition};
use crate::app::files;
use crate::config::Config;
use crate::http::body::BodyReader;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::{Body, Response};
use crate::http::uri::percent_decode;
use crate::http::Status;
use std::io::{Read, Write};
use std::path::Path;

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

/// `GET /user-agent`: the request's User-Agent value (empty if it sent none).
pub fn user_agent(head: &Head) -> Response<'_> {
    let ua = head.headers.get("user-agent").unwrap_or_default();
    let mut resp = Response::text(Status::OK, ua);
    resp.compressible = true;
    resp
}

/// The configured directory, or the answer for a server started without one.
fn directory(config: &Config, writing: bool) -> Result<&Path, Error> {
    match (&config.directory, writing) {
        (Some(dir), _) => Ok(dir),
        (None, false) => Err(Error::NotFound),
        (None, true) => Err(Error::Forbidden(
            "this server was started without --directory, so it stores no files",
        )),
    }
}

/// `GET|HEAD /files/{name}`.
///
/// # Errors
/// See [`files::serve`].
pub fn get_file(config: &Config, head: &Head, name: &[u8]) -> Result<Response<'static>, Error> {
    let dir = directory(config, false)?;
    files::serve(dir, &files::resolve_name(name)?, head)
}

/// `POST /files/{name}`: stores the body; 201 Created.
///
/// # Errors
/// See [`files::store`].
pub fn post_file<S: Read + Write>(
    config: &Config,
    name: &[u8],
    body: &mut BodyReader<'_, S>,
) -> Result<Response<'static>, Error> {
    let dir = directory(config, true)?;
    let name = files::resolve_name(name)?;
    files::store(dir, &name, body, config.max_upload_bytes)?;
    Ok(Response::new(Status::CREATED))
}

/// `PUT /files/{name}`: stores the body; 201 if it created the file, 204 if it replaced it
/// (RFC 9110 §9.3.4). Honours If-Match and If-None-Match (`If-None-Match: *` means "only if
/// absent").
///
/// # Errors
/// 412 for a failed precondition, and see [`files::store`].
pub fn put_file<S: Read + Write>(
    config: &Config,
    head: &Head,
    name: &[u8],
    body: &mut BodyReader<'_, S>,
) -> Result<Response<'static>, Error> {
    let dir = directory(config, true)?;
    let name = files::resolve_name(name)?;
    check_write_preconditions(dir, &name, head)?;
    let replaced = files::store(dir, &name, body, config.max_upload_bytes)?;
    Ok(Response::new(if replaced {
        Status::NO_CONTENT
    } else {
        Status::CREATED
    }))
}

/// `DELETE /files/{name}`: 204, or 404 when absent.
///
/// # Errors
/// 404, 403 or 412.
pub fn delete_file(config: &Config, head: &Head, name: &[u8]) -> Result<Response<'static>, Error> {
    let dir = directory(config, true)?;
    let name = files::resolve_name(name)?;
    check_write_preconditions(dir, &name, head)?;
    files::delete(dir, &name)?;
    Ok(Response::new(Status::NO_CONTENT).body(Body::Empty))
}

fn check_write_preconditions(dir: &Path, name: &Path, head: &Head) -> Result<(), Error> {
    let current = files::current_validators(dir, name);
    match conditional::evaluate(&head.headers, current.as_ref(), false) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified | Precondition::Failed => Err(Error::PreconditionFailed),
    }
}
