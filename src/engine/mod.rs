//! The engine: accepting and admission (`server`), the worker pool and the poller between
//! which connections move (`pool`, `poller`), one connection's read-answer loop (`conn`) on its
//! non-blocking socket (`socket`), the state they share (`shared`), and shutdown on a signal
//! (`shutdown`).
//!
//! It knows HTTP through `crate::http` and calls the application only through the `Handler` it
//! is given; it imports nothing from `crate::app`.
//!
//! No worker waits on the network. How we know: a connection's socket is made non-blocking
//! when it is accepted (`socket.rs`, `Socket::new`), and the engine touches it only through
//! `Socket`, whose reads, writes and `sendfile` return `WouldBlock` instead of waiting; every
//! `WouldBlock` parks the connection in the poller (`conn/`). The acceptor's own refusal of a
//! connection past the limit is non-blocking too (`server.rs`, `reject`). The one blocking
//! socket call is the acceptor's `accept`, on its own thread. What a worker may still wait on
//! is the disk (and a password check): that is the handler's work.

pub mod conn;
pub mod poller;
pub mod pool;
pub mod server;
pub mod shared;
pub mod shutdown;
pub mod socket;
