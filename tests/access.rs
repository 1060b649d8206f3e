//! Access control on the wire: users and Basic credentials (401, 403, 429 and their headers),
//! the defaults by bind address, `--read-only`, cross-site writes, DNS rebinding (421),
//! `--trust-proxy`, `/health` and `/_login`. In-process servers; the flags themselves, the
//! `--auth-file` checks, `--hash-password` and the log lines are tested on the binary in
//! tests/cli.rs.

mod common;

use common::{basic, connect, read_response, server_with, Response, TestServer};
use http_server::access::crypto::password::{PasswordHash, MIN_ITERATIONS};
use http_server::config::{Cidr, LoginProbe, LoginStep, Rights, UserEntry};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

fn user(name: &str, password: &str, rights: Rights) -> UserEntry {
    UserEntry {
        name: name.into(),
        password: password.into(),
        rights,
    }
}

fn send(srv: &TestServer, method: &str, target: &str, fields: &str, body: &[u8]) -> Response {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost:{}\r\n{fields}",
        srv.addr().port()
    );
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    srv.request(&raw)
}

fn auth(pair: &str) -> String {
    format!("Authorization: {}\r\n", basic(pair))
}

fn users_server() -> TestServer {
    server_with(|c| {
        c.users = vec![
            user("alice", "secret", Rights::Write),
            user("bob", "reader", Rights::Read),
        ];
    })
}

#[test]
fn with_no_flag_on_loopback_anyone_may_write_as_before() {
    let srv = server_with(|_| {});
    let r = send(&srv, "POST", "/files/a", "", b"hi");
    assert_eq!(r.status, 201);
    // Nobody to log in as: no login page.
    assert_eq!(send(&srv, "GET", "/_login?to=/files/", "", b"").status, 404);
    // Credentials mean nothing without users: ignored, not refused.
    let r = send(&srv, "PUT", "/files/a", &auth("x:y"), b"ho");
    assert_eq!(r.status, 204);
    assert_eq!(std::fs::read(srv.file("a")).unwrap(), b"ho");
}

#[test]
fn beyond_loopback_anonymous_clients_may_only_read_by_default() {
    let srv = server_with(|c| c.addr = "0.0.0.0:0".parse().unwrap());
    std::fs::write(srv.file("a"), b"x").unwrap();
    assert_eq!(send(&srv, "GET", "/files/a", "", b"").status, 200);
    let r = send(&srv, "PUT", "/files/a", "", b"y");
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.text().contains("--anonymous"), "{}", r.text());
    assert_eq!(std::fs::read(srv.file("a")).unwrap(), b"x");
    // And --anonymous write says otherwise.
    let srv = server_with(|c| {
        c.addr = "0.0.0.0:0".parse().unwrap();
        c.anonymous = Some(Rights::Write);
    });
    assert_eq!(send(&srv, "PUT", "/files/a", "", b"y").status, 201);
}

#[test]
fn with_users_nothing_is_served_without_credentials() {
    let srv = users_server();
    std::fs::write(srv.file("a"), b"x").unwrap();
    for (method, target) in [
        ("GET", "/files/a"),
        ("GET", "/"),
        ("GET", "/echo/x"),
        ("PUT", "/files/a"),
    ] {
        let r = send(&srv, method, target, "", b"");
        assert_eq!(r.status, 401, "{method} {target}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"http-server\", charset=\"UTF-8\"")
        );
    }
    let r = send(&srv, "GET", "/files/a", &auth("alice:secret"), b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"x"[..]));
    assert_eq!(
        send(&srv, "PUT", "/files/a", &auth("alice:secret"), b"new").status,
        204
    );
    assert_eq!(std::fs::read(srv.file("a")).unwrap(), b"new");
}

#[test]
fn a_reader_may_read_and_gets_403_for_a_write() {
    let srv = users_server();
    std::fs::write(srv.file("a"), b"x").unwrap();
    assert_eq!(
        send(&srv, "GET", "/files/a", &auth("bob:reader"), b"").status,
        200
    );
    for method in ["PUT", "POST", "DELETE"] {
        let r = send(&srv, method, "/files/a", &auth("bob:reader"), b"y");
        assert_eq!(r.status, 403, "{method}");
        assert_eq!(r.text(), "forbidden: user bob may only read\n");
    }
    assert_eq!(std::fs::read(srv.file("a")).unwrap(), b"x");
}

