//! Paths of several components under /files: hostile paths, the symbolic-link policy (including
//! a link swapped in during an upload or a download), parents created by uploads, folders made
//! and deleted, and the redirect from a folder's name to the folder.

mod common;

use common::*;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::time::Instant;

fn send(srv: &TestServer, method: &str, path: &str, body: &[u8]) -> Response {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    if method == "HEAD" {
        let mut s = srv.connect();
        s.write_all(&raw).unwrap();
        return read_response(&mut s, true);
    }
    srv.request(&raw)
}

fn get(srv: &TestServer, path: &str) -> Response {
    send(srv, "GET", path, b"")
}

/// A secret beside the served directory, to check that nothing reaches it.
fn plant_secret(srv: &TestServer) -> std::path::PathBuf {
    let outside = srv.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"TOP SECRET").unwrap();
    outside
}

#[test]
fn serves_and_stores_files_in_subfolders() {
    each_way(|srv| {
        let r = send(srv, "PUT", "/files/a/b/c.txt", b"deep");
        assert_eq!(r.status, 201, "parents are created");
        assert_eq!(std::fs::read(srv.file("a/b/c.txt")).unwrap(), b"deep");
        assert_eq!(get(srv, "/files/a/b/c.txt").body, b"deep");
        let r = send(srv, "POST", "/files/x/y/z", b"posted");
        assert_eq!(r.status, 201);
        assert_eq!(std::fs::read(srv.file("x/y/z")).unwrap(), b"posted");
        assert_eq!(send(srv, "PUT", "/files/a/b/c.txt", b"v2").status, 204);
        assert_eq!(
            get(srv, "/files/a%2Fb/c.txt").status,
            400,
            "%2f is no separator"
        );
        // Percent-decoding is per component and happens once.
        assert_eq!(send(srv, "PUT", "/files/d%20e/f%23g", b"1").status, 201);
        assert!(srv.file("d e/f#g").is_file());
    });
}

