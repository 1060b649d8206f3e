//! Picks the handler for a request: reduces the target to a path (origin-form, absolute-form or
//! `*`), drops the query, matches the path, and checks the method. Gives 404 for unknown paths,
//! 405 with `Allow` for a known method on a route that does not take it, 501 for unknown
//! methods, checks WebDAV's locks and `If` header before any write under `/files/`, and answers
//! OPTIONS itself (with `DAV` on `/files/`, `/` and `*`).
//!
//! Out of scope: what each route does (`handlers.rs`).

use crate::app::dav::{lockmethods, methods, propfind, proppatch};
use crate::app::file_handlers::{self, with_store_headers, ALLOW_DIR};
use crate::app::handlers;
use crate::app::negotiate::encoding;
use crate::app::page::assets;
use crate::app::page::error_page;
use crate::app::page::render::Viewer;
use crate::app::App;
use crate::config::Rights;
use crate::http::error::Error;
use crate::http::handler::{Context, Handler, Reply, Who};
use crate::http::parse::Head;
use crate::http::response::Response;
use crate::http::scan::find_either;
use crate::http::uri::is_valid_percent_encoding;
use crate::http::{Method, Status};

const ALLOW_READ_ONLY: &str = "GET, HEAD, OPTIONS";
/// A file: HTTP's methods and WebDAV's (class 1).
const ALLOW_FILES: &str =
    "GET, HEAD, POST, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";
/// `/files/` itself, which cannot be replaced, moved or removed, and `/` under --read-only.
const ALLOW_FILES_ROOT: &str = "GET, HEAD, OPTIONS, PROPFIND, PROPPATCH, LOCK, UNLOCK";
/// What a WebDAV client may do with `/files/...` under --read-only, and with `/`.
const ALLOW_DAV_READ: &str = "GET, HEAD, OPTIONS, PROPFIND";

/// The routes this server has.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `OPTIONS *`: the server as a whole.
    Server,
    Root,
    /// `/echo/{text}`, the text still percent-encoded.
    Echo(&'a [u8]),
    UserAgent,
    /// `/health`: for load balancers and orchestrators.
    Health,
    /// `/_login?to=...`: asks a browser to log in, then sends it back to `to`.
    Login(Option<&'a [u8]>),
    /// `/files/{path}`, the path still percent-encoded.
    File(&'a [u8]),
    /// `/_assets/{name}` and its query, if any (the version).
    Asset(&'a [u8], Option<&'a [u8]>),
    /// `/favicon.ico`, which browsers ask for on their own: there is none.
    Favicon,
    NotFound,
}

impl Route<'_> {
    fn allow(&self) -> &'static str {
        match self {
            // The root folder cannot be replaced or removed.
            Route::File(b"") => ALLOW_FILES_ROOT,
            Route::File(path) if path.ends_with(b"/") => ALLOW_DIR,
            Route::File(_) => ALLOW_FILES,
            Route::Server => ALLOW_FILES,
            // PROPFIND at `/` leads a WebDAV client to `/files/`.
            Route::Root => ALLOW_DAV_READ,
            _ => ALLOW_READ_ONLY,
        }
    }

    /// What the route takes under --read-only.
    fn allow_read_only(&self) -> &'static str {
        match self {
            Route::File(_) | Route::Server | Route::Root => ALLOW_DAV_READ,
            _ => ALLOW_READ_ONLY,
        }
    }

    /// Whether OPTIONS here says that this is a WebDAV server.
    fn is_dav(&self) -> bool {
        matches!(self, Route::File(_) | Route::Server | Route::Root)
    }
}

