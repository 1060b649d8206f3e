//! Content types by extension, the headers that keep user files from acting as the server's
//! own pages, caching headers for every kind of answer, and when files are gzipped.

mod common;

use common::*;

fn get(srv: &TestServer, path: &str, extra: &str) -> Response {
    srv.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").as_bytes())
}

#[test]
fn sends_the_type_of_each_extension() {
    let srv = server();
    let cases = [
        ("index.html", "text/html; charset=utf-8"),
        ("notes.TXT", "text/plain; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("photo.jpg", "image/jpeg"),
        ("logo.png", "image/png"),
        ("drawing.svg", "image/svg+xml"),
        ("song.mp3", "audio/mpeg"),
        ("clip.mp4", "video/mp4"),
        ("font.woff2", "font/woff2"),
        ("archive.zip", "application/zip"),
        ("paper.pdf", "application/pdf"),
        ("no_extension", "application/octet-stream"),
        (".dotfile", "application/octet-stream"),
        ("odd.whatever", "application/octet-stream"),
    ];
    for (name, ty) in cases {
        std::fs::write(srv.file(name), b"content").unwrap();
        let r = get(&srv, &format!("/files/{name}"), "");
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(ty), "{name}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{name}"
        );
        assert_eq!(
            r.header("content-security-policy"),
            Some("sandbox"),
            "{name}"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{name}");
    }
}

#[test]
fn every_files_answer_says_no_cache() {
    let srv = server();
    std::fs::write(srv.file("f.txt"), b"x").unwrap();
    std::fs::create_dir(srv.file("d")).unwrap();
    let etag = get(&srv, "/files/f.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    let answers = [
        (
            get(&srv, "/files/f.txt", &format!("If-None-Match: {etag}\r\n")),
            304,
        ),
        (get(&srv, "/files/missing", ""), 404),
        (get(&srv, "/files/d", ""), 301),
        (get(&srv, "/files/a%2fb", ""), 400),
        (
            srv.request(
                b"PUT /files/new HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx",
            ),
            201,
        ),
        (
            srv.request(b"DELETE /files/new HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            204,
        ),
    ];
    for (r, status) in answers {
        assert_eq!(r.status, status);
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{status}");
    }
    // Errors elsewhere too: a 404 is cacheable by default (RFC 9110 §15.1).
    let r = get(&srv, "/nowhere", "");
    assert_eq!(
        (r.status, r.header("cache-control")),
        (404, Some("no-cache"))
    );
}

#[test]
fn user_agent_and_echo_tell_caches_what_they_vary_on() {
    let srv = server();
    let r = get(&srv, "/user-agent", "User-Agent: a/1\r\n");
    assert_eq!(r.header("vary"), Some("User-Agent, Accept-Encoding"));
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
            .count(),
        1
    );
    let r = get(
        &srv,
        "/user-agent",
        "User-Agent: a/1\r\nAccept-Encoding: gzip\r\n",
    );
    assert_eq!(r.header("vary"), Some("User-Agent, Accept-Encoding"));
    assert_eq!(gunzip(&r.body), b"a/1");
    // /echo is a function of its URL alone, apart from the coding: Vary says exactly that.
    for extra in ["", "Accept-Encoding: gzip\r\n"] {
        let r = get(&srv, "/echo/x", extra);
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{extra}");
    }
}

#[test]
fn gzips_files_only_where_it_pays() {
    let srv = server();
    let gz = "Accept-Encoding: gzip\r\n";
    // Below the minimum size: sent as is, whatever the client accepts.
    let tiny = b"tiny text, ".repeat(10);
    std::fs::write(srv.file("tiny.txt"), &tiny).unwrap();
    let r = get(&srv, "/files/tiny.txt", gz);
    assert!(!r.has_header("content-encoding"));
    assert!(!r.has_header("vary"), "never gzipped, so it does not vary");
    assert_eq!(r.body, tiny);
    // Just at the minimum: text that compresses is gzipped.
    let at_min = vec![b'a'; 1024];
    std::fs::write(srv.file("min.txt"), &at_min).unwrap();
    let r = get(&srv, "/files/min.txt", gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), at_min);
    // Random data, small and large: the first block does not shrink, so no gzip.
    for (name, size) in [("noise.bin", 10_000), ("noise.txt", 300_000)] {
        let data = random_bytes(size, 42);
        std::fs::write(srv.file(name), &data).unwrap();
        let r = get(&srv, &format!("/files/{name}"), gz);
        assert!(!r.has_header("content-encoding"), "{name}");
        assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{name}");
        assert!(r.body == data, "{name}");
    }
    // The ETag of a file sent as is equals the identity one.
    let plain = get(&srv, "/files/noise.bin", "");
    let asked = get(&srv, "/files/noise.bin", gz);
    assert_eq!(plain.header("etag"), asked.header("etag"));
    // /echo still gzips a 3-byte body (its CodeCrafters stage).
    let r = get(&srv, "/echo/abc", gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), b"abc");
}
