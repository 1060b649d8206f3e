//! Answering one request, in named steps: check the head (`serve`), ask the handler, then either
//! read the body into the handler's sink (`inbound.rs`) or answer at once; deciding keep-alive
//! (with the drain's rule) and starting the answer on its way (`answer`); and placing the
//! connection in the phase that comes next (`settle`).
//!
//! Out of scope: reading towards the next head (`mod.rs`), the body's pieces (`inbound.rs`),
//! the rest of a send, the log line and lingering (`outbound.rs`).

use super::inbound::{Inbound, Into};
use super::outbound::{After, Logged, Metered, Outbound};
use super::{catching, Conn, Flow, Phase};
use crate::buf::with_scratch;
use crate::config::MAX_DRAIN_BYTES;
use crate::http::body::{BodyDecoder, Framing};
use crate::http::checks::{check_head, wants_keep_alive};
use crate::http::date::{format_http_date, unix_seconds};
use crate::http::error::Error;
use crate::http::handler::{Context, Reply, Who};
use crate::http::parse::Head;
use crate::http::response::{write_response, Outgoing, Response, WriteOptions};
use crate::http::{escape_for_log, Method, Status, Version};
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

/// A request being answered: its head, and what its log line needs.
pub(super) struct Request {
    pub head: Head,
    pub started: Instant,
    pub who: Who,
}

/// What a request came to, before its answer is written.
// The answer moves by value: boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(super) enum Outcome<'h> {
    Answer(Response<'h>),
    Failed(Error),
    /// The handler panicked (a bug): 500, and the connection closes.
    Panicked,
}

/// How the request's body stands when the answer is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyState {
    /// Read whole, or there was none.
    Done,
    /// Not read: the answer did not need it. `can_drop`: it may be read and dropped to keep
    /// the connection (short enough, and not held back waiting for `100 Continue`).
    Unread { can_drop: bool },
    /// Broken off (bad framing, over a limit, the client gone or too slow, the sink failed):
    /// where the next request would start is unknown.
    Broken,
}

/// Where answering a request got to.
pub(super) enum Settled {
    /// Sent whole and logged: then this.
    Sent(After),
    /// The body must be read and dropped before this answer goes (to keep the connection).
    Drop(Box<Response<'static>>),
    /// Sending, and the socket is full (`then` is `Park`: the rest waits in the poller), or
    /// the turn's share is spent (`Yield`).
    Sending {
        out: Outgoing<'static>,
        status: Status,
        after: After,
        then: Flow,
    },
    /// Closed without an answer (logged).
    Closed,
}

impl Conn {
    /// Answers one request: checks its head, asks the handler, and sets the phase that
    /// follows (reading the body, sending the answer, or the next request).
    pub(super) fn serve(&mut self, head: Head) -> Flow {
        let started = Instant::now();
        self.requests += 1;
        let (framing, expect_continue) = match check_head(&head) {
            Ok(checked) => checked,
            Err(e) => return self.refuse_head(head, started, e),
        };
        let has_body = framing != Framing::None;
        self.count_body(has_body);
        let body = BodyDecoder::new(framing, self.shared.config.limits.max_head_bytes);
        let mut who = Who::default();
        let outcome = match self.ask_handler(&head, &body, &mut who) {
            Some(Ok(Reply::Absorb { sink, limit })) => {
                let request = Request { head, started, who };
                return self.begin_body(request, body, sink, limit, expect_continue);
            }
            Some(Ok(Reply::Answer(resp))) => Outcome::Answer(resp),
            Some(Err(e)) => Outcome::Failed(e),
            None => Outcome::Panicked,
        };
        let state = if has_body {
            // A body the answer did not need. One the client holds back until invited (100
            // Continue) may come or not: where the next request starts is unknown (RFC 9110
            // §10.1.1).
            let short = body.declared_len().is_none_or(|n| n <= MAX_DRAIN_BYTES);
            BodyState::Unread {
                can_drop: short && !expect_continue,
            }
        } else {
            BodyState::Done
        };
        let settled = self.answer(&head, &who, started, outcome, state);
        self.settle(Request { head, started, who }, Some(body), settled)
    }

    /// A head the checks refused: answered, then closed (where this request ends is unknown).
    fn refuse_head(&mut self, head: Head, started: Instant, e: Error) -> Flow {
        let who = Who::default();
        let settled = self.answer(&head, &who, started, Outcome::Failed(e), BodyState::Broken);
        self.settle(Request { head, started, who }, None, settled)
    }

