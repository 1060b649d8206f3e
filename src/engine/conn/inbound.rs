//! A request body arriving: whatever the socket has is read (never waiting), decoded, and handed
//! to the handler's sink (an upload) or dropped (a body the answer did not need); an empty socket
//! parks the connection with its [`Inbound`], which holds the request, the decoder's few words
//! of state and the sink (for an upload: its open temporary file). When the body is complete,
//! the sink gives the answer; when it breaks off (bad framing, a limit, the client gone or
//! silent past the body timeout), the sink is dropped, which undoes the upload.
//!
//! Out of scope: the framing itself (`http/body.rs`), what the sink does (the application).

use super::serve::{BodyState, Outcome, Request};
use super::{catching, Conn, Flow, Phase};
use crate::buf::with_copy_buf;
use crate::http::body::BodyDecoder;
use crate::http::error::Error;
use crate::http::handler::BodySink;
use crate::http::response::Response;
use std::io::{self, Read};
use std::time::Instant;

/// A request whose body is being read: what a connection parked in the middle of one keeps.
pub(super) struct Inbound {
    pub req: Request,
    pub body: BodyDecoder,
    pub into: Into,
    /// When the connection is given up on if no more of the body has come (moved on by every
    /// piece that does).
    pub deadline: Instant,
}

/// Where a turn of reading a body got to.
enum Pumped {
    /// The body is complete.
    Done,
    /// The socket is empty.
    Empty,
    /// The turn's share of bytes is spent.
    Spent,
}

/// Where the body goes.
pub(super) enum Into {
    /// An upload: the handler's sink.
    Sink(Box<dyn BodySink>),
    /// Nowhere: it is read only to reach the next request; then this answer is sent.
    Drop(Box<Response<'static>>),
}

impl Conn {
    /// Reads what has come of the body; parks when the socket is empty, answers when the body
    /// is complete or broken off.
    pub(super) fn continue_body(&mut self, mut inbound: Box<Inbound>) -> Flow {
        let pumped = match self.pump(&mut inbound) {
            Ok(Pumped::Spent) => {
                self.phase = Phase::Body(inbound);
                return Flow::Yield;
            }
            Ok(Pumped::Empty) if Instant::now() < inbound.deadline => {
                self.phase = Phase::Body(inbound);
                return Flow::Park;
            }
            Ok(Pumped::Empty) => Err(Error::Timeout),
            pumped => pumped,
        };
        let Inbound {
            req, body, into, ..
        } = *inbound;
        let (outcome, state) = match (pumped, into) {
            (Ok(_), Into::Sink(sink)) => match catching(|| sink.finish(&req.head)) {
                Some(Ok(resp)) => (Outcome::Answer(resp), BodyState::Done),
                Some(Err(e)) => (Outcome::Failed(e), BodyState::Done),
                None => (Outcome::Panicked, BodyState::Done),
            },
            (Ok(_), Into::Drop(resp)) => (Outcome::Answer(*resp), BodyState::Done),
            // The sink is dropped here, before the answer: an upload cut off leaves nothing.
            (Err(e), Into::Sink(_)) => (Outcome::Failed(e), BodyState::Broken),
            (Err(_), Into::Drop(resp)) => (Outcome::Answer(*resp), BodyState::Broken),
        };
        let settled = self.answer(&req.head, &req.who, req.started, outcome, state);
        self.settle(req, Some(body), settled)
    }

    /// Feeds the body what is buffered, then what the socket has, without waiting, up to the
    /// turn's share.
    ///
    /// # Errors
    /// The body's (framing, limit) and the sink's errors; `IncompleteBody` when the client left.
    fn pump(&mut self, inbound: &mut Inbound) -> Result<Pumped, Error> {
        let Inbound {
            body,
            into,
            deadline,
            ..
        } = inbound;
        let mut sink = |data: &[u8]| match into {
            Into::Sink(sink) => sink.write(data),
            Into::Drop(_) => Ok(()),
        };
        if !self.buf.is_empty() {
            let used = body.feed(self.buf.filled(), &mut sink)?;
            self.buf.consume(used);
        }
        let timeout = self.shared.config.body_read_timeout;
        let (socket, buf, left) = (&mut self.socket, &mut self.buf, &mut self.turn_left);
        while !body.is_finished() {
            if *left == 0 {
                return Ok(Pumped::Spent);
            }
            // Straight into the worker's copy buffer, at most up to the body's end.
            let read = with_copy_buf(|chunk| -> Result<bool, Error> {
                let room = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                let want = body.wants(room);
                let into = chunk.get_mut(..want).unwrap_or_default();
                let n = match socket.read(into) {
                    Ok(0) => return Err(Error::IncompleteBody),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
                    // Reset by the client: it has gone.
                    Err(_) => return Err(Error::IncompleteBody),
                };
                *left = left.saturating_sub(n as u64);
                let got = into.get(..n).unwrap_or_default();
                let used = body.feed(got, &mut sink)?;
                // A chunked body's end can come with the start of the next request.
                if let Some(rest) = got.get(used..).filter(|r| !r.is_empty()) {
                    buf.push(rest);
                }
                Ok(true)
            })?;
            if !read {
                return Ok(Pumped::Empty);
            }
            *deadline = Instant::now() + timeout;
        }
        Ok(Pumped::Done)
    }
}
