//! Binds the listener, runs the accept loop with admission control, hands each connection to
//! the pool, and drains: stop accepting (the listener is closed, so the port is free at once),
//! close idle connections, let requests in progress finish up to `--shutdown-timeout`.
//!
//! Admission: the `threadpool` queue is unbounded, so the acceptor counts connections in flight
//! (being served, queued or parked) and answers `503` itself past `max_connections`.
//!
//! Out of scope: signals (`shutdown.rs` turns them into a drain), what a connection does
//! (`conn.rs`), and anything of the application's (the handler is given).

use crate::config::EngineConfig;
use crate::engine::conn::Conn;
use crate::engine::pool::Pool;
use crate::engine::shared::Shared;
use crate::http::handler::Handler;
use crate::sys;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);
/// How long (seconds) the kernel holds a new connection that has sent nothing before handing it
/// to `accept` anyway (Linux `TCP_DEFER_ACCEPT`; it rounds up to its SYN-ACK retransmissions).
/// Measured on `Connection: close` echo: without it, most new connections were picked up
/// before their request arrived and went round the queue or the poller for it.
pub const DEFER_ACCEPT_SECS: u32 = 1;
/// The accept queue's length (the kernel caps it at `net.core.somaxconn`, 4096 by default).
pub const LISTEN_BACKLOG: u32 = 4096;
/// How often the drain looks whether every connection has closed.
const DRAIN_CHECK_INTERVAL: Duration = Duration::from_millis(5);

const REJECT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\nRetry-After: 1\r\nConnection: close\r\n\r\nserver busy: too many clients\n";

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    /// The `TCP_NODELAY` set on the listener, for accepted sockets to inherit (`None` if it
    /// could not be set).
    preset: Option<Preset>,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    /// Set by [`Stopper::stop`]: leave at once, without draining.
    stopped: Arc<AtomicBool>,
}

/// What a drain came to, for the closing log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Requests answered after the drain began.
    pub requests: u64,
    /// Idle keep-alive connections closed.
    pub idle_closed: u64,
    /// Connections still open when the shutdown timeout ran out.
    pub cut: usize,
    /// Of those, connections in the middle of a request body (an upload).
    pub cut_in_body: usize,
    pub took: Duration,
}

