//! Runs one connection while it has work: read a head, check it, route it, write the answer,
//! decide whether to keep the connection, and go round again with whatever bytes are left over
//! (pipelining).
//!
//! Between requests the worker reads without waiting: a request already there is served at once
//! (pipelined and back-to-back clients stay on their worker, with no system call added). An
//! empty socket sends the connection to the poller (`poller/`), which hands it back to the pool
//! when bytes arrive or a deadline passes, so a worker never waits on a quiet socket; while
//! others wait for a worker, it first goes round the queue once (its request has usually come by
//! then). A client that keeps requests coming gives its worker back after
//! `MAX_REQUESTS_PER_TURN` while others wait for one, so no client can hold a worker for ever.
//! Answering one request is `serve.rs`.
//!
//! Out of scope: accepting and admission (`server.rs`), where a connection goes between turns
//! (`pool.rs`), parsing (`http/parse.rs`), body framing (`http/body.rs`), and what each route
//! does (the application's router).

use crate::buf::ReadBuf;
mod serve;

use crate::engine::poller::Waiting;
use crate::engine::shared::Shared;
use crate::engine::socket::Socket;
use crate::http::error::Error;
use crate::http::parse::{parse_head_reusing, Head, Limits, Parsed, Spare};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// While other connections wait for a worker, a connection gives its worker back (to the back of
/// the queue) after this many requests in a row. Pipelining clients send several requests at
/// once; this bounds how long one of them keeps a worker from the others.
pub const MAX_REQUESTS_PER_TURN: u32 = 32;
/// After an answer that leaves request bytes unread, the server stops sending and reads (and
/// drops) what the client still sends for at most this long before it closes, so that the
/// client sees the answer rather than a reset (RFC 9112 §9.6).
pub const LINGER_TIMEOUT: Duration = Duration::from_millis(200);
/// The most bytes read while lingering.
pub const MAX_LINGER_BYTES: u64 = 1024 * 1024;

/// One accepted connection and everything it keeps between requests.
pub struct Conn {
    socket: Socket,
    peer: SocketAddr,
    buf: ReadBuf,
    /// The last request head's buffers, reused for the next one.
    spare: Spare,
    /// When an idle connection is closed.
    idle_deadline: Instant,
    /// When the head now arriving must be complete, once its first byte is in.
    head_deadline: Option<Instant>,
    requests: u64,
    /// The poller found the socket readable: read at once, without the short wait.
    readable: bool,
    /// The last look found the socket empty (and the connection went round the queue).
    looked_empty: bool,
    /// The poller's backend knows this socket already (epoll keeps it while it is open).
    registered: bool,
    shared: Arc<Shared>,
}

/// Where a connection goes after its turn on a worker.
pub enum Step {
    /// Nothing to read: wait in the poller.
    Park(Conn),
    /// Requests keep coming but others wait for a worker: back of the queue.
    Yield(Conn),
    /// Closed.
    Done,
}

/// What reading towards the next request head came to.
enum Next {
    Request(Head),
    /// The socket is empty: wait for it off the worker.
    Wait,
    /// The socket is empty while others wait for a worker: look again after them.
    LookLater,
    /// Close without an answer (client gone, idle too long, or the server is draining).
    Close,
}

