//! The binary as a user meets it: flags, exit codes and start-up messages.

mod common;

use common::process::{Proc, BIN};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn help_and_version_exit_0() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--directory",
        "--port",
        "--bind",
        "--threads",
        "--max-upload",
        "--quiet",
        "--date",
        "--no-listing",
        "--show-hidden",
        "--read-only",
        "--shutdown-timeout",
        "--drain-idle",
        "--stale-upload-age",
        "--no-sendfile",
        "--auth",
        "--auth-read",
        "--auth-file",
        "--anonymous",
        "--allow-host",
        "--trust-proxy",
        "--hash-password",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("http-server "));
}

#[test]
fn bad_flags_print_usage_and_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "http"],
        &["--port", "70000"],
        &["--threads", "0"],
        &["--threads", "100000"],
        &["--max-head-bytes", "1000000000"],
        &["--bind", "nowhere"],
        &["--idle-timeout", "-1"],
        &["--quiet=yes"],
        &["--no-listing=1"],
        &["--show-hidden=no"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Usage:"), "{args:?}: {err}");
    }
}

#[test]
fn a_missing_directory_exits_1_with_a_message() {
    let out = Command::new(BIN)
        .args(["--directory", "/no/such/dir", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such directory"));
}

#[test]
fn a_port_in_use_exits_1_with_a_message() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN).args(["--port", &port]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen") && err.contains("--port"),
        "{err}"
    );
}

