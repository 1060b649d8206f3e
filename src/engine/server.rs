//! Binds the listener, runs the accept loop with admission control, and hands each connection
//! to the fixed worker pool.
//!
//! Admission: the `threadpool` queue is unbounded, so the acceptor counts connections in flight
//! (being served or queued) and answers `503` itself past `max_connections`, without queueing.
//! To stop: stop accepting, let workers close their connections, then `pool.join()`.

use crate::app::files;
use crate::app::router;
use crate::config::Config;
use crate::engine::conn::{Conn, QUEUE_CHECK_INTERVAL};
use crate::engine::park::ParkingLot;
use crate::http::body::BodyReader;
use crate::http::error::Error;
use crate::http::parse::Head;
use crate::http::response::Response;
use crate::log::Logger;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;
use threadpool::ThreadPool;

/// How long the acceptor may block writing a 503 to a connection it turns away.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_millis(100);
/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

const REJECT_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\nRetry-After: 1\r\nConnection: close\r\n\r\nserver busy: too many clients\n";

/// What answers a request once its head has been checked: [`router::dispatch`] in the server,
/// something else in tests that need a handler to misbehave.
pub type Handler =
    for<'h> fn(&Config, &'h Head, &mut BodyReader<'_, TcpStream>) -> Result<Response<'h>, Error>;

/// What the acceptor and every worker share.
pub struct Shared {
    pub config: Config,
    pub handler: Handler,
    pub log: Logger,
    /// The worker pool; connections that give their worker back queue themselves here again.
    pub pool: ThreadPool,
    /// Connections accepted and not yet closed.
    pub in_flight: AtomicUsize,
    /// Idle keep-alive connections, waiting off the queue.
    pub parking: ParkingLot,
    shutting_down: AtomicBool,
}

impl Shared {
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    /// The options set on the listener for accepted sockets to inherit, if they could be set.
    preset: Option<Preset>,
    shared: Arc<Shared>,
}

/// Socket options set once on the listening socket. Linux copies a listener's options to each
/// socket it accepts, which saves every connection three system calls (`TCP_NODELAY`, the write
/// timeout, the first read timeout). The acceptor checks the first accepted socket and, where
/// the platform does not copy them, sets them on each connection instead.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Preset {
    nodelay: bool,
    /// As the kernel reports them back (rounded to its clock tick).
    write_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl Preset {
    /// Sets the options on the listener and returns them as the kernel reports them.
    #[cfg(unix)]
    fn apply(listener: TcpListener, write_timeout: Duration) -> (TcpListener, Option<Preset>) {
        use std::os::fd::OwnedFd;
        // std offers these options on streams only; a listening socket takes them all the
        // same, so look at the descriptor as a stream for the time it takes to set them.
        let socket = TcpStream::from(OwnedFd::from(listener));
        let set = socket
            .set_nodelay(true)
            .and_then(|()| socket.set_write_timeout(Some(write_timeout)))
            // The timeout a worker first waits with (`Conn::next_request`). It also bounds
            // each accept(), so the acceptor wakes this often when nothing arrives.
            .and_then(|()| socket.set_read_timeout(Some(QUEUE_CHECK_INTERVAL)))
            .and_then(|()| Preset::of(&socket));
        let preset = set.ok();
        (TcpListener::from(OwnedFd::from(socket)), preset)
    }

    #[cfg(not(unix))]
    fn apply(listener: TcpListener, _write_timeout: Duration) -> (TcpListener, Option<Preset>) {
        (listener, None)
    }

    fn of(socket: &TcpStream) -> io::Result<Preset> {
        Ok(Preset {
            nodelay: socket.nodelay()?,
            write_timeout: socket.write_timeout()?,
            read_timeout: socket.read_timeout()?,
        })
    }
}

impl Server {
    /// Checks the configuration, binds, and cleans up uploads a killed process left behind.
    ///
    /// # Errors
    /// `InvalidInput` for a bad `--directory`, and the bind error (address in use, say).
    pub fn bind(config: Config) -> io::Result<Server> {
        Server::bind_with_handler(config, router::dispatch)
    }

