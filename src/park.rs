//! The parking lot: keep-alive connections with nothing to read wait here, off the pool's
//! queue, so that workers only ever pick up connections that are likely to have work.
//!
//! One watcher thread looks at each parked connection without blocking (a one-byte `peek`),
//! each one less often the longer it stays idle (from `FIRST_CHECK_AFTER` doubling up to
//! `MAX_CHECK_INTERVAL`). A connection with bytes to read (or whose client left, or whose
//! deadline has passed) goes back to the pool, where its worker serves, answers 408 or closes. std has no readiness API (no epoll
//! without `unsafe`), so this bounded polling is how a fixed pool serves a thousand idle
//! connections for almost no CPU.

use crate::conn::Conn;
use crate::server::Shared;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How soon a newly parked connection is looked at first.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_millis(1);
/// The longest a parked connection goes unchecked: the worst extra delay a request on a
/// long-idle keep-alive connection can see.
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// The watcher wakes at most this often; each wake checks every connection that is due.
pub const WATCH_TICK: Duration = Duration::from_millis(2);
/// The watcher wakes at least this often, to notice shutdown.
const MAX_SLEEP: Duration = Duration::from_millis(100);

struct Parked {
    conn: Conn,
    next_check: Instant,
    interval: Duration,
}

/// Connections waiting for bytes, and the condition the watcher sleeps on.
#[derive(Default)]
pub struct ParkingLot {
    parked: Mutex<Vec<Parked>>,
    wake: Condvar,
}

impl ParkingLot {
    /// Parks a connection whose socket is in non-blocking mode.
    pub fn park(&self, conn: Conn) {
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.push(Parked {
            conn,
            next_check: Instant::now() + FIRST_CHECK_AFTER,
            interval: FIRST_CHECK_AFTER,
        });
        drop(parked);
        self.wake.notify_one();
    }

    /// How many connections are parked.
    pub fn len(&self) -> usize {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watcher's loop: runs until the server shuts down, then closes what is parked.
    pub fn watch(shared: &Arc<Shared>) {
        let lot = &shared.parking;
        let mut keep: Vec<Parked> = Vec::new();
        while !shared.is_shutting_down() {
            let due = {
                let mut parked = lot.parked.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let earliest = parked.iter().map(|p| p.next_check).min();
                let sleep = earliest.map_or(MAX_SLEEP, |t| t.saturating_duration_since(now));
                if !sleep.is_zero() {
                    parked = lot
                        .wake
                        .wait_timeout(parked, sleep.min(MAX_SLEEP))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::take(&mut *parked)
            };
            let now = Instant::now();
            let woke = now;
            for mut p in due {
                if now < p.next_check {
                    keep.push(p);
                } else if p.conn.has_input() || p.conn.is_past_deadline(now) {
                    // Bytes to read, or a deadline to act on (408, or a quiet close): a job.
                    p.conn.schedule();
                } else {
                    p.interval = (p.interval * 2).min(MAX_CHECK_INTERVAL);
                    p.next_check = now + p.interval;
                    keep.push(p);
                }
            }
            lot.parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(&mut keep);
            // Bound the wake rate: each pass walks every parked connection.
            let spent = woke.elapsed();
            if spent < WATCH_TICK {
                std::thread::sleep(WATCH_TICK - spent);
            }
        }
        lot.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
