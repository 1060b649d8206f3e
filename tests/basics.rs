//! Every CodeCrafters stage, over raw sockets against the real server.

mod common;

use common::*;
use std::io::Write;

#[test]
fn binds_and_answers_200_on_root() {
    let srv = server();
    let r = srv.request(b"GET / HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(!r.has_header("date"), "no Date by default");
    assert!(!r.has_header("server"), "no Server header");
    // The page's HTML twin varies with Accept too: a shared cache must not swap them.
    assert_eq!(r.header("vary"), Some("Accept"));
    let page = srv.request(b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n");
    assert_eq!(page.header("vary"), Some("Accept"));
    assert!(page.text().contains("<html"), "{}", page.text());
}

#[test]
fn favicon_is_204_so_that_browsers_log_no_error() {
    let srv = server();
    let r = srv.request(b"GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!((r.status, r.reason.as_str()), (204, "No Content"));
    assert!(r.body.is_empty());
    assert!(
        !r.has_header("content-length"),
        "none in a 204 (RFC 9110 8.6)"
    );
    assert_eq!(r.header("cache-control"), Some("max-age=86400"));
}

#[test]
fn answers_404_for_unknown_paths() {
    let srv = server();
    for path in [
        "/abcdefg",
        "/echo",
        "/files",
        "/user-agent/x",
        "/index.html",
    ] {
        let r = srv.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"), "{path}");
    }
}

#[test]
fn echoes_text_with_exact_headers() {
    let srv = server();
    let r = srv.request(b"GET /echo/pineapple HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("9"));
    assert_eq!(r.body, b"pineapple");
}

#[test]
fn echo_decodes_percent_escapes_and_ignores_the_query() {
    let srv = server();
    let r = srv.request(b"GET /echo/a%20b%2Fc?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.body, b"a b/c");
    let r = srv.request(b"GET /echo/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 400);
}

#[test]
fn returns_the_user_agent() {
    let srv = server();
    let r = srv.request(
        b"GET /user-agent HTTP/1.1\r\nHost: localhost\r\nUser-Agent: banana/mango-1.2\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body, b"banana/mango-1.2");
    let r = srv.request(b"GET /user-agent HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[test]
fn serves_concurrent_connections_in_reverse_order() {
    let srv = server();
    let mut conns: Vec<_> = (0..3).map(|_| srv.connect()).collect();
    for (i, s) in conns.iter_mut().enumerate().rev() {
        s.write_all(format!("GET /echo/{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(s, false);
        assert_eq!(r.body, i.to_string().as_bytes());
    }
}

#[test]
fn serves_a_file_and_404s_a_missing_one() {
    let srv = server();
    std::fs::write(srv.file("foo"), b"Hello, World!").unwrap();
    let r = srv.request(b"GET /files/foo HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.body, b"Hello, World!");
    let r = srv.request(b"GET /files/non_existent_file HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn serves_a_file_created_after_start() {
    let srv = server();
    let r = srv.request(b"GET /files/late HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 404);
    std::fs::write(srv.file("late"), b"now here").unwrap();
    let r = srv.request(b"GET /files/late HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.body, b"now here");
}

#[test]
fn post_writes_the_file_before_answering_201() {
    let srv = server();
    let body = b"12345 raspberry blueberry";
    let mut raw = format!(
        "POST /files/new HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let r = srv.request(&raw);
    assert_eq!((r.status, r.reason.as_str()), (201, "Created"));
    assert_eq!(std::fs::read(srv.file("new")).unwrap(), body);
}

#[test]
fn without_directory_files_answer_4xx() {
    let srv = server_with(|c| c.directory = None);
    let r = srv.request(b"GET /files/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = srv.request(b"POST /files/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("--directory"), "{}", r.text());
    // And the server is still fine.
    assert_eq!(
        srv.request(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .status,
        200
    );
}

#[test]
fn gzips_when_accepted_and_only_then() {
    let srv = server();
    let r =
        srv.request(b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(gunzip(&r.body), b"abc");

    let r = srv.request(
        b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: invalid-encoding\r\n\r\n",
    );
    assert!(!r.has_header("content-encoding"));
    assert_eq!(r.body, b"abc");

    let r = srv.request(
        b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: invalid-encoding-1, gzip, invalid-encoding-2\r\n\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), b"abc");

    let r = srv.request(
        b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: encoding-1, encoding-2\r\n\r\n",
    );
    assert!(!r.has_header("content-encoding"));

    let r = srv
        .request(b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
    assert!(!r.has_header("content-encoding"));
}

#[test]
fn sends_date_only_when_asked() {
    let srv = server_with(|c| c.send_date = true);
    let r = srv.request(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let date = r.header("date").expect("Date header");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
}

#[test]
fn a_connection_that_sends_nothing_costs_nothing() {
    let srv = server();
    for _ in 0..20 {
        drop(srv.connect());
    }
    assert_eq!(
        srv.request(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .status,
        200
    );
    // The quiet connections were all closed and uncounted.
    wait_until(
        std::time::Instant::now() + CLIENT_TIMEOUT,
        "no connection is counted",
        || srv.handle.connections() == 0,
    );
}
