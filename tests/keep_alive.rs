//! Persistent connections, pipelining, requests in fragments, and closing rules.

mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn serves_several_requests_on_one_connection() {
    let srv = server();
    let mut s = srv.connect();
    for word in ["banana", "grape", "mango"] {
        s.write_all(format!("GET /echo/{word} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.body, word.as_bytes());
        assert!(!r.has_header("connection"));
    }
    s.write_all(b"GET /user-agent HTTP/1.1\r\nHost: localhost\r\nUser-Agent: x/1\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).body, b"x/1");
}

#[test]
fn serves_two_interleaved_persistent_connections() {
    let srv = server();
    let mut a = srv.connect();
    let mut b = srv.connect();
    for i in 0..3 {
        for (name, s) in [("a", &mut a), ("b", &mut b)] {
            s.write_all(
                format!("GET /echo/{name}{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
            )
            .unwrap();
            assert_eq!(read_response(s, false).text(), format!("{name}{i}"));
        }
    }
}

#[test]
fn closes_after_connection_close() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"GET /echo/bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let r = read_response(&mut s, false);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.body, b"bye");
    assert!(is_closed(&mut s));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn connection_tokens_are_a_case_insensitive_list() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: TE, Close\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut s, false).header("connection"),
        Some("close")
    );
    assert!(is_closed(&mut s));
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"GET /echo/old HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.body, b"old");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut s));

    let mut s = srv.connect();
    for _ in 0..2 {
        s.write_all(b"GET /echo/ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.header("connection"), Some("keep-alive"));
        assert_eq!(r.body, b"ka");
    }
}

/// Waits until the server has read all of the `writes` pieces sent so far on a test's only
/// connection and parked it to wait for more: so that each piece reaches it on its own. The
/// first piece is read when the connection is accepted (`TCP_DEFER_ACCEPT` waits for it), each
/// later one after a wake-up from the poller.
fn until_read_and_parked(srv: &TestServer, writes: usize) {
    let wakeups = writes as u64 - 1;
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the server has read the piece sent and waits for more",
        // The wake-up count first (the poller counts it once the connection has left the lot),
        // so that a parked count of 1 read after it is the connection parked again.
        || srv.handle.wakeups() >= wakeups && srv.handle.parked() == 1,
    );
}

#[test]
fn reads_a_request_sent_one_byte_at_a_time() {
    let srv = server();
    let mut s = srv.connect();
    s.set_nodelay(true).unwrap();
    let request = b"GET /echo/slow HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t\r\n\r\n";
    for (i, b) in request.iter().enumerate() {
        s.write_all(&[*b]).unwrap();
        if i + 1 < request.len() {
            until_read_and_parked(&srv, i + 1);
        }
    }
    assert_eq!(read_response(&mut s, false).body, b"slow");
}

#[test]
fn reads_a_post_body_split_over_several_writes() {
    let srv = server();
    let mut s = srv.connect();
    s.set_nodelay(true).unwrap();
    s.write_all(b"POST /files/split HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12\r\n")
        .unwrap();
    until_read_and_parked(&srv, 1);
    s.write_all(b"\r\nhello").unwrap();
    until_read_and_parked(&srv, 2);
    s.write_all(b" ").unwrap();
    until_read_and_parked(&srv, 3);
    s.write_all(b"world!").unwrap();
    assert_eq!(read_response(&mut s, false).status, 201);
    assert_eq!(std::fs::read(srv.file("split")).unwrap(), b"hello world!");
}

#[test]
fn answers_pipelined_requests_in_order() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(
        b"GET /echo/one HTTP/1.1\r\nHost: localhost\r\n\r\nPOST /files/p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabcGET /echo/three HTTP/1.1\r\nHost: localhost\r\n\r\nHEAD /echo/four HTTP/1.1\r\nHost: localhost\r\n\r\nGET /echo/five HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).body, b"one");
    assert_eq!(read_response(&mut s, false).status, 201);
    assert_eq!(read_response(&mut s, false).body, b"three");
    let head = read_response(&mut s, true);
    assert_eq!(head.header("content-length"), Some("4"));
    assert_eq!(read_response(&mut s, false).body, b"five");
    assert_eq!(std::fs::read(srv.file("p")).unwrap(), b"abc");
}

#[test]
fn keeps_connection_after_404_and_405() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 404);
    s.write_all(b"DELETE /echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    s.write_all(b"GET /echo/still HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).body, b"still");
}

#[test]
fn a_small_unread_body_is_skipped_and_the_connection_kept() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"POST /nope HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhelloGET /echo/next HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 404);
    assert_eq!(read_response(&mut s, false).body, b"next");
    s.write_all(b"POST /echo/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /echo/after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 405);
    assert_eq!(read_response(&mut s, false).body, b"after");
}

#[test]
fn a_large_unread_body_closes_the_connection() {
    let srv = server();
    let mut s = srv.connect();
    s.write_all(b"POST /nope HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\nsome")
        .unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut s));
}

#[test]
fn closes_an_idle_connection_after_the_idle_timeout() {
    let srv = server_with(|c| c.idle_timeout = Duration::from_millis(300));
    let mut s = srv.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 200);
    let started = Instant::now();
    assert!(is_closed(&mut s), "an idle connection is closed quietly");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
}

#[test]
fn head_gets_get_headers_and_no_body() {
    let srv = server();
    std::fs::write(srv.file("h.txt"), b"0123456789").unwrap();
    let mut s = srv.connect();
    s.write_all(b"HEAD /files/h.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    // The next response must start right away: no body bytes were sent.
    s.write_all(b"GET /echo/z HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).body, b"z");
}
