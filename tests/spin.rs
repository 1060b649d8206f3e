//! More keep-alive clients than workers, each quiet for a few milliseconds between requests:
//! workers must neither spin on the quiet connections nor sit on them while others wait.
//!
//! In a test binary of its own, so that the process's CPU time is this test's alone.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// User plus system CPU time of this whole process.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime, in clock ticks (100 a second on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn quiet_keep_alive_clients_neither_spin_the_workers_nor_wait_behind_them() {
    const ROUNDS: usize = 40;
    // Six keep-alive connections on two workers, used in turn, then a pause: each connection is
    // quiet while the others are served.
    let srv = server_with(|c| c.threads = 2);
    let mut conns: Vec<TcpStream> = (0..6).map(|_| srv.connect()).collect();
    let cpu_before = process_cpu();
    let started = Instant::now();
    for round in 0..ROUNDS {
        for (i, s) in conns.iter_mut().enumerate() {
            s.write_all(
                format!("GET /echo/{round}-{i} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
            )
            .unwrap();
            assert_eq!(read_response(s, false).text(), format!("{round}-{i}"));
        }
        // The clients' quiet spell, on purpose: idle connections are what is under test.
        sleep(Duration::from_millis(5));
    }
    let wall = started.elapsed();
    let cpu = process_cpu() - cpu_before;
    // The work itself (240 small requests, both sides) takes a few tens of milliseconds; a
    // worker looking at quiet connections without pause would be busy the whole time.
    assert!(cpu < wall / 2, "{cpu:?} of CPU in {wall:?}");
    // About 1 s here. A bound, not a measure of speed: when workers waited out 50 ms slices on
    // quiet connections while the clients' requests sat on parked ones, this took 16-22 s.
    assert!(
        wall < Duration::from_secs(10),
        "{wall:?} for {ROUNDS} rounds"
    );
}
