//! Runs one connection: read a head, check it, route it, write the answer, decide whether to
//! keep the connection, and go round again with whatever bytes are left over (pipelining).
//!
//! It also keeps the pool fair. While other connections wait for a worker, a worker only looks
//! at its connection (a non-blocking read): with no complete request there, the connection goes
//! to the back of the pool's queue, or to the parking lot (`park.rs`) once it has been idle for
//! `PARK_AFTER_IDLE` or its worker keeps finding connections empty (`MAX_EMPTY_LOOKS`), and the
//! worker takes the next one. So connections outnumbering workers are all served, idle or slow
//! clients cannot pin workers, and workers do not spin on quiet clients.
//!
//! Out of scope: accepting and admission (`server.rs`), parsing (`http/parse.rs`), framing of
//! bodies (`http/body.rs`), and what each route does (`router.rs`, `handlers.rs`).

use crate::app::encoding;
use crate::buf::{with_scratch, ReadBuf};
use crate::config::MAX_DRAIN_BYTES;
use crate::engine::server::Shared;
use crate::http::body::{BodyReader, Framing};
use crate::http::checks::{check_head, wants_keep_alive};
use crate::http::date::{format_http_date, unix_seconds};
use crate::http::error::Error;
use crate::http::parse::{parse_head_reusing, Head, Limits, Parsed, Spare};
use crate::http::response::{write_response, WriteOptions};
use crate::http::{escape_for_log, Method, Status, Version};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A connection with nothing to read for this long, found so while others wait for a worker,
/// goes to the parking lot instead of back into the queue. Busy keep-alive clients send their
/// next request well within it, so they stay in the queue and never wait on the lot's checks.
pub const PARK_AFTER_IDLE: Duration = Duration::from_millis(10);
/// A worker that has looked at this many connections in a row without finding a byte to read
/// is going round connections whose clients are quiet: from then on it parks each one it finds
/// empty, where the lot's watcher polls with backoff, instead of queueing it again at once,
/// until it finds a request again. Without this, when clients are slower than the server, the
/// workers spun through the queue (perf: 25 `recv` calls per request and a whole core busy
/// with 50 keep-alive clients).
pub const MAX_EMPTY_LOOKS: u32 = 8;
/// How long a worker waits, once, for the first request on a new connection while others
/// wait for a worker (Linux rounds it up to one timer tick, 4 ms at HZ=250; the request usually
/// comes within a fraction of a millisecond).
pub const FIRST_REQUEST_WAIT: Duration = Duration::from_millis(1);
/// While connections wait in the parking lot (but none in the queue), a worker waits on its own
/// connection for at most this long (one timer tick, 4 ms at HZ=250) before it parks it too and
/// goes back to the pool: a parked connection whose request has come must not wait for a worker
/// that sits on a quiet one.
pub const PARKED_OTHERS_WAIT: Duration = Duration::from_millis(1);
/// While nothing is queued or parked, a worker waiting on an idle connection still looks at the
/// queue this often, so that a newcomer is picked up quickly.
pub const QUEUE_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// After an answer that leaves request bytes unread, the server stops sending and reads (and
/// drops) what the client still sends for at most this long before it closes, so that the
/// client sees the answer rather than a reset (RFC 9112 §9.6).
pub const LINGER_TIMEOUT: Duration = Duration::from_millis(200);
/// The most bytes read while lingering.
pub const MAX_LINGER_BYTES: u64 = 1024 * 1024;

thread_local! {
    /// This worker's count of looks in a row that found nothing to read (`MAX_EMPTY_LOOKS`).
    static EMPTY_LOOKS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One accepted connection and everything it keeps between requests.
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    buf: ReadBuf,
    /// The last request head's buffers, reused for the next one.
    spare: Spare,
    /// When an idle connection is closed.
    idle_deadline: Instant,
    /// When the head now arriving must be complete, once its first byte is in.
    head_deadline: Option<Instant>,
    /// The read timeout currently set on the socket, to avoid needless system calls.
    read_timeout: Option<Duration>,
    /// Whether the socket is in non-blocking mode (while the worker only looks at it).
    nonblocking: bool,
    /// When bytes last arrived (or the connection was accepted).
    last_input: Instant,
    /// Whether the one wait for a new connection's first request has been spent.
    waited_first: bool,
    requests: u64,
    shared: Arc<Shared>,
}

