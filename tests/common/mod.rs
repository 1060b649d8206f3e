//! Test support: a real server on 127.0.0.1:0 with its own temporary directory, and raw-socket
//! helpers with client-side timeouts so that a hang fails the test instead of stalling it.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod process;

use http_server::{Config, Handle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a test waits for the server before it fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A temporary directory, removed with everything in it when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "http-server-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server and the directory it serves (a `files` folder inside a temporary one, so
/// that tests can plant files next to it).
pub struct TestServer {
    pub handle: Handle,
    pub root: TempDir,
    pub dir: PathBuf,
}

impl TestServer {
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr())
    }

    /// Sends `raw` on a new connection and reads one response.
    pub fn request(&self, raw: &[u8]) -> Response {
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        read_response(&mut s, raw.starts_with(b"HEAD"))
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Runs a path-safety `case` against two servers: one that opens paths with one `openat2`
/// beneath its folder (where the kernel has it), and one that takes the checked walk, as where
/// `openat2` is missing or filtered. The policy must hold both ways.
pub fn each_way(case: impl Fn(&TestServer)) {
    for walk in [false, true] {
        eprintln!("force_path_walk = {walk}");
        case(&server_with(|c| c.force_path_walk = walk));
    }
}

/// A server with default settings and a directory.
pub fn server() -> TestServer {
    server_with(|_| {})
}

/// A server whose config `tweak` adjusts (port 0, a fresh directory and `quiet` are preset).
pub fn server_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let root = TempDir::new("srv");
    let dir = root.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        directory: Some(dir.clone()),
        quiet: true,
        ..Config::default()
    };
    tweak(&mut config);
    let handle = http_server::start(config).unwrap();
    let dir = dir.canonicalize().unwrap();
    TestServer { handle, root, dir }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s
}

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn read_byte(s: &mut impl Read) -> Option<u8> {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(1) => Some(b[0]),
        Ok(_) => None,
        Err(e) => panic!("read failed (timeout?): {e}"),
    }
}

fn read_line(s: &mut impl Read) -> Option<String> {
    let mut line = Vec::new();
    loop {
        let b = read_byte(s)?;
        if b == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Some(String::from_utf8(line).unwrap());
        }
        line.push(b);
    }
}

/// Reads one response (skipping any 1xx), framed by Content-Length, chunked coding or EOF.
/// `head_only`: the request was HEAD, so no body follows whatever the headers say.
pub fn read_response(s: &mut impl Read, head_only: bool) -> Response {
    loop {
        let r = read_response_or_interim(s, head_only);
        if r.status >= 200 {
            return r;
        }
    }
}

/// Like `read_response`, but returns a 1xx answer too.
pub fn read_response_or_interim(s: &mut impl Read, head_only: bool) -> Response {
    let status_line = read_line(s).expect("connection closed before a response");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(
        parts.next(),
        Some("HTTP/1.1"),
        "status line: {status_line:?}"
    );
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(s).expect("connection closed inside the head");
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').expect("header without colon");
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut r = Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    if head_only || status < 200 || status == 204 || status == 304 {
        return r;
    }
    if r.header("transfer-encoding").is_some() {
        assert!(
            !r.has_header("content-length"),
            "both Content-Length and Transfer-Encoding"
        );
        loop {
            let size_line = read_line(s).expect("eof in chunked body");
            let size = usize::from_str_radix(&size_line, 16).unwrap();
            let mut chunk = vec![0u8; size + 2];
            s.read_exact(&mut chunk).unwrap();
            assert_eq!(&chunk[size..], b"\r\n");
            if size == 0 {
                break;
            }
            r.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = r.header("content-length") {
        let mut body = vec![0u8; len.parse().unwrap()];
        s.read_exact(&mut body).unwrap();
        r.body = body;
    } else {
        s.read_to_end(&mut r.body).unwrap();
    }
    r
}

/// Whether the server closed the connection: the next read gives EOF (or a reset) in time.
pub fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("expected EOF, got {e}"),
    }
}

/// Waits until `condition` holds, looking again every few milliseconds; fails the test, saying
/// `what` was awaited, if it still does not hold at `deadline`. For anything a test can observe
/// (a file appears, a count drops), instead of a sleep guessed long enough.
pub fn wait_until(deadline: Instant, what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(deadline, what, || condition().then_some(()));
}

/// Like `wait_until`, for a condition that finds something: waits until `find` gives a value,
/// and returns it.
pub fn wait_for<T>(deadline: Instant, what: &str, mut find: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(found) = find() {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reads everything until EOF.
pub fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// A gzip decoder for checking compressed bodies.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// An HTTP Basic `Authorization` value for `user:password`, base64 written out here rather
/// than through the server's own encoder.
pub fn basic(pair: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("Basic ");
    for chunk in pair.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
