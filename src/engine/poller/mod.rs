//! The poller: one thread that holds every connection with nothing to read, so that no worker
//! ever waits on a quiet socket.
//!
//! A worker that finds its connection's socket empty parks the connection here and takes the
//! next job. The poller hands a parked connection back to the pool when its socket turns
//! readable (bytes, or the client's close), when its deadline passes (idle or head timeout), or,
//! once the server drains, at once if it is idle. It never reads a request byte itself.
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

use std::os::fd::RawFd;
use std::time::Instant;

/// What the poller needs to know of a parked item.
pub trait Waiting {
    /// The socket to wait on.
    fn fd(&self) -> RawFd;
    /// When the item must be handed back even if its socket stays quiet.
    fn deadline(&self) -> Instant;
    /// Whether nothing of a request has arrived (such an item is closed when the server drains).
    fn is_idle(&self) -> bool;
    /// Whether the socket has been registered with the backend before (epoll keeps it).
    fn is_registered(&self) -> bool {
        false
    }
    /// Notes that the socket is registered.
    fn set_registered(&mut self) {}
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
                assert_eq!(poller.len(), 1);
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
                let mut got: Vec<usize> =
                    (0..1000).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
                got.sort_unstable();
                got.dedup();
                assert_eq!(got.len(), 1000);
                poller.stop();
                thread.join().unwrap();
            }
        }
    };
}

#[cfg(test)]
backend_tests!(poll_backend, crate::engine::poller::poll::Poller);
#[cfg(all(test, target_os = "linux"))]
backend_tests!(epoll_backend, crate::engine::poller::epoll::Poller);
