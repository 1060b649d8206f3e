//! The poller: one thread that holds every connection with nothing to read, blocked in
//! `poll(2)` on all of their sockets at once, so that no worker ever waits on a quiet socket.
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
//! O(1); each wait itself is O(n) in the kernel, as `poll` is (see README, "How it works", for
//! the measured cost at 10 000 parked connections). Idle connections cost nothing between their
//! events: the wait's timeout is the earliest deadline.
//!
//! Out of scope: what a connection does when it is ready (`conn.rs`), and where it runs
//! (`pool.rs`).

use crate::sys::{self, PollFd};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// What the poller needs to know of a parked item.
pub trait Waiting {
    /// The socket to wait on.
    fn fd(&self) -> RawFd;
    /// When the item must be handed back even if its socket stays quiet.
    fn deadline(&self) -> Instant;
    /// Whether nothing of a request has arrived (such an item is closed when the server drains).
    fn is_idle(&self) -> bool;
}

/// Parked items and the means to wake the thread that waits on them.
pub struct Poller<T> {
    inbox: Mutex<Vec<T>>,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
    /// Items parked (in the inbox or the poll set), for tests and the drain report.
    count: AtomicUsize,
    /// Items handed back since the start (for tests: each is one trip through the pool queue).
    handed_back: AtomicU64,
    draining: AtomicBool,
    stopped: AtomicBool,
}

impl<T: Waiting> Poller<T> {
    /// A poller with nothing parked.
    ///
    /// # Errors
    /// If the wake-up socket pair cannot be made (out of descriptors).
    pub fn new() -> io::Result<Poller<T>> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Poller {
            inbox: Mutex::new(Vec::new()),
            wake_tx,
            wake_rx,
            count: AtomicUsize::new(0),
            handed_back: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        })
    }

    /// Parks an item until its socket is readable or its deadline passes.
    pub fn park(&self, item: T) {
        if self.stopped.load(Ordering::Relaxed) {
            // Nobody will wait on it: drop (close) it now.
            return;
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        inbox.push(item);
        let first = inbox.len() == 1;
        drop(inbox);
        // The poller empties the inbox after every wake: only the first item of a batch needs
        // to wake it.
        if first {
            self.wake();
        }
    }

    /// How many items are parked.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items have been handed back since the start.
    pub fn handed_back(&self) -> u64 {
        self.handed_back.load(Ordering::Relaxed)
    }

    /// From now on, hands back every idle item at once (and any parked later), so that the
    /// connection closes; items with part of a request keep waiting for the rest.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Ends [`Poller::run`], dropping whatever is parked.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake();
    }

    fn wake(&self) {
        // A full wake-up socket already holds a wake: WouldBlock is fine.
        let _ = (&self.wake_tx).write(&[1]);
    }

    /// The poller thread's loop: hands each ready item to `ready`, until [`Poller::stop`].
    pub fn run(&self, mut ready: impl FnMut(T)) {
        let mut items: Vec<T> = Vec::new();
        // fds[0] is the wake-up socket; fds[i + 1] belongs to items[i].
        let mut fds = vec![PollFd::readable(self.wake_rx.as_raw_fd())];
        let mut taken: Vec<T> = Vec::new();
        loop {
            {
                let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut *inbox, &mut taken);
            }
            for item in taken.drain(..) {
                fds.push(PollFd::readable(item.fd()));
                items.push(item);
            }
            if self.stopped.load(Ordering::Relaxed) {
                self.count.fetch_sub(items.len(), Ordering::Relaxed);
                return;
            }
            let draining = self.draining.load(Ordering::Relaxed);
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
                let mut sink = [0u8; 64];
                while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
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
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.handed_back.fetch_add(1, Ordering::Relaxed);
        ready(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    struct Item {
        name: usize,
        sock: UnixStream,
        deadline: Instant,
        idle: bool,
    }

    impl Waiting for Item {
        fn fd(&self) -> RawFd {
            self.sock.as_raw_fd()
        }
        fn deadline(&self) -> Instant {
            self.deadline
        }
        fn is_idle(&self) -> bool {
            self.idle
        }
    }

    fn start() -> (
        Arc<Poller<Item>>,
        mpsc::Receiver<usize>,
        std::thread::JoinHandle<()>,
    ) {
        let poller = Arc::new(Poller::new().unwrap());
        let (tx, rx) = mpsc::channel();
        let p = Arc::clone(&poller);
        let thread = std::thread::spawn(move || p.run(|item: Item| tx.send(item.name).unwrap()));
        (poller, rx, thread)
    }

    fn item(name: usize, deadline: Duration) -> (Item, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        let item = Item {
            name,
            sock: a,
            deadline: Instant::now() + deadline,
            idle: true,
        };
        (item, b)
    }

    const LONG: Duration = Duration::from_secs(60);
    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn hands_back_an_item_when_its_socket_turns_readable() {
        let (poller, rx, thread) = start();
        let mut peers = Vec::new();
        for n in 0..100 {
            let (it, peer) = item(n, LONG);
            poller.park(it);
            peers.push(peer);
        }
        assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
        for n in [42, 7, 99, 0] {
            peers[n].write_all(b"x").unwrap();
            assert_eq!(rx.recv_timeout(WAIT).unwrap(), n);
        }
        // A client that leaves is handed back too (the worker sees the end of the stream).
        drop(peers.remove(50));
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), 50);
        assert_eq!(poller.len(), 95);
        poller.stop();
        thread.join().unwrap();
        assert_eq!(poller.len(), 0);
    }

    #[test]
    fn hands_back_an_item_at_its_deadline() {
        let (poller, rx, thread) = start();
        let (late, _p1) = item(1, LONG);
        let (soon, _p2) = item(2, Duration::from_millis(30));
        let started = Instant::now();
        poller.park(late);
        poller.park(soon);
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2);
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
        poller.stop();
        thread.join().unwrap();
    }

    #[test]
    fn draining_hands_back_idle_items_and_keeps_the_others() {
        let (poller, rx, thread) = start();
        let (idle, _p1) = item(1, LONG);
        let (mut busy, mut p2) = item(2, LONG);
        busy.idle = false;
        poller.park(idle);
        poller.park(busy);
        poller.drain();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), 1);
        assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
        p2.write_all(b"rest of the head").unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2);
        // Parked during the drain, an idle item comes straight back.
        let (idle, _p3) = item(3, LONG);
        poller.park(idle);
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), 3);
        poller.stop();
        thread.join().unwrap();
    }

    #[test]
    fn many_parks_at_once_are_all_seen() {
        let (poller, rx, thread) = start();
        let mut peers = Vec::new();
        let parkers: Vec<_> = (0..4)
            .map(|t| {
                let poller = Arc::clone(&poller);
                let (tx, prx) = mpsc::channel();
                std::thread::spawn(move || {
                    for n in 0..250 {
                        let (it, peer) = item(t * 1000 + n, LONG);
                        poller.park(it);
                        tx.send(peer).unwrap();
                    }
                });
                prx
            })
            .collect();
        for prx in parkers {
            peers.extend(prx.iter());
        }
        for p in &mut peers {
            p.write_all(b"x").unwrap();
        }
        let mut got: Vec<usize> = (0..1000).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 1000);
        poller.stop();
        thread.join().unwrap();
    }
}
