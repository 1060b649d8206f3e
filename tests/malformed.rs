//! Hostile and malformed requests: each gets its status (and a close where framing is lost),
//! and the server keeps serving everyone else.

mod common;

use common::*;
use std::io::Write;

/// Sends `raw`, expects `status`, and whether the server then closes; then checks the server
/// still answers a fresh client.
fn expect(srv: &TestServer, raw: &[u8], status: u16, closes: bool) {
    let mut s = srv.connect();
    s.write_all(raw).unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
    if closes {
        assert_eq!(
            r.header("connection"),
            Some("close"),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
        assert!(is_closed(&mut s), "{:?}", String::from_utf8_lossy(raw));
    }
    assert_eq!(
        srv.request(b"GET /echo/ok HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .body,
        b"ok"
    );
}

#[test]
fn rejects_malformed_request_lines() {
    let srv = server();
    for raw in [
        &b"GET\r\n\r\n"[..],
        b"GET /\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
        b"GET / http/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1\r\nHost: localhost\r\n\r\n",
        b"G\x01T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        expect(&srv, raw, 400, true);
    }
}

#[test]
fn rejects_malformed_header_lines() {
    let srv = server();
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\r\n  folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX(y): 1\r\n\r\n",
    ] {
        expect(&srv, raw, 400, true);
    }
}

#[test]
fn requires_exactly_one_valid_host_in_http11() {
    let srv = server();
    expect(&srv, b"GET / HTTP/1.1\r\n\r\n", 400, true);
    expect(
        &srv,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        true,
    );
    expect(&srv, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, true);
    expect(&srv, b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, true);
    expect(
        &srv,
        b"GET / HTTP/1.1\r\nHost: [::1]:4221\r\n\r\n",
        200,
        false,
    );
    expect(&srv, b"GET / HTTP/1.0\r\n\r\n", 200, true);
}

#[test]
fn answers_versions() {
    let srv = server();
    expect(
        &srv,
        b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n",
        505,
        true,
    );
    expect(
        &srv,
        b"GET / HTTP/0.9\r\nHost: localhost\r\n\r\n",
        505,
        true,
    );
    expect(
        &srv,
        b"GET / HTTP/1.7\r\nHost: localhost\r\n\r\n",
        200,
        false,
    );
    let r = srv.request(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn serves_absolute_form_targets() {
    let srv = server();
    let r =
        srv.request(b"GET http://localhost:4221/echo/abs HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
    assert_eq!(r.body, b"abs");
}

#[test]
fn answers_methods() {
    let srv = server();
    expect(
        &srv,
        b"BREW /echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n",
        501,
        false,
    );
    expect(
        &srv,
        b"CONNECT h:443 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        501,
        false,
    );
    expect(
        &srv,
        b"POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        405,
        false,
    );
    expect(
        &srv,
        b"PATCH /files/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        405,
        false,
    );
    expect(
        &srv,
        b"GET * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
        true,
    );
    let r = srv.request(b"OPTIONS /files/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("allow"),
        Some("GET, HEAD, POST, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK")
    );
    let r = srv.request(b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = srv.request(b"OPTIONS /echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn rejects_ambiguous_body_framing() {
    let srv = server();
    // Both Content-Length and Transfer-Encoding: a classic smuggling vector.
    expect(
        &srv,
        b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        true,
    );
    expect(&srv, b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, true);
    expect(
        &srv,
        b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello",
        400,
        true,
    );
    expect(
        &srv,
        b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        400,
        true,
    );
    expect(
        &srv,
        b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        true,
    );
    expect(
        &srv,
        b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400,
        true,
    );
    expect(
        &srv,
        b"POST /files/s HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        true,
    );
    assert!(!std::path::Path::new(&srv.file("s")).exists());
    // Identical repeated lengths are one length.
    let r = srv
        .request(b"POST /files/s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\nhello");
    assert_eq!(r.status, 201);
}

#[test]
fn stores_exactly_the_decoded_chunked_body() {
    let srv = server();
    let r = srv.request(
        b"POST /files/c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        std::fs::read(srv.file("c")).unwrap(),
        b"Wikipedia in\r\n\r\nchunks."
    );
}

#[test]
fn a_broken_chunked_body_is_400_and_stores_nothing() {
    let srv = server();
    std::fs::write(srv.file("keep"), b"old").unwrap();
    for body in [
        &b"zz\r\nabc\r\n0\r\n\r\n"[..],
        b"3\r\nabcdef\r\n0\r\n\r\n",
        b"11111111111111111\r\n",
    ] {
        let mut raw =
            b"POST /files/keep HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        raw.extend_from_slice(body);
        expect(&srv, &raw, 400, true);
    }
    assert_eq!(std::fs::read(srv.file("keep")).unwrap(), b"old");
}

#[test]
fn a_body_cut_short_is_not_acted_on() {
    let srv = server();
    std::fs::write(srv.file("keep"), b"old").unwrap();
    let mut s = srv.connect();
    s.write_all(
        b"POST /files/keep HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nonly part",
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let rest = read_to_end(&mut s);
    assert!(
        rest.is_empty(),
        "no answer to a client that left: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(std::fs::read(srv.file("keep")).unwrap(), b"old");
    assert_eq!(upload_leftovers(&srv), 0);
}

pub fn upload_leftovers(srv: &TestServer) -> usize {
    std::fs::read_dir(&srv.dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".part")
        })
        .count()
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(
        b"POST /files/e HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = read_response_or_interim(&mut s, false);
    assert_eq!((interim.status, interim.reason.as_str()), (100, "Continue"));
    s.write_all(b"hello").unwrap();
    assert_eq!(read_response(&mut s, false).status, 201);
    assert_eq!(std::fs::read(srv.file("e")).unwrap(), b"hello");
}

#[test]
fn expect_100_continue_gets_the_final_answer_when_it_is_known() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(
        b"POST /nowhere HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response_or_interim(&mut s, false);
    assert_eq!(r.status, 404, "no 100 Continue for a body we will not read");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut s));
}

#[test]
fn other_expectations_fail_with_417() {
    let srv = server();
    expect(
        &srv,
        b"POST /files/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\nx",
        417,
        true,
    );
    // HTTP/1.0 ignores Expect.
    let r = srv
        .request(b"POST /files/x HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx");
    assert_eq!(r.status, 201);
}

#[test]
fn echo_returns_decoded_control_bytes_as_they_are() {
    // Escaping happens in the log only (unit-tested in http::tests); the body is the bytes.
    let srv = server();
    let r = srv.request(b"GET /echo/%1b%5b31m HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.body, b"\x1b[31m");
}