/// What waiting for a request head came to.
enum Next {
    Request(Head),
    /// Put the connection back in the queue and serve another.
    Yield,
    /// Nothing to read for a while: wait in the parking lot, off the queue.
    Park,
    /// Close without an answer (client gone, or idle too long).
    Close,
}

impl Conn {
    /// Prepares an accepted stream. The caller has already counted it in `in_flight`; dropping
    /// the `Conn` uncounts it. `preset`: the socket came with `TCP_NODELAY`, the write timeout and
    /// a read timeout of `QUEUE_CHECK_INTERVAL` (inherited from the listener).
    pub fn new(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, preset: bool) -> Conn {
        if !preset {
            // Small answers must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let _ = stream.set_write_timeout(Some(shared.config.write_timeout));
        }
        Conn {
            stream,
            peer,
            buf: ReadBuf::new(),
            spare: Spare::default(),
            idle_deadline: Instant::now() + shared.config.idle_timeout,
            head_deadline: None,
            read_timeout: preset.then_some(QUEUE_CHECK_INTERVAL),
            nonblocking: false,
            last_input: Instant::now(),
            waited_first: false,
            requests: 0,
            shared,
        }
    }

    /// Serves requests until the connection closes or should give its worker back. In that case
    /// it queues itself again on the pool.
    pub fn run(mut self) {
        loop {
            match self.next_request() {
                Next::Request(head) => {
                    let keep = self.serve(&head);
                    self.spare.reclaim(head);
                    if !keep {
                        return self.close();
                    }
                }
                Next::Yield => return self.schedule(),
                Next::Park => {
                    let shared = Arc::clone(&self.shared);
                    shared.parking.park(self);
                    return;
                }
                Next::Close => return self.close(),
            }
        }
    }

    /// Queues the connection on the pool, to run on the next free worker. A panic while serving
    /// it is a bug; it costs this connection (dropped, and uncounted by `Drop`), never the worker.
    pub fn schedule(self) {
        let shared = Arc::clone(&self.shared);
        let (log, peer) = (shared.log, self.peer);
        shared.pool.execute(move || {
            if catch_unwind(AssertUnwindSafe(|| self.run())).is_err() {
                log.info(format_args!("{peer} connection dropped after a panic"));
            }
        });
    }

