//! One connection's life, as a state machine that a worker runs while the socket has something
//! to give or room to take, and that waits in the poller otherwise. No worker ever waits on the
//! socket: every read and write is non-blocking (`socket.rs`), and meeting `WouldBlock` parks
//! the connection with whatever it needs to go on, in its [`Phase`]:
//!
//! ```text
//!            bytes of a head                  a head, no body wanted
//!   +----> [Head] ---------------------> serve ------------------------+
//!   |        |  ^ quiet: park (read)       |  a body to store or drop   |
//!   |        |  | idle/head deadline       v                            v
//!   |        |  +---------------------  [Body] --- body done -------> [Send] -- sent, keep-alive --+
//!   |        |                          ^ quiet: park (read)           ^ full: park (write)       |
//!   |        |                          | body deadline                | send deadline            |
//!   |        v                                                                                    |
//!   |      close <----------- [Linger] <---- sent, closing with unread request bytes              |
//!   +---------------------------------------------------------------------------------------------+
//! ```
//!
//! - `Head` (`mod.rs`): reading towards the next request head. A request already there is
//!   served at once (pipelined and back-to-back clients stay on their worker, with no system
//!   call added). While others wait for a worker, an empty socket first sends the connection
//!   round the queue once (its request has usually come by then), then to the poller.
//! - `Body` (`inbound.rs`): a request body arriving, fed piece by piece to the handler's sink
//!   (an upload) or read and dropped (a body the answer did not need).
//! - `Send` (`outbound.rs`): an answer going out; a file body keeps only its file and offset.
//! - `Linger` (`outbound.rs`): after an answer that leaves request bytes unread, reading and
//!   dropping what the client still sends, briefly, so that it sees the answer, not a reset.
//!
//! Each phase has its own deadline (idle, head, body, send, linger); progress moves a body's and
//! a send's deadline on, so a transfer that keeps moving keeps going however slowly, as in nginx.
//! A client that keeps requests coming gives its worker back after `MAX_REQUESTS_PER_TURN`
//! while others wait for one. Answering one request is `serve.rs`.
//!
//! Out of scope: accepting and admission (`server.rs`), where a connection goes between turns
//! (`pool.rs`), parsing (`http/parse.rs`), body framing (`http/body.rs`), writing a response
//! (`http/response.rs`), and what each route does (the application's `Handler`).

mod inbound;
mod outbound;
mod serve;

use crate::buf::ReadBuf;
use crate::engine::poller::Waiting;
use crate::engine::shared::Shared;
use crate::engine::socket::Socket;
use crate::http::error::Error;
use crate::http::parse::{parse_head_reusing, Head, Limits, Parsed, Spare};
use inbound::Inbound;
use outbound::Outbound;
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
/// The most body bytes (sent or received) a connection moves in one turn on a worker before it
/// gives the worker back, if others wait for one: a fast client downloading or uploading a big
/// file keeps no one else waiting for more than a few milliseconds.
pub const MAX_BODY_BYTES_PER_TURN: u64 = 4 * 1024 * 1024;
/// After an answer that leaves request bytes unread, the server stops sending and reads (and
/// drops) what the client still sends for at most this long before it closes, so that the
/// client sees the answer rather than a reset (RFC 9112 §9.6).
pub const LINGER_TIMEOUT: Duration = Duration::from_millis(200);
/// The most bytes read while lingering.
pub const MAX_LINGER_BYTES: u64 = 1024 * 1024;

/// One accepted connection and everything it keeps between turns on a worker.
pub struct Conn {
    socket: Socket,
    peer: SocketAddr,
    buf: ReadBuf,
    /// The last request head's buffers, reused for the next one.
    spare: Spare,
    phase: Phase,
    /// When an idle connection is closed.
    idle_deadline: Instant,
    /// When the head now arriving must be complete, once its first byte is in.
    head_deadline: Option<Instant>,
    requests: u64,
    /// Body bytes this turn may still move (see `MAX_BODY_BYTES_PER_TURN`).
    turn_left: u64,
    /// A request body is being read (counted in `Shared::in_body`).
    in_body: bool,
    /// The poller found the socket ready: go at once, without the look round the queue.
    woken: bool,
    /// The last look found the socket empty (and the connection went round the queue).
    looked_empty: bool,
    /// The poller's backend knows this socket already (epoll keeps it while it is open).
    registered: bool,
    shared: Arc<Shared>,
}

/// What a connection is doing: the state a parked connection keeps.
enum Phase {
    /// Waiting for a request head, or the rest of one.
    Head,
    /// Reading a request body.
    Body(Box<Inbound>),
    /// Sending an answer.
    Send(Box<Outbound>),
    /// Closing: dropping what the client still sends, until `until` or `MAX_LINGER_BYTES`.
    Linger { until: Instant, read: u64 },
}

