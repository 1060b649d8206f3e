//! The poller: one thread that holds every connection waiting on its socket, so that no worker
//! ever waits on the network.
//!
//! A worker whose connection meets `WouldBlock` parks the connection here and takes the next
//! job: one with nothing to read waits for readability (between requests, or in the middle of a
//! head or a body), one whose socket is full waits for writability (in the middle of an
//! answer). The poller hands a parked connection back to the pool when its socket turns ready
//! (bytes, room, or the client's close), when its deadline passes (idle, head, body or send
//! timeout), or, once the server drains, at once if it is idle. It never reads or writes a
//! byte of a connection itself.
//!
//! Two backends with one interface: `epoll` on Linux, where a worker arms its socket itself and
//! a wait costs O(ready); `poll` elsewhere, where the poll set lives in the poller thread (a park
//! wakes it) and a wait costs O(parked). Both are built and tested on Linux.

pub mod poll;

#[cfg(target_os = "linux")]
pub mod epoll;

#[cfg(target_os = "linux")]
pub use epoll::Poller;
#[cfg(not(target_os = "linux"))]
pub use poll::Poller;

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// What the poller needs to know of a parked item.
pub trait Waiting {
    /// The socket to wait on.
    fn fd(&self) -> RawFd;
    /// When the item must be handed back even if its socket stays quiet.
    fn deadline(&self) -> Instant;
    /// Whether the item waits for room to write (else for bytes to read, or the peer's close).
    fn wants_write(&self) -> bool {
        false
    }
    /// Whether nothing of a request has arrived (such an item is closed when the server drains).
    fn is_idle(&self) -> bool;
    /// Whether the socket has been registered with the backend before (epoll keeps it).
    fn is_registered(&self) -> bool {
        false
    }
    /// Notes that the socket is registered.
    fn set_registered(&mut self) {}
}

/// What both backends share: the wake-up socket pair, the counts, and the drain and stop flags.
pub struct Control {
    wake_tx: UnixStream,
    wake_rx: UnixStream,
    /// Items parked, for tests and the drain report.
    count: AtomicUsize,
    /// Items handed back since the start (for tests: each is one trip through the pool queue).
    handed_back: AtomicU64,
    draining: AtomicBool,
    stopped: AtomicBool,
}

impl Control {
    fn new() -> io::Result<Control> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Control {
            wake_tx,
            wake_rx,
            count: AtomicUsize::new(0),
            handed_back: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        })
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

    /// Ends the poller's `run`, dropping whatever is parked.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake();
    }

    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        // A full wake-up socket already holds a wake: WouldBlock is fine.
        let _ = (&self.wake_tx).write(&[1]);
    }

    /// Empties the wake-up socket (after a wait it ended).
    fn clear_wakes(&self) {
        let mut sink = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
    }

    fn wake_fd(&self) -> RawFd {
        self.wake_rx.as_raw_fd()
    }

    fn parked(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn dropped(&self, n: usize) {
        self.count.fetch_sub(n, Ordering::Relaxed);
    }

    fn handing_back(&self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.handed_back.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
macro_rules! backend_tests {
    ($name:ident, $poller:path) => {
        mod $name {
            use super::Waiting;
            use std::io::Write;
            use std::os::fd::{AsRawFd, RawFd};
            use std::os::unix::net::UnixStream;
            use std::sync::mpsc;
            use std::sync::Arc;
            use std::time::Duration;
            use std::time::Instant;
            use $poller as Backend;

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
                Arc<Backend<Item>>,
                mpsc::Receiver<usize>,
                std::thread::JoinHandle<()>,
            ) {
                let poller = Arc::new(Backend::<Item>::new().unwrap());
                let (tx, rx) = mpsc::channel();
                let p = Arc::clone(&poller);
                let thread =
                    std::thread::spawn(move || p.run(|item: Item| tx.send(item.name).unwrap()));
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
                assert_eq!(poller.control().len(), 95);
                poller.control().stop();
                thread.join().unwrap();
                assert_eq!(poller.control().len(), 0);
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
                poller.control().stop();
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
                poller.control().drain();
                assert_eq!(rx.recv_timeout(WAIT).unwrap(), 1);
                assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
                p2.write_all(b"rest of the head").unwrap();
                assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2);
                // Parked during the drain, an idle item comes straight back.
                let (idle, _p3) = item(3, LONG);
                poller.park(idle);
                assert_eq!(rx.recv_timeout(WAIT).unwrap(), 3);
                poller.control().stop();
                thread.join().unwrap();
            }

            #[test]
            fn an_item_parked_again_is_watched_again() {
                let poller = Arc::new(Backend::<Item>::new().unwrap());
                let (tx, rx) = mpsc::channel();
                let p = Arc::clone(&poller);
                let thread = std::thread::spawn(move || p.run(|item: Item| tx.send(item).unwrap()));
                let (it, mut peer) = item(5, LONG);
                poller.park(it);
                for round in 0..3u8 {
                    peer.write_all(&[round]).unwrap();
                    let mut back = rx.recv_timeout(WAIT).unwrap();
                    assert_eq!(back.name, 5);
                    let mut byte = [0u8; 1];
                    std::io::Read::read_exact(&mut back.sock, &mut byte).unwrap();
                    assert_eq!(byte[0], round);
                    back.deadline = Instant::now() + LONG;
                    poller.park(back);
                }
                assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
                assert_eq!(poller.control().len(), 1);
                poller.control().stop();
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
                let mut got: Vec<usize> =
                    (0..1000).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
                got.sort_unstable();
                got.dedup();
                assert_eq!(got.len(), 1000);
                poller.control().stop();
                thread.join().unwrap();
            }
        }
    };
}

#[cfg(test)]
backend_tests!(poll_backend, crate::engine::poller::poll::Poller);
#[cfg(all(test, target_os = "linux"))]
backend_tests!(epoll_backend, crate::engine::poller::epoll::Poller);
