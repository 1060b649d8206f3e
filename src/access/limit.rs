//! The limit on failed logins: at most `MAX_FAILURES` wrong or malformed credentials from one
//! address in `WINDOW`; past it, that address gets 429 until its window ends, whatever it
//! sends, so that a password cannot be guessed at the server's speed. Memory is bounded: at
//! most `MAX_TRACKED` addresses are remembered; when the table is full, expired entries go, then
//! the oldest entry that is not blocked (so that flooding the table from many addresses cannot
//! unblock one), and only when every entry is blocked, the oldest of all.
//!
//! Out of scope: what counts as a failure (`access::Access`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed logins allowed from one address per window.
pub const MAX_FAILURES: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most addresses remembered at once.
pub const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    since: Instant,
    failures: u32,
}

/// Failed logins per address, in bounded memory.
pub struct FailureLimiter {
    table: Mutex<HashMap<IpAddr, Entry>>,
    max_tracked: usize,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::with_capacity(MAX_TRACKED)
    }
}

/// IPv6 clients usually hold a whole /64: count them by it, or one machine is 2^64 clients.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

impl FailureLimiter {
    pub fn with_capacity(max_tracked: usize) -> FailureLimiter {
        FailureLimiter {
            table: Mutex::new(HashMap::new()),
            max_tracked: max_tracked.max(1),
        }
    }

    /// `Some(seconds)` while `ip` is over the limit: how long until it may try again.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let e = table.get(&key(ip))?;
        let ends = e.since + WINDOW;
        (e.failures >= MAX_FAILURES && now < ends)
            .then(|| ends.saturating_duration_since(now).as_secs().max(1))
    }

    /// Counts an attempt from `ip` as a failure until it is [`forgiven`](Self::forgive), in one
    /// step with the check: `Err(seconds)` when `ip` is over the limit (nothing counted). So
    /// attempts checked in parallel cannot each pass the check before any is counted.
    pub fn attempt(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = table.get(&key(ip)) {
            let ends = e.since + WINDOW;
            if e.failures >= MAX_FAILURES && now < ends {
                return Err(ends.saturating_duration_since(now).as_secs().max(1));
            }
        }
        self.count(&mut table, ip, now);
        Ok(())
    }

    /// Takes back the failure an [`attempt`](Self::attempt) counted: it succeeded.
    pub fn forgive(&self, ip: IpAddr) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = table.get_mut(&key(ip)) {
            e.failures = e.failures.saturating_sub(1);
        }
    }

    fn count(&self, table: &mut HashMap<IpAddr, Entry>, ip: IpAddr, now: Instant) {
        let ip = key(ip);
        if !table.contains_key(&ip) && table.len() >= self.max_tracked {
            table.retain(|_, e| now < e.since + WINDOW);
            if table.len() >= self.max_tracked {
                let oldest = table
                    .iter()
                    .min_by_key(|(_, e)| (e.failures >= MAX_FAILURES, e.since))
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    table.remove(&k);
                }
            }
        }
        let e = table.entry(ip).or_insert(Entry {
            since: now,
            failures: 0,
        });
        if now >= e.since + WINDOW {
            *e = Entry {
                since: now,
                failures: 0,
            };
        }
        e.failures = e.failures.saturating_add(1);
    }

    /// Addresses remembered now.
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_until_the_window_ends() {
        let l = FailureLimiter::default();
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..MAX_FAILURES - 1 {
            l.attempt(a, t0).unwrap();
        }
        assert_eq!(l.blocked(a, t0), None);
        l.attempt(a, t0).unwrap();
        assert_eq!(l.blocked(a, t0), Some(WINDOW.as_secs()));
        assert_eq!(l.blocked(a, t0 + Duration::from_secs(59)), Some(1));
        assert_eq!(
            l.blocked(ip("192.0.2.2"), t0),
            None,
            "others are not affected"
        );
        assert_eq!(l.blocked(a, t0 + WINDOW), None);
        // A new window starts afresh.
        l.attempt(a, t0 + WINDOW).unwrap();
        assert_eq!(l.blocked(a, t0 + WINDOW), None);
    }

    #[test]
    fn an_attempt_is_checked_and_counted_at_once_and_forgiven_when_right() {
        let l = FailureLimiter::default();
        let t0 = Instant::now();
        let a = ip("192.0.2.7");
        // Ten attempts in flight at once: each is counted as it is let through.
        for _ in 0..MAX_FAILURES {
            assert!(l.attempt(a, t0).is_ok());
        }
        assert_eq!(
            l.attempt(a, t0),
            Err(WINDOW.as_secs()),
            "the eleventh waits"
        );
        // One of them was right: its count is taken back, and one more may try.
        l.forgive(a);
        assert!(l.attempt(a, t0).is_ok());
        assert!(l.attempt(a, t0).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let l = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            l.attempt(ip(&format!("2001:db8::{i:x}")), t0).unwrap();
        }
        assert!(l.blocked(ip("2001:db8::ffff"), t0).is_some());
        assert!(l.blocked(ip("2001:db8:0:1::1"), t0).is_none());
        l.attempt(ip("::ffff:192.0.2.9"), t0).unwrap();
        assert_eq!(l.tracked(), 2, "a mapped IPv4 address is the IPv4 address");
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_makes_room() {
        let l = FailureLimiter::with_capacity(100);
        let t0 = Instant::now();
        let blocked = ip("198.51.100.1");
        for _ in 0..MAX_FAILURES {
            l.attempt(blocked, t0).unwrap();
        }
        for i in 0..1000u32 {
            let a = IpAddr::V4((0x0a00_0000 + i).into());
            l.attempt(a, t0 + Duration::from_millis(u64::from(i) + 1))
                .unwrap();
            assert!(l.tracked() <= 100);
        }
        // The flood pushed out its own entries; the blocked address stays blocked.
        assert_eq!(l.tracked(), 100);
        assert!(l.blocked(blocked, t0).is_some());
    }
}