#[test]
fn starts_serves_and_logs_requests_without_control_characters() {
    let mut server = Proc::spawn(&[]);
    let port = server.addr.port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /echo/%1b[2J\x1b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /echo/%1b%5b2J HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let refused = server.wait_log(" 400 ");
    let served = server.wait_log("/echo/%1b%5b2J");
    assert!(served.contains("\"GET /echo/%1b%5b2J\" 200 4B"), "{served}");
    for line in [refused, served] {
        assert!(!line.contains('\x1b'), "raw escape in the log: {line:?}");
    }
}

#[test]
fn log_lines_from_concurrent_workers_never_interleave() {
    const CLIENTS: usize = 4;
    const REQUESTS: usize = 50;
    let server = Proc::spawn(&["--threads", "4"]);
    let port = server.addr.port();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = common::connect(([127, 0, 0, 1], port).into());
                for i in 0..REQUESTS {
                    let text = format!("c{c}-r{i}-{}", "x".repeat(i * 7));
                    // One write: a request in pieces would wait on Nagle and delayed ACKs.
                    let request = format!("GET /echo/{text} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                    s.write_all(request.as_bytes()).unwrap();
                    let r = common::read_response(&mut s, false);
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body, text.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // A request is logged just after its answer is written: read until all are in.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    let mut lines = Vec::new();
    while seen < CLIENTS * REQUESTS {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = server.log.recv_timeout(left) else {
            break;
        };
        // Every line is whole: a timestamp, then one event.
        let (time, event) = line.split_once(' ').unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{line:?}");
        assert!(event.starts_with("127.0.0.1:"), "{line:?}");
        if let Some((_, request)) = event.split_once(" \"GET /echo/c") {
            let (c_r, status) = request.split_once('"').unwrap();
            let i: usize = c_r.split('-').nth(1).unwrap()[1..].parse().unwrap();
            assert!(c_r.ends_with(&"x".repeat(i * 7)), "{line:?}");
            assert!(status.starts_with(" 200 "), "{line:?}");
            seen += 1;
        }
        lines.push(line);
    }
    assert_eq!(seen, CLIENTS * REQUESTS, "{lines:#?}");
}

/// Sends one request with `Connection: close` and returns the whole answer.
fn fetch(port: u16, target: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn listing_flags_reach_the_server() {
    let temp = common::TempDir::new("cli-listing");
    let dir = temp.path();
    std::fs::write(dir.join(".dot"), b"x").unwrap();
    let d = dir.to_str().unwrap();
    let server = Proc::spawn(&["--quiet", "--directory", d]);
    let port = server.addr.port();
    let plain = fetch(port, "/files/");
    assert!(
        plain.starts_with("HTTP/1.1 200") && !plain.contains(".dot"),
        "{plain}"
    );
    drop(server);
    let server = Proc::spawn(&["--quiet", "--show-hidden", "--directory", d]);
    let port = server.addr.port();
    assert!(fetch(port, "/files/").ends_with("\r\n\r\n.dot\n"));
    drop(server);
    let server = Proc::spawn(&["--quiet", "--no-listing", "--directory", d]);
    let port = server.addr.port();
    assert!(fetch(port, "/files/").starts_with("HTTP/1.1 404"));
    assert!(fetch(port, "/files/.dot").starts_with("HTTP/1.1 200"));
    drop(server);
    let server = Proc::spawn(&["--quiet", "--read-only", "--directory", d]);
    let port = server.addr.port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"PUT /files/new HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!dir.join("new").exists());
}

#[test]
fn access_flags_are_checked_at_start_up() {
    for args in [
        &["--anonymous", "maybe"][..],
        &["--trust-proxy", "nonsense"],
        &["--trust-proxy", "10.0.0.0/40"],
        &["--allow-host", "a b"],
        &["--auth", "nocolon"],
        &["--auth-read"],
        &["--hash-password=1"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // Users that cannot be right: exit 1 with the reason.
    for (args, want) in [
        (&["--auth", "alice:"][..], "empty password"),
        (&["--auth", "a:x", "--auth-read", "a:y"], "given twice"),
    ] {
        let out = Command::new(BIN)
            .args(["--port", "0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

fn auth_file(tag: &str, text: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("http-server-auth-{tag}-{}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn an_auth_file_others_may_read_is_refused() {
    let path = auth_file("open", "alice:secret\n", 0o644);
    let out = Command::new(BIN)
        .args(["--port", "0", "--auth-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mode 644") && err.contains("chmod 600"),
        "{err}"
    );
    let bad = auth_file("bad", "# users\nalice:pbkdf2-sha256$12$!!$??\n", 0o600);
    let out = Command::new(BIN)
        .args(["--port", "0", "--auth-file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("alice"));
    std::fs::remove_file(path).unwrap();
    std::fs::remove_file(bad).unwrap();
}

/// Runs `--hash-password` with `args` on `password`; returns the printed hash.
fn hash_password(args: &[&str], password: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("--hash-password")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn hash_password_takes_its_rounds_from_a_flag() {
    // (Without the flag it makes 600 000: a unit test in main.rs checks that without spending
    // seconds of a debug build's CPU on it.)
    let hash = hash_password(&["--rounds", "1000"], "correct horse");
    assert!(hash.starts_with("pbkdf2-sha256$1000$"), "{hash}");
    for (args, message) in [
        (
            &["--hash-password", "--rounds", "999"][..],
            "between 1000 and",
        ),
        (&["--rounds", "2000"], "only goes with --hash-password"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}"
        );
    }
}

#[test]
fn a_hashed_password_from_hash_password_logs_in_and_the_log_names_the_user() {
    // Few rounds, so that the check is quick in a debug build on a busy machine too; the hash
    // is checked the same way whatever its rounds.
    let hash = hash_password(&["--rounds", "1000"], "correct horse");
    let path = auth_file("hashed", &format!("alice:{hash}\nbob:plain:read\n"), 0o600);
    let mut server = Proc::spawn(&["--auth-file", path.to_str().unwrap()]);
    let port = server.addr.port();
    let ask = |auth: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(common::CLIENT_TIMEOUT)).unwrap();
        write!(
            s,
            "GET /echo/hi HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(ask(&common::basic("alice:correct horse")).starts_with("HTTP/1.1 200"));
    // Again: from the login cache this time; the answer is the same.
    assert!(ask(&common::basic("alice:correct horse")).starts_with("HTTP/1.1 200"));
    assert!(ask(&common::basic("alice:correct horsE")).starts_with("HTTP/1.1 401"));
    assert!(ask(&common::basic("bob:plain")).starts_with("HTTP/1.1 200"));
    let alice = server.wait_log(" user=alice ");
    assert!(
        alice.contains(" user=alice \"GET /echo/hi\" 200"),
        "{alice}"
    );
    let bob = server.wait_log(" user=bob ");
    assert!(bob.contains(" user=bob \"GET /echo/hi\" 200"), "{bob}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn behind_a_trusted_proxy_the_log_shows_the_forwarded_client() {
    let mut server = Proc::spawn(&["--trust-proxy", "127.0.0.1"]);
    let mut s = server.connect();
    s.write_all(
        b"GET /echo/a HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 1.1.1.1, 203.0.113.7\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let line = server.wait_log("/echo/a");
    assert!(line.contains("Z 203.0.113.7 \"GET /echo/a\" 200"), "{line}");
}

#[test]
fn beyond_loopback_the_start_up_log_says_what_anonymous_clients_may_do() {
    let dir = common::TempDir::new("cli-notes");
    let mut p = common::process::Proc::start(dir.path(), &["--bind", "0.0.0.0"]);
    let note = p.wait_log("anonymous clients may only read");
    assert!(note.contains("--auth"), "{note}");
    drop(p);
    let mut p =
        common::process::Proc::start(dir.path(), &["--bind", "0.0.0.0", "--auth", "alice:secret"]);
    p.wait_log("every request needs a user name and password");
    let warning = p.wait_log("warning: Basic credentials");
    assert!(warning.contains("TLS"), "{warning}");
}
