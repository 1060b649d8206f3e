//! Logins in flight: while one request checks a stored password hash (a PBKDF2 of a third of a
//! second), another one with the very same credentials waits for that answer instead of
//! starting a second check or being turned away. Scripts that open several connections at once
//! with one user's credentials (`xargs -P`, a download manager) then cost one check, not one
//! each and a `503` for the rest.
//!
//! Bounded: at most `MAX_WAITERS` requests wait at once (fewer with a small pool: see
//! `Access::new`), each at most `MAX_WAIT`; the others go on as if nothing were in flight.
//!
//! Out of scope: the check itself and the remembering of right logins (`Access`, `cache`).

use crate::access::cache::Tag;
use crate::access::users::UserId;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Most requests waiting at once for a check that another request is running. A waiter holds
/// its worker, so this stays small: past it, a request checks for itself.
pub const MAX_WAITERS: usize = 4;
/// Longest wait for another request's check (600 000 rounds take 0.3 s in a release build, a
/// few seconds in a debug one).
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The password is right, for this user.
    Right(UserId),
    /// The password is wrong.
    Wrong,
}

/// One check being run, and its outcome once known (`Some(None)`: it ended without one).
#[derive(Default)]
struct Slot {
    outcome: Mutex<Option<Option<Outcome>>>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    running: Vec<(Tag, Arc<Slot>)>,
    waiting: usize,
}

/// The checks in flight, by the tag of the credentials they check.
pub struct Flights {
    state: Mutex<State>,
    max_waiters: usize,
}

/// The request running a check: others with the same credentials wait for what it reports.
/// Dropped without a report (a panic, a refusal), it tells them it has none.
pub struct Leader<'a> {
    flights: &'a Flights,
    tag: Tag,
    slot: Arc<Slot>,
    outcome: Option<Outcome>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Flights {
    /// At most `max_waiters` requests will wait at once.
    pub fn new(max_waiters: usize) -> Flights {
        Flights {
            state: Mutex::default(),
            max_waiters,
        }
    }

    /// The outcome of a check of these credentials that another request is running now, once
    /// it ends; `None` when none is running, when as many as allowed wait already, or when the
    /// check ends without an outcome or takes longer than `MAX_WAIT`. `on_wait` runs once
    /// the request is counted as waiting, before it waits.
    pub fn follow(&self, tag: &Tag, on_wait: impl FnOnce()) -> Option<Outcome> {
        let slot = {
            let mut state = lock(&self.state);
            if state.waiting >= self.max_waiters {
                return None;
            }
            let slot = state
                .running
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, s)| Arc::clone(s))?;
            state.waiting += 1;
            slot
        };
        on_wait();
        let deadline = Instant::now() + MAX_WAIT;
        let mut outcome = lock(&slot.outcome);
        let found = loop {
            if let Some(found) = *outcome {
                break found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            outcome = slot
                .done
                .wait_timeout(outcome, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        drop(outcome);
        lock(&self.state).waiting -= 1;
        found
    }

    /// Registers a check of these credentials, unless one is running already (then `None`:
    /// the caller checks for itself, unregistered).
    pub fn lead(&self, tag: Tag) -> Option<Leader<'_>> {
        let mut state = lock(&self.state);
        if state.running.iter().any(|(t, _)| *t == tag) {
            return None;
        }
        let slot = Arc::new(Slot::default());
        state.running.push((tag, Arc::clone(&slot)));
        Some(Leader {
            flights: self,
            tag,
            slot,
            outcome: None,
        })
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        lock(&self.state).waiting
    }
}

impl Leader<'_> {
    /// What the check found, for those waiting (told when the leader is dropped).
    pub fn report(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        lock(&self.flights.state)
            .running
            .retain(|(t, _)| *t != self.tag);
        *lock(&self.slot.outcome) = Some(self.outcome);
        self.slot.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::users::Users;
    use crate::config::{Rights, UserEntry};
    use std::thread;

    fn some_user() -> UserId {
        let users = Users::new(&[UserEntry {
            name: "u".into(),
            password: "pw".into(),
            rights: Rights::Read,
        }])
        .unwrap();
        users.verify(b"u", b"pw").unwrap()
    }

    /// Waits until `n` requests wait (a bounded spin: the waiters are threads just started).
    fn until_waiting(flights: &Flights, n: usize) {
        for _ in 0..10_000 {
            if flights.waiting() == n {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("{} waiting, not {n}", flights.waiting());
    }

    #[test]
    fn followers_get_the_leaders_outcome() {
        let flights = Flights::new(MAX_WAITERS);
        let id = some_user();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(flights.follow(&a, || {}), None, "nothing in flight");
        let mut leader = flights.lead(a).unwrap();
        assert!(flights.lead(a).is_none(), "one check per credentials");
        thread::scope(|s| {
            let followers: Vec<_> = (0..2)
                .map(|_| s.spawn(|| flights.follow(&a, || {})))
                .collect();
            until_waiting(&flights, 2);
            assert_eq!(
                flights.follow(&b, || {}),
                None,
                "other credentials do not wait"
            );
            leader.report(Outcome::Right(id));
            drop(leader);
            for f in followers {
                assert_eq!(f.join().unwrap(), Some(Outcome::Right(id)));
            }
        });
        assert_eq!(flights.waiting(), 0);
        assert!(flights.lead(a).is_some(), "the check is over");
    }

    #[test]
    fn a_leader_without_a_report_tells_followers_so() {
        let flights = Flights::new(MAX_WAITERS);
        let leader = flights.lead([3u8; 32]).unwrap();
        thread::scope(|s| {
            let f = s.spawn(|| flights.follow(&[3u8; 32], || {}));
            until_waiting(&flights, 1);
            drop(leader);
            assert_eq!(f.join().unwrap(), None);
        });
    }

    #[test]
    fn only_so_many_wait() {
        let flights = Flights::new(MAX_WAITERS);
        let mut leader = flights.lead([4u8; 32]).unwrap();
        thread::scope(|s| {
            let followers: Vec<_> = (0..MAX_WAITERS)
                .map(|_| s.spawn(|| flights.follow(&[4u8; 32], || {})))
                .collect();
            until_waiting(&flights, MAX_WAITERS);
            assert_eq!(
                flights.follow(&[4u8; 32], || {}),
                None,
                "one too many: not waiting"
            );
            leader.report(Outcome::Wrong);
            drop(leader);
            for f in followers {
                assert_eq!(f.join().unwrap(), Some(Outcome::Wrong));
            }
        });
    }
}
