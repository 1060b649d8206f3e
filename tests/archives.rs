//! A folder as one download (`?download=zip|tar|tar.gz`), over raw sockets: what is in it (what
//! a listing shows), how it is framed and named, that it is not cached, the access rules and
//! `--no-archive`, and that a client reading it slowly holds no worker. Python's `zipfile` and
//! `tarfile` read the archives back where Python is installed.

mod common;

use common::*;
use http_server::config::{Rights, UserEntry};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

fn ask(srv: &TestServer, method: &str, target: &str, extra: &str) -> Response {
    let raw = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n");
    let mut s = srv.connect();
    s.write_all(raw.as_bytes()).unwrap();
    read_response(&mut s, method == "HEAD")
}

/// A folder `share` with text, random bytes, a dot file, a non-ASCII name, a subfolder, and a
/// temporary upload file of another server's.
fn plant(srv: &TestServer) {
    std::fs::create_dir_all(srv.file("share/sub")).unwrap();
    std::fs::write(srv.file("share/a.txt"), b"hello\n").unwrap();
    std::fs::write(srv.file("share/sub/r.bin"), random_bytes(100_000, 7)).unwrap();
    std::fs::write(srv.file("share/sub/été.txt"), "text ".repeat(5000)).unwrap();
    std::fs::write(srv.file("share/.secret"), b"dot").unwrap();
    std::fs::write(
        srv.file("share/.http-server-upload-otherhost.1-2-3.part"),
        b"PARTIAL",
    )
    .unwrap();
}

/// Lists the archive's members and their bytes' lengths with Python, or `None` without it.
fn members(kind: &str, body: &[u8]) -> Option<Vec<String>> {
    let path = std::env::temp_dir().join(format!(
        "archives-test-{}-{kind}-{}",
        std::process::id(),
        body.len()
    ));
    std::fs::write(&path, body).unwrap();
    let script = r#"
import sys, tarfile, zipfile
path, kind = sys.argv[1], sys.argv[2]
if kind == "zip":
    z = zipfile.ZipFile(path)
    assert z.testzip() is None
    for i in z.infolist():
        print(i.filename, len(z.read(i)))
else:
    t = tarfile.open(path, "r:gz" if kind == "tar.gz" else "r:")
    for m in t.getmembers():
        print(m.name + ("/" if m.isdir() else ""), m.size)
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap(), kind])
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

const SHARE: [&str; 5] = [
    "share/ 0",
    "share/sub/ 0",
    "share/sub/r.bin 100000",
    "share/sub/été.txt 25000",
    "share/a.txt 6",
];

#[test]
fn a_folder_downloads_as_zip_tar_and_tar_gz_with_what_a_listing_shows() {
    let srv = server();
    plant(&srv);
    for kind in ["zip", "tar", "tar.gz"] {
        let r = ask(&srv, "GET", &format!("/files/share/?download={kind}"), "");
        assert_eq!(r.status, 200, "{kind}");
        assert_eq!(
            r.header("content-disposition"),
            Some(
                format!("attachment; filename=\"share.{kind}\"; filename*=UTF-8''share.{kind}")
                    .as_str()
            )
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{kind}");
        assert_eq!(
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
                .count(),
            1
        );
        assert!(!r.has_header("etag") && !r.has_header("last-modified"));
        if let Some(listed) = members(kind, &r.body) {
            // For zip the sizes are the files' own; Python gives a folder 0.
            let want: Vec<String> = SHARE.iter().map(|s| s.to_string()).collect();
            assert_eq!(listed, want, "{kind}");
        }
    }
    let tar = ask(&srv, "GET", "/files/share/?download=tar", "");
    assert_eq!(tar.header("content-type"), Some("application/x-tar"));
    assert_eq!(
        tar.header("content-length"),
        Some(tar.body.len().to_string().as_str()),
        "tar has its length before the first byte"
    );
    let zip = ask(&srv, "GET", "/files/share/?download=zip", "");
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert_eq!(
        zip.header("transfer-encoding"),
        Some("chunked"),
        "deflated entries"
    );
    // HEAD: the same head, no body.
    let head = ask(&srv, "HEAD", "/files/share/?download=tar", "");
    assert_eq!(head.header("content-length"), tar.header("content-length"));
    assert!(head.body.is_empty());
    // Not cached, so not conditional either.
    let again = ask(
        &srv,
        "GET",
        "/files/share/?download=tar",
        "If-None-Match: *\r\nIf-Modified-Since: Sun, 06 Nov 2094 08:49:37 GMT\r\n",
    );
    assert_eq!(again.status, 200);
    // The root is named "files".
    let all = ask(&srv, "GET", "/files/?download=tar", "");
    assert!(all
        .header("content-disposition")
        .unwrap()
        .contains("filename=\"files.tar\""));
}

#[test]
fn dot_files_go_in_only_with_show_hidden() {
    let srv = server_with(|c| c.show_hidden = true);
    plant(&srv);
    let r = ask(&srv, "GET", "/files/share/?download=tar", "");
    if let Some(listed) = members("tar", &r.body) {
        assert!(
            listed.contains(&"share/.secret 3".to_string()),
            "{listed:?}"
        );
        assert!(!listed.iter().any(|l| l.contains("upload")), "{listed:?}");
    }
}

#[test]
fn bad_formats_no_archive_and_access_rules() {
    let srv = server();
    plant(&srv);
    let r = ask(&srv, "GET", "/files/share/?download=rar", "");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "bad request: download must be zip, tar or tar.gz\n"
    );
    // On a file the query means nothing: the file.
    let r = ask(&srv, "GET", "/files/share/a.txt?download=zip", "");
    assert_eq!(r.body, b"hello\n");
    let off = server_with(|c| c.archives = false);
    plant(&off);
    let r = ask(&off, "GET", "/files/share/?download=zip", "");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("--no-archive"), "{}", r.text());
    let users = server_with(|c| {
        c.users = vec![UserEntry {
            name: "alice".into(),
            password: "pw".into(),
            rights: Rights::Read,
        }]
    });
    plant(&users);
    assert_eq!(
        ask(&users, "GET", "/files/share/?download=zip", "").status,
        401
    );
    let ok = ask(
        &users,
        "GET",
        "/files/share/?download=zip",
        &format!("Authorization: {}\r\n", basic("alice:pw")),
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn a_client_that_reads_an_archive_slowly_holds_no_worker() {
    let srv = server_with(|c| c.threads = 1);
    std::fs::create_dir_all(srv.file("big")).unwrap();
    std::fs::write(srv.file("big/data.bin"), random_bytes(24 << 20, 3)).unwrap();
    let mut slow = srv.connect();
    slow.write_all(
        b"GET /files/big/?download=tar HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    // Its first bytes come (the archive is being sent), and then it reads nothing more.
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut slow, &mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200 OK"));
    let started = Instant::now();
    let r = srv.request(b"GET /echo/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.body, b"x");
    assert!(
        started.elapsed() < CLIENT_TIMEOUT,
        "the one worker was held by the slow archive"
    );
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the archive parked",
        || srv.handle.parked() >= 1,
    );
    // When it reads again, it gets the whole archive.
    let rest = read_to_end(&mut slow);
    assert!(first.len() + rest.len() > 24 << 20);
}
