//! The Linux poller backend: one thread in `epoll_wait`, with parked sockets registered
//! one-shot by the workers that park them.
//!
//! Parking takes the state lock, puts the item in a slot (its token is the slot's index and a
//! generation, so a late event for an item that has left is recognised and ignored), pushes its
//! deadline on a heap, and arms its socket: no wake-up of the poller, unless the new deadline is
//! earlier than the one the poller sleeps towards, or the server drains. The poller wakes for
//! readiness (O(ready) per wait, whatever the number parked) or the earliest deadline. A socket
//! stays registered while its connection lives (the kernel forgets it when it closes), so the
//! next park re-arms it with one `epoll_ctl`.
//!
//! Deadline entries are not removed when an item leaves early; stale ones are skipped when they
//! come to the top, and the heap is rebuilt from the live items once more than half of it is
//! stale, so it stays within twice the parked count.

use super::{Control, Waiting};
use crate::sys::{Epoll, EpollEvent};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Events taken from the kernel per wait.
const EVENTS_PER_WAIT: usize = 1024;
/// The wake-up socket's token (slot tokens never reach it: indexes are 32-bit).
const WAKE_TOKEN: u64 = u64::MAX;
/// The heap is rebuilt when it holds more than this many entries beyond twice the live count.
const HEAP_SLACK: usize = 1024;
/// `wake_at` while the poller is awake: a park never needs to wake it then.
const AWAKE: u64 = 0;

struct Slot<T> {
    generation: u32,
    item: Option<T>,
}

struct State<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    live: usize,
}

impl<T> State<T> {
    /// Takes the item with this token, if it is still parked.
    fn take(&mut self, token: u64) -> Option<T> {
        let index = (token & 0xffff_ffff) as u32;
        let generation = (token >> 32) as u32;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        let item = slot.item.take()?;
        self.free.push(index);
        self.live -= 1;
        Some(item)
    }
}

/// Parked items, the epoll instance that watches them, and the means to wake the thread.
pub struct Poller<T> {
    epoll: Epoll,
    state: Mutex<State<T>>,
    ctl: Control,
    /// When the poller's wait times out, in nanoseconds since `epoch` (`u64::MAX`: never;
    /// `AWAKE`: it is not waiting).
    wake_at: AtomicU64,
    epoch: Instant,
}

impl<T: Waiting> Poller<T> {
    /// A poller with nothing parked.
    ///
    /// # Errors
    /// If the epoll instance or the wake-up socket pair cannot be made (out of descriptors).
    pub fn new() -> io::Result<Poller<T>> {
        let ctl = Control::new()?;
        let epoll = Epoll::new()?;
        epoll.add_level(ctl.wake_fd(), WAKE_TOKEN)?;
        Ok(Poller {
            epoll,
            state: Mutex::new(State {
                slots: Vec::new(),
                free: Vec::new(),
                deadlines: BinaryHeap::new(),
                live: 0,
            }),
            ctl,
            wake_at: AtomicU64::new(AWAKE),
            epoch: Instant::now(),
        })
    }

    /// Counts, drain and stop.
    pub fn control(&self) -> &Control {
        &self.ctl
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Parks an item until its socket is readable or its deadline passes.
    pub fn park(&self, mut item: T) {
        if self.ctl.is_stopped() {
            // Nobody will wait on it: drop (close) it now.
            return;
        }
        let deadline = item.deadline();
        let fd = item.fd();
        let known = item.is_registered();
        let write = item.wants_write();
        item.set_registered();
        let idle = item.is_idle();
        self.ctl.parked();
        let mut state = self.lock();
        let index = match state.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(state.slots.len()).unwrap_or(u32::MAX);
                state.slots.push(Slot {
                    generation: 0,
                    item: None,
                });
                i
            }
        };
        let Some(slot) = state.slots.get_mut(index as usize) else {
            // Past four billion parked: not reachable within the connection limit.
            self.ctl.dropped(1);
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        slot.item = Some(item);
        let token = (u64::from(slot.generation) << 32) | u64::from(index);
        state.live += 1;
        state.deadlines.push(Reverse((deadline, token)));
        let armed = self.epoll.arm_once(fd, token, known, write).is_ok();
        if state.deadlines.len() > 2 * state.live + HEAP_SLACK {
            rebuild_deadlines(&mut state);
        }
        let wake_at = self.wake_at.load(Ordering::Relaxed);
        drop(state);
        // Wake the poller if it sleeps past this deadline, if the socket could not be armed
        // (then only the deadline hands it back; make that prompt), or to close an idle item
        // while draining.
        let draining = self.ctl.is_draining();
        if !armed {
            self.expire(token);
        }
        if !armed || self.nanos(deadline) < wake_at || (draining && idle) {
            self.ctl.wake();
        }
    }

