//! Bodies in both directions under slow clients (issue 18): downloads read slowly or not at all
//! and uploads that trickle must not hold the workers, so that everyone else is still answered;
//! and a transfer that waits for its client keeps its own file, cleans up after a client that
//! leaves, gzips the same, and finishes when the server drains.
//!
//! "Parked" below means waiting for the client: a download whose socket buffers are full (the
//! files here are several times larger than loopback buffers hold, about 4 MiB), an upload
//! whose next bytes have not come. Tests cannot see where the server keeps such a transfer;
//! they see whether other clients are served meanwhile and whether the bytes come out right.

mod common;

use common::process::{temp_files, wait_for_upload_start, Proc};
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The server's workers: few on purpose, so that the slow clients outnumber them.
const THREADS: usize = 2;
/// Slow clients in each direction: three per worker.
const SLOW_CLIENTS: usize = 3 * THREADS;
/// Far more than the socket buffers of one loopback connection hold, so that a download that is
/// not read must wait for its client.
const BIG_FILE_BYTES: usize = 32 << 20;
/// What each slow upload sends: one byte per `PACE` at first, the rest at once at the end.
const UPLOAD_BYTES: usize = 64 << 10;
/// How often a slow uploader sends its next byte.
const PACE: Duration = Duration::from_millis(200);
/// Bound on each probe's answer while the slow clients dawdle (the figure).
const MAX_PROBE_TIME: Duration = Duration::from_millis(100);
/// A probe unanswered after this long counts as never answered: the test fails at once.
const PROBE_GIVE_UP: Duration = Duration::from_secs(2);
/// Rounds of probes once every slow transfer is under way.
const PROBE_ROUNDS: usize = 10;
/// Bound on the slow phase, generous for a busy machine.
const SLOW_PHASE_LIMIT: Duration = Duration::from_secs(30);
/// Server timeouts far beyond any test here: these tests are about workers, not timeouts.
const SERVER_TIMEOUT: Duration = Duration::from_secs(120);

/// A GET whose client reads a few bytes now and then (`nibbles`) or nothing at all, until
/// `finish`.
struct SlowDownload {
    s: TcpStream,
    /// What was read so far: the head and maybe a little body.
    got: Vec<u8>,
    nibbles: bool,
}

impl SlowDownload {
    fn start(addr: SocketAddr, target: &str, nibbles: bool) -> SlowDownload {
        let mut s = connect(addr);
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        s.set_nonblocking(true).unwrap();
        SlowDownload {
            s,
            got: Vec::new(),
            nibbles,
        }
    }

    /// Reads a few bytes if any have come (a nibbling client only).
    fn nibble(&mut self) {
        if !self.nibbles {
            return;
        }
        let mut b = [0u8; 16];
        match self.s.read(&mut b) {
            Ok(0) => panic!("a slow download was closed after {} bytes", self.got.len()),
            Ok(n) => self.got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("a slow download failed: {e}"),
        }
    }

    /// Whether the server has begun to answer (seen without reading).
    fn has_begun(&self) -> bool {
        if !self.got.is_empty() {
            return true;
        }
        match self.s.peek(&mut [0u8; 1]) {
            Ok(0) => panic!("a slow download was closed before its answer"),
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("a slow download failed: {e}"),
        }
    }

    /// Reads the rest at full speed.
    fn finish(mut self) -> Response {
        self.s.set_nonblocking(false).unwrap();
        read_response(&mut (&self.got[..]).chain(&mut self.s), false)
    }
}

/// A PUT with a declared length whose client sends one byte per `trickle`, until `finish`.
struct SlowUpload {
    s: TcpStream,
    body: Vec<u8>,
    sent: usize,
}

