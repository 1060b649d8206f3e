//! The parking lot: keep-alive connections with nothing to read wait here, off the pool's
//! queue, so that workers only ever pick up connections that are likely to have work.
//!
//! One watcher thread looks at each parked connection without blocking (a one-byte `peek`),
//! each one less often the longer it stays idle (from `FIRST_CHECK_AFTER`, doubling up to a cap:
//! `MAX_CHECK_INTERVAL` with a thousand connections parked, down to `MIN_INTERVAL_CAP` with a
//! few, so that the checks stay within a fixed budget, `interval_cap`). A connection with bytes
//! to read (or whose client left, or whose deadline has passed) goes back to the pool, where its
//! worker serves, answers 408 or closes. std has no readiness API (no epoll without `unsafe`),
//! so this bounded polling is how a fixed pool keeps a thousand idle connections for 0.9-2.3%
//! of one core.

use crate::engine::conn::Conn;
use crate::engine::server::Shared;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How soon a newly parked connection is looked at first.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_micros(200);
/// The longest a parked connection goes unchecked: the worst extra delay a request on a
/// long-idle keep-alive connection can see, with a thousand connections parked.
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// The check interval may grow no longer than this many times the number of parked
/// connections: with up to a thousand parked, the watcher makes at most about 5000 checks a
/// second in all (about 1.5% of a core here), and the fewer are parked, the more often each is
/// checked. (Past a thousand, `MAX_CHECK_INTERVAL` holds and the checks grow with the count.)
pub const CHECK_SPACING: Duration = Duration::from_micros(200);
/// The cap on the check interval never goes below this: with a few connections parked, each is
/// checked every 10 ms once it has been idle a while, and a request on it waits at most that
/// long for the watcher.
pub const MIN_INTERVAL_CAP: Duration = Duration::from_millis(10);
/// The watcher wakes at most this often; each wake checks every connection that is due.
/// Short, because connections are parked after a few empty looks, often a fraction of a
/// millisecond before their client's next request.
pub const WATCH_TICK: Duration = Duration::from_micros(200);
/// The watcher wakes at least this often, to notice shutdown.
const MAX_SLEEP: Duration = Duration::from_millis(100);

struct Parked {
    next_check: Instant,
    interval: Duration,
    /// Boxed: heap entries move as the heap reorders, and a `Conn` is large.
    conn: Box<Conn>,
}

// Ordered by `next_check`, earliest first, so that the heap below is a min-heap and each pass
// of the watcher touches only the connections that are due.
impl Ord for Parked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.next_check.cmp(&self.next_check)
    }
}

impl PartialOrd for Parked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Parked {
    fn eq(&self, other: &Self) -> bool {
        self.next_check == other.next_check
    }
}

impl Eq for Parked {}

/// The longest interval between two checks of one parked connection, when `parked` are parked.
pub fn interval_cap(parked: usize) -> Duration {
    let spread = CHECK_SPACING.saturating_mul(u32::try_from(parked).unwrap_or(u32::MAX));
    spread.clamp(MIN_INTERVAL_CAP, MAX_CHECK_INTERVAL)
}

/// Connections waiting for bytes, earliest check first, and the condition the watcher sleeps on.
#[derive(Default)]
pub struct ParkingLot {
    parked: Mutex<BinaryHeap<Parked>>,
    /// How many connections are parked, including those the watcher has out for a check: read
    /// without the lock by workers deciding how long they may wait on their own connection.
    count: AtomicUsize,
    wake: Condvar,
}

impl ParkingLot {
    /// Parks a connection whose socket is in non-blocking mode.
    pub fn park(&self, conn: Conn) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        parked.push(Parked {
            conn: Box::new(conn),
            next_check: Instant::now() + FIRST_CHECK_AFTER,
            interval: FIRST_CHECK_AFTER,
        });
        drop(parked);
        self.wake.notify_one();
    }

    /// How many connections are parked.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watcher's loop: runs until the server shuts down, then closes what is parked.
    pub fn watch(shared: &Arc<Shared>) {
        let lot = &shared.parking;
        let mut due: Vec<Parked> = Vec::new();
        let mut keep: Vec<Parked> = Vec::new();
        while !shared.is_shutting_down() {
            {
                let mut parked = lot.parked.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let sleep = parked
                    .peek()
                    .map_or(MAX_SLEEP, |p| p.next_check.saturating_duration_since(now));
                if !sleep.is_zero() {
                    parked = lot
                        .wake
                        .wait_timeout(parked, sleep.min(MAX_SLEEP))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                let now = Instant::now();
                while parked.peek().is_some_and(|p| p.next_check <= now) {
                    due.extend(parked.pop());
                }
            }
            let woke = Instant::now();
            let cap = interval_cap(lot.len());
            for mut p in due.drain(..) {
                if p.conn.has_input() || p.conn.is_past_deadline(woke) {
                    // Bytes to read, or a deadline to act on (408, or a quiet close): a job.
                    lot.count.fetch_sub(1, Ordering::Relaxed);
                    (*p.conn).schedule();
                } else {
                    p.interval = (p.interval * 2).min(cap);
                    p.next_check = woke + p.interval;
                    keep.push(p);
                }
            }
            lot.parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(keep.drain(..));
            // Bound the wake rate, so that checks falling due together are made together.
            let spent = woke.elapsed();
            if spent < WATCH_TICK {
                std::thread::sleep(WATCH_TICK - spent);
            }
        }
        let mut parked = lot.parked.lock().unwrap_or_else(PoisonError::into_inner);
        lot.count.fetch_sub(parked.len(), Ordering::Relaxed);
        parked.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_cap_spreads_a_fixed_budget_of_checks() {
        let ms = Duration::from_millis;
        assert_eq!(interval_cap(0), MIN_INTERVAL_CAP);
        assert_eq!(interval_cap(1), MIN_INTERVAL_CAP);
        assert_eq!(interval_cap(50), ms(10));
        assert_eq!(interval_cap(100), ms(20));
        assert_eq!(interval_cap(1000), MAX_CHECK_INTERVAL);
        assert_eq!(interval_cap(100_000), MAX_CHECK_INTERVAL);
        assert_eq!(interval_cap(usize::MAX), MAX_CHECK_INTERVAL);
        // Between the bounds, the checks of all parked connections come to one per spacing.
        for n in [60, 250, 999] {
            let per_second = n as f64 / interval_cap(n).as_secs_f64();
            let budget = 1.0 / CHECK_SPACING.as_secs_f64();
            assert!((per_second - budget).abs() < 1.0, "{n}: {per_second}");
        }
    }
}
