//! The contract between the engine and the application: the engine hands a checked request head
//! to a [`Handler`] and gets back either an answer or a [`BodySink`] that the request body is to
//! be fed into.
//!
//! The engine owns every socket: a handler never reads or writes one, so it never waits on the
//! network. A body arrives in pieces, whenever the client sends them; between pieces the
//! connection waits in the poller, not on a worker. A handler that wants the body returns a
//! sink; the engine feeds it each piece as it comes (`write`), then asks it for the answer
//! (`finish`). Dropping a sink unfinished (the client left, the body broke its framing or its
//! limit, the server stopped) must undo whatever it began: that is how an upload cut halfway
//! leaves no trace.
//!
//! Out of scope: framing and limits of the body (the engine, with `body.rs`), what routes exist
//! (the application).

use super::error::Error;
use super::parse::Head;
use super::response::Response;
use std::net::{IpAddr, SocketAddr};

/// What the engine knows of a request besides its head.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The connection's peer.
    pub peer: SocketAddr,
    /// Whether the server is draining (a health check says so).
    pub draining: bool,
    /// The body's declared length: `Some(0)` when there is no body, `None` when it is chunked.
    pub body_len: Option<u64>,
}

/// What a handler found out about who sent the request, for the access log.
#[derive(Debug, Default)]
pub struct Who {
    /// Behind a proxy the handler trusts: the client the proxy forwarded for.
    pub client: Option<IpAddr>,
    /// The user the request was authenticated as.
    pub user: Option<String>,
}

/// What a handler makes of a request.
// The answer moves by value: boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Reply<'h> {
    /// The answer, now: whatever body the request has is read and thrown away by the engine
    /// (or the connection closes).
    Answer(Response<'h>),
    /// Feed the body into this sink, at most `limit` bytes of it (more: 413), then ask it for
    /// the answer.
    Absorb { sink: Box<dyn BodySink>, limit: u64 },
}

/// Where a request body goes, piece by piece, as the engine receives it.
pub trait BodySink: Send {
    /// Takes the next piece of the body.
    ///
    /// # Errors
    /// Whatever stops the sink (a full disk, say); the engine answers it and drops the sink.
    fn write(&mut self, data: &[u8]) -> Result<(), Error>;

    /// The body is complete: finish the work and give the answer. `head` is the request's.
    ///
    /// # Errors
    /// As for any handler: the engine answers the error.
    fn finish(self: Box<Self>, head: &Head) -> Result<Response<'static>, Error>;
}

/// The application, as the engine sees it.
pub trait Handler: Send + Sync {
    /// Answers a request whose head has passed the protocol's checks (Host, framing, Expect).
    /// The answer may borrow from the head. `who` is filled in for the log.
    ///
    /// # Errors
    /// Whatever the request comes to other than an answer of the handler's own making: the
    /// engine answers it with the error's status.
    fn handle<'h>(&self, cx: &Context, head: &'h Head, who: &mut Who) -> Result<Reply<'h>, Error>;

    /// What is served, for the start-up log line ("directory /srv/files", say).
    fn describe(&self) -> String {
        String::new()
    }

    /// The answer to an error that a request with this head came to (from the handler, the
    /// body, or the engine's own checks): by default the error's own, a one-line text. The
    /// application may dress it (a page for a browser) but keeps its status and headers.
    fn error_response(&self, head: &Head, e: &Error) -> Response<'static> {
        let _ = head;
        e.response()
    }
}
