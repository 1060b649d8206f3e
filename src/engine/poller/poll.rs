//! The portable poller backend: one thread blocked in `poll(2)` on every parked socket at once.
//! (Linux uses `epoll.rs`; this one is built and tested there too.)
//!
//! A worker that finds its connection's socket empty parks the connection here and takes the
//! next job. The poller wakes when a parked socket turns readable (bytes, or the client's close),
//! when a parked connection's deadline passes (idle or head timeout), or when it is woken through
//! its wake-up socket (a connection was parked, or the server is draining). Each such connection
//! goes back to the pool queue, where a worker reads, answers, times out or closes. The poller
//! itself never reads a request byte.
//!
//! Cost: parking is a push onto a locked inbox, plus one byte on the wake-up socket when the
//! inbox was empty (so a burst of parks wakes the poller once). The poll set is kept between
//! waits: an entry is added with a push and removed with a swap, so adding and removing cost
//! O(1); each wait itself is O(n) in the kernel, as `poll` is (see docs/design.md, "How it works", for
//! the measured cost at 10 000 parked connections). Idle connections cost nothing between their
//! events: the wait's timeout is the earliest deadline.
//!
//! Out of scope: what a connection does when it is ready (`conn.rs`), and where it runs
//! (`pool.rs`).

use super::{Control, Waiting};
use crate::sys::{self, PollFd};
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Parked items and the means to wake the thread that waits on them.
pub struct Poller<T> {
    inbox: Mutex<Vec<T>>,
    ctl: Control,
}

impl<T: Waiting> Poller<T> {
    /// A poller with nothing parked.
    ///
    /// # Errors
    /// If the wake-up socket pair cannot be made (out of descriptors).
    pub fn new() -> io::Result<Poller<T>> {
        Ok(Poller {
            inbox: Mutex::new(Vec::new()),
            ctl: Control::new()?,
        })
    }

    /// Counts, drain and stop.
    pub fn control(&self) -> &Control {
        &self.ctl
    }

    /// Parks an item until its socket is readable or its deadline passes.
    pub fn park(&self, item: T) {
        if self.ctl.is_stopped() {
            // Nobody will wait on it: drop (close) it now.
            return;
        }
        self.ctl.parked();
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        inbox.push(item);
        let first = inbox.len() == 1;
        drop(inbox);
        // The poller empties the inbox after every wake: only the first item of a batch needs
        // to wake it.
        if first {
            self.ctl.wake();
        }
    }

    /// The poller thread's loop: hands each ready item to `ready`, until [`Control::stop`].
    pub fn run(&self, mut ready: impl FnMut(T)) {
        let mut items: Vec<T> = Vec::new();
        // fds[0] is the wake-up socket; fds[i + 1] belongs to items[i].
        let mut fds = vec![PollFd::readable(self.ctl.wake_fd())];
        let mut taken: Vec<T> = Vec::new();
        loop {
            {
                let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut *inbox, &mut taken);
            }
            for item in taken.drain(..) {
                fds.push(if item.wants_write() {
                    PollFd::writable(item.fd())
                } else {
                    PollFd::readable(item.fd())
                });
                items.push(item);
            }
            if self.ctl.is_stopped() {
                self.ctl.dropped(items.len());
                return;
            }
            let draining = self.ctl.is_draining();
            let now = Instant::now();
            let mut earliest: Option<Instant> = None;
            let mut i = 0;
            while let Some(item) = items.get(i) {
                let deadline = item.deadline();
                if deadline <= now || (draining && item.is_idle()) {
                    self.hand_back(&mut items, &mut fds, i, &mut ready);
                    continue;
                }
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                i += 1;
            }
            let timeout = earliest.map(|d| d.saturating_duration_since(now));
            if sys::poll_fds(&mut fds, timeout).is_err() {
                // Only for a lack of memory or descriptors: hand everything to the workers,
                // which read (or fail) and park again, rather than spin here.
                while !items.is_empty() {
                    self.hand_back(&mut items, &mut fds, 0, &mut ready);
                }
                continue;
            }
            if fds.first().is_some_and(PollFd::is_ready) {
                self.ctl.clear_wakes();
            }
            let mut i = 0;
            while let Some(fd) = fds.get(i + 1) {
                if fd.is_ready() {
                    self.hand_back(&mut items, &mut fds, i, &mut ready);
                } else {
                    i += 1;
                }
            }
        }
    }

    /// Removes `items[i]` (and its poll entry) in O(1) and hands it to `ready`.
    fn hand_back(
        &self,
        items: &mut Vec<T>,
        fds: &mut Vec<PollFd>,
        i: usize,
        ready: &mut impl FnMut(T),
    ) {
        if i >= items.len() {
            return;
        }
        let item = items.swap_remove(i);
        fds.swap_remove(i + 1);
        self.ctl.handing_back();
        ready(item);
    }
}