    /// Makes the item with `token` due now (its socket could not be watched).
    fn expire(&self, token: u64) {
        let mut state = self.lock();
        state.deadlines.push(Reverse((self.epoch, token)));
    }

    /// The poller thread's loop: hands each ready item to `ready`, until [`Control::stop`].
    pub fn run(&self, mut ready: impl FnMut(T)) {
        let mut events = vec![EpollEvent::EMPTY; EVENTS_PER_WAIT];
        let mut out: Vec<T> = Vec::new();
        loop {
            if self.ctl.is_stopped() {
                let mut state = self.lock();
                let dropped: usize = state.slots.iter_mut().filter_map(|s| s.item.take()).count();
                state.live = 0;
                self.ctl.dropped(dropped);
                return;
            }
            let n = self.wait(&mut events);
            self.collect(events.get(..n).unwrap_or_default(), &mut out);
            for item in out.drain(..) {
                self.ctl.handing_back();
                ready(item);
            }
        }
    }

    /// Waits for events until the nearest deadline; returns how many came.
    fn wait(&self, events: &mut [EpollEvent]) -> usize {
        let timeout = {
            let mut state = self.lock();
            let next = next_deadline(&mut state);
            // Set under the lock: a park that comes after it sees this value.
            self.wake_at
                .store(next.map_or(u64::MAX, |d| self.nanos(d)), Ordering::Relaxed);
            next.map(|d| d.saturating_duration_since(Instant::now()))
        };
        let n = match self.epoll.wait(events, timeout) {
            Ok(n) => n,
            Err(_) => {
                // Out of memory in the kernel: do not spin.
                std::thread::sleep(Duration::from_millis(1));
                0
            }
        };
        self.wake_at.store(AWAKE, Ordering::Relaxed);
        n
    }

    /// Takes out what is due: items whose socket is ready, whose deadline has passed, and,
    /// while draining, every idle one.
    fn collect(&self, events: &[EpollEvent], out: &mut Vec<T>) {
        let mut state = self.lock();
        for ev in events {
            let token = ev.token();
            if token == WAKE_TOKEN {
                self.ctl.clear_wakes();
            } else if let Some(item) = state.take(token) {
                out.push(item);
            }
        }
        let now = Instant::now();
        while let Some(&Reverse((deadline, token))) = state.deadlines.peek() {
            if deadline > now {
                break;
            }
            state.deadlines.pop();
            out.extend(state.take(token));
        }
        if self.ctl.is_draining() {
            // Once per wake, and only while draining: O(parked) is fine here.
            let idle: Vec<u64> = state
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.item.as_ref().is_some_and(Waiting::is_idle))
                .map(|(i, s)| (u64::from(s.generation) << 32) | i as u64)
                .collect();
            for token in idle {
                out.extend(state.take(token));
            }
        }
    }
}

/// The earliest deadline of a parked item, dropping stale heap entries on the way.
fn next_deadline<T>(state: &mut State<T>) -> Option<Instant> {
    while let Some(&Reverse((deadline, token))) = state.deadlines.peek() {
        let index = (token & 0xffff_ffff) as usize;
        let generation = (token >> 32) as u32;
        let live = state
            .slots
            .get(index)
            .is_some_and(|s| s.generation == generation && s.item.is_some());
        if live {
            return Some(deadline);
        }
        state.deadlines.pop();
    }
    None
}

/// Rebuilds the heap from the live items' deadlines.
fn rebuild_deadlines<T: Waiting>(state: &mut State<T>) {
    let live: Vec<Reverse<(Instant, u64)>> = state
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let item = s.item.as_ref()?;
            Some(Reverse((
                item.deadline(),
                (u64::from(s.generation) << 32) | i as u64,
            )))
        })
        .collect();
    state.deadlines = BinaryHeap::from(live);
}
