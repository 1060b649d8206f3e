//! WebDAV (RFC 4918, classes 1 and 2) on /files: OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY,
//! MOVE, DELETE of folders, LOCK, UNLOCK and the If header, as raw bytes over sockets. `tests/dav/run.sh` runs litmus, the standard
//! conformance suite, against a real server.

mod common;

use common::*;
use std::io::Write;

/// Sends `method path` with extra header `fields` (each ending in CRLF) and `body`.
fn dav(srv: &TestServer, method: &str, path: &str, fields: &str, body: &str) -> Response {
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{fields}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    srv.request(raw.as_bytes())
}

fn propfind(srv: &TestServer, path: &str, depth: &str, body: &str) -> Response {
    dav(srv, "PROPFIND", path, &format!("Depth: {depth}\r\n"), body)
}

/// The hrefs of a multistatus, in order.
fn hrefs(r: &Response) -> Vec<String> {
    r.text()
        .split("<D:href>")
        .skip(1)
        .filter_map(|s| s.split_once("</D:href>").map(|(h, _)| h.to_string()))
        .collect()
}

const PROPPATCH_SET: &str = r#"<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:z">
  <D:set><D:prop><z:author>Ann &amp; Bo</z:author></D:prop></D:set>
</D:propertyupdate>"#;

fn ask_author(srv: &TestServer, path: &str) -> Response {
    propfind(
        srv,
        path,
        "0",
        r#"<D:propfind xmlns:D="DAV:"><D:prop><z:author xmlns:z="urn:z"/></D:prop></D:propfind>"#,
    )
}