impl Conn {
    /// Prepares an accepted stream. The caller has already counted it in `in_flight`; dropping
    /// the `Conn` uncounts it. `preset`: the socket came with `TCP_NODELAY` and the write timeout
    /// (inherited from the listener).
    ///
    /// # Errors
    /// If the socket cannot be put in non-blocking mode.
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        shared: Arc<Shared>,
        preset: bool,
    ) -> io::Result<Conn> {
        if !preset {
            // Small answers must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
        }
        // Counted from here: a `Conn` that exists is one the drop below uncounts.
        let socket = Socket::new(stream, shared.config.write_timeout, preset).map(|mut s| {
            if !shared.config.sendfile {
                s.disable_sendfile();
            }
            s
        });
        let conn = |socket| Conn {
            socket,
            peer,
            buf: ReadBuf::new(),
            spare: Spare::default(),
            idle_deadline: Instant::now() + shared.config.idle_timeout,
            head_deadline: None,
            requests: 0,
            readable: false,
            registered: false,
            looked_empty: false,
            shared: Arc::clone(&shared),
        };
        match socket {
            Ok(socket) => Ok(conn(socket)),
            Err(e) => {
                shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Notes that the poller found bytes (or a close) on the socket.
    pub fn mark_readable(&mut self) {
        self.readable = true;
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Serves requests while they are there. `others_waiting` says whether connections wait
    /// for a worker (then a long run of requests yields).
    pub fn run(mut self, others_waiting: &dyn Fn() -> bool) -> Step {
        let mut served = 0;
        loop {
            match self.next_request(others_waiting) {
                Next::Request(head) => {
                    let keep = self.serve(&head);
                    self.spare.reclaim(head);
                    if !keep {
                        self.close();
                        return Step::Done;
                    }
                    served += 1;
                    if served >= MAX_REQUESTS_PER_TURN && others_waiting() {
                        return Step::Yield(self);
                    }
                }
                Next::Wait => return Step::Park(self),
                Next::LookLater => return Step::Yield(self),
                Next::Close => {
                    self.close();
                    return Step::Done;
                }
            }
        }
    }

    /// Closes the connection (by dropping it), with a log line.
    fn close(self) {
        self.shared.log.access(format_args!(
            "{} closed after {} request(s)",
            self.peer, self.requests
        ));
    }

    fn limits(&self) -> Limits {
        let c = &self.shared.config;
        Limits {
            max_head_bytes: c.max_head_bytes,
            max_request_line_bytes: c.max_request_line_bytes,
            max_headers: c.max_headers,
        }
    }

    /// Reads, without waiting, until a whole head is buffered or the socket is empty, and
    /// keeps the idle and head deadlines.
    fn next_request(&mut self, others_waiting: &dyn Fn() -> bool) -> Next {
        let limits = self.limits();
        let cap = limits.max_head_bytes + 1;
        let mut scanned = 0;
        // Woken by the poller: the socket has bytes, or the client left.
        let woken = std::mem::take(&mut self.readable);
        loop {
            if !self.buf.is_empty() {
                match parse_head_reusing(self.buf.filled(), &limits, &mut scanned, &mut self.spare)
                {
                    Ok(Parsed::Complete(len, head)) => {
                        self.buf.consume(len);
                        self.head_deadline = None;
                        return Next::Request(head);
                    }
                    Ok(Parsed::Partial) => {}
                    Err(e) => {
                        self.answer_error(None, Error::from(e));
                        return Next::Close;
                    }
                }
                if self.head_deadline.is_none() {
                    self.head_deadline = Some(Instant::now() + self.shared.config.header_timeout);
                }
            }
            // Read before looking at the deadlines: bytes that an overloaded server has not
            // read yet must not be left unread by a close, which would reset the connection
            // under the client.
            let read = self.socket.try_fill(&mut self.buf, cap);
            match read {
                Ok(0) => return Next::Close,
                Ok(_) => {
                    self.looked_empty = false;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {}
                Err(_) => return Next::Close,
            }
            if self.buf.is_empty() && self.shared.is_closing_idle() {
                self.shared.drained_idle.fetch_add(1, Ordering::Relaxed);
                return Next::Close;
            }
            if Instant::now() >= self.deadline() {
                if self.head_deadline.is_some() {
                    self.answer_error(None, Error::Timeout);
                }
                return Next::Close;
            }
            if !woken && others_waiting() && !std::mem::replace(&mut self.looked_empty, true) {
                // Others wait for a worker, and this client has not sent its next request yet:
                // look once more after them (it has usually come by then) before paying the
                // trip through the poller. Once only: a quiet client costs one look, not a spin.
                return Next::LookLater;
            }
            return Next::Wait;
        }
    }

    /// The idle deadline, or the deadline of the head in progress.
    fn deadline(&self) -> Instant {
        self.head_deadline.unwrap_or(self.idle_deadline)
    }
}

impl Waiting for Conn {
    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn deadline(&self) -> Instant {
        Conn::deadline(self)
    }

    fn is_idle(&self) -> bool {
        self.buf.is_empty()
    }

    fn is_registered(&self) -> bool {
        self.registered
    }

    fn set_registered(&mut self) {
        self.registered = true;
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Runs a handler so that a panic in it (a bug) costs its request, not the worker.
pub fn catching<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}