#[test]
fn favicon_needs_no_credentials() {
    // Browsers ask for it without the credentials they hold for the page.
    let srv = users_server();
    let r = send(&srv, "GET", "/favicon.ico", "", b"");
    assert_eq!(r.status, 204);
    assert!(!r.has_header("www-authenticate"));
}

#[test]
fn wrong_and_malformed_credentials_get_401() {
    let srv = users_server();
    let long = format!("Authorization: Basic {}\r\n", "QUFB".repeat(10 * 1024 / 4));
    for fields in [
        auth("alice:secreT"), // the right length, one letter off
        auth("alice:secret "),
        auth("alice:"),
        auth("carol:secret"),
        auth("bob:secret"),
        "Authorization: Basic !!!!\r\n".to_string(),
        format!("Authorization: {}\r\n", basic("alicesecret")), // no colon
        "Authorization: Bearer abc\r\n".to_string(),
        long,
        format!("{}{}", auth("alice:secret"), auth("alice:secret")),
    ] {
        let r = send(&srv, "GET", "/files/", &fields, b"");
        assert_eq!(r.status, 401, "{fields:.60}");
        assert!(r.has_header("www-authenticate"));
    }
}

#[test]
fn failed_logins_are_limited_per_client_with_429_and_retry_after() {
    // Behind a trusted proxy the client is the forwarded address: a way to be several clients.
    let srv = server_with(|c| {
        c.users = vec![user("alice", "secret", Rights::Write)];
        c.trust_proxy = vec![Cidr::parse("127.0.0.1").unwrap()];
    });
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    for i in 0..10 {
        let r = send(
            &srv,
            "GET",
            "/files/",
            &(from("203.0.113.9") + &auth("alice:guess")),
            b"",
        );
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Past the limit: 429, even with the right password.
    let r = send(
        &srv,
        "GET",
        "/files/",
        &(from("203.0.113.9") + &auth("alice:secret")),
        b"",
    );
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client is not affected.
    let r = send(
        &srv,
        "GET",
        "/files/",
        &(from("198.51.100.4") + &auth("alice:secret")),
        b"",
    );
    assert_eq!(r.status, 200);
    // Without credentials nothing is counted or refused with 429.
    let r = send(&srv, "GET", "/files/", &from("203.0.113.9"), b"");
    assert_eq!(r.status, 401);
}

#[test]
fn anonymous_readers_beside_users() {
    let srv = server_with(|c| {
        c.users = vec![user("alice", "secret", Rights::Write)];
        c.anonymous = Some(Rights::Read);
    });
    std::fs::write(srv.file("a"), b"x").unwrap();
    assert_eq!(send(&srv, "GET", "/files/a", "", b"").status, 200);
    let r = send(&srv, "PUT", "/files/a", "", b"y");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.text(),
        "unauthorized: writing here needs a user name and password\n"
    );
    assert_eq!(
        send(&srv, "PUT", "/files/a", &auth("alice:secret"), b"y").status,
        204
    );
    // The page offers a login to anonymous visitors, and hides the write controls.
    let page = send(&srv, "GET", "/files/", "Accept: text/html\r\n", b"");
    let html = page.text();
    assert!(html.contains("href=\"/_login?to=/files/\""), "{html}");
    assert!(html.contains("data-can-write=\"false\""));
    let page = send(
        &srv,
        "GET",
        "/files/",
        &format!("Accept: text/html\r\n{}", auth("alice:secret")),
        b"",
    );
    assert!(!page.text().contains("/_login"));
    assert!(page.text().contains("data-can-write=\"true\""));
}

