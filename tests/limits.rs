//! Every limit and timeout: the status it answers with, and that the server goes on serving.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

fn still_serves(srv: &TestServer) {
    assert_eq!(
        srv.request(b"GET /echo/ok HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .body,
        b"ok"
    );
}

#[test]
fn request_line_over_the_limit_is_414() {
    let srv = server_with(|c| c.max_request_line_bytes = 100);
    let ok = format!(
        "GET /echo/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70)
    );
    assert_eq!(srv.request(ok.as_bytes()).status, 200);
    let long = format!(
        "GET /echo/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(100)
    );
    let r = srv.request(long.as_bytes());
    assert_eq!((r.status, r.reason.as_str()), (414, "URI Too Long"));
    still_serves(&srv);
}

#[test]
fn a_long_request_line_is_refused_before_it_ends() {
    let srv = server();
    let mut s = srv.connect();
    // 9 KiB of target and no end of line: the server must not wait for more.
    let mut raw = b"GET /".to_vec();
    raw.resize(9 * 1024, b'a');
    s.write_all(&raw).unwrap();
    assert_eq!(read_response(&mut s, false).status, 414);
}

#[test]
fn head_over_the_limit_is_431() {
    let srv = server_with(|c| c.max_head_bytes = 1024);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX: {}\r\n\r\n",
        "v".repeat(1000)
    );
    let r = srv.request(big.as_bytes());
    assert_eq!(
        (r.status, r.reason.as_str()),
        (431, "Request Header Fields Too Large")
    );
    assert_eq!(r.header("connection"), Some("close"));
    still_serves(&srv);
}

#[test]
fn a_head_that_never_ends_is_refused_at_the_limit() {
    let srv = server();
    let mut s = srv.connect();
    // 20 KiB of header lines and no empty line: the server must answer once it holds 16 KiB,
    // not wait for the end. (Less than the linger cap, so no reset eats the answer.)
    let mut raw = b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    while raw.len() < 20 * 1024 {
        raw.extend_from_slice(format!("X-Pad: {}\r\n", "p".repeat(100)).as_bytes());
    }
    s.write_all(&raw).unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 431);
    assert!(is_closed(&mut s));
}

#[test]
fn too_many_header_fields_is_431() {
    let srv = server_with(|c| c.max_headers = 10);
    let mut raw = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..9 {
        raw.push_str(&format!("X-{i}: v\r\n"));
    }
    assert_eq!(srv.request(format!("{raw}\r\n").as_bytes()).status, 200);
    raw.push_str("X-last: v\r\n\r\n");
    assert_eq!(srv.request(raw.as_bytes()).status, 431);
    still_serves(&srv);
}

#[test]
fn declared_upload_over_the_limit_is_413_before_reading() {
    let srv = server_with(|c| c.max_upload_bytes = 1000);
    let mut s = srv.connect();
    s.write_all(b"POST /files/big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let r = read_response_or_interim(&mut s, false);
    assert_eq!((r.status, r.reason.as_str()), (413, "Content Too Large"));
    assert!(!srv.file("big").exists());
    let body = vec![b'x'; 1000];
    let mut raw =
        b"POST /files/big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n".to_vec();
    raw.extend_from_slice(&body);
    assert_eq!(srv.request(&raw).status, 201);
}

#[test]
fn chunked_upload_crossing_the_limit_is_413_and_leaves_nothing() {
    let srv = server_with(|c| c.max_upload_bytes = 1000);
    std::fs::write(srv.file("big"), b"old").unwrap();
    let mut s = srv.connect();
    s.write_all(
        b"POST /files/big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = format!("1f4\r\n{}\r\n", "y".repeat(500));
    for _ in 0..3 {
        let _ = s.write_all(chunk.as_bytes());
    }
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(std::fs::read(srv.file("big")).unwrap(), b"old");
    let leftovers = std::fs::read_dir(&srv.dir).unwrap().count();
    assert_eq!(leftovers, 1, "temporary file removed");
}

#[test]
fn a_slow_head_gets_408_at_the_header_timeout() {
    let srv = server_with(|c| c.header_timeout = Duration::from_millis(500));
    let mut s = srv.connect();
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!((r.status, r.reason.as_str()), (408, "Request Timeout"));
    assert!(is_closed(&mut s));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn a_head_dripping_one_byte_at_a_time_still_times_out() {
    let srv = server_with(|c| c.header_timeout = Duration::from_millis(600));
    let mut s = srv.connect();
    let started = Instant::now();
    let mut answered = false;
    for _ in 0..100 {
        if s.write_all(b"X").is_err() {
            break;
        }
        // The drip's pace, on purpose: real time must pass for the header timeout to fall due.
        sleep(Duration::from_millis(50));
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let peek = s.peek(&mut b);
        s.set_nonblocking(false).unwrap();
        if matches!(peek, Ok(1)) {
            answered = true;
            break;
        }
    }
    assert!(answered);
    assert_eq!(read_response(&mut s, false).status, 408);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_stalled_body_closes_the_connection_and_stores_nothing() {
    let srv = server_with(|c| c.body_read_timeout = Duration::from_millis(300));
    let mut s = srv.connect();
    s.write_all(b"POST /files/stall HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 408);
    assert!(is_closed(&mut s));
    assert!(!srv.file("stall").exists());
}

#[test]
fn a_client_that_does_not_read_is_cut_off_by_the_write_timeout() {
    let srv = server_with(|c| c.write_timeout = Duration::from_millis(300));
    // 32 MiB file: far more than the socket buffers hold.
    std::fs::write(srv.file("huge"), vec![0u8; 32 << 20]).unwrap();
    let mut s = srv.connect();
    s.write_all(b"GET /files/huge HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // The answer begins (so the connection was accepted and counted); then, with nobody
    // reading, the server's writes stall until the write timeout closes the connection.
    assert_eq!(s.peek(&mut [0u8; 1]).unwrap(), 1, "no answer began");
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the server gave up on the client that does not read",
        || srv.handle.connections() == 0,
    );
    // Now read: the server gave up, so we get less than the whole file, then EOF or reset.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < 32 << 20,
        "the whole file arrived: the write never timed out"
    );
    assert_eq!(srv.handle.connections(), 0);
    still_serves(&srv);
}

#[test]
fn past_max_connections_the_acceptor_answers_503() {
    let srv = server_with(|c| {
        c.threads = 2;
        c.max_connections = 3;
    });
    // Each has begun a request: a connection that has sent nothing is not handed to the server
    // until it does (TCP_DEFER_ACCEPT), so it is not counted yet.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = srv.connect();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the acceptor counts the three",
        || srv.handle.connections() >= 3,
    );
    let r = srv.request(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!((r.status, r.reason.as_str()), (503, "Service Unavailable"));
    assert_eq!(r.header("connection"), Some("close"));
    drop(held);
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the held connections are closed",
        || srv.handle.connections() == 0,
    );
    still_serves(&srv);
}
