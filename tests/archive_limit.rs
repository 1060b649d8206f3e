//! At most `MAX_ARCHIVES_AT_ONCE` archives are made at once, in the whole process: past it a
//! request gets 503 with Retry-After, and a finished one makes room. (A test binary of its own,
//! since the count is the process's.)

mod common;

use common::*;
use http_server::app::archive::folder::MAX_ARCHIVES_AT_ONCE;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Starts an archive download and reads only its first bytes: it stays in the making.
fn start(srv: &TestServer) -> TcpStream {
    let mut s = srv.connect();
    s.write_all(
        b"GET /files/big/?download=tar HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut first = [0u8; 15];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200 OK");
    s
}

#[test]
fn only_so_many_archives_are_made_at_once() {
    let srv = server();
    std::fs::create_dir_all(srv.file("big")).unwrap();
    std::fs::write(srv.file("big/data.bin"), random_bytes(32 << 20, 5)).unwrap();
    let mut held: Vec<TcpStream> = (0..MAX_ARCHIVES_AT_ONCE).map(|_| start(&srv)).collect();
    let r = srv.request(b"GET /files/big/?download=zip HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.text(), "too many archives are being made; try again\n");
    // Everything else is served meanwhile.
    assert_eq!(
        srv.request(b"GET /files/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .status,
        200
    );
    // One finished (read to its end): room for the next.
    let done = read_to_end(&mut held.pop().unwrap());
    assert!(done.len() > 32 << 20);
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "room for an archive",
        || {
            let r =
                srv.request(b"GET /files/big/?download=tar HTTP/1.1\r\nHost: localhost\r\n\r\n");
            r.status == 200
        },
    );
}