#[test]
fn the_login_link_asks_for_credentials_then_goes_back() {
    let srv = server_with(|c| {
        c.users = vec![user("alice", "secret", Rights::Write)];
        c.anonymous = Some(Rights::Read);
    });
    let r = send(&srv, "GET", "/_login?to=/files/docs/", "", b"");
    assert_eq!(r.status, 401);
    let r = send(
        &srv,
        "GET",
        "/_login?to=/files/docs/",
        &auth("alice:secret"),
        b"",
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/files/docs/"))
    );
    // Only back into /files: never to another site.
    for to in [
        "//evil.example/",
        "https://evil.example/",
        "/echo/x",
        "/files/\"x",
    ] {
        let r = send(
            &srv,
            "GET",
            &format!("/_login?to={to}"),
            &auth("alice:secret"),
            b"",
        );
        assert_eq!(r.header("location"), Some("/files/"), "{to}");
    }
}

#[test]
fn read_only_refuses_every_write_even_for_users() {
    let srv = server_with(|c| {
        c.read_only = true;
        c.users = vec![user("alice", "secret", Rights::Write)];
    });
    let r = send(&srv, "PUT", "/files/a", &auth("alice:secret"), b"y");
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "forbidden: this server is read-only\n");
    let page = send(
        &srv,
        "GET",
        "/files/",
        &format!("Accept: text/html\r\n{}", auth("alice:secret")),
        b"",
    );
    assert!(page.text().contains("data-can-write=\"false\""));
}

#[test]
fn writes_from_other_sites_get_403() {
    let srv = server_with(|_| {});
    let port = srv.addr().port();
    for fields in [
        "Origin: http://evil.example\r\n".to_string(),
        format!("Origin: http://localhost:{}\r\n", port + 1),
        format!("Origin: https://localhost:{port}\r\n"),
        "Origin: null\r\n".to_string(),
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Sec-Fetch-Site: same-site\r\n".to_string(),
    ] {
        let r = send(&srv, "POST", "/files/a", &fields, b"pwned");
        assert_eq!(r.status, 403, "{fields}");
        assert!(
            r.text()
                .starts_with("forbidden: a write from another web site"),
            "{}",
            r.text()
        );
        let r = send(&srv, "DELETE", "/files/a", &fields, b"");
        assert_eq!(r.status, 403, "{fields}");
    }
    assert!(!srv.file("a").exists());
    // Reads are not refused (the browser keeps the answer from the other site).
    let r = send(
        &srv,
        "GET",
        "/echo/x",
        "Origin: http://evil.example\r\n",
        b"",
    );
    assert_eq!(r.status, 200);
    // The listing page's own writes: same origin, as Chromium sends them.
    let fields = format!("Origin: http://localhost:{port}\r\nSec-Fetch-Site: same-origin\r\n");
    assert_eq!(send(&srv, "PUT", "/files/a", &fields, b"mine").status, 201);
    assert_eq!(std::fs::read(srv.file("a")).unwrap(), b"mine");
}

#[test]
fn behind_a_tls_proxy_the_origin_is_https() {
    let srv = server_with(|c| {
        c.trust_proxy = vec![Cidr::parse("127.0.0.0/8").unwrap()];
        c.allow_hosts = vec!["files.example.org".into()];
    });
    let put = |fields: &str| {
        let raw = format!(
            "PUT /files/a HTTP/1.1\r\nHost: files.example.org\r\nX-Forwarded-For: 203.0.113.5\r\n{fields}Content-Length: 1\r\n\r\nx"
        );
        srv.request(raw.as_bytes()).status
    };
    assert_eq!(
        put("X-Forwarded-Proto: https\r\nOrigin: https://files.example.org\r\n"),
        201
    );
    assert_eq!(
        put("X-Forwarded-Proto: https\r\nOrigin: http://files.example.org\r\n"),
        403
    );
    assert_eq!(
        put("Origin: https://files.example.org\r\n"),
        403,
        "the proxy did not say https"
    );
}