/// Starts a drain, or a stop, of a running server from any thread.
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    stopped: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Stopper {
    /// Stops accepting, closes idle connections (at once, or after `--drain-idle`), and lets
    /// requests in progress finish (up to the shutdown timeout). Returns whether a drain had
    /// already begun.
    pub fn drain(&self) -> bool {
        let again = self.shared.begin_drain();
        if self.shared.config.drain_idle.is_zero() {
            // Idle connections close now and as they become idle; with --drain-idle, the
            // acceptor's drain does this once that time is over.
            self.shared.close_idle();
            self.pool.drain();
        }
        self.wake_acceptor();
        again
    }

    /// Stops at once: no more accepting, parked connections closed, no waiting.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.shared.begin_drain();
        self.pool.stop();
        self.wake_acceptor();
    }

    /// The acceptor blocks in `accept()`: a connection of our own wakes it to see the flag.
    fn wake_acceptor(&self) {
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl Server {
    /// Binds, to serve with `handler`.
    ///
    /// # Errors
    /// The bind error (address in use, say).
    pub fn bind_with_handler(
        config: EngineConfig,
        handler: Box<dyn Handler>,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(config.addr).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::AddrInUse {
                " (is another server running on that port? try --port)"
            } else {
                ""
            };
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}{hint}", config.addr),
            )
        })?;
        let (listener, preset) = preset_listener(listener);
        // A new connection reaches accept() with its first request: the worker that takes it
        // finds the request there instead of going round the queue or the poller for it.
        let _ = sys::set_defer_accept(listener.as_fd(), DEFER_ACCEPT_SECS);
        // std listens with a queue of 128; a burst of a thousand connections (or as many
        // waiting for their first bytes, deferred) would see SYNs dropped and retried after 1 s.
        let _ = sys::set_backlog(listener.as_fd(), LISTEN_BACKLOG);
        let shared = Arc::new(Shared::new(config, handler));
        let pool = Pool::new(Arc::clone(&shared))?;
        Ok(Server {
            listener,
            preset,
            shared,
            pool,
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The address actually bound (the port is known here when 0 was asked for).
    ///
    /// # Errors
    /// If the socket cannot tell, which does not happen for a bound listener.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// A handle that drains or stops this server from another thread.
    ///
    /// # Errors
    /// If the bound address cannot be read.
    pub fn stopper(&self) -> io::Result<Stopper> {
        Ok(Stopper {
            shared: Arc::clone(&self.shared),
            pool: Arc::clone(&self.pool),
            stopped: Arc::clone(&self.stopped),
            addr: self.local_addr()?,
        })
    }

    /// Accepts connections until a drain or stop, then drains.
    ///
    /// # Errors
    /// If the poller's thread cannot be started.
    pub fn run(self) -> io::Result<DrainReport> {
        let shared = &self.shared;
        let c = &shared.config;
        shared.log.info(format_args!(
            "listening on {}, {}, {} workers, at most {} connections",
            self.local_addr()?,
            shared.handler.describe(),
            c.threads,
            c.max_connections
        ));
        let poller = self.pool.start_poller()?;
        // Whether accepted sockets come with the listener's options: known from the first.
        let mut inherits: Option<bool> = None;
        loop {
            let accepted = self.listener.accept();
            if shared.is_draining() {
                break;
            }
            match accepted {
                // accept() hands back the peer's address: no getpeername per connection.
                Ok((stream, peer)) => {
                    let preset = *inherits.get_or_insert_with(|| {
                        self.preset.is_some() && Preset::of(&stream).ok() == self.preset
                    });
                    self.admit(stream, peer, preset);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    shared.log.info(format_args!("accept failed: {e}"));
                    thread::sleep(ACCEPT_ERROR_PAUSE);
                }
            }
        }
        let report = self.drain_connections();
        let _ = poller.join();
        Ok(report)
    }

    /// Closes the port, lets the requests in flight finish (idle connections stay open for
    /// `--drain-idle`, so that a proxy closes them itself), then stops the pool and the poller.
    fn drain_connections(self) -> DrainReport {
        let shared = &self.shared;
        let c = &shared.config;
        let started = Instant::now();
        // Close the port at once: a new instance can bind it, and clients are refused, not
        // left waiting in the backlog.
        drop(self.listener);
        if !self.stopped.load(Ordering::Relaxed) {
            let deadline = started + c.shutdown_timeout;
            let idle_deadline = (started + c.drain_idle).min(deadline);
            let wait_until = |until: Instant| {
                while shared.in_flight.load(Ordering::Relaxed) > 0
                    && Instant::now() < until
                    && !self.stopped.load(Ordering::Relaxed)
                {
                    thread::sleep(DRAIN_CHECK_INTERVAL);
                }
            };
            wait_until(idle_deadline);
            shared.close_idle();
            self.pool.drain();
            wait_until(deadline);
        }
        let report = DrainReport {
            requests: shared.drained_requests.load(Ordering::Relaxed),
            idle_closed: shared.drained_idle.load(Ordering::Relaxed),
            cut: shared.in_flight.load(Ordering::Relaxed),
            cut_in_body: shared.in_body.load(Ordering::Relaxed),
            took: started.elapsed(),
        };
        self.pool.stop();
        report
    }

    /// Hands a connection to the pool, or turns it away. `preset`: whether the socket already
    /// has `TCP_NODELAY`.
    fn admit(&self, stream: TcpStream, peer: SocketAddr, preset: bool) {
        let shared = &self.shared;
        if shared.in_flight.fetch_add(1, Ordering::Relaxed) >= shared.config.max_connections {
            shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            shared.log.access(format_args!(
                "{peer} turned away: 503, too many connections"
            ));
            reject(stream);
            return;
        }
        shared.log.access(format_args!("{peer} connected"));
        match Conn::new(stream, peer, Arc::clone(shared), preset) {
            Ok(conn) => self.pool.schedule(conn),
            Err(e) => shared.log.info(format_args!("{peer} dropped: {e}")),
        }
    }

    /// Runs the server on a thread of its own and returns a handle to stop it.
    ///
    /// # Errors
    /// If the thread cannot be started or the address read.
    pub fn spawn(self) -> io::Result<Handle> {
        let addr = self.local_addr()?;
        let stopper = self.stopper()?;
        let shared = Arc::clone(&self.shared);
        let pool = Arc::clone(&self.pool);
        let thread = thread::Builder::new()
            .name("acceptor".into())
            .spawn(move || self.run())?;
        Ok(Handle {
            addr,
            shared,
            pool,
            stopper,
            thread: Some(thread),
        })
    }
}

/// Socket options set once on the listening socket. Linux copies a listener's options to each
/// socket it accepts, which saves each connection a system call (`TCP_NODELAY`). (Not
/// `O_NONBLOCK`: that is a file status flag, which accepted sockets do not inherit.)
#[derive(Clone, Copy, PartialEq, Debug)]
struct Preset {
    nodelay: bool,
}

impl Preset {
    fn of(socket: &TcpStream) -> io::Result<Preset> {
        Ok(Preset {
            nodelay: socket.nodelay()?,
        })
    }
}

/// Sets the preset options on the listener and returns them as the kernel reports them.
fn preset_listener(listener: TcpListener) -> (TcpListener, Option<Preset>) {
    // std offers these options on streams only; a listening socket takes them all the same, so
    // look at the descriptor as a stream for the time it takes to set them.
    let socket = TcpStream::from(OwnedFd::from(listener));
    let preset = socket
        .set_nodelay(true)
        .and_then(|()| Preset::of(&socket))
        .ok();
    (TcpListener::from(OwnedFd::from(socket)), preset)
}

/// Turns a connection away without reading from it, and without waiting: the 503 goes in one
/// non-blocking write (a new socket's buffer always has room for it).
fn reject(stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut s = &stream;
    let _ = s.write(REJECT_RESPONSE);
    let _ = stream.shutdown(Shutdown::Write);
}

/// A server running on its own thread. Dropping it stops the server at once.
pub struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    stopper: Stopper,
    thread: Option<JoinHandle<io::Result<DrainReport>>>,
}

impl Handle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted and not yet closed.
    pub fn connections(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Idle connections waiting in the poller.
    pub fn parked(&self) -> usize {
        self.pool.parked()
    }

    /// How many times the poller has handed a connection back to the workers.
    pub fn wakeups(&self) -> u64 {
        self.pool.wakeups()
    }

    /// Drains as on SIGTERM and waits for the drain to end.
    ///
    /// # Errors
    /// As for [`Server::run`].
    pub fn drain(mut self) -> io::Result<DrainReport> {
        self.stopper.drain();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            _ => Err(io::Error::other("the server thread panicked")),
        }
    }

    /// Stops accepting and closes connections, without waiting for requests in progress.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sockets_inherit_the_listener_options() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (listener, preset) = preset_listener(listener);
        let preset = preset.expect("options set on the listener");
        assert!(preset.nodelay);
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        // What the acceptor relies on to skip two system calls per connection (Linux).
        if cfg!(target_os = "linux") {
            assert_eq!(Preset::of(&accepted).unwrap(), preset);
        }
    }
}
