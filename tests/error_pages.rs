//! Errors as a browser sees them: a page for 4xx and 5xx when the client prefers HTML, with the
//! error's status and headers and a link to the nearest folder; every other client keeps the
//! one-line text answers exactly.

mod common;

use common::*;
use http_server::config::{Rights, UserEntry};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn ask(srv: &TestServer, method: &str, path: &str, accept: &str) -> Response {
    let accept = if accept.is_empty() {
        String::new()
    } else {
        format!("Accept: {accept}\r\n")
    };
    let raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{accept}\r\n");
    if method == "HEAD" {
        let mut s = srv.connect();
        std::io::Write::write_all(&mut s, raw.as_bytes()).unwrap();
        return read_response(&mut s, true);
    }
    srv.request(raw.as_bytes())
}

/// The href of the page's one link.
fn link(page: &str) -> &str {
    let start = page.find("<a href=\"").unwrap() + 9;
    let end = page[start..].find('"').unwrap();
    &page[start..start + end]
}

#[test]
fn a_browser_gets_a_page_with_a_way_back() {
    let srv = server();
    std::fs::create_dir_all(srv.dir.join("a/b")).unwrap();
    let r = ask(&srv, "GET", "/files/a/b/c/missing.txt", BROWSER);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("vary"), Some("Accept"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let page = r.text();
    assert!(page.contains("<h1>404 Not Found</h1>"), "{page}");
    assert!(
        page.contains("<p>There is nothing at /files/a/b/c/missing.txt.</p>"),
        "{page}"
    );
    // What the request named is shown as text, never as markup.
    let odd = ask(&srv, "GET", "/files/%3Cb%3Ex%3C/b%3E?<i>", BROWSER);
    assert!(
        odd.text().contains("/files/%3Cb%3Ex%3C/b%3E?&lt;i&gt;"),
        "{}",
        odd.text()
    );
    assert_eq!(link(&page), "/files/a/b/", "the nearest folder that exists");
    assert_eq!(
        link(&ask(&srv, "GET", "/files/x/y", BROWSER).text()),
        "/files/"
    );
    assert_eq!(link(&ask(&srv, "GET", "/nope", BROWSER).text()), "/files/");
    // HEAD: the same head, no body.
    let head = ask(&srv, "HEAD", "/files/a/b/c/missing.txt", BROWSER);
    assert_eq!(head.status, 404);
    assert_eq!(head.header("content-length"), r.header("content-length"));
    assert!(head.body.is_empty());
}

#[test]
fn every_other_client_keeps_the_text_answers_exactly() {
    let srv = server();
    for accept in ["", "*/*", "application/json", "text/plain"] {
        let r = ask(&srv, "GET", "/files/missing", accept);
        assert_eq!(r.status, 404, "{accept:?}");
        assert!(r.body.is_empty(), "{accept:?}");
        assert!(!r.has_header("content-type"), "{accept:?}");
        assert!(!r.has_header("vary"), "{accept:?}");
    }
    // The CodeCrafters stage, byte for byte.
    let mut s = srv.connect();
    std::io::Write::write_all(
        &mut s,
        b"GET /abcdefg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        read_to_end(&mut s),
        b"HTTP/1.1 404 Not Found\r\nCache-Control: no-cache\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn the_page_keeps_the_errors_headers() {
    let srv = server();
    let r = ask(&srv, "PATCH", "/echo/x", BROWSER);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(r
        .text()
        .contains("Method not allowed here; allowed: GET, HEAD, OPTIONS."));
    let srv = server_with(|c| {
        c.users = vec![UserEntry {
            name: "alice".into(),
            password: "pw".into(),
            rights: Rights::Write,
        }]
    });
    let r = ask(&srv, "GET", "/files/", BROWSER);
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    assert!(r.text().contains("<h1>401 Unauthorized</h1>"));
    // A client that does not prefer HTML keeps the text, users or not.
    let r = ask(&srv, "GET", "/echo/x", "");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("text/plain"));
}