    /// Closes the connection (by dropping it), with a log line.
    pub fn close(self) {
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

    /// Reads until a whole head is buffered, honouring the idle and head deadlines, and yielding
    /// the worker when others wait.
    fn next_request(&mut self) -> Next {
        let limits = self.limits();
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
                    Err(e) => {
                        self.answer_error(None, Error::from(e));
                        return Next::Close;
                    }
                }
                if self.head_deadline.is_none() {
                    self.head_deadline = Some(Instant::now() + self.shared.config.header_timeout);
                }
            }
            if self.shared.is_shutting_down() {
                return Next::Close;
            }
            let now = Instant::now();
            let deadline = self.head_deadline.unwrap_or(self.idle_deadline);
            let Some(left) = deadline
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
            else {
                if self.head_deadline.is_some() {
                    self.answer_error(None, Error::Timeout);
                    return Next::Close;
                }
                // Idle too long, unless bytes arrived that an overloaded server has not read yet:
                // closing with them unread would reset the connection under the client.
                self.set_nonblocking();
                match self.buf.fill(&mut self.stream, limits.max_head_bytes + 1) {
                    Ok(n) if n > 0 => {
                        self.last_input = Instant::now();
                        continue;
                    }
                    _ => return Next::Close,
                }
            };
            let cap = limits.max_head_bytes + 1;
            let queued = self.shared.pool.queued_count();
            if queued > 0 && self.requests == 0 && self.buf.is_empty() && !self.waited_first {
                // A new connection's request is usually a few microseconds behind its
                // handshake: wait for it once, briefly, rather than spin through the queue.
                self.waited_first = true;
                self.set_blocking(left.min(FIRST_REQUEST_WAIT));
            } else if queued > 0 {
                // Others wait for a worker: look at this connection without waiting on it.
                self.set_nonblocking();
            } else if !self.shared.parking.is_empty() {
                // Others wait in the parking lot: wait here only briefly.
                self.set_blocking(left.min(PARKED_OTHERS_WAIT));
            } else {
                // Nobody waits: wait here, in slices, so that a newcomer is not left waiting.
                self.set_blocking(left.min(QUEUE_CHECK_INTERVAL));
            }
            match self.buf.fill(&mut self.stream, cap) {
                Ok(0) => return Next::Close,
                Ok(_) => {
                    self.last_input = Instant::now();
                    EMPTY_LOOKS.set(0);
                }
                Err(e) if is_timeout(&e) => {
                    if self.shared.pool.queued_count() > 0 {
                        let empty_looks = EMPTY_LOOKS.get() + 1;
                        EMPTY_LOOKS.set(empty_looks);
                        if should_park(empty_looks, self.last_input.elapsed()) {
                            self.set_nonblocking();
                            return Next::Park;
                        }
                        return Next::Yield;
                    }
                    if !self.shared.parking.is_empty() {
                        self.set_nonblocking();
                        return Next::Park;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    /// Whether bytes (or the end of the stream, or an error) wait to be read. For the parking
    /// lot's watcher; the socket is in non-blocking mode while parked.
    pub fn has_input(&self) -> bool {
        !matches!(self.stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Whether the idle deadline, or the deadline of a head in progress, has passed.
    pub fn is_past_deadline(&self, now: Instant) -> bool {
        now >= self.head_deadline.unwrap_or(self.idle_deadline)
    }

    /// Blocking reads with this timeout (system calls only when something changes).
    fn set_blocking(&mut self, timeout: Duration) {
        self.set_blocking_mode();
        if self.read_timeout != Some(timeout) {
            self.read_timeout = Some(timeout);
            let _ = self.stream.set_read_timeout(Some(timeout));
        }
    }

    fn set_blocking_mode(&mut self) {
        if self.nonblocking {
            self.nonblocking = false;
            let _ = self.stream.set_nonblocking(false);
        }
    }

    fn set_nonblocking(&mut self) {
        if !self.nonblocking {
            self.nonblocking = true;
            let _ = self.stream.set_nonblocking(true);
        }
    }

    /// Answers one request. Returns whether the connection stays open.
    fn serve(&mut self, head: &Head) -> bool {
        let started = Instant::now();
        self.requests += 1;
        let (framing, expect_continue) = match check_head(head) {
            Ok(v) => v,
            Err(e) => {
                self.answer_error(Some(head), e);
                return false;
            }
        };
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        if framing != Framing::None {
            self.set_blocking(config.body_read_timeout);
        }
        let mut body = BodyReader::new(
            &mut self.buf,
            &mut self.stream,
            framing,
            expect_continue,
            config.max_head_bytes + 1,
            config.max_head_bytes,
        );
        // A panic is a bug, but it must cost only this request: answer 500 and close.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            (shared.handler)(config, head, &mut body)
        }));
        let (mut resp, mut keep_alive) = match outcome {
            Ok(Ok(resp)) => (resp, true),
            Ok(Err(e)) if !e.can_answer() => {
                self.log_request(head, e.status(), 0, started);
                return false;
            }
            Ok(Err(e)) => {
                if matches!(e, Error::Io(_) | Error::InsufficientStorage) {
                    // Our side failed, not the client: say why, whatever --quiet says.
                    let mut target = String::new();
                    escape_for_log(head.target(), &mut target);
                    shared.log.info(format_args!(
                        "{} error on {target}: {}",
                        self.peer,
                        e.message()
                    ));
                }
                (e.response(), !e.closes_connection())
            }
            Err(_) => {
                shared.log.info(format_args!(
                    "{} panic while handling a request; answered 500",
                    self.peer
                ));
                let e = Error::Io(io::Error::other("panic"));
                (e.response(), false)
            }
        };
        keep_alive = keep_alive && wants_keep_alive(head) && !shared.is_shutting_down();
        // The next request starts after this body: read the rest of a short one, else close.
        let body_done = if keep_alive {
            body.discard_rest(MAX_DRAIN_BYTES)
        } else {
            body.is_finished()
        };
        keep_alive = keep_alive && body_done;

        if let Err(e) = encoding::negotiate(&mut resp, &head.headers) {
            resp = Error::Io(e).response();
        }
        let status = resp.status;
        let date = config
            .send_date
            .then(|| format_http_date(unix_seconds(SystemTime::now())));
        let opts = WriteOptions {
            head_only: head.method == Method::Head,
            version: head.version,
            keep_alive,
            date: date.as_deref(),
        };
        let written = if resp.body.is_written_whole() {
            let mut out = SocketWriter {
                stream: &self.stream,
                nonblocking: &mut self.nonblocking,
            };
            with_scratch(|scratch| write_response(&mut out, scratch, resp, &opts))
        } else {
            // Streamed bodies go to the socket in blocking mode, where the write timeout applies.
            self.set_blocking_mode();
            with_scratch(|scratch| write_response(&mut self.stream, scratch, resp, &opts))
        };
        let (sent, still_open) = written.unwrap_or((0, false));
        self.log_request(head, status, sent, started);
        if !still_open {
            if !body_done {
                self.linger();
            }
            return false;
        }
        self.idle_deadline = Instant::now() + config.idle_timeout;
        self.buf.shrink_if_idle();
        true
    }

    /// Writes the answer for an error that happened before or instead of routing.
    /// The connection closes after it.
    fn answer_error(&mut self, head: Option<&Head>, e: Error) {
        let started = Instant::now();
        let status = e.status();
        self.set_blocking_mode();
        let opts = WriteOptions {
            head_only: head.is_some_and(|h| h.method == Method::Head),
            version: head.map_or(Version::Http11, |h| h.version),
            keep_alive: false,
            date: None,
        };
        let stream = &mut self.stream;
        let sent = with_scratch(|scratch| write_response(stream, scratch, e.response(), &opts))
            .map_or(0, |(n, _)| n);
        match head {
            Some(h) => self.log_request(h, status, sent, started),
            None => self.shared.log.access(format_args!(
                "{} - - {} {} ({})",
                self.peer,
                status.0,
                sent,
                e.message()
            )),
        }
        if matches!(e, Error::Timeout) {
            // A client too slow to send its head is not worth a worker's wait: just close.
            let _ = self.stream.shutdown(Shutdown::Write);
        } else {
            self.linger();
        }
    }

    /// Stops sending and reads what the client still sends, for a short while, so that closing
    /// with unread data does not reset the connection before the client reads our answer.
    fn linger(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        self.set_blocking(LINGER_TIMEOUT);
        let deadline = Instant::now() + LINGER_TIMEOUT;
        let mut sink = [0u8; 8192];
        let mut total = 0u64;
        while Instant::now() < deadline && total < MAX_LINGER_BYTES {
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
    }

    fn log_request(&self, head: &Head, status: Status, sent: u64, started: Instant) {
        self.shared.log.access_with(|line| {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(line, "{} \"", self.peer);
            escape_for_log(head.method_token(), line);
            line.push(' ');
            escape_for_log(head.target(), line);
            let _ = write!(
                line,
                "\" {} {sent}B {:.3}ms",
                status.0,
                started.elapsed().as_secs_f64() * 1000.0
            );
        });
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Writes to the socket in whatever mode it is in. If a write in non-blocking mode finds the
/// kernel's buffer full, it switches to blocking mode (where the write timeout applies) and
/// goes on, so an answer is never cut short by the mode.
struct SocketWriter<'a> {
    stream: &'a TcpStream,
    nonblocking: &'a mut bool,
}

impl Write for SocketWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        loop {
            match self.stream.write(b) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && *self.nonblocking => {
                    self.stream.set_nonblocking(false)?;
                    *self.nonblocking = false;
                }
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// After a look that found nothing while others wait: park the connection (rather than queue
/// it again) if it has been quiet for `PARK_AFTER_IDLE`, or if its worker's looks have come up
/// empty `MAX_EMPTY_LOOKS` times in a row.
fn should_park(empty_looks_in_a_row: u32, idle_for: Duration) -> bool {
    empty_looks_in_a_row >= MAX_EMPTY_LOOKS || idle_for >= PARK_AFTER_IDLE
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_parked_after_enough_empty_looks_or_quiet_time() {
        let ms = Duration::from_millis;
        for (looks, idle, park) in [
            (1, ms(0), false),
            (MAX_EMPTY_LOOKS - 1, PARK_AFTER_IDLE - ms(1), false),
            (MAX_EMPTY_LOOKS, ms(0), true),
            (MAX_EMPTY_LOOKS + 5, ms(0), true),
            (1, PARK_AFTER_IDLE, true),
        ] {
            assert_eq!(
                should_park(looks, idle),
                park,
                "{looks} looks, {idle:?} idle"
            );
        }
    }
}