impl SlowUpload {
    fn start(addr: SocketAddr, name: &str, body: Vec<u8>) -> SlowUpload {
        let mut s = connect(addr);
        let head = format!(
            "PUT /files/{name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        SlowUpload { s, body, sent: 0 }
    }

    /// Sends the next byte (never the last: `finish` sends that).
    fn trickle(&mut self) {
        assert!(
            self.sent + 1 < self.body.len(),
            "the slow phase outran the body"
        );
        self.s.write_all(&self.body[self.sent..=self.sent]).unwrap();
        self.sent += 1;
    }

    /// Sends the rest at once and reads the answer.
    fn finish(mut self) -> (Response, Vec<u8>) {
        self.s.write_all(&self.body[self.sent..]).unwrap();
        (read_response(&mut self.s, false), self.body)
    }
}

/// Asks for `target` on a new connection and checks the answer is 200; how long the whole
/// exchange took, or `None` when no answer began within `PROBE_GIVE_UP`.
fn probe(addr: SocketAddr, target: &str) -> Option<Duration> {
    let started = Instant::now();
    let mut s = connect(addr);
    s.set_read_timeout(Some(PROBE_GIVE_UP)).unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let mut first = [0u8; 1];
    match s.read(&mut first) {
        Ok(1) => {}
        Ok(_) => panic!("GET {target}: closed without an answer"),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
        Err(e) => panic!("GET {target}: {e}"),
    }
    let r = read_response(&mut (&first[..]).chain(&mut s), false);
    let took = started.elapsed();
    assert_eq!(r.status, 200, "GET {target}");
    Some(took)
}

/// Where two byte strings first differ (or where the shorter ends): for failure messages that
/// do not print megabytes.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: {} bytes, {} expected, first difference at byte {}",
        got.len(),
        want.len(),
        first_difference(got, want)
    );
}

#[test]
fn slow_downloads_and_uploads_do_not_stop_the_server() {
    let srv = server_with(|c| {
        c.threads = THREADS;
        c.write_timeout = SERVER_TIMEOUT;
        c.body_read_timeout = SERVER_TIMEOUT;
    });
    let big = random_bytes(BIG_FILE_BYTES, 18);
    std::fs::write(srv.file("big.bin"), &big).unwrap();
    // Half the downloads read a few bytes now and then, half read nothing at all.
    let mut downloads: Vec<SlowDownload> = (0..SLOW_CLIENTS)
        .map(|i| SlowDownload::start(srv.addr(), "/files/big.bin", i % 2 == 0))
        .collect();
    let mut uploads: Vec<SlowUpload> = (0..SLOW_CLIENTS)
        .map(|i| {
            let body = random_bytes(UPLOAD_BYTES, 100 + i as u64);
            SlowUpload::start(srv.addr(), &format!("up{i}"), body)
        })
        .collect();

    // Probe while the slow clients dawdle, until every transfer has been under way for
    // PROBE_ROUNDS rounds. Every probe counts, also those before.
    let deadline = Instant::now() + SLOW_PHASE_LIMIT;
    let mut worst = (Duration::ZERO, "");
    let (mut round, mut rounds_under_way) = (0, 0);
    while rounds_under_way < PROBE_ROUNDS {
        round += 1;
        for u in &mut uploads {
            u.trickle();
        }
        for d in &mut downloads {
            d.nibble();
        }
        let begun = downloads.iter().filter(|d| d.has_begun()).count();
        let uploading = temp_files(&srv.dir).len();
        for target in ["/echo/x", "/files/"] {
            let took = probe(srv.addr(), target).unwrap_or_else(|| {
                panic!(
                    "GET {target} got no answer within {PROBE_GIVE_UP:?} (round {round}: \
                     {begun} of {SLOW_CLIENTS} slow downloads and {uploading} of \
                     {SLOW_CLIENTS} slow uploads under way, {THREADS} workers)"
                )
            });
            if took > worst.0 {
                worst = (took, target);
            }
        }
        if begun == SLOW_CLIENTS && uploading == SLOW_CLIENTS {
            rounds_under_way += 1;
        }
        assert!(
            Instant::now() < deadline,
            "after {round} rounds, only {begun} of {SLOW_CLIENTS} slow downloads and \
             {uploading} of {SLOW_CLIENTS} slow uploads were under way"
        );
        // The uploads' pace: this slowness is the behaviour under test.
        std::thread::sleep(PACE);
    }
    assert!(
        worst.0 <= MAX_PROBE_TIME,
        "the slowest probe, GET {}, took {:?} (bound {MAX_PROBE_TIME:?}) with {SLOW_CLIENTS} \
         slow downloads and {SLOW_CLIENTS} slow uploads on {THREADS} workers",
        worst.1,
        worst.0
    );

    // The clients speed up: every transfer ends whole.
    for (i, u) in uploads.into_iter().enumerate() {
        let (r, body) = u.finish();
        assert_eq!(r.status, 201, "upload {i}");
        let stored = std::fs::read(srv.file(&format!("up{i}"))).unwrap();
        assert_same(&stored, &body, &format!("upload {i} as stored"));
    }
    for (i, d) in downloads.into_iter().enumerate() {
        let r = d.finish();
        assert_eq!(r.status, 200, "download {i}");
        assert_same(&r.body, &big, &format!("download {i}"));
    }
    assert_eq!(temp_files(&srv.dir), Vec::<String>::new());
}