#[test]
fn a_rebinding_host_gets_421() {
    let srv = server_with(|_| {});
    let get = |host: &str| {
        let raw = format!("GET /files/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
        srv.request(raw.as_bytes())
    };
    let r = get("attacker.example");
    assert_eq!(r.status, 421);
    assert_eq!(
        r.text(),
        "misdirected request: this server does not answer for that Host\n"
    );
    assert_eq!(get("attacker.example:4221").status, 421);
    for host in [
        "localhost",
        "localhost:4221",
        "127.0.0.1:4221",
        "[::1]:4221",
        "h",
    ] {
        // "h" is what the other tests send: a bare name, not loopback.
        let want = if host == "h" { 421 } else { 200 };
        assert_eq!(get(host).status, want, "{host}");
    }
    let srv = server_with(|c| c.allow_hosts = vec!["files.lan".into()]);
    let raw = "GET /files/ HTTP/1.1\r\nHost: files.lan:4221\r\n\r\n";
    assert_eq!(srv.request(raw.as_bytes()).status, 200);
    // Elsewhere, --allow-host restricts names the same way; addresses still pass.
    let srv = server_with(|c| {
        c.addr = "0.0.0.0:0".parse().unwrap();
        c.allow_hosts = vec!["files.lan".into()];
    });
    for (host, want) in [
        ("files.lan", 200),
        ("attacker.example", 421),
        ("192.168.1.9:4221", 200),
    ] {
        let raw = format!("GET /files/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(srv.request(raw.as_bytes()).status, want, "{host}");
    }
}

#[test]
fn health_answers_without_credentials_or_a_known_host() {
    let srv = users_server();
    let r = srv.request(b"GET /health HTTP/1.1\r\nHost: lb.internal\r\n\r\n");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let mut s = connect(srv.addr());
    s.write_all(b"HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, true).status, 200);
    let r = srv.request(b"POST /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.status, 405);
}

/// Sends `GET /echo/x` with these credentials from a thread of its own: the answer, once it
/// comes (for logins that must overlap).
fn login_in_thread(
    addr: std::net::SocketAddr,
    credentials: String,
) -> std::thread::JoinHandle<Response> {
    std::thread::spawn(move || {
        let mut s = connect(addr);
        let raw = format!(
            "GET /echo/x HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
            auth(&credentials)
        );
        s.write_all(raw.as_bytes()).unwrap();
        read_response(&mut s, false)
    })
}

/// Holds every password check until opened, and counts the checks and the requests that wait
/// for another's check: the tests below make requests overlap by waiting for these counts, not
/// by counting on a PBKDF2 being slow enough (it is not, in a release build; and on a busy
/// machine a debug build's is slower than any client's patience).
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    open: bool,
    checking: usize,
    waiting: usize,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    fn probe(self: &Arc<Gate>) -> LoginProbe {
        let gate = Arc::clone(self);
        LoginProbe(Arc::new(move |step| gate.step(step)))
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn step(&self, step: LoginStep) {
        let mut state = self.lock();
        match step {
            LoginStep::Checking => state.checking += 1,
            LoginStep::Waiting => state.waiting += 1,
        }
        self.changed.notify_all();
        if step == LoginStep::Checking {
            // Bounded, so that a failed test does not leave a worker held for good.
            let deadline = Instant::now() + common::CLIENT_TIMEOUT;
            while !state.open && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                state = self.changed.wait_timeout(state, left).unwrap().0;
            }
        }
    }

    /// Closes the gate and zeroes the counts.
    fn close(&self) {
        *self.lock() = GateState::default();
    }

    fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    /// Waits until this many checks are held and this many requests wait for one.
    fn wait_for(&self, checking: usize, waiting: usize) {
        let deadline = Instant::now() + common::CLIENT_TIMEOUT;
        let mut state = self.lock();
        while (state.checking, state.waiting) != (checking, waiting) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "waited for {checking} checks and {waiting} waiting; saw {} and {}",
                state.checking,
                state.waiting
            );
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.checking, state.waiting)
    }
}

#[test]
fn requests_with_the_credentials_being_checked_wait_for_that_check() {
    // Five requests with one hashed user's credentials, the last four while the first is being
    // checked: all wait for its answer, and only one check is made. Checking each for itself
    // would leave one permit (MAX_SLOW_CHECKS is 2) for four requests, and three would get 503.
    let hash = PasswordHash::new(b"right", MIN_ITERATIONS)
        .unwrap()
        .to_line();
    let gate = Gate::new();
    // 16 workers: 4 may wait (password checks hold at most half the pool).
    let srv = server_with(|c| {
        c.users = vec![user("alice", &hash, Rights::Write)];
        c.threads = 16;
        c.login_probe = Some(gate.probe());
    });
    let addr = srv.addr();
    // Two rounds of the same wrong password: every request of them counts as a failed login
    // (ten, the limit), so the next one is refused.
    let rounds = [
        ("alice:right", 200),
        ("alice:wrong", 401),
        ("alice:wrong", 401),
    ];
    for (credentials, status) in rounds {
        gate.close();
        let first = login_in_thread(addr, credentials.to_string());
        gate.wait_for(1, 0);
        let rest: Vec<_> = (1..5)
            .map(|_| login_in_thread(addr, credentials.to_string()))
            .collect();
        gate.wait_for(1, 4);
        gate.open();
        let mut statuses = vec![first.join().unwrap().status];
        statuses.extend(rest.into_iter().map(|t| t.join().unwrap().status));
        assert_eq!(statuses, [status; 5], "{credentials}");
        assert_eq!(gate.counts(), (1, 4), "{credentials}: one check for five");
    }
    let r = send(&srv, "GET", "/echo/x", &auth("alice:wrong"), b"");
    assert_eq!(r.status, 429, "the waiters' failures were counted");
}

#[test]
fn stored_hashes_are_checked_only_so_many_at_once() {
    // Any salt and hash will do: every password sent is wrong. A name nobody has costs the same
    // check (so timing does not tell it apart), and takes a permit the same; so does a plain
    // password beside a hashed one (padded to as many rounds). Different passwords: the same
    // one would wait for the first check instead.
    let hash =
        "pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg==$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g=";
    let gate = Gate::new();
    // 8 workers: two checks may run (password checks hold at most half the pool).
    let srv = server_with(|c| {
        c.users = vec![
            user("alice", hash, Rights::Write),
            user("bob", "plain", Rights::Write),
        ];
        c.threads = 8;
        c.login_probe = Some(gate.probe());
    });
    let addr = srv.addr();
    for name in ["alice", "nobody", "bob"] {
        gate.close();
        let held: Vec<_> = (0..2)
            .map(|i| login_in_thread(addr, format!("{name}:wrong{i}")))
            .collect();
        gate.wait_for(2, 0);
        // Both permits are taken: a third check is turned away at once, not queued.
        let busy = send(
            &srv,
            "GET",
            "/echo/x",
            &auth(&format!("{name}:wrong2")),
            b"",
        );
        assert_eq!(busy.status, 503, "{name}");
        assert_eq!(busy.header("retry-after"), Some("1"));
        assert_eq!(busy.text(), "busy checking passwords; try again\n");
        gate.open();
        for t in held {
            assert_eq!(t.join().unwrap().status, 401, "{name}");
        }
        // Once they are done, the next check runs (and, wrong, is 401 again).
        let r = send(&srv, "GET", "/echo/x", &auth(&format!("{name}:wrong")), b"");
        assert_eq!(r.status, 401);
    }
    // With two workers only one check runs at a time, so that one worker always serves.
    let srv = server_with(|c| {
        c.users = vec![user("alice", hash, Rights::Write)];
        c.threads = 2;
        c.login_probe = Some(gate.probe());
    });
    let addr = srv.addr();
    gate.close();
    let held = login_in_thread(addr, "alice:other0".to_string());
    gate.wait_for(1, 0);
    let busy = send(&srv, "GET", "/echo/x", &auth("alice:other1"), b"");
    assert_eq!(busy.status, 503, "2 workers: the one permit is taken");
    let r = send(&srv, "GET", "/echo/x", "", b"");
    assert_eq!(r.status, 401, "the other worker serves meanwhile");
    gate.open();
    assert_eq!(held.join().unwrap().status, 401);
}