    /// Like [`Server::bind`], with another handler in place of the router (for tests).
    ///
    /// # Errors
    /// As for [`Server::bind`].
    pub fn bind_with_handler(mut config: Config, handler: Handler) -> io::Result<Server> {
        config
            .check_directory()
            .map_err(|msg| io::Error::new(io::ErrorKind::InvalidInput, msg))?;
        let log = Logger {
            quiet: config.quiet,
        };
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
        // Only once the port is ours: a second server that fails to bind must not touch the
        // uploads in progress of the one already running on this directory.
        if let Some(dir) = &config.directory {
            match files::remove_stale_uploads(dir) {
                Ok(0) => {}
                Ok(n) => log.info(format_args!(
                    "removed {n} unfinished upload file(s) from {}",
                    dir.display()
                )),
                Err(e) => log.info(format_args!("could not list {}: {e}", dir.display())),
            }
        }
        let (listener, preset) = Preset::apply(listener, config.write_timeout);
        let pool = ThreadPool::with_name("worker".into(), config.threads.max(1));
        Ok(Server {
            listener,
            preset,
            shared: Arc::new(Shared {
                config,
                handler,
                log,
                pool,
                in_flight: AtomicUsize::new(0),
                parking: ParkingLot::default(),
                shutting_down: AtomicBool::new(false),
            }),
        })
    }

    /// The address actually bound (the port is known here when 0 was asked for).
    ///
    /// # Errors
    /// If the socket cannot tell, which does not happen for a bound listener.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until shut down (or forever).
    ///
    /// # Errors
    /// None today; the signature leaves room for fatal listener errors.
    pub fn run(self) -> io::Result<()> {
        let shared = &self.shared;
        let c = &shared.config;
        let dir = c.directory.as_ref().map_or_else(
            || "(none: /files disabled)".to_string(),
            |d| d.display().to_string(),
        );
        shared.log.info(format_args!(
            "listening on {}, directory {dir}, {} workers, at most {} connections",
            self.local_addr()?,
            c.threads,
            c.max_connections
        ));
        let watcher = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name("parking".into())
                .spawn(move || ParkingLot::watch(&shared))?
        };
        // Whether accepted sockets come with the listener's options: known from the first.
        let mut inherits: Option<bool> = None;
        loop {
            let accepted = self.listener.accept();
            if shared.is_shutting_down() {
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
                // The listener's read timeout bounds accept(): nothing arrived, go round again.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    shared.log.info(format_args!("accept failed: {e}"));
                    thread::sleep(ACCEPT_ERROR_PAUSE);
                }
            }
        }
        let _ = watcher.join();
        shared.pool.join();
        Ok(())
    }

    /// Hands a connection to the pool, or turns it away. `preset`: whether the socket already
    /// has the options `Conn` needs.
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
        Conn::new(stream, peer, Arc::clone(shared), preset).schedule();
    }

    /// Runs the server on a thread of its own and returns a handle to stop it.
    ///
    /// # Errors
    /// If the thread cannot be started or the address read.
    pub fn spawn(self) -> io::Result<Handle> {
        let addr = self.local_addr()?;
        let shared = Arc::clone(&self.shared);
        let thread = thread::Builder::new()
            .name("acceptor".into())
            .spawn(move || self.run())?;
        Ok(Handle {
            addr,
            shared,
            thread: Some(thread),
        })
    }
}

/// Turns a connection away without reading from it.
fn reject(stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(REJECT_WRITE_TIMEOUT));
    let mut s = &stream;
    let _ = s.write_all(REJECT_RESPONSE);
    let _ = stream.shutdown(Shutdown::Write);
}

/// A server running on its own thread. Dropping it stops the server.
pub struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<io::Result<()>>>,
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

    /// Idle connections waiting in the parking lot (including any the watcher is checking).
    pub fn parked(&self) -> usize {
        self.shared.parking.len()
    }

    /// Stops accepting, lets the workers finish, and waits for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        // Wake the acceptor, which is blocked in accept().
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
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
        let config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            write_timeout: Duration::from_secs(7),
            ..Config::default()
        };
        let server = Server::bind(config).unwrap();
        let preset = server.preset.expect("options set on the listener");
        assert!(preset.nodelay);
        assert_eq!(preset.write_timeout, Some(Duration::from_secs(7)));
        assert!(preset.read_timeout.is_some());
        let _client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (accepted, _) = server.listener.accept().unwrap();
        // What the acceptor relies on to skip three system calls per connection (Linux).
        assert_eq!(Preset::of(&accepted).unwrap(), preset);
    }

    #[test]
    fn accept_times_out_on_an_idle_listener() {
        let config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        let server = Server::bind(config).unwrap();
        // The acceptor treats this as "nothing yet", not as a failure.
        let err = server.listener.accept().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        );
    }
}