    /// Calls the application. A panic is a bug, but it must cost only this request: it comes
    /// back as `None` (500, and the connection closes).
    fn ask_handler<'h>(
        &self,
        head: &'h Head,
        body: &BodyDecoder,
        who: &mut Who,
    ) -> Option<Result<Reply<'h>, Error>> {
        let cx = Context {
            peer: self.peer,
            draining: self.shared.is_draining(),
            body_len: body.declared_len(),
        };
        let shared = &self.shared;
        catching(|| shared.handler.handle(&cx, head, who))
    }

    /// Starts reading a body into the handler's sink, after `100 Continue` if the client waits
    /// for it.
    fn begin_body(
        &mut self,
        req: Request,
        mut body: BodyDecoder,
        sink: Box<dyn crate::http::handler::BodySink>,
        limit: u64,
        expect_continue: bool,
    ) -> Flow {
        body.set_limit(limit);
        // A client that has started sending the body needs no invitation.
        if expect_continue && self.buf.is_empty() {
            let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
            match self.socket.write(interim) {
                Ok(n) if n == interim.len() => {}
                // No room at all (the client reads none of our earlier answers): not sent.
                // The client sends the body after its own wait (RFC 9110 §10.1.1).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Half an interim response cannot be finished before the final one: give up.
                _ => {
                    let outcome = Outcome::Failed(Error::IncompleteBody);
                    let settled =
                        self.answer(&req.head, &req.who, req.started, outcome, BodyState::Broken);
                    return self.settle(req, None, settled);
                }
            }
        }
        let deadline = Instant::now() + self.shared.config.body_read_timeout;
        self.phase = Phase::Body(Box::new(Inbound {
            req,
            body,
            into: Into::Sink(sink),
            deadline,
        }));
        Flow::Go
    }

    /// Decides how the request is answered (its status, whether the connection stays, with
    /// the drain's rule), logs our failures, and starts the answer on its way.
    pub(super) fn answer<'h>(
        &mut self,
        head: &'h Head,
        who: &Who,
        started: Instant,
        outcome: Outcome<'h>,
        state: BodyState,
    ) -> Settled {
        let Some((resp, may_keep)) = self.response_for(head, who, started, outcome) else {
            return Settled::Closed;
        };
        let keep_alive = may_keep && wants_keep_alive(head);
        let body_done = match state {
            BodyState::Done => true,
            // The next request starts after this body: read and drop a short one first.
            BodyState::Unread { can_drop: true } if keep_alive => {
                return Settled::Drop(Box::new(resp.into_owned()));
            }
            BodyState::Unread { .. } | BodyState::Broken => false,
        };
        self.count_body(false);
        let keep_alive = keep_alive && body_done && self.keeps_open_while_draining();
        self.start_sending(head, who, started, resp, keep_alive, body_done)
    }

    /// The response an outcome gets, and whether the connection may stay open after it (as far
    /// as the outcome goes); `None` when nothing can be answered (then logged here).
    fn response_for<'h>(
        &mut self,
        head: &Head,
        who: &Who,
        started: Instant,
        outcome: Outcome<'h>,
    ) -> Option<(Response<'h>, bool)> {
        match outcome {
            Outcome::Answer(resp) => Some((resp, true)),
            Outcome::Failed(e) if !e.can_answer() => {
                self.count_body(false);
                self.log_request(head, who, e.status(), 0, started);
                None
            }
            Outcome::Failed(e) => {
                if matches!(e, Error::Io(_) | Error::InsufficientStorage) {
                    self.log_failure(head, who, &e);
                }
                let keep = !e.closes_connection();
                Some((self.shared.handler.error_response(head, &e), keep))
            }
            Outcome::Panicked => {
                self.shared.log.info(format_args!(
                    "{} panic while handling a request; answered 500",
                    self.peer
                ));
                Some((Error::Io(io::Error::other("panic")).response(), false))
            }
        }
    }

    /// Writes as much of the answer as the socket takes now, within the turn's share; what is
    /// left goes on in `outbound.rs`. Logs the request once it is sent whole.
    fn start_sending(
        &mut self,
        head: &Head,
        who: &Who,
        started: Instant,
        resp: Response<'_>,
        keep_alive: bool,
        body_done: bool,
    ) -> Settled {
        let status = resp.status;
        let date = self
            .shared
            .config
            .send_date
            .then(|| format_http_date(unix_seconds(SystemTime::now())));
        let opts = WriteOptions {
            head_only: head.method == Method::Head,
            version: head.version,
            keep_alive,
            date: date.as_deref(),
        };
        let mut metered = Metered {
            socket: &mut self.socket,
            left: &mut self.turn_left,
            spent: false,
        };
        let written = with_scratch(|scratch| write_response(&mut metered, scratch, resp, &opts));
        let then = if metered.spent {
            Flow::Yield
        } else {
            Flow::Park
        };
        let Ok(out) = written else {
            self.log_request(head, who, status, 0, started);
            return Settled::Sent(After::Close);
        };
        let after = if out.keeps_alive() {
            After::Next
        } else if body_done {
            After::Close
        } else {
            After::Linger
        };
        if out.is_done() {
            self.log_request(head, who, status, out.sent(), started);
            return Settled::Sent(after);
        }
        Settled::Sending {
            out: out.into_owned(),
            status,
            after,
            then,
        }
    }

    /// While draining, a connection gets one more answer, and stays open after it only if the
    /// client has already sent (part of) its next request, which is then answered too.
    fn keeps_open_while_draining(&mut self) -> bool {
        if !self.shared.is_draining() {
            return true;
        }
        self.shared.drained_requests.fetch_add(1, Ordering::Relaxed);
        if self.buf.is_empty() {
            let cap = self.shared.config.limits.max_head_bytes + 1;
            let _ = self.socket.try_fill(&mut self.buf, cap);
        }
        !self.buf.is_empty()
    }

    /// Sets the phase that follows an answer decided for `req`. `body` is kept only when it
    /// is to be read and dropped.
    pub(super) fn settle(
        &mut self,
        req: Request,
        body: Option<BodyDecoder>,
        settled: Settled,
    ) -> Flow {
        match settled {
            Settled::Sent(after) => {
                self.spare.reclaim(req.head);
                self.after(after)
            }
            Settled::Drop(resp) => {
                let Some(mut body) = body else {
                    // Not reached: a body to drop comes with its decoder.
                    return Flow::Close;
                };
                body.set_limit(body.received().saturating_add(MAX_DRAIN_BYTES));
                let deadline = Instant::now() + self.shared.config.body_read_timeout;
                self.phase = Phase::Body(Box::new(Inbound {
                    req,
                    body,
                    into: Into::Drop(resp),
                    deadline,
                }));
                Flow::Go
            }
            Settled::Sending {
                out,
                status,
                after,
                then,
            } => self.park_send(Logged::Request(req), out, status, after, then),
            Settled::Closed => Flow::Close,
        }
    }

    /// Keeps a send that stopped before its end (`then`: parked for the socket, or yielding
    /// the worker).
    pub(super) fn park_send(
        &mut self,
        log: Logged,
        out: Outgoing<'static>,
        status: Status,
        after: After,
        then: Flow,
    ) -> Flow {
        let deadline = Instant::now() + self.shared.config.write_timeout;
        self.phase = Phase::Send(Box::new(Outbound {
            log,
            status,
            written: out.written(),
            unacked: self.socket.unacked_bytes(),
            out,
            after,
            deadline,
        }));
        then
    }

    /// Answers an error found before a request could be read whole (a head that breaks the
    /// syntax or a limit, or comes too slowly); the connection closes after it.
    pub(super) fn answer_early(&mut self, e: Error) -> Flow {
        let status = e.status();
        let opts = WriteOptions {
            head_only: false,
            version: Version::Http11,
            keep_alive: false,
            date: None,
        };
        let socket = &mut self.socket;
        let written = with_scratch(|scratch| write_response(socket, scratch, e.response(), &opts));
        // A client too slow to send its head is not worth lingering for: just close.
        let after = if matches!(e, Error::Timeout) {
            After::Close
        } else {
            After::Linger
        };
        let note = e.message();
        match written {
            Ok(out) if !out.is_done() => {
                let out = out.into_owned();
                self.park_send(Logged::Early { note }, out, status, after, Flow::Park)
            }
            written => {
                let sent = written.map_or(0, |out| out.sent());
                self.log_done(Logged::Early { note }, status, sent);
                self.after(after)
            }
        }
    }

    /// Our side failed, not the client: says why, whatever `--quiet` says.
    fn log_failure(&self, head: &Head, who: &Who, e: &Error) {
        let mut target = String::new();
        escape_for_log(head.target(), &mut target);
        let message = e.message();
        match who.client {
            Some(client) => self
                .shared
                .log
                .info(format_args!("{client} error on {target}: {message}")),
            None => self
                .shared
                .log
                .info(format_args!("{} error on {target}: {message}", self.peer)),
        }
    }
}
