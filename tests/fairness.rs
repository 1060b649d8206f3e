//! The fixed pool under pressure: more slow, idle and keep-alive clients than workers, and
//! handlers that panic. Every normal client must still be answered.

mod common;

use common::*;
use http_server::app::page::render::Viewer;
use http_server::app::router;
use http_server::app::App;
use http_server::http::error::Error;
use http_server::http::handler::{Context, Handler, Reply, Who};
use http_server::http::parse::Head;
use http_server::{Config, Server};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn slow_and_silent_clients_do_not_starve_a_normal_one() {
    let srv = server_with(|c| {
        c.threads = 2;
        c.header_timeout = Duration::from_secs(5);
    });
    // Ten clients that connect and say nothing, ten that drip a head byte by byte.
    let silent: Vec<TcpStream> = (0..10).map(|_| srv.connect()).collect();
    let mut slow: Vec<TcpStream> = (0..10).map(|_| srv.connect()).collect();
    for s in &mut slow {
        s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    }
    // The server has taken in the ten half heads and set them aside to wait for more (the
    // silent ten are not handed to it yet: TCP_DEFER_ACCEPT waits for a first byte).
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "the ten half heads are read and parked",
        || srv.handle.parked() >= 10,
    );
    for s in &mut slow {
        s.write_all(b"s").unwrap();
    }
    let started = Instant::now();
    let r = srv.request(b"GET /echo/fast HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.body, b"fast");
    // Well inside the header timeout: the slow clients hold no worker while they dawdle.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn keep_alive_connections_outnumbering_workers_are_all_served() {
    let srv = server_with(|c| c.threads = 2);
    let mut conns: Vec<TcpStream> = (0..50).map(|_| srv.connect()).collect();
    for round in 0..3 {
        for (i, s) in conns.iter_mut().enumerate() {
            s.write_all(
                format!("GET /echo/{round}-{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
            )
            .unwrap();
        }
        for (i, s) in conns.iter_mut().enumerate() {
            assert_eq!(read_response(s, false).text(), format!("{round}-{i}"));
        }
    }
}

#[test]
fn idle_connections_wait_off_the_queue_and_wake_when_a_request_comes() {
    let srv = server_with(|c| c.threads = 2);
    let mut conns: Vec<TcpStream> = (0..20).map(|_| srv.connect()).collect();
    for s in &mut conns {
        s.write_all(b"GET /echo/first HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(s, false).body, b"first");
    }
    // With more connections than workers, the idle ones move to the parking lot, and then the
    // workers' own: a worker does not sit on a quiet connection while others are parked.
    wait_until(
        Instant::now() + CLIENT_TIMEOUT,
        "all 20 idle connections are parked",
        || srv.handle.parked() == 20,
    );
    // A request on any of them is still answered.
    for (i, s) in conns.iter_mut().enumerate().rev() {
        s.write_all(format!("GET /echo/{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_response(s, false).text(), i.to_string());
    }
}

#[test]
fn parked_connections_still_meet_their_deadlines() {
    let srv = server_with(|c| {
        c.threads = 2;
        c.idle_timeout = Duration::from_millis(400);
        c.header_timeout = Duration::from_millis(400);
    });
    // Ten idle keep-alive connections and ten with half a head: more than the workers, so
    // they wait in the parking lot, where their deadlines must still be kept.
    let mut idle: Vec<TcpStream> = (0..10).map(|_| srv.connect()).collect();
    for s in &mut idle {
        s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(s, false).status, 200);
    }
    let mut partial: Vec<TcpStream> = (0..10).map(|_| srv.connect()).collect();
    for s in &mut partial {
        s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    }
    let started = Instant::now();
    for s in &mut partial {
        assert_eq!(read_response(s, false).status, 408);
    }
    for s in &mut idle {
        assert!(is_closed(s), "idle connection closed quietly");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// The router, with one route that panics.
struct Panicking(App);

impl Handler for Panicking {
    fn handle<'h>(&self, cx: &Context, head: &'h Head, _: &mut Who) -> Result<Reply<'h>, Error> {
        if head.target() == b"/panic" {
            panic!("a handler bug, on purpose");
        }
        let viewer = Viewer {
            can_write: true,
            offer_login: false,
            archives: true,
        };
        router::dispatch(
            &self.0,
            viewer,
            false,
            cx,
            head,
            router::route(head.target()),
        )
    }
}

#[test]
fn a_panicking_handler_costs_one_request_not_a_worker() {
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        quiet: true,
        ..Config::default()
    };
    let handle = Server::bind_with_handler(
        config.engine(),
        Box::new(Panicking(App::new(&config).unwrap())),
    )
    .unwrap()
    .spawn()
    .unwrap();
    for _ in 0..10 {
        let mut s = connect(handle.addr());
        s.write_all(b"GET /panic HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(
            (r.status, r.reason.as_str()),
            (500, "Internal Server Error")
        );
        assert_eq!(r.header("connection"), Some("close"));
        assert!(is_closed(&mut s));
    }
    // Both workers are still there: two connections are served at the same time.
    let mut a = connect(handle.addr());
    let mut b = connect(handle.addr());
    a.write_all(b"GET /echo/a HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    b.write_all(b"GET /echo/b HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut b, false).body, b"b");
    assert_eq!(read_response(&mut a, false).body, b"a");
}