/// Maps a request target to a route.
///
/// # Errors
/// 400 for a target that is in no form a server accepts.
pub fn route(target: &[u8]) -> Result<Route<'_>, Error> {
    if target == b"*" {
        return Ok(Route::Server);
    }
    let path = path_of(target)?;
    // The query is split off; no route uses it. A fragment is never sent, but cut it too.
    let (path, query) = match find_either(path, b'?', b'#') {
        Some(end) => {
            let query = path
                .get(end..)
                .and_then(|q| q.strip_prefix(b"?"))
                .map(|q| q.split(|&b| b == b'#').next().unwrap_or_default());
            (path.get(..end).unwrap_or_default(), query)
        }
        None => (path, None),
    };
    if !is_valid_percent_encoding(path) {
        return Err(Error::BadRequest("invalid percent-encoding"));
    }
    Ok(match path {
        b"/" => Route::Root,
        b"/user-agent" => Route::UserAgent,
        b"/health" => Route::Health,
        b"/_login" => Route::Login(query),
        b"/favicon.ico" => Route::Favicon,
        _ => {
            if let Some(text) = path.strip_prefix(b"/echo/") {
                Route::Echo(text)
            } else if let Some(name) = path.strip_prefix(b"/files/") {
                Route::File(name)
            } else if let Some(name) = path.strip_prefix(b"/_assets/") {
                Route::Asset(name, query)
            } else {
                Route::NotFound
            }
        }
    })
}

/// The path of an origin-form or absolute-form target (RFC 9112 §3.2).
fn path_of(target: &[u8]) -> Result<&[u8], Error> {
    if target.first() == Some(&b'/') {
        return Ok(target);
    }
    let lower_starts = |prefix: &[u8]| {
        target
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let rest = if lower_starts(b"http://") {
        target.get(7..)
    } else if lower_starts(b"https://") {
        target.get(8..)
    } else {
        None
    }
    .ok_or(Error::BadRequest("invalid request target"))?;
    // Absolute-form: the authority runs to the first '/', '?' or '#'; the path is the rest.
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    if end == 0 {
        return Err(Error::BadRequest("absolute-form target without a host"));
    }
    let path = rest.get(end..).unwrap_or_default();
    Ok(if path.first() == Some(&b'/') {
        path
    } else {
        b"/"
    })
}

impl Handler for App {
    fn handle<'h>(&self, cx: &Context, head: &'h Head, who: &mut Who) -> Result<Reply<'h>, Error> {
        respond(self, cx, head, who)
    }

    fn describe(&self) -> String {
        match &self.config.directory {
            Some(d) => format!("directory {}", d.display()),
            None => "directory (none: /files disabled)".to_string(),
        }
    }

    fn error_response(&self, head: &Head, e: &Error) -> Response<'static> {
        error_page::answer(&self.config, self.root.as_ref(), head, e)
    }
}

/// The server's handler: answers a health check at once; checks access (see
/// [`crate::access`]); routes the request and runs its handler; gzips the answer when the client
/// accepts it and the answer allows it.
///
/// # Errors
/// The access check's 401/403/421/429, as for [`dispatch`], and a failure to compress (500).
pub fn respond<'h>(
    app: &App,
    cx: &Context,
    head: &'h Head,
    who: &mut Who,
) -> Result<Reply<'h>, Error> {
    let config = &app.config;
    // Routed once; a target that is in no form gets its 400 after the access check, as any
    // other request does.
    let route = route(head.target());
    match route {
        // A load balancer asks without credentials, under whatever Host it was configured
        // with; the answer reveals nothing.
        Ok(Route::Health) => return handlers::health(cx.draining, head).map(Reply::Answer),
        // Without users there is nobody to log in as: the login page is not there.
        Ok(Route::Login(_)) if !app.access.has_users() => return Err(Error::NotFound),
        // Browsers ask for this on their own, without the credentials they hold for the
        // page: a 401 or a 404 would only fill their consoles. There is none, whoever asks:
        // 204, which a browser takes as "no icon", and may remember for a day.
        Ok(Route::Favicon) if matches!(head.method, Method::Get | Method::Head) => {
            return Ok(Reply::Answer(
                Response::new(Status::NO_CONTENT).header("Cache-Control", "max-age=86400"),
            ));
        }
        _ => {}
    }
    // WebDAV's methods all change something, but PROPFIND, which reads.
    let write = matches!(head.method, Method::Put | Method::Post | Method::Delete)
        || (head.method.is_webdav() && head.method != Method::Propfind);
    let checked = app.access.check(cx.peer.ip(), head, write);
    who.client = checked.client;
    who.user = checked.user;
    let grant = checked.outcome?;
    let viewer = Viewer {
        can_write: grant.rights == Rights::Write && !config.read_only,
        offer_login: who.user.is_none() && app.access.login_would_help(),
        archives: config.archives,
    };
    dispatch(app, viewer, who.user.is_some(), cx, head, route)
}