/// A download far larger than the socket buffers: most of it is sent after the file is replaced.
const DOWNLOAD_BYTES: usize = 16 << 20;
/// Where the ranged download starts.
const RANGE_START: usize = 1_000_000;

#[test]
fn a_parked_download_sends_its_own_file_when_the_file_is_replaced() {
    for sendfile in [true, false] {
        let srv = server_with(|c| c.sendfile = sendfile);
        let old = random_bytes(DOWNLOAD_BYTES, 21);
        // Another length too: the rest must not be cut or padded to the new file's size.
        let new = random_bytes(DOWNLOAD_BYTES / 4, 22);
        std::fs::write(srv.file("doc.bin"), &old).unwrap();
        let mut whole = srv.connect();
        whole
            .write_all(b"GET /files/doc.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut ranged = srv.connect();
        ranged
            .write_all(
                format!(
                    "GET /files/doc.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes={RANGE_START}-\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let head = read_response(&mut whole, true);
        assert_eq!(head.status, 200);
        let len = old.len().to_string();
        assert_eq!(head.header("content-length"), Some(len.as_str()));
        let head = read_response(&mut ranged, true);
        assert_eq!(head.status, 206);
        // A little of each body; the rest waits for the client.
        let mut got_whole = vec![0u8; 4096];
        whole.read_exact(&mut got_whole).unwrap();
        let mut got_ranged = vec![0u8; 4096];
        ranged.read_exact(&mut got_ranged).unwrap();

        // Replaced the way uploads (ours or another program's) replace a file.
        std::fs::write(srv.file("doc.bin.next"), &new).unwrap();
        std::fs::rename(srv.file("doc.bin.next"), srv.file("doc.bin")).unwrap();
        let fresh = srv.request(b"GET /files/doc.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_same(&fresh.body, &new, "a GET after the replacement");

        got_whole.resize(old.len(), 0);
        whole.read_exact(&mut got_whole[4096..]).unwrap();
        assert_same(&got_whole, &old, &format!("whole, sendfile {sendfile}"));
        got_ranged.resize(old.len() - RANGE_START, 0);
        ranged.read_exact(&mut got_ranged[4096..]).unwrap();
        assert_same(
            &got_ranged,
            &old[RANGE_START..],
            &format!("range, sendfile {sendfile}"),
        );
        // Keep-alive goes on after the parked body.
        whole
            .write_all(b"GET /echo/next HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut whole, false).body, b"next");
    }
}

#[test]
fn a_parked_upload_whose_client_leaves_leaves_no_temporary_file() {
    let srv = server_with(|c| c.threads = THREADS);
    std::fs::write(srv.file("keep"), b"old contents").unwrap();
    let mut s = srv.connect();
    s.write_all(b"PUT /files/keep HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n")
        .unwrap();
    // A tenth of the body: the server takes it all and waits for more.
    s.write_all(&random_bytes(100 << 10, 3)).unwrap();
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    wait_until(deadline, "the upload began", || {
        temp_files(&srv.dir).len() == 1
    });
    assert_eq!(srv.handle.connections(), 1);
    drop(s);
    wait_until(deadline, "the server closed the connection", || {
        srv.handle.connections() == 0
    });
    // The temporary file may go an instant after the count drops; it must go.
    wait_until(deadline, "the temporary file was removed", || {
        temp_files(&srv.dir).is_empty()
    });
    assert_eq!(std::fs::read(srv.file("keep")).unwrap(), b"old contents");
    let names: Vec<_> = std::fs::read_dir(&srv.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep"], "nothing else in the folder");
}

/// Text that varies from line to line like a real log (times, addresses, ids), so that level-1
/// gzip shrinks it about 2:1, not 100:1: the gzip stream too is larger than socket buffers.
fn log_text(len: usize) -> Vec<u8> {
    const LEVELS: [&str; 4] = ["INFO", "WARN", "DEBUG", "ERROR"];
    const PATHS: [&str; 6] = [
        "/api/v1/items",
        "/static/app.js",
        "/files/report.pdf",
        "/login",
        "/api/v2/users",
        "/index.html",
    ];
    const STATUSES: [u16; 4] = [200, 304, 404, 500];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut out = Vec::with_capacity(len + 256);
    let mut i = 0u64;
    while out.len() < len {
        let (a, id, span) = (next(), next(), next());
        writeln!(
            out,
            "2024-05-{:02} {:02}:{:02}:{:02}.{:03} {} 10.{}.{}.{} {}/{i} req={id:016x} \
             span={:08x} status={} bytes={}",
            1 + a % 28,
            (a >> 5) % 24,
            (a >> 10) % 60,
            (a >> 16) % 60,
            (a >> 22) % 1000,
            LEVELS[((a >> 32) % 4) as usize],
            (a >> 34) % 256,
            (a >> 42) % 256,
            (a >> 50) % 256,
            PATHS[((a >> 58) % 6) as usize],
            span >> 32,
            STATUSES[(span % 4) as usize],
            (span >> 8) % 1_000_000,
        )
        .unwrap();
        i += 1;
    }
    out.truncate(len);
    out
}

/// A compressible file large enough to be gzipped as it streams (above
/// `MAX_GZIP_IN_MEMORY_BYTES`), and whose gzip stream still overflows the socket buffers.
const GZIP_FILE_BYTES: usize = 20 << 20;
/// The gzip stream must be at least this long for the download to have to wait for its
/// client (loopback buffers hold about 4 MiB).
const MIN_GZIP_STREAM_BYTES: usize = 8 << 20;

#[test]
fn a_parked_gzip_download_decodes_to_the_file() {
    let srv = server();
    let text = log_text(GZIP_FILE_BYTES);
    // .log is text (compressible) in src/app/negotiate/mime.rs.
    std::fs::write(srv.file("app.log"), &text).unwrap();
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        let mut s = srv.connect();
        s.write_all(
            format!(
                "GET /files/app.log {version}\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        // Slowly at first: a few small reads, paced, then the rest at full speed.
        let mut got = Vec::new();
        for _ in 0..5 {
            let mut b = [0u8; 64];
            let n = s.read(&mut b).unwrap();
            assert!(n > 0, "{version}: closed after {} bytes", got.len());
            got.extend_from_slice(&b[..n]);
            // A slow client on purpose: the server must fill the socket and park the download.
            std::thread::sleep(PACE);
        }
        let r = read_response(&mut (&got[..]).chain(&mut s), false);
        assert_eq!(r.status, 200, "{version}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{version}");
        if version == "HTTP/1.1" {
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        } else {
            // HTTP/1.0 has no chunked coding: the close ends the body.
            assert!(!r.has_header("transfer-encoding"));
            assert!(!r.has_header("content-length"));
        }
        assert!(
            r.body.len() >= MIN_GZIP_STREAM_BYTES,
            "{version}: the gzip stream is only {} bytes: too small to fill the socket \
             buffers, so this test would not make it wait (make log_text vary more)",
            r.body.len()
        );
        assert_same(&gunzip(&r.body), &text, &format!("{version}, gunzipped"));
    }
}

/// Long enough never to be reached in `sigterm_lets_parked_transfers_finish`.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

#[test]
fn sigterm_lets_parked_transfers_finish() {
    let dir = TempDir::new("transfers-sigterm");
    let big = random_bytes(DOWNLOAD_BYTES, 31);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let timeout = SHUTDOWN_TIMEOUT_SECS.to_string();
    let mut p = Proc::start(dir.path(), &["--shutdown-timeout", &timeout]);

    // A download that has read its head and a little body, and waits for its client.
    let mut down = p.connect();
    down.write_all(b"GET /files/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let head = read_response(&mut down, true);
    assert_eq!(head.status, 200);
    let mut got = vec![0u8; 4096];
    down.read_exact(&mut got).unwrap();
    // An upload that has sent a little of its body.
    let body = random_bytes(1 << 20, 32);
    let mut up = p.connect();
    write!(
        up,
        "PUT /files/up HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    up.write_all(&body[..1000]).unwrap();
    wait_for_upload_start(dir.path());

    let signalled = Instant::now();
    p.signal("TERM");
    p.wait_log("SIGTERM: draining");
    // The clients speed up.
    up.write_all(&body[1000..]).unwrap();
    let r = read_response(&mut up, false);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(is_closed(&mut up));
    got.resize(big.len(), 0);
    down.read_exact(&mut got[4096..]).unwrap();
    assert_same(&got, &big, "the download");
    assert!(is_closed(&mut down), "closed after its body: draining");

    let status = p.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
        "{:?}",
        signalled.elapsed()
    );
    let last = p.wait_log("stopped after");
    assert!(last.contains("nothing cut"), "{last}");
    assert_same(
        &std::fs::read(dir.path().join("up")).unwrap(),
        &body,
        "the upload as stored",
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}