#[test]
fn hostile_paths_are_refused() {
    each_way(|srv| {
        let outside = plant_secret(srv);
        std::fs::create_dir(srv.file("a")).unwrap();
        std::fs::write(srv.file("a/f"), b"in a").unwrap();
        let deep33 = vec!["d"; 33].join("/");
        let long = format!("a/{}", "n".repeat(256));
        // (path, allowed statuses): each is refused, never a file from elsewhere.
        let cases: &[(&str, &[u16])] = &[
            ("a/../../outside/secret", &[400]),
            ("a/..%2f..%2foutside%2fsecret", &[400]),
            ("a%2f..%2f..%2foutside%2fsecret", &[400]),
            ("%2e%2e/outside/secret", &[400]),
            ("a/../f", &[400]),
            ("a/./f", &[400]),
            ("a/%2e/f", &[400]),
            ("a%5c..%5c..%5coutside", &[400]),
            ("a/f%00", &[400]),
            (&deep33, &[400]),
            (&long, &[400]),
            ("a//f", &[404]),
            ("/a/f", &[404]),
            // PUT of a folder with a body is 400; the file is never touched either way.
            ("a/f/", &[400, 404]),
            ("a/f//", &[400, 404]),
            (".http-server-upload-1-1.part", &[404]),
        ];
        for (path, allowed) in cases {
            for method in ["GET", "HEAD", "DELETE", "PUT"] {
                let r = send(srv, method, &format!("/files/{path}"), b"pwned");
                assert!(allowed.contains(&r.status), "{method} {path}: {}", r.status);
                assert!(!r.text().contains("TOP SECRET"));
            }
        }
        assert_eq!(
            std::fs::read(outside.join("secret")).unwrap(),
            b"TOP SECRET"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
        assert_eq!(std::fs::read(srv.file("a/f")).unwrap(), b"in a");
    });
}

#[test]
fn thirty_two_components_are_allowed() {
    let srv = server();
    let deep32 = vec!["d"; 32].join("/");
    assert_eq!(
        send(&srv, "PUT", &format!("/files/{deep32}"), b"x").status,
        201
    );
    assert_eq!(get(&srv, &format!("/files/{deep32}")).body, b"x");
    let name255 = format!("a/{}", "n".repeat(255));
    assert_eq!(
        send(&srv, "PUT", &format!("/files/{name255}"), b"y").status,
        201
    );
}

#[test]
fn links_are_followed_only_to_what_lies_inside() {
    each_way(|srv| {
        let outside = plant_secret(srv);
        std::fs::create_dir_all(srv.file("real/deeper")).unwrap();
        std::fs::write(srv.file("real/deeper/f"), b"inside").unwrap();
        symlink(srv.file("real"), srv.file("dirlink")).unwrap();
        symlink("real/deeper/f", srv.file("filelink")).unwrap();
        symlink("../f", srv.file("real/deeper/up")).unwrap();
        symlink(&outside, srv.file("outdir")).unwrap();
        symlink(outside.join("secret"), srv.file("real/outfile")).unwrap();
        symlink("../../outside/secret", srv.file("real/relout")).unwrap();
        let cases: &[(&str, u16, &[u8])] = &[
            ("/files/dirlink/deeper/f", 200, b"inside"),
            ("/files/filelink", 200, b"inside"),
            ("/files/real/deeper/up", 404, b""),
            ("/files/outdir/secret", 404, b""),
            ("/files/outdir/", 404, b""),
            ("/files/outdir", 404, b""),
            ("/files/real/outfile", 404, b""),
            ("/files/real/relout", 404, b""),
        ];
        for (path, status, body) in cases {
            let r = get(srv, path);
            assert_eq!(r.status, *status, "{path}");
            if *status == 200 {
                assert_eq!(r.body, *body, "{path}");
            }
            assert!(!r.text().contains("TOP SECRET"), "{path}");
        }
        std::fs::write(srv.file("real/f"), b"one up").unwrap();
        assert_eq!(get(srv, "/files/real/deeper/up").body, b"one up");
    });
}

#[test]
fn writes_never_go_through_a_link() {
    each_way(|srv| {
        let outside = plant_secret(srv);
        std::fs::create_dir(srv.file("real")).unwrap();
        symlink(&outside, srv.file("outdir")).unwrap();
        symlink(srv.file("real"), srv.file("indir")).unwrap();
        for path in [
            "/files/outdir/new",
            "/files/outdir/secret",
            "/files/outdir/sub/new",
            "/files/indir/new",
            "/files/outdir/sub/",
        ] {
            let r = send(srv, "PUT", path, b"");
            assert_eq!(r.status, 403, "PUT {path}");
            let r = send(srv, "DELETE", path, b"");
            assert!(
                r.status == 403 || r.status == 404,
                "DELETE {path}: {}",
                r.status
            );
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
        assert_eq!(
            std::fs::read(outside.join("secret")).unwrap(),
            b"TOP SECRET"
        );
        assert_eq!(std::fs::read_dir(srv.file("real")).unwrap().count(), 0);
        // The link itself is removed, not what it points to.
        assert_eq!(send(srv, "DELETE", "/files/outdir", b"").status, 204);
        assert!(outside.join("secret").exists());
    });
}

#[test]
fn keeps_an_upload_inside_when_its_folder_is_swapped_for_a_link() {
    each_way(|srv| {
        let outside = plant_secret(srv);
        std::fs::create_dir(srv.file("sub")).unwrap();
        let mut s = srv.connect();
        s.write_all(
            b"PUT /files/sub/new HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nfirst",
        )
        .unwrap();
        // Wait until the server has opened the folder and started the temporary file in it.
        wait_until(
            Instant::now() + CLIENT_TIMEOUT,
            "the upload started",
            || std::fs::read_dir(srv.file("sub")).unwrap().count() > 0,
        );
        std::fs::rename(srv.file("sub"), srv.file("sub-old")).unwrap();
        symlink(&outside, srv.file("sub")).unwrap();
        s.write_all(b"-last").unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 201);
        assert!(
            !outside.join("new").exists(),
            "written outside through the link"
        );
        assert_eq!(
            std::fs::read(srv.file("sub-old/new")).unwrap(),
            b"first-last"
        );
    });
}

#[test]
fn a_download_keeps_its_file_when_its_folder_is_swapped_for_a_link_midway() {
    each_way(|srv| {
        let outside = plant_secret(srv);
        std::fs::write(outside.join("big"), vec![b'X'; 8 << 20]).unwrap();
        std::fs::create_dir(srv.file("sub")).unwrap();
        let data = random_bytes(8 << 20, 7);
        std::fs::write(srv.file("sub/big"), &data).unwrap();
        let mut s = srv.connect();
        s.write_all(b"GET /files/sub/big HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // Read the head and the first 64 KiB, so that the server is surely sending the file...
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let head_end = loop {
            let n = std::io::Read::read(&mut s, &mut buf).unwrap();
            assert!(n > 0, "closed before the body");
            got.extend_from_slice(&buf[..n]);
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                if got.len() >= i + 4 + 64 * 1024 {
                    break i + 4;
                }
            }
        };
        // ...then swap its folder for a link to the outside, where a file has the same name.
        std::fs::rename(srv.file("sub"), srv.file("sub-old")).unwrap();
        symlink(&outside, srv.file("sub")).unwrap();
        while got.len() < head_end + data.len() {
            let n = std::io::Read::read(&mut s, &mut buf).unwrap();
            assert!(n > 0, "closed before the body ended");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(
            got[head_end..] == data[..],
            "the rest of the download came from elsewhere"
        );
        // A new request through the link is refused: its target lies outside.
        assert_eq!(get(srv, "/files/sub/big").status, 404);
    });
}

#[test]
fn a_parent_that_is_a_file_is_409() {
    each_way(|srv| {
        std::fs::write(srv.file("plain"), b"x").unwrap();
        assert_eq!(send(srv, "PUT", "/files/plain/child", b"y").status, 409);
        assert_eq!(send(srv, "PUT", "/files/plain/a/b", b"y").status, 409);
        assert_eq!(send(srv, "PUT", "/files/plain/dir/", b"").status, 409);
        assert_eq!(get(srv, "/files/plain/child").status, 404);
        assert_eq!(std::fs::read(srv.file("plain")).unwrap(), b"x");
    });
}

#[test]
fn makes_and_deletes_folders() {
    each_way(|srv| {
        let r = send(srv, "PUT", "/files/new/inner/", b"");
        assert_eq!(r.status, 201);
        assert!(srv.file("new/inner").is_dir());
        assert_eq!(send(srv, "PUT", "/files/new/inner/", b"").status, 204);
        assert_eq!(send(srv, "PUT", "/files/new/x/", b"body").status, 400);
        let mut raw =
        b"PUT /files/new/ HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: *\r\nContent-Length: 0\r\n\r\n"
            .to_vec();
        assert_eq!(srv.request(&raw).status, 412, "only if absent");
        raw = b"PUT /files/new/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".to_vec();
        assert_eq!(srv.request(&raw).status, 204);
        std::fs::write(srv.file("new/file"), b"f").unwrap();
        assert_eq!(send(srv, "PUT", "/files/new/file/", b"").status, 409);
        assert_eq!(send(srv, "PUT", "/files/new/inner", b"x").status, 409);
        assert_eq!(send(srv, "DELETE", "/files/new/file/", b"").status, 404);
        assert_eq!(send(srv, "DELETE", "/files/new/file", b"").status, 204);
        assert_eq!(send(srv, "DELETE", "/files/new/inner/", b"").status, 204);
        // A folder goes with what it holds (RFC 4918 §9.6.1).
        std::fs::create_dir_all(srv.file("new/deep/er")).unwrap();
        std::fs::write(srv.file("new/deep/er/f"), b"f").unwrap();
        assert_eq!(send(srv, "DELETE", "/files/new", b"").status, 204);
        assert!(!srv.file("new").exists());
        assert_eq!(send(srv, "DELETE", "/files/new/", b"").status, 404);
        let r = send(srv, "DELETE", "/files/", b"");
        assert_eq!(r.status, 405, "the root stays");
        assert_eq!(send(srv, "POST", "/files/dir/", b"x").status, 405);
    });
}

#[test]
fn a_folder_without_its_slash_redirects() {
    each_way(|srv| {
        std::fs::create_dir_all(srv.file("a b/c")).unwrap();
        let r = get(srv, "/files/a%20b");
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/files/a%20b/"));
        let r = get(srv, "/files/a%20b/c?x=1");
        assert_eq!(
            (r.status, r.header("location")),
            (301, Some("/files/a%20b/c/"))
        );
        let r = send(srv, "HEAD", "/files/a%20b", b"");
        assert_eq!(r.status, 301);
    });
}

#[test]
fn stale_uploads_in_subfolders_are_cleaned_at_start() {
    let root = TempDir::new("stale-deep");
    std::fs::create_dir_all(root.path().join("a/b")).unwrap();
    let stale = root.path().join(format!(
        "a/b/.http-server-upload-{}-4999999-1.part",
        http_server::app::store::uploads::host_identity()
    ));
    std::fs::write(&stale, b"half").unwrap();
    let _handle = http_server::start(http_server::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        directory: Some(root.path().to_path_buf()),
        quiet: true,
        ..Default::default()
    })
    .unwrap();
    assert!(!stale.exists());
}

#[test]
fn a_failed_upload_takes_the_folders_it_made_with_it() {
    each_way(|srv| {
        std::fs::create_dir(srv.file("kept")).unwrap();
        let mut s = srv.connect();
        s.write_all(
        b"PUT /files/kept/new/deeper/f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nonly part",
    )
    .unwrap();
        wait_until(Instant::now() + CLIENT_TIMEOUT, "the upload began", || {
            srv.file("kept/new/deeper").exists()
        });
        drop(s);
        // The client left: the upload fails, and the two folders it made go; the one that was
        // there stays.
        wait_until(
            Instant::now() + CLIENT_TIMEOUT,
            "the folders made for the failed upload are gone",
            || !srv.file("kept/new").exists(),
        );
        assert!(srv.file("kept").is_dir());
        // A successful one keeps them.
        assert_eq!(send(srv, "PUT", "/files/kept/new/f.txt", b"x").status, 201);
        assert!(srv.file("kept/new/f.txt").exists());
    });
}

#[test]
fn a_link_never_reaches_a_temporary_upload() {
    each_way(|srv| {
        // Another host's upload in progress, and a folder with such a name.
        let tmp = ".http-server-upload-otherhost.1-77-1.part";
        std::fs::write(srv.file(tmp), b"PARTIAL UPLOAD").unwrap();
        std::fs::create_dir(srv.file(".http-server-upload-dir")).unwrap();
        std::fs::write(srv.file(".http-server-upload-dir/f"), b"PARTIAL UPLOAD").unwrap();
        std::fs::create_dir(srv.file("sub")).unwrap();
        std::fs::write(srv.file("sub/ok"), b"fine").unwrap();
        symlink(tmp, srv.file("peek")).unwrap();
        symlink(srv.file(tmp), srv.file("abspeek")).unwrap();
        symlink(format!("../{tmp}"), srv.file("sub/up")).unwrap();
        symlink(".http-server-upload-dir", srv.file("through")).unwrap();
        symlink("sub", srv.file("sublink")).unwrap();
        for path in [
            "peek",
            "abspeek",
            "sub/up",
            "through",
            "through/",
            "through/f",
        ] {
            let r = get(srv, &format!("/files/{path}"));
            assert_eq!(r.status, 404, "{path}");
            assert!(!r.text().contains("PARTIAL"), "{path}");
        }
        // A link that stays clear of such names is still followed, and listed.
        assert_eq!(get(srv, "/files/sublink/ok").body, b"fine");
        assert_eq!(get(srv, "/files/").text(), "sub/\nsublink/\n");
        assert_eq!(get(srv, "/files/sub/").text(), "ok\n");
    });
}