/// A text answer, gzipped if the client asks for it (and `Vary: Accept-Encoding` either way).
fn negotiated<'h>(mut resp: Response<'h>, head: &Head) -> Result<Response<'h>, Error> {
    encoding::negotiate(&mut resp, &head.headers).map_err(Error::Io)?;
    Ok(resp)
}

/// Runs the handler of a routed request (`route` is what [`route`] made of its target).
///
/// # Errors
/// The handler's error, or 400/404/405/501 from routing (an unknown method is 501 whatever
/// its target).
pub fn dispatch<'h>(
    app: &App,
    viewer: Viewer,
    logged_in: bool,
    cx: &Context,
    head: &'h Head,
    route: Result<Route<'h>, Error>,
) -> Result<Reply<'h>, Error> {
    // CONNECT is for proxies; this is an origin server.
    if matches!(head.method, Method::Other | Method::Connect) {
        return Err(Error::MethodNotImplemented);
    }
    let route = route?;
    if route == Route::Server && head.method != Method::Options {
        return Err(Error::BadRequest("'*' is only a target for OPTIONS"));
    }
    if matches!(route, Route::NotFound | Route::Favicon) {
        return Err(Error::NotFound);
    }
    let allow = check_method(&route, head.method, app.config.read_only)?;
    if head.method == Method::Options {
        let resp = Response::new(Status::OK).header("Allow", allow);
        let resp = if route.is_dav() {
            methods::with_dav_headers(resp)
        } else {
            resp
        };
        return Ok(Reply::Answer(resp));
    }
    let answer = match route {
        Route::Root if head.method == Method::Propfind => {
            propfind::propfind_root(&app.config, app.root.as_ref(), head)?
        }
        Route::Root => handlers::root(&app.config, head),
        Route::Asset(name, query) => assets::serve(name, query, head)?,
        Route::Echo(text) => negotiated(handlers::echo(text)?, head)?,
        Route::UserAgent => negotiated(handlers::user_agent(head), head)?,
        Route::Health => handlers::health(false, head)?,
        Route::Login(query) => handlers::login(query, logged_in)?,
        Route::File(path) => return files(app, viewer, cx, head, path, allow),
        // Refused above.
        Route::Server | Route::NotFound | Route::Favicon => return Err(Error::NotFound),
    };
    Ok(Reply::Answer(answer))
}