#[test]
fn options_says_dav_classes_1_and_2_and_the_methods() {
    let srv = server();
    for path in ["/files/", "/files/x", "/", "*"] {
        let r = dav(&srv, "OPTIONS", path, "", "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("dav"), Some("1, 2"), "{path}");
        assert_eq!(r.header("ms-author-via"), Some("DAV"), "{path}");
        assert!(r.header("allow").unwrap().contains("PROPFIND"), "{path}");
    }
    let r = dav(&srv, "OPTIONS", "/files/x", "", "");
    assert!(r.header("allow").unwrap().contains("MKCOL, COPY, MOVE"));
    assert!(r.header("allow").unwrap().contains("LOCK, UNLOCK"));
    let r = dav(&srv, "OPTIONS", "/echo/x", "", "");
    assert_eq!(r.header("dav"), None);
}

#[test]
fn propfind_at_the_root_leads_to_files() {
    let srv = server();
    let r = propfind(&srv, "/", "1", "");
    assert_eq!(r.status, 207);
    assert_eq!(hrefs(&r), ["/", "/files/"]);
    assert!(r.text().contains("<D:collection/>"));
    let r = propfind(&srv, "/", "0", "");
    assert_eq!(hrefs(&r), ["/"]);
}

#[test]
fn propfind_depth_0_and_1_with_encoded_hrefs_and_no_temporary_files() {
    let srv = server();
    std::fs::create_dir(srv.file("a dir")).unwrap();
    std::fs::write(srv.file("a dir/é x.txt"), b"hello").unwrap();
    std::fs::create_dir(srv.file("a dir/sub")).unwrap();
    std::fs::write(
        srv.file("a dir/.http-server-upload-1-2-3.part"),
        b"half an upload",
    )
    .unwrap();
    let r = propfind(&srv, "/files/a%20dir/", "0", "");
    assert_eq!(r.status, 207);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(hrefs(&r), ["/files/a%20dir/"]);
    let r = propfind(&srv, "/files/a%20dir/", "1", "");
    assert_eq!(r.status, 207);
    // The folder first, then its entries in the file system's order.
    let mut got = hrefs(&r);
    got[1..].sort();
    assert_eq!(
        got,
        [
            "/files/a%20dir/",
            "/files/a%20dir/%C3%A9%20x.txt",
            "/files/a%20dir/sub/"
        ]
    );
    let text = r.text();
    assert!(text.contains("<D:getcontentlength>5</D:getcontentlength>"));
    assert!(text.contains("<D:getcontenttype>text/plain"));
    assert!(text.contains("<D:displayname>é x.txt</D:displayname>"));
    assert!(!text.contains("upload"), "{text}");
    // The ETag is GET's.
    let get = srv.request(b"GET /files/a%20dir/%C3%A9%20x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let etag = get.header("etag").unwrap().replace('"', "&quot;");
    assert!(
        text.contains(&format!("<D:getetag>{etag}</D:getetag>")),
        "{text}"
    );
    // Depth 1 on a file is the file.
    let r = propfind(&srv, "/files/a%20dir/%C3%A9%20x.txt", "1", "");
    assert_eq!(hrefs(&r), ["/files/a%20dir/%C3%A9%20x.txt"]);
    assert_eq!(propfind(&srv, "/files/nothing", "0", "").status, 404);
}

#[test]
fn propfind_depth_infinity_is_403_propfind_finite_depth() {
    let srv = server();
    for fields in ["Depth: infinity\r\n", ""] {
        let r = dav(&srv, "PROPFIND", "/files/", fields, "");
        assert_eq!(r.status, 403, "{fields:?}");
        assert!(
            r.text().contains("<D:propfind-finite-depth/>"),
            "{}",
            r.text()
        );
    }
    assert_eq!(propfind(&srv, "/files/", "2", "").status, 400);
}

#[test]
fn propfind_named_properties_and_bad_bodies() {
    let srv = server();
    std::fs::write(srv.file("f"), b"abc").unwrap();
    let r = propfind(
        &srv,
        "/files/f",
        "0",
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><x:nope xmlns:x="urn:x"/></D:prop></D:propfind>"#,
    );
    assert_eq!(r.status, 207);
    let text = r.text();
    assert!(text.contains("<D:getcontentlength>3</D:getcontentlength>"));
    assert!(text.contains("HTTP/1.1 404 Not Found"), "{text}");
    assert!(!text.contains("getlastmodified"));
    let r = propfind(
        &srv,
        "/files/f",
        "0",
        r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
    );
    assert!(r.text().contains("<D:getetag/>"), "{}", r.text());
    for bad in [
        "<propfind xmlns=\"DAV:\"><prop>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><propfind xmlns=\"DAV:\"><allprop/></propfind>",
        "<propfind><allprop/></propfind>",
    ] {
        assert_eq!(propfind(&srv, "/files/f", "0", bad).status, 400, "{bad}");
    }
}

#[test]
fn propfind_of_a_big_folder_streams_every_entry() {
    let srv = server();
    std::fs::create_dir(srv.file("many")).unwrap();
    for i in 0..300 {
        std::fs::write(srv.file(&format!("many/f{i:04}")), b"x").unwrap();
    }
    let r = propfind(&srv, "/files/many/", "1", "");
    assert_eq!(r.status, 207);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let mut got = hrefs(&r);
    assert_eq!(got[0], "/files/many/");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 301, "each entry once");
    assert_eq!(got[1], "/files/many/f0000");
    assert_eq!(got[300], "/files/many/f0299");
    assert!(r.text().trim_end().ends_with("</D:multistatus>"));
}

/// The value of the first `<D:{name}>` of a multistatus.
fn prop_value(r: &Response, name: &str) -> Option<String> {
    let text = r.text();
    let open = format!("<D:{name}>");
    let (_, rest) = text.split_once(&open)?;
    let (value, _) = rest.split_once('<')?;
    Some(value.to_string())
}

/// Seconds since the epoch of an RFC 3339 date in UTC as `creationdate` gives it
/// (`1994-11-06T08:49:37Z`); `None` for anything else.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let n = |from: usize, to: usize| s.get(from..to)?.parse::<u64>().ok();
    let (y, mo, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (h, mi, sec) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = http_server::calendar::days_from_civil(y, mo, d);
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[test]
fn creationdate_is_the_birth_time_where_the_file_system_keeps_one() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let srv = server();
    let before = now();
    assert_eq!(
        dav(&srv, "PUT", "/files/d/new.txt", "", "hello").status,
        201
    );
    let after = now();
    // Whether this file system keeps birth times, asked of it directly (std reads statx).
    let born = |name: &str| {
        let t = std::fs::metadata(srv.file(name)).unwrap().created().ok()?;
        Some(t.duration_since(UNIX_EPOCH).unwrap().as_secs())
    };
    let named = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:creationdate/></D:prop></D:propfind>"#;
    let depth0 = propfind(&srv, "/files/d/new.txt", "0", named);
    let allprop = propfind(&srv, "/files/d/new.txt", "0", "");
    let folder = propfind(&srv, "/files/d/", "0", "");
    let listed = propfind(&srv, "/files/d/", "1", "");
    assert_eq!(hrefs(&listed), ["/files/d/", "/files/d/new.txt"]);
    let listed_file = listed
        .text()
        .split("<D:response>")
        .nth(2)
        .unwrap()
        .to_string();
    let Some(file_born) = born("d/new.txt") else {
        eprintln!("this file system keeps no birth times: creationdate must be absent");
        assert!(depth0.text().contains("404 Not Found"), "{}", depth0.text());
        for r in [&allprop, &folder, &listed] {
            assert!(!r.text().contains("<D:creationdate>"), "{}", r.text());
        }
        return;
    };
    let value = prop_value(&depth0, "creationdate").expect("a creationdate");
    assert!(!depth0.text().contains("404"), "{}", depth0.text());
    let secs = parse_rfc3339(&value).unwrap_or_else(|| panic!("not RFC 3339: {value}"));
    assert_eq!(secs, file_born);
    assert!((before..=after).contains(&secs), "{value}: made just now");
    // The same value in allprop, and for the entry of a Depth 1 answer (the listing's statx).
    assert_eq!(prop_value(&allprop, "creationdate"), Some(value.clone()));
    assert!(
        listed_file.contains(&format!("<D:creationdate>{value}</D:creationdate>")),
        "{listed_file}"
    );
    // The folder's own, both ways.
    let dir_value = prop_value(&folder, "creationdate").expect("the folder's creationdate");
    assert_eq!(parse_rfc3339(&dir_value), born("d"));
    assert_eq!(prop_value(&listed, "creationdate"), Some(dir_value));
}

#[test]
fn finder_files_are_plain_404s_when_absent_and_stored_only_when_put() {
    // Finder asks for `._name` (AppleDouble) beside every file it shows, and `.DS_Store` in
    // every folder: each absent one costs one open that fails, and writes nothing.
    let srv = server();
    std::fs::create_dir(srv.file("d")).unwrap();
    std::fs::write(srv.file("d/photo.jpg"), b"jpeg").unwrap();
    let finder = [
        "/files/d/._photo.jpg",
        "/files/d/.DS_Store",
        "/files/._d",
        "/files/.DS_Store",
        "/files/nowhere/._x",
    ];
    let named = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>"#;
    for path in finder {
        for (method, fields, body) in [
            ("GET", "", ""),
            ("HEAD", "", ""),
            ("PROPFIND", "Depth: 0\r\n", ""),
            ("PROPFIND", "Depth: 1\r\n", named),
        ] {
            let r = dav(&srv, method, path, fields, body);
            assert_eq!(r.status, 404, "{method} {path}: {r:?}");
        }
    }
    let names = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(srv.file(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("d"), ["photo.jpg"], "asking wrote nothing");
    assert_eq!(names(""), ["d"], "asking wrote nothing");
    // A PUT of one is a write like any other, and it is served back.
    for (path, body) in [("d/._photo.jpg", "apple double"), ("d/.DS_Store", "ds")] {
        let r = dav(&srv, "PUT", &format!("/files/{path}"), "", body);
        assert_eq!(r.status, 201, "{path}");
        let r = srv
            .request(format!("GET /files/{path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, body.as_bytes()),
            "{path}"
        );
        assert_eq!(
            propfind(&srv, &format!("/files/{path}"), "0", "").status,
            207
        );
    }
    // Listed like other dot files: not without --show-hidden.
    let listed = propfind(&srv, "/files/d/", "1", "");
    assert_eq!(hrefs(&listed), ["/files/d/", "/files/d/photo.jpg"]);
    let shown = server_with(|c| c.show_hidden = true);
    std::fs::write(shown.file("._a"), b"x").unwrap();
    std::fs::write(shown.file(".DS_Store"), b"x").unwrap();
    let listed = propfind(&shown, "/files/", "1", "");
    assert_eq!(
        hrefs(&listed),
        ["/files/", "/files/._a", "/files/.DS_Store"]
    );
}

#[test]
fn mkcol_makes_a_folder_405_409_415() {
    let srv = server();
    let r = dav(&srv, "MKCOL", "/files/new", "", "");
    assert_eq!(r.status, 201);
    assert!(srv.file("new").is_dir());
    assert_eq!(dav(&srv, "MKCOL", "/files/new/", "", "").status, 405);
    std::fs::write(srv.file("plain"), b"x").unwrap();
    assert_eq!(dav(&srv, "MKCOL", "/files/plain", "", "").status, 405);
    assert_eq!(dav(&srv, "MKCOL", "/files/no/parent/", "", "").status, 409);
    assert!(!srv.file("no").exists());
    assert_eq!(dav(&srv, "MKCOL", "/files/plain/x/", "", "").status, 409);
    let r = dav(&srv, "MKCOL", "/files/body/", "", "<x/>");
    assert_eq!(r.status, 415);
    assert!(!srv.file("body").exists());
    assert_eq!(dav(&srv, "MKCOL", "/files/", "", "").status, 405);
}

#[test]
fn delete_removes_a_folder_with_everything_in_it() {
    let srv = server();
    std::fs::create_dir_all(srv.file("tree/a/b")).unwrap();
    std::fs::write(srv.file("tree/a/b/f"), b"f").unwrap();
    std::fs::write(srv.file("tree/.hidden"), b"h").unwrap();
    let outside = srv.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"k").unwrap();
    std::os::unix::fs::symlink(&outside, srv.file("tree/link")).unwrap();
    let r = dav(&srv, "DELETE", "/files/tree/", "", "");
    assert_eq!(r.status, 204);
    assert!(!srv.file("tree").exists());
    // The link went, not what it points to.
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"k");
    assert_eq!(dav(&srv, "DELETE", "/files/tree/", "", "").status, 404);
}

#[test]
fn copy_files_and_folders_201_204_412_409_502() {
    let srv = server();
    std::fs::write(srv.file("f"), b"one").unwrap();
    let dest = |to: &str| format!("Destination: http://localhost/files/{to}\r\n");
    let r = dav(&srv, "COPY", "/files/f", &dest("g"), "");
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(srv.file("g")).unwrap(), b"one");
    std::fs::write(srv.file("f"), b"two").unwrap();
    let r = dav(&srv, "COPY", "/files/f", &dest("g"), "");
    assert_eq!(r.status, 204);
    assert_eq!(std::fs::read(srv.file("g")).unwrap(), b"two");
    let r = dav(
        &srv,
        "COPY",
        "/files/f",
        &(dest("g") + "Overwrite: F\r\n"),
        "",
    );
    assert_eq!(r.status, 412);
    let r = dav(&srv, "COPY", "/files/f", &dest("no/g"), "");
    assert_eq!(r.status, 409);
    let r = dav(
        &srv,
        "COPY",
        "/files/f",
        "Destination: http://elsewhere.example/files/g\r\n",
        "",
    );
    assert_eq!(r.status, 502);
    // An absolute path works too; outside /files it is refused.
    let r = dav(&srv, "COPY", "/files/f", "Destination: /files/h\r\n", "");
    assert_eq!(r.status, 201);
    let r = dav(&srv, "COPY", "/files/f", "Destination: /echo/x\r\n", "");
    assert_eq!(r.status, 403);
    assert_eq!(dav(&srv, "COPY", "/files/f", &dest("f"), "").status, 403);
    assert_eq!(dav(&srv, "COPY", "/files/nope", &dest("x"), "").status, 404);
    assert_eq!(dav(&srv, "COPY", "/files/f", "", "").status, 400);

    // A folder: deep by default, only itself with Depth 0, never into itself.
    std::fs::create_dir_all(srv.file("d/e")).unwrap();
    std::fs::write(srv.file("d/e/x"), b"x").unwrap();
    std::fs::write(srv.file("d/.http-server-upload-1-2-3.part"), b"live").unwrap();
    assert_eq!(dav(&srv, "COPY", "/files/d/", &dest("d2/"), "").status, 201);
    assert_eq!(std::fs::read(srv.file("d2/e/x")).unwrap(), b"x");
    assert!(!srv.file("d2/.http-server-upload-1-2-3.part").exists());
    let r = dav(
        &srv,
        "COPY",
        "/files/d/",
        &(dest("d3/") + "Depth: 0\r\n"),
        "",
    );
    assert_eq!(r.status, 201);
    assert!(srv.file("d3").is_dir() && !srv.file("d3/e").exists());
    let r = dav(
        &srv,
        "COPY",
        "/files/d/",
        &(dest("d3/") + "Depth: 1\r\n"),
        "",
    );
    assert_eq!(r.status, 400);
    // Over a file, and over a folder.
    assert_eq!(dav(&srv, "COPY", "/files/d/", &dest("g"), "").status, 204);
    assert!(srv.file("g/e/x").is_file());
    assert_eq!(dav(&srv, "COPY", "/files/f", &dest("d3"), "").status, 204);
    assert_eq!(std::fs::read(srv.file("d3")).unwrap(), b"two");
    assert_eq!(
        dav(&srv, "COPY", "/files/d/", &dest("d/e/in/"), "").status,
        409
    );
    // No temporary name is left behind anywhere.
    let left: Vec<_> = std::fs::read_dir(&srv.dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".http-server"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn move_renames_files_and_folders() {
    let srv = server();
    std::fs::write(srv.file("f"), b"one").unwrap();
    std::fs::write(srv.file("g"), b"old").unwrap();
    let dest = |to: &str| format!("Destination: http://localhost/files/{to}\r\n");
    let r = dav(
        &srv,
        "MOVE",
        "/files/f",
        &(dest("g") + "Overwrite: F\r\n"),
        "",
    );
    assert_eq!(r.status, 412);
    assert_eq!(dav(&srv, "MOVE", "/files/f", &dest("g"), "").status, 204);
    assert!(!srv.file("f").exists());
    assert_eq!(std::fs::read(srv.file("g")).unwrap(), b"one");
    assert_eq!(dav(&srv, "MOVE", "/files/g", &dest("h"), "").status, 201);
    std::fs::create_dir_all(srv.file("d/e")).unwrap();
    std::fs::create_dir_all(srv.file("t/old")).unwrap();
    assert_eq!(dav(&srv, "MOVE", "/files/d/", &dest("t/"), "").status, 204);
    assert!(srv.file("t/e").is_dir() && !srv.file("t/old").exists());
    assert!(!srv.file("d").exists());
    let r = dav(
        &srv,
        "MOVE",
        "/files/t/",
        &(dest("u/") + "Depth: 0\r\n"),
        "",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        dav(&srv, "MOVE", "/files/t/", &dest("t/e/x/"), "").status,
        409
    );
    // The root takes no MOVE.
    assert_eq!(dav(&srv, "MOVE", "/files/", &dest("x/"), "").status, 405);
}

#[test]
fn a_destination_never_escapes_nor_writes_through_a_link() {
    let srv = server();
    std::fs::write(srv.file("f"), b"x").unwrap();
    let outside = srv.root.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, srv.file("link")).unwrap();
    for to in ["/files/../x", "/files/%2e%2e/x", "/files/a%2fb"] {
        let r = dav(
            &srv,
            "COPY",
            "/files/f",
            &format!("Destination: {to}\r\n"),
            "",
        );
        assert_eq!(r.status, 400, "{to}");
    }
    for method in ["COPY", "MOVE"] {
        let r = dav(
            &srv,
            method,
            "/files/f",
            "Destination: /files/link/x\r\n",
            "",
        );
        assert_eq!(r.status, 403, "{method}");
    }
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    assert_eq!(dav(&srv, "MKCOL", "/files/link/x/", "", "").status, 403);
    assert!(srv.file("f").exists());
}

#[test]
fn proppatch_keeps_dead_properties_that_travel_with_the_resource() {
    let srv = server();
    std::fs::write(srv.file("f"), b"x").unwrap();
    let r = dav(&srv, "PROPPATCH", "/files/f", "", PROPPATCH_SET);
    assert_eq!(r.status, 207);
    assert!(r.text().contains("HTTP/1.1 200 OK"), "{}", r.text());
    let r = ask_author(&srv, "/files/f");
    assert!(r.text().contains(">Ann &amp; Bo</author>"), "{}", r.text());
    // Copied with a copy, moved with a move.
    let r = dav(&srv, "COPY", "/files/f", "Destination: /files/c\r\n", "");
    assert_eq!(r.status, 201);
    assert!(ask_author(&srv, "/files/c").text().contains("Ann &amp; Bo"));
    let r = dav(&srv, "MOVE", "/files/c", "Destination: /files/m\r\n", "");
    assert_eq!(r.status, 201);
    assert!(ask_author(&srv, "/files/m").text().contains("Ann &amp; Bo"));
    // A folder's, with a deep copy of what it holds.
    std::fs::create_dir(srv.file("d")).unwrap();
    assert_eq!(
        dav(&srv, "MOVE", "/files/m", "Destination: /files/d/m\r\n", "").status,
        201
    );
    assert_eq!(
        dav(&srv, "PROPPATCH", "/files/d/", "", PROPPATCH_SET).status,
        207
    );
    assert_eq!(
        dav(&srv, "COPY", "/files/d/", "Destination: /files/d2/\r\n", "").status,
        201
    );
    assert!(ask_author(&srv, "/files/d2/")
        .text()
        .contains("Ann &amp; Bo"));
    assert!(ask_author(&srv, "/files/d2/m")
        .text()
        .contains("Ann &amp; Bo"));
    // Allprop gives it too.
    assert!(propfind(&srv, "/files/d2/", "1", "")
        .text()
        .contains("Ann &amp; Bo"));
    // Removed.
    let remove = r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><z:author xmlns:z="urn:z"/></D:prop></D:remove></D:propertyupdate>"#;
    assert_eq!(dav(&srv, "PROPPATCH", "/files/f", "", remove).status, 207);
    assert!(ask_author(&srv, "/files/f")
        .text()
        .contains("404 Not Found"));
}

#[test]
fn proppatch_is_all_or_nothing() {
    let srv = server();
    std::fs::write(srv.file("f"), b"x").unwrap();
    let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:z">
      <D:set><D:prop><z:author>Ann</z:author></D:prop></D:set>
      <D:set><D:prop><D:getetag>"forged"</D:getetag></D:prop></D:set>
    </D:propertyupdate>"#;
    let r = dav(&srv, "PROPPATCH", "/files/f", "", body);
    assert_eq!(r.status, 207);
    let text = r.text();
    assert!(text.contains("HTTP/1.1 403 Forbidden"), "{text}");
    assert!(text.contains("HTTP/1.1 424 Failed Dependency"), "{text}");
    assert!(ask_author(&srv, "/files/f")
        .text()
        .contains("404 Not Found"));
    assert_eq!(dav(&srv, "PROPPATCH", "/files/f", "", "").status, 400);
    assert_eq!(
        dav(&srv, "PROPPATCH", "/files/f", "", "<propertyupdate/>").status,
        400
    );
    assert_eq!(
        dav(&srv, "PROPPATCH", "/files/none", "", PROPPATCH_SET).status,
        404
    );
}

#[test]
fn proppatch_of_windows_properties_is_200() {
    let srv = server();
    std::fs::write(srv.file("doc.txt"), b"x").unwrap();
    let body = r#"<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32CreationTime>Sun, 06 Dec 2026 00:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Sun, 06 Dec 2026 00:00:00 GMT</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>Sun, 06 Dec 2026 00:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#;
    let r = dav(&srv, "PROPPATCH", "/files/doc.txt", "", body);
    assert_eq!(r.status, 207);
    assert!(r.text().contains("HTTP/1.1 200 OK"));
    assert!(!r.text().contains("403"), "{}", r.text());
}

#[test]
fn read_only_refuses_every_webdav_write_with_403() {
    let srv = server_with(|c| c.read_only = true);
    std::fs::write(srv.file("f"), b"x").unwrap();
    for (method, fields, body) in [
        ("MKCOL", "", ""),
        ("COPY", "Destination: /files/g\r\n", ""),
        ("MOVE", "Destination: /files/g\r\n", ""),
        ("PROPPATCH", "", PROPPATCH_SET),
    ] {
        let r = dav(&srv, method, "/files/f", fields, body);
        assert_eq!(r.status, 403, "{method}");
    }
    assert!(srv.file("f").exists() && !srv.file("g").exists());
    assert_eq!(propfind(&srv, "/files/", "1", "").status, 207);
    let r = dav(&srv, "OPTIONS", "/files/f", "", "");
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS, PROPFIND"));
}

#[test]
fn propfind_body_may_come_in_pieces() {
    let srv = server();
    std::fs::write(srv.file("f"), b"abc").unwrap();
    let body = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>"#;
    let mut s = srv.connect();
    let head = format!(
        "PROPFIND /files/f HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    for piece in body.as_bytes().chunks(7) {
        s.write_all(piece).unwrap();
        s.flush().unwrap();
    }
    let r = read_response(&mut s, false);
    assert_eq!(r.status, 207);
    assert!(r
        .text()
        .contains("<D:getcontentlength>3</D:getcontentlength>"));
}

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>ann</D:href></D:owner></D:lockinfo>"#;

const SHARED: &str = r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;

/// The token of a granted lock, without its angle brackets.
fn token(r: &Response) -> String {
    let t = r.header("lock-token").expect("Lock-Token");
    t.trim_matches(|c| c == '<' || c == '>').to_string()
}

#[test]
fn a_lock_guards_writes_until_its_token_is_presented() {
    let srv = server();
    std::fs::write(srv.file("f"), b"x").unwrap();
    let r = dav(
        &srv,
        "LOCK",
        "/files/f",
        "Timeout: Second-600\r\n",
        LOCKINFO,
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<activelock"), "{}", r.text());
    assert!(r.text().contains("Second-"));
    let t = token(&r);
    assert!(t.starts_with("urn:uuid:"), "{t}");
    // Without the token: 423, for every write.
    for (method, fields) in [
        ("PUT", ""),
        ("DELETE", ""),
        ("PROPPATCH", ""),
        ("MOVE", "Destination: /files/g\r\n"),
    ] {
        let body = if method == "PROPPATCH" {
            PROPPATCH_SET
        } else {
            ""
        };
        let r = dav(&srv, method, "/files/f", fields, body);
        assert_eq!(r.status, 423, "{method}");
        assert!(r.text().contains("lock-token-submitted"), "{}", r.text());
    }
    // Over it as a destination too; as a source of a COPY it is only read.
    std::fs::write(srv.file("other"), b"o").unwrap();
    let r = dav(
        &srv,
        "COPY",
        "/files/other",
        "Destination: /files/f\r\n",
        "",
    );
    assert_eq!(r.status, 423);
    let r = dav(&srv, "COPY", "/files/f", "Destination: /files/copy\r\n", "");
    assert_eq!(r.status, 201);
    // A second exclusive lock conflicts.
    let r = dav(&srv, "LOCK", "/files/f", "", LOCKINFO);
    assert_eq!(r.status, 423);
    assert!(r.text().contains("no-conflicting-lock"));
    // With the token it goes; a wrong or corrupt one is not enough.
    let r = dav(&srv, "PUT", "/files/f", "If: (<urn:uuid:nope>)\r\n", "y");
    assert_eq!(r.status, 412);
    let r = dav(
        &srv,
        "PUT",
        "/files/f",
        "If: (<opaquelocktoken:x>) (Not <DAV:no-lock>)\r\n",
        "y",
    );
    assert_eq!(r.status, 423);
    let r = dav(&srv, "PUT", "/files/f", &format!("If: (<{t}>)\r\n"), "y");
    assert_eq!(r.status, 204);
    assert_eq!(std::fs::read(srv.file("f")).unwrap(), b"y");
    // The token and a wrong entity tag: 412; the right tag: done.
    let r = dav(
        &srv,
        "PUT",
        "/files/f",
        &format!("If: (<{t}> [\"nope\"])\r\n"),
        "z",
    );
    assert_eq!(r.status, 412);
    let etag = dav(&srv, "GET", "/files/f", "", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = dav(
        &srv,
        "PUT",
        "/files/f",
        &format!("If: (<{t}> [{etag}])\r\n"),
        "z",
    );
    assert_eq!(r.status, 204);
    // PROPFIND shows it.
    let r = propfind(&srv, "/files/f", "0", "");
    assert!(r.text().contains(&t), "{}", r.text());
    // Refreshed with its token, then unlocked.
    let r = dav(
        &srv,
        "LOCK",
        "/files/f",
        &format!("If: (<{t}>)\r\nTimeout: Second-100\r\n"),
        "",
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Second-100<"), "{}", r.text());
    let r = dav(
        &srv,
        "UNLOCK",
        "/files/f",
        "Lock-Token: <urn:uuid:other>\r\n",
        "",
    );
    assert_eq!(r.status, 409);
    let r = dav(
        &srv,
        "UNLOCK",
        "/files/f",
        &format!("Lock-Token: <{t}>\r\n"),
        "",
    );
    assert_eq!(r.status, 204);
    assert_eq!(dav(&srv, "DELETE", "/files/f", "", "").status, 204);
}

#[test]
fn two_servers_over_one_folder_share_their_locks() {
    let a = server();
    let dir = a.dir.clone();
    let b = server_with(|c| c.directory = Some(dir.clone()));
    std::fs::write(a.file("f"), b"x").unwrap();
    let r = dav(&a, "LOCK", "/files/f", "Timeout: Second-600\r\n", LOCKINFO);
    assert_eq!(r.status, 200);
    let t = token(&r);
    // B refuses a write without the token, a second lock, and shows the lock with its owner.
    assert_eq!(dav(&b, "PUT", "/files/f", "", "y").status, 423);
    assert_eq!(dav(&b, "LOCK", "/files/f", "", LOCKINFO).status, 423);
    let r = propfind(&b, "/files/f", "0", "");
    assert!(r.text().contains(&t), "{}", r.text());
    assert!(r.text().contains("ann</href>"), "{}", r.text());
    // The table is a reserved name: no request reaches it, no listing shows it.
    assert!(dir.join(".http-server-upload-locks").exists());
    assert_eq!(
        dav(&b, "GET", "/files/.http-server-upload-locks", "", "").status,
        404
    );
    assert!(!propfind(&b, "/files/", "1", "")
        .text()
        .contains("upload-locks"));
    // B takes the token; A's UNLOCK of it then finds none.
    let with = format!("If: (<{t}>)\r\n");
    assert_eq!(dav(&b, "PUT", "/files/f", &with, "y").status, 204);
    let unlock = format!("Lock-Token: <{t}>\r\n");
    assert_eq!(dav(&b, "UNLOCK", "/files/f", &unlock, "").status, 204);
    assert_eq!(dav(&a, "UNLOCK", "/files/f", &unlock, "").status, 409);
    assert_eq!(dav(&a, "PUT", "/files/f", "", "z").status, 204);
    // A delete through one ends the locks for both.
    let r = dav(&a, "LOCK", "/files/f", "", LOCKINFO);
    let t = token(&r);
    let with = format!("If: (<{t}>)\r\n");
    assert_eq!(dav(&b, "DELETE", "/files/f", &with, "").status, 204);
    std::fs::write(a.file("f"), b"new").unwrap();
    assert_eq!(dav(&a, "PUT", "/files/f", "", "z").status, 204);
}

#[test]
fn a_lock_owner_past_its_bound_is_refused() {
    let srv = server();
    let owner = "a".repeat(http_server::app::dav::locks::MAX_OWNER_BYTES);
    let body = LOCKINFO.replace("ann", &owner);
    let r = dav(&srv, "LOCK", "/files/f", "", &body);
    assert_eq!(r.status, 400);
    assert!(!srv.file("f").exists());
    let body = LOCKINFO.replace("ann", &owner[..1000]);
    assert_eq!(dav(&srv, "LOCK", "/files/f", "", &body).status, 201);
}

#[test]
fn a_lock_on_an_unmapped_name_makes_an_empty_file() {
    let srv = server();
    let r = dav(&srv, "LOCK", "/files/new.txt", "", LOCKINFO);
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(srv.file("new.txt")).unwrap(), b"");
    let t = token(&r);
    // Finder then PUTs its body, chunked and without a length.
    let raw = format!(
        "PUT /files/new.txt HTTP/1.1\r\nHost: localhost\r\nIf: (<{t}>)\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    assert_eq!(srv.request(raw.as_bytes()).status, 204);
    assert_eq!(std::fs::read(srv.file("new.txt")).unwrap(), b"hello");
    assert_eq!(
        dav(&srv, "LOCK", "/files/no/parent", "", LOCKINFO).status,
        409
    );
}

#[test]
fn a_deep_lock_on_a_folder_guards_what_it_holds_and_shared_locks_share() {
    let srv = server();
    std::fs::create_dir(srv.file("d")).unwrap();
    let r = dav(&srv, "LOCK", "/files/d/", "Depth: infinity\r\n", LOCKINFO);
    assert_eq!(r.status, 200);
    let t = token(&r);
    assert_eq!(dav(&srv, "PUT", "/files/d/x", "", "x").status, 423);
    assert_eq!(dav(&srv, "MKCOL", "/files/d/sub", "", "").status, 423);
    let r = dav(
        &srv,
        "PUT",
        "/files/d/x",
        &format!("If: </files/d/> (<{t}>)\r\n"),
        "x",
    );
    assert_eq!(r.status, 201);
    // Deleting the folder takes its lock with it.
    let r = dav(&srv, "DELETE", "/files/d/", &format!("If: (<{t}>)\r\n"), "");
    assert_eq!(r.status, 204);
    assert_eq!(dav(&srv, "LOCK", "/files/d2", "", LOCKINFO).status, 201);
    // Shared locks.
    std::fs::write(srv.file("s"), b"s").unwrap();
    let a = dav(&srv, "LOCK", "/files/s", "", SHARED);
    let b = dav(&srv, "LOCK", "/files/s", "", SHARED);
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(dav(&srv, "LOCK", "/files/s", "", LOCKINFO).status, 423);
    let r = dav(
        &srv,
        "PUT",
        "/files/s",
        &format!("If: (<{}>)\r\n", token(&b)),
        "t",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        dav(&srv, "LOCK", "/files/s", "Depth: 1\r\n", SHARED).status,
        400
    );
}

#[test]
fn read_only_refuses_locks() {
    let srv = server_with(|c| c.read_only = true);
    std::fs::write(srv.file("f"), b"x").unwrap();
    assert_eq!(dav(&srv, "LOCK", "/files/f", "", LOCKINFO).status, 403);
    assert_eq!(dav(&srv, "LOCK", "/files/g", "", LOCKINFO).status, 403);
    assert!(!srv.file("g").exists());
}

#[test]
fn a_write_with_a_fragment_is_refused() {
    let srv = server();
    std::fs::create_dir(srv.file("d")).unwrap();
    assert_eq!(dav(&srv, "DELETE", "/files/d/#frag", "", "").status, 400);
    assert!(srv.file("d").is_dir());
}

#[test]
fn a_folder_moves_with_a_token_for_each_locked_file_in_it() {
    // davfs2 locks each file it writes until it has uploaded it, and moving or deleting their
    // folder meanwhile sends one tagged list per lock: 100 lists here.
    let srv = server();
    std::fs::create_dir(srv.file("d")).unwrap();
    let mut lists = String::new();
    for i in 0..100 {
        let r = dav(&srv, "LOCK", &format!("/files/d/f{i}"), "", LOCKINFO);
        assert_eq!(r.status, 201, "{i}");
        lists.push_str(&format!(
            "<http://localhost/files/d/f{i}> (<{}>) ",
            token(&r)
        ));
    }
    let move_to_e = |fields: &str| {
        let fields = format!("Destination: /files/e/\r\n{fields}");
        dav(&srv, "MOVE", "/files/d/", &fields, "")
    };
    assert_eq!(move_to_e("").status, 423);
    let r = move_to_e(&format!("If: {lists}\r\n"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(srv.file("e/f99").is_file());
    let r = dav(&srv, "DELETE", "/files/e/", "", "");
    assert_eq!(r.status, 204, "{}", r.text());
}
