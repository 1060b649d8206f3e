//! The binary as a user meets it: flags, exit codes and start-up messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_http-server");

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
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .args(["--port", &port.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    log.read_line(&mut line).unwrap();
    assert!(line.contains("listening on 127.0.0.1:"), "{line}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /echo/%1b[2J\x1b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /echo/%1b%5b2J HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let mut logged = String::new();
    for _ in 0..10 {
        line.clear();
        if log.read_line(&mut line).unwrap() == 0 {
            break;
        }
        logged.push_str(&line);
        if line.contains("/echo/%1b%5b2J") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(logged.contains("\"GET /echo/%1b%5b2J\" 200 4B"), "{logged}");
    assert!(logged.contains("400"), "{logged}");
    assert!(
        !logged.contains('\x1b'),
        "raw escape in the log: {logged:?}"
    );
}