/// The methods the route takes here (for `Allow`), once the request's method is one of them.
/// Under --read-only every route takes only the reading methods, and says so in Allow; a write
/// the route would otherwise take is refused with 403 and its reason (not 405: the method is
/// right, the server's policy forbids it).
///
/// # Errors
/// 403 for a write under --read-only, 405 for a method the route does not take.
fn check_method(route: &Route<'_>, method: Method, read_only: bool) -> Result<&'static str, Error> {
    let writable = route.allow();
    let allow = if read_only {
        route.allow_read_only()
    } else {
        writable
    };
    let takes = |list: &str| list.split(", ").any(|m| m == method.as_str());
    if takes(allow) {
        Ok(allow)
    } else if takes(writable) {
        Err(Error::Forbidden("this server is read-only"))
    } else {
        Err(Error::MethodNotAllowed(allow))
    }
}

/// `/files/{path}` by method.
fn files<'h>(
    app: &App,
    viewer: Viewer,
    cx: &Context,
    head: &'h Head,
    path: &'h [u8],
    allow: &'static str,
) -> Result<Reply<'h>, Error> {
    let (config, root) = (&app.config, app.root.as_ref());
    let writes = !matches!(
        head.method,
        Method::Get | Method::Head | Method::Options | Method::Propfind
    );
    // A fragment is never part of a request target (RFC 9112 §3.2); a write must not land on
    // what the target means without it.
    if writes && head.target().contains(&b'#') {
        return Err(Error::BadRequest("a request target carries no fragment"));
    }
    if let (true, Some(root)) = (writes && !config.read_only, root) {
        if let Some(refused) = lockmethods::check_write(&app.locks, root, head, path)? {
            return Ok(Reply::Answer(refused));
        }
    }
    let answer = match head.method {
        Method::Get | Method::Head => {
            file_handlers::get(config, root, viewer, head, path).map(with_store_headers)
        }
        Method::Post => return file_handlers::post(config, root, path, cx.body_len),
        Method::Put => return file_handlers::put(config, root, head, path, cx.body_len),
        Method::Delete => file_handlers::delete(config, root, head, path).map(with_store_headers),
        Method::Propfind => return propfind::propfind(config, root, &app.locks, cx, head, path),
        Method::Proppatch => return proppatch::proppatch(config, root, cx, path),
        Method::Mkcol => methods::mkcol(config, root, cx, path, allow),
        Method::Copy => methods::copy_or_move(config, root, head, path, false),
        Method::Move => methods::copy_or_move(config, root, head, path, true),
        Method::Lock => return lockmethods::lock(config, root, &app.locks, cx, head, path),
        Method::Unlock => lockmethods::unlock(config, root, &app.locks, head, path),
        // Refused by the Allow check.
        _ => Err(Error::MethodNotAllowed(allow)),
    };
    // A resource deleted or moved away loses its locks (RFC 4918 §7.7, §9.9.1).
    if let (Ok(resp), Method::Delete | Method::Move) = (&answer, head.method) {
        if resp.status.0 < 300 {
            if let Ok(p) = crate::app::store::paths::parse_file_path(path) {
                // The delete or move stands whatever this says; should the table not be
                // writable now, a lock left over ends at its timeout.
                let _ = app.locks.drop_under(&p.parts);
            }
        }
    }
    answer.map(Reply::Answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_targets() {
        let cases: &[(&[u8], Route)] = &[
            (b"/", Route::Root),
            (b"/?x=1", Route::Root),
            (b"/user-agent", Route::UserAgent),
            (b"/health", Route::Health),
            (b"/health?x", Route::Health),
            (b"/_login?to=/files/a/", Route::Login(Some(b"to=/files/a/"))),
            (b"/_login", Route::Login(None)),
            (b"/favicon.ico", Route::Favicon),
            (b"/favicon.ico?v=2", Route::Favicon),
            (b"/echo/abc", Route::Echo(b"abc")),
            (b"/echo/abc?q=1", Route::Echo(b"abc")),
            (b"/echo/", Route::Echo(b"")),
            (b"/echo/a/b", Route::Echo(b"a/b")),
            (b"/files/x.txt", Route::File(b"x.txt")),
            (b"/files/", Route::File(b"")),
            (
                b"/_assets/style.css?v=1",
                Route::Asset(b"style.css", Some(b"v=1")),
            ),
            (b"/_assets/x", Route::Asset(b"x", None)),
            (b"/files", Route::NotFound),
            (b"/echo", Route::NotFound),
            (b"/user-agent/", Route::NotFound),
            (b"/nope", Route::NotFound),
            (b"http://localhost:4221/echo/x", Route::Echo(b"x")),
            (b"HTTP://h/user-agent", Route::UserAgent),
            (b"https://h", Route::Root),
            (b"http://h?x", Route::Root),
            (b"*", Route::Server),
        ];
        for (target, want) in cases {
            assert_eq!(
                &route(target).unwrap(),
                want,
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }

    #[test]
    fn rejects_targets_in_no_known_form() {
        for target in [
            &b"echo/x"[..],
            b"localhost:4221",
            b"http:///x",
            b"ftp://h/x",
        ] {
            assert!(
                route(target).is_err(),
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }
}
