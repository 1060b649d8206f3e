//! /files as a file store: names that try to escape, symbolic links, validators, conditionals,
//! ranges, gzip of files, atomic uploads, PUT and DELETE.

mod common;

use common::*;
use std::io::Write;
use std::os::unix::fs::symlink;

fn get(srv: &TestServer, path: &str, extra: &str) -> Response {
    srv.request(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").as_bytes())
}

fn upload(srv: &TestServer, method: &str, name: &str, body: &[u8]) -> Response {
    upload_with(srv, method, name, "", body)
}

/// The head of an upload of `len` bytes, with extra header `fields` (each ending in CRLF).
fn upload_head(method: &str, name: &str, fields: &str, len: usize) -> String {
    format!("{method} /files/{name} HTTP/1.1\r\nHost: localhost\r\n{fields}Content-Length: {len}\r\n\r\n")
}

fn upload_with(srv: &TestServer, method: &str, name: &str, fields: &str, body: &[u8]) -> Response {
    let mut raw = upload_head(method, name, fields, body.len()).into_bytes();
    raw.extend_from_slice(body);
    srv.request(&raw)
}

#[test]
fn no_name_trick_reaches_outside_the_directory() {
    let srv = server();
    // A secret beside the served directory, and one in a sibling folder.
    std::fs::write(srv.root.path().join("secret"), b"TOP SECRET").unwrap();
    std::fs::create_dir(srv.root.path().join("other")).unwrap();
    std::fs::write(srv.root.path().join("other/secret"), b"TOP SECRET").unwrap();
    let long = "a".repeat(300);
    let tricks = [
        "../secret",
        "..%2fsecret",
        "..%2Fsecret",
        "%2e%2e/secret",
        "%2e%2e%2fsecret",
        "%2E%2E%2Fsecret",
        "..%5csecret",
        "..\\secret",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "..%2fother%2fsecret",
        "..",
        "%2e%2e",
        ".",
        "secret%00",
        "%00",
        "a%0d%0aX-Injected:%201",
        long.as_str(),
    ];
    for name in tricks {
        for method in ["GET", "HEAD", "DELETE"] {
            let r = srv.request(
                format!("{method} /files/{name} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
            );
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {name}: {}",
                r.status
            );
            assert!(!r.text().contains("TOP SECRET"));
        }
        let r = upload(&srv, "PUT", name, b"pwned");
        assert!(
            r.status == 400 || r.status == 404,
            "PUT {name}: {}",
            r.status
        );
    }
    assert_eq!(
        std::fs::read(srv.root.path().join("secret")).unwrap(),
        b"TOP SECRET"
    );
    assert_eq!(
        std::fs::read(srv.root.path().join("other/secret")).unwrap(),
        b"TOP SECRET"
    );
    assert_eq!(
        std::fs::read_dir(srv.root.path()).unwrap().count(),
        3,
        "nothing created beside"
    );
    // Decoding happens once: a double-encoded slash is a literal '%2f' in a name inside.
    assert_eq!(upload(&srv, "PUT", "..%252fsecret", b"literal").status, 201);
    assert_eq!(std::fs::read(srv.file("..%2fsecret")).unwrap(), b"literal");
    // Absolute-form with a traversal in it.
    let r = srv.request(b"GET http://h/files/../secret HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(r.status == 400 || r.status == 404);
}

#[test]
fn symlinks_are_followed_only_inside_the_directory() {
    each_way(|srv| {
        std::fs::write(srv.root.path().join("secret"), b"TOP SECRET").unwrap();
        std::fs::write(srv.file("real"), b"inside").unwrap();
        symlink(srv.root.path().join("secret"), srv.file("out")).unwrap();
        symlink(srv.file("real"), srv.file("in")).unwrap();
        symlink("real", srv.file("relative")).unwrap();
        symlink("/nonexistent", srv.file("dangling")).unwrap();
        assert_eq!(get(srv, "/files/out", "").status, 404);
        assert_eq!(get(srv, "/files/in", "").body, b"inside");
        assert_eq!(get(srv, "/files/relative", "").body, b"inside");
        assert_eq!(get(srv, "/files/dangling", "").status, 404);
        // Writing through a link replaces the link, never the target outside.
        assert_eq!(upload(srv, "PUT", "out", b"new").status, 204);
        assert_eq!(
            std::fs::read(srv.root.path().join("secret")).unwrap(),
            b"TOP SECRET"
        );
        assert_eq!(std::fs::read(srv.file("out")).unwrap(), b"new");
    });
}

#[test]
fn special_files_are_404_and_unreadable_ones_403() {
    each_way(|srv| {
        std::fs::create_dir(srv.file("sub")).unwrap();
        let fifo = srv.file("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(
                get(srv, "/files/pipe", "").status,
                404,
                "a FIFO is never opened"
            );
        }
        std::fs::write(srv.file("locked"), b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(srv.file("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        // Root reads anything; the 403 path can only be seen as another user.
        if std::fs::read(srv.file("locked")).is_err() {
            assert_eq!(get(srv, "/files/locked", "").status, 403);
        }
        assert_eq!(
            upload(srv, "PUT", "sub", b"x").status,
            409,
            "a folder has that name"
        );
    });
}

#[test]
fn round_trips_binary_data_of_many_sizes() {
    let srv = server();
    for (i, size) in [0usize, 1, 65_535, 1 << 20, 64 << 20]
        .into_iter()
        .enumerate()
    {
        let data = random_bytes(size, i as u64 + 7);
        let name = format!("blob{size}");
        assert_eq!(upload(&srv, "POST", &name, &data).status, 201, "{size}");
        assert_eq!(
            std::fs::read(srv.file(&name)).unwrap(),
            data,
            "{size} on disk"
        );
        let r = get(&srv, &format!("/files/{name}"), "");
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), size);
        assert!(r.body == data, "{size} over the wire");
    }
}

#[test]
fn files_and_ranges_arrive_whole_with_and_without_sendfile() {
    for sendfile in [true, false] {
        let srv = server_with(|c| c.sendfile = sendfile);
        let data = random_bytes(3 << 20, 11);
        std::fs::write(srv.file("big"), &data).unwrap();
        let r = get(&srv, "/files/big", "");
        assert!(r.body == data, "whole file, sendfile {sendfile}");
        let r = get(&srv, "/files/big", "Range: bytes=100000-2999999\r\n");
        assert_eq!(r.status, 206);
        assert!(
            r.body == data[100_000..3_000_000],
            "range, sendfile {sendfile}"
        );
    }
}

#[test]
fn downloads_carry_validators() {
    let srv = server();
    std::fs::write(srv.file("v"), b"versioned").unwrap();
    let r = get(&srv, "/files/v", "");
    let etag = r.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
}

#[test]
fn conditional_gets_give_304_and_412() {
    let srv = server();
    std::fs::write(srv.file("c"), b"conditional").unwrap();
    let r = get(&srv, "/files/c", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();

    let r = get(&srv, "/files/c", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(!r.has_header("content-length"));
    assert_eq!(
        get(&srv, "/files/c", &format!("If-Modified-Since: {lm}\r\n")).status,
        304
    );
    assert_eq!(
        get(&srv, "/files/c", "If-None-Match: \"nope\"\r\n").status,
        200
    );
    assert_eq!(
        get(
            &srv,
            "/files/c",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        200
    );
    assert_eq!(get(&srv, "/files/c", "If-Match: \"nope\"\r\n").status, 412);
    assert_eq!(
        get(&srv, "/files/c", &format!("If-Match: {etag}\r\n")).status,
        200
    );
    assert_eq!(
        get(
            &srv,
            "/files/c",
            "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        412
    );
}

/// (file, Range value, status, body, Content-Range).
type RangeCase = (
    &'static str,
    &'static str,
    u16,
    &'static [u8],
    Option<&'static str>,
);

#[test]
fn ranges_at_the_edges() {
    let srv = server();
    std::fs::write(srv.file("r"), b"0123456789").unwrap();
    std::fs::write(srv.file("empty"), b"").unwrap();
    let cases: &[RangeCase] = &[
        ("r", "bytes=0-0", 206, b"0", Some("bytes 0-0/10")),
        ("r", "bytes=9-9", 206, b"9", Some("bytes 9-9/10")),
        ("r", "bytes=9-", 206, b"9", Some("bytes 9-9/10")),
        ("r", "bytes=-1", 206, b"9", Some("bytes 9-9/10")),
        ("r", "bytes=2-4", 206, b"234", Some("bytes 2-4/10")),
        ("r", "bytes=5-100", 206, b"56789", Some("bytes 5-9/10")),
        ("r", "bytes=-100", 206, b"0123456789", Some("bytes 0-9/10")),
        ("r", "bytes=10-", 416, b"", Some("bytes */10")),
        ("r", "bytes=-0", 416, b"", Some("bytes */10")),
        ("empty", "bytes=0-0", 416, b"", Some("bytes */0")),
        ("r", "bytes=0-1,4-5", 200, b"0123456789", None),
        ("r", "bytes=5-2", 200, b"0123456789", None),
        ("r", "lines=1-2", 200, b"0123456789", None),
    ];
    for (file, range, status, body, content_range) in cases {
        let r = get(
            &srv,
            &format!("/files/{file}"),
            &format!("Range: {range}\r\n"),
        );
        assert_eq!(r.status, *status, "{range}");
        if *status != 416 {
            assert_eq!(r.body, *body, "{range}");
        }
        assert_eq!(r.header("content-range"), *content_range, "{range}");
    }
}

#[test]
fn if_range_and_gzip_with_ranges() {
    let srv = server();
    std::fs::write(srv.file("r.txt"), b"0123456789").unwrap();
    let etag = get(&srv, "/files/r.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(
        &srv,
        "/files/r.txt",
        &format!("Range: bytes=0-1\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"01"[..]));
    let r = get(
        &srv,
        "/files/r.txt",
        "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n",
    );
    assert_eq!((r.status, r.body.len()), (200, 10));
    let r = get(
        &srv,
        "/files/r.txt",
        "Range: bytes=0-1\r\nAccept-Encoding: gzip\r\n",
    );
    assert_eq!(r.status, 206);
    assert!(!r.has_header("content-encoding"), "never gzip a 206");
}

#[test]
fn gzips_small_and_large_files_but_not_compressed_formats() {
    let srv = server();
    let small = b"small text file ".repeat(100);
    let large = b"a large text file that streams through gzip ".repeat(100_000);
    std::fs::write(srv.file("small.txt"), &small).unwrap();
    std::fs::write(srv.file("large.txt"), &large).unwrap();
    std::fs::write(srv.file("photo.jpg"), &small).unwrap();
    let gz = "Accept-Encoding: gzip\r\n";

    let r = get(&srv, "/files/small.txt", gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.has_header("content-length"));
    assert_eq!(gunzip(&r.body), small);

    let r = get(&srv, "/files/large.txt", gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gunzip(&r.body), large);

    // HEAD gets the same framing headers, no body.
    let mut s = srv.connect();
    s.write_all(
        b"HEAD /files/large.txt HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, true);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    s.write_all(b"GET /echo/next HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).body, b"next");

    let r = get(&srv, "/files/photo.jpg", gz);
    assert!(!r.has_header("content-encoding"));
    assert_eq!(r.body, small);

    // An HTTP/1.0 client gets the stream delimited by the close, never chunked.
    let r = srv.request(b"GET /files/large.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    assert!(!r.has_header("transfer-encoding"));
    assert_eq!(gunzip(&r.body), large);
}

#[test]
fn put_creates_then_replaces_and_delete_removes() {
    let srv = server();
    let r = upload(&srv, "PUT", "doc", b"v1");
    assert_eq!((r.status, r.reason.as_str()), (201, "Created"));
    let r = upload(&srv, "PUT", "doc", b"version 2");
    assert_eq!((r.status, r.reason.as_str()), (204, "No Content"));
    assert_eq!(std::fs::read(srv.file("doc")).unwrap(), b"version 2");
    let r = srv.request(b"DELETE /files/doc HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 204);
    assert!(!srv.file("doc").exists());
    let r = srv.request(b"DELETE /files/doc HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 404);
}

#[test]
fn put_preconditions_guard_against_lost_updates() {
    let srv = server();
    let mut raw =
        b"PUT /files/once HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: *\r\nContent-Length: 1\r\n\r\n1"
            .to_vec();
    assert_eq!(srv.request(&raw).status, 201);
    assert_eq!(
        srv.request(&raw).status,
        412,
        "If-None-Match: * refuses to overwrite"
    );
    raw =
        b"PUT /files/once HTTP/1.1\r\nHost: localhost\r\nIf-Match: \"stale\"\r\nContent-Length: 1\r\n\r\n2"
            .to_vec();
    assert_eq!(srv.request(&raw).status, 412);
    assert_eq!(std::fs::read(srv.file("once")).unwrap(), b"1");
}

#[test]
fn a_client_that_leaves_mid_upload_changes_nothing() {
    let srv = server();
    std::fs::write(srv.file("precious"), b"original content").unwrap();
    let mut s = srv.connect();
    s.write_all(
        b"POST /files/precious HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n",
    )
    .unwrap();
    s.write_all(&vec![b'z'; 300_000]).unwrap();
    let names = || -> Vec<_> {
        std::fs::read_dir(&srv.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };
    // The client leaves mid-upload, once the server has begun it (its temporary file is
    // there), so that the connection count below means something: the accept has happened.
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    wait_until(deadline, "the upload began", || names().len() > 1);
    drop(s);
    // The server notices the close, removes the temporary file and keeps the original.
    wait_until(
        deadline,
        "the connection is closed and the temporary file gone",
        || names().len() <= 1 && srv.handle.connections() == 0,
    );
    assert_eq!(
        std::fs::read(srv.file("precious")).unwrap(),
        b"original content"
    );
    assert_eq!(names().len(), 1, "{:?}", names());
}

#[test]
fn concurrent_uploads_to_one_name_leave_one_whole_body() {
    let srv = server();
    let a = vec![b'a'; 4 << 20];
    let b = vec![b'b'; 4 << 20];
    let addr = srv.addr();
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|body| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let head = format!(
                    "PUT /files/race HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                s.write_all(head.as_bytes()).unwrap();
                for piece in body.chunks(64 * 1024) {
                    s.write_all(piece).unwrap();
                }
                read_response(&mut s, false).status
            })
        })
        .collect();
    for t in threads {
        let status = t.join().unwrap();
        assert!(status == 201 || status == 204);
    }
    let got = std::fs::read(srv.file("race")).unwrap();
    assert!(got == a || got == b, "a mix of the two bodies");
}

#[test]
fn temporary_names_are_never_served_and_stale_ones_are_cleaned_at_start() {
    let root = TempDir::new("stale");
    let host = http_server::app::store::uploads::host_identity();
    let upload = |owner: &str| {
        root.path()
            .join(format!(".http-server-upload-{owner}-1.part"))
    };
    // A pid above Linux's largest pid_max (2^22): its owner cannot be running here.
    let stale = upload(&format!("{host}-4999999"));
    // One owned by a live process (pid 1 is always running) is an upload in progress.
    let live = upload(&format!("{host}-1"));
    // Another machine's or container's: its pid says nothing here, so it is kept (the bug of
    // issue 12: such a file was removed while its owner was still writing it).
    let elsewhere = upload("0123456789abcdef.4026531836-4999999");
    // The older form names no host: only age removes it.
    let older_form = upload("4999999");
    for path in [&stale, &live, &elsewhere, &older_form] {
        std::fs::write(path, b"half an upload").unwrap();
    }
    std::fs::write(root.path().join("keep.part"), b"user file").unwrap();
    let handle = http_server::start(http_server::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        directory: Some(root.path().to_path_buf()),
        quiet: true,
        ..Default::default()
    })
    .unwrap();
    assert!(!stale.exists(), "stale upload removed at start-up");
    assert!(live.exists(), "a live process's upload is left alone");
    assert!(elsewhere.exists(), "another host's upload is left alone");
    assert!(
        older_form.exists(),
        "a young file of the older form is left alone"
    );
    assert!(
        root.path().join("keep.part").exists(),
        "other files untouched"
    );
    std::fs::write(&stale, b"half an upload").unwrap();
    let name = stale.file_name().unwrap().to_str().unwrap();
    let mut s = connect(handle.addr());
    s.write_all(format!("GET /files/{name} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 404);
    drop(handle);
    // Past --stale-upload-age every owner's file goes, however alive it looks.
    let handle = http_server::start(http_server::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        directory: Some(root.path().to_path_buf()),
        quiet: true,
        stale_upload_age: std::time::Duration::ZERO,
        ..Default::default()
    })
    .unwrap();
    for path in [&stale, &live, &elsewhere, &older_form] {
        assert!(
            !path.exists(),
            "{} outlived --stale-upload-age 0",
            path.display()
        );
    }
    assert!(root.path().join("keep.part").exists());
    drop(handle);
}

#[test]
fn a_bad_directory_is_a_start_up_error() {
    let err = http_server::start(http_server::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        directory: Some("/definitely/not/here".into()),
        ..Default::default()
    })
    .err()
    .expect("must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no such directory"), "{err}");
}

#[test]
fn an_upload_whose_temporary_file_vanished_is_500_and_keeps_the_old_file() {
    // Another instance's clean-up (or a person) removed our temporary file mid-upload: the
    // answer is our failure, 500, never a 404 the client would read as "no such file".
    let srv = server();
    std::fs::write(srv.file("keep"), b"old contents").unwrap();
    let mut s = srv.connect();
    s.write_all(b"PUT /files/keep HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nnew")
        .unwrap();
    let temp = {
        let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
        wait_for(deadline, "the temporary file appears", || {
            std::fs::read_dir(&srv.dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(".http-server-upload-")
                })
        })
    };
    std::fs::remove_file(&temp).unwrap();
    s.write_all(b" body!!").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 500);
    assert_eq!(std::fs::read(srv.file("keep")).unwrap(), b"old contents");
}

#[test]
fn a_file_replaced_while_it_is_opened_is_served_never_404() {
    // Another instance, or a PUT on this one, renames a new version over the name while GETs
    // run: each GET must find the old or the new file, never "no such file".
    let srv = server();
    let (one, two) = (b"version one".to_vec(), b"the second version".to_vec());
    std::fs::write(srv.file("hot"), &one).unwrap();
    let dir = srv.dir.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renamer = {
        let (stop, one, two) = (stop.clone(), one.clone(), two.clone());
        std::thread::spawn(move || {
            for i in 0..200_000u32 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let next = dir.join("next");
                std::fs::write(&next, if i % 2 == 0 { &two } else { &one }).unwrap();
                std::fs::rename(&next, dir.join("hot")).unwrap();
            }
        })
    };
    let mut s = srv.connect();
    for i in 0..3000 {
        s.write_all(b"GET /files/hot HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 200, "GET {i} while the file was being replaced");
        assert!(r.body == one || r.body == two, "GET {i}: a mix of versions");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    renamer.join().unwrap();
}

#[test]
fn a_put_may_name_the_tag_of_the_gzipped_download() {
    // Browsers always accept gzip: the tag they hold for a text file is the gzip variant's.
    let srv = server();
    std::fs::write(srv.file("notes.txt"), "the same line again\n".repeat(500)).unwrap();
    let r = get(&srv, "/files/notes.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let tag = r.header("etag").unwrap().to_string();
    assert!(tag.ends_with("-gzip\""), "{tag}");
    let put =
        |fields: &str, body: &[u8]| upload_with(&srv, "PUT", "notes.txt", fields, body).status;
    assert_eq!(put(&format!("If-None-Match: {tag}\r\n"), b"x"), 412);
    assert_eq!(put(&format!("If-Match: {tag}\r\n"), b"new"), 204);
    assert_eq!(std::fs::read(srv.file("notes.txt")).unwrap(), b"new");
    // The file changed: the old tag no longer matches.
    assert_eq!(put(&format!("If-Match: {tag}\r\n"), b"newer"), 412);
}

/// Starts a PUT of `body` with `fields`, sending all but its last byte.
fn start_put(srv: &TestServer, name: &str, fields: &str, body: &[u8]) -> std::net::TcpStream {
    let mut s = srv.connect();
    s.write_all(upload_head("PUT", name, fields, body.len()).as_bytes())
        .unwrap();
    s.write_all(&body[..body.len() - 1]).unwrap();
    s
}

/// Sends the last byte of a started PUT and reads its answer.
fn finish_put(mut s: std::net::TcpStream, body: &[u8]) -> u16 {
    s.write_all(&body[body.len() - 1..]).unwrap();
    read_response(&mut s, false).status
}

/// The upload temporary files in `dir`.
fn temp_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".http-server-upload-")
        })
        .count()
}

/// Waits until the server has started `count` uploads' temporary files in `dir`.
fn until_uploading(dir: &std::path::Path, count: usize) {
    let deadline = std::time::Instant::now() + CLIENT_TIMEOUT;
    wait_until(deadline, "the uploads started", || temp_files(dir) >= count);
}

#[test]
fn a_file_changed_while_a_conditional_upload_streams_is_not_lost() {
    let srv = server();
    std::fs::write(srv.file("doc"), b"version 1").unwrap();
    let tag = get(&srv, "/files/doc", "")
        .header("etag")
        .unwrap()
        .to_string();
    let body = vec![b'u'; 100_000];
    let s = start_put(&srv, "doc", &format!("If-Match: {tag}\r\n"), &body);
    until_uploading(&srv.dir, 1);
    // Someone else changes the file while the body is on its way.
    std::fs::write(srv.file("doc.next"), b"someone else's version").unwrap();
    std::fs::rename(srv.file("doc.next"), srv.file("doc")).unwrap();
    assert_eq!(
        finish_put(s, &body),
        412,
        "the tag no longer matches when it lands"
    );
    assert_eq!(
        std::fs::read(srv.file("doc")).unwrap(),
        b"someone else's version"
    );
    assert_eq!(temp_files(&srv.dir), 0, "no temporary file left");
}

#[test]
fn of_two_uploads_only_if_absent_at_once_one_lands() {
    let srv = server();
    let (a, b) = (vec![b'a'; 50_000], vec![b'b'; 60_000]);
    let first = start_put(&srv, "new", "If-None-Match: *\r\n", &a);
    let second = start_put(&srv, "new", "If-None-Match: *\r\n", &b);
    // Both passed the check when they came: nothing had the name.
    until_uploading(&srv.dir, 2);
    assert_eq!(finish_put(first, &a), 201);
    assert_eq!(finish_put(second, &b), 412, "the name was taken meanwhile");
    assert_eq!(std::fs::read(srv.file("new")).unwrap(), a);
    assert_eq!(temp_files(&srv.dir), 0, "no temporary file left");
}