/// Where a connection goes after its turn on a worker.
pub enum Step {
    /// Waiting for the socket: to the poller.
    Park(Conn),
    /// Work remains but others wait for a worker: back of the queue.
    Yield(Conn),
    /// Closed.
    Done,
}

/// What one step of a phase came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Go on at once with the phase now set.
    Go,
    /// The socket is not ready: park with the phase now set.
    Park,
    /// This turn has done its share: back of the queue with the phase now set, if others wait
    /// for a worker (else go on).
    Yield,
    /// Close the connection.
    Close,
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
    /// An error answered (or being sent): what comes next.
    Answered(Flow),
}

impl Conn {
    /// Prepares an accepted stream. The caller has already counted it in `in_flight`; dropping
    /// the `Conn` uncounts it. `preset`: the socket came with `TCP_NODELAY` (inherited from the
    /// listener).
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
        let socket = match Socket::new(stream) {
            Ok(mut s) => {
                if !shared.config.sendfile {
                    s.disable_sendfile();
                }
                s
            }
            Err(e) => {
                shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        // Counted from here: a `Conn` that exists is one the drop below uncounts.
        Ok(Conn {
            socket,
            peer,
            buf: ReadBuf::new(),
            spare: Spare::default(),
            phase: Phase::Head,
            idle_deadline: Instant::now() + shared.config.idle_timeout,
            head_deadline: None,
            requests: 0,
            turn_left: MAX_BODY_BYTES_PER_TURN,
            in_body: false,
            woken: false,
            registered: false,
            looked_empty: false,
            shared,
        })
    }

    /// Notes that the poller found the socket ready (or a deadline passed).
    pub fn mark_woken(&mut self) {
        self.woken = true;
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Runs the connection while its socket lets it. `others_waiting` says whether connections
    /// wait for a worker (then a long run of requests yields).
    pub fn run(mut self, others_waiting: &dyn Fn() -> bool) -> Step {
        let mut served = 0;
        self.turn_left = MAX_BODY_BYTES_PER_TURN;
        // Only the first look after a wake-up knows the socket is ready.
        let mut woken = std::mem::take(&mut self.woken);
        loop {
            let flow = match std::mem::replace(&mut self.phase, Phase::Head) {
                Phase::Head => {
                    if served >= MAX_REQUESTS_PER_TURN && others_waiting() {
                        return Step::Yield(self);
                    }
                    match self.next_request(std::mem::take(&mut woken), others_waiting) {
                        Next::Request(head) => {
                            served += 1;
                            self.serve(head)
                        }
                        Next::Answered(flow) => flow,
                        Next::Wait => Flow::Park,
                        Next::LookLater => Flow::Yield,
                        Next::Close => Flow::Close,
                    }
                }
                Phase::Body(inbound) => self.continue_body(inbound),
                Phase::Send(outbound) => self.continue_send(outbound),
                Phase::Linger { until, read } => self.linger(until, read),
            };
            match flow {
                Flow::Go => {}
                Flow::Park => return Step::Park(self),
                Flow::Yield if others_waiting() => return Step::Yield(self),
                Flow::Yield => self.turn_left = MAX_BODY_BYTES_PER_TURN,
                Flow::Close => {
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
        self.shared.config.limits
    }

    /// Reads, without waiting, until a whole head is buffered or the socket is empty, and
    /// keeps the idle and head deadlines. `woken`: the poller handed the connection back.
    fn next_request(&mut self, woken: bool, others_waiting: &dyn Fn() -> bool) -> Next {
        let limits = self.limits();
        let cap = limits.max_head_bytes + 1;
        let mut scanned = 0;
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
                    Err(e) => return Next::Answered(self.answer_early(Error::from(e))),
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Next::Close,
            }
            if self.buf.is_empty() && self.shared.is_closing_idle() {
                self.shared.drained_idle.fetch_add(1, Ordering::Relaxed);
                return Next::Close;
            }
            if Instant::now() >= self.head_deadline.unwrap_or(self.idle_deadline) {
                if self.head_deadline.is_some() {
                    return Next::Answered(self.answer_early(Error::Timeout));
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

    /// Counts a request body as being read, or as over (for the drain report).
    fn count_body(&mut self, reading: bool) {
        if self.in_body != reading {
            self.in_body = reading;
            if reading {
                self.shared.in_body.fetch_add(1, Ordering::Relaxed);
            } else {
                self.shared.in_body.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Waiting for Conn {
    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn deadline(&self) -> Instant {
        match &self.phase {
            Phase::Head => self.head_deadline.unwrap_or(self.idle_deadline),
            Phase::Body(inbound) => inbound.deadline,
            Phase::Send(outbound) => outbound.deadline,
            Phase::Linger { until, .. } => *until,
        }
    }

    fn wants_write(&self) -> bool {
        matches!(self.phase, Phase::Send(_))
    }

    fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Head) && self.buf.is_empty()
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
        self.count_body(false);
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a handler so that a panic in it (a bug) costs its request, not the worker.
pub fn catching<T>(f: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()
}
