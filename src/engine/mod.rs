//! The engine: accepting and admission (`server`), the worker pool and the poller between
//! which connections move (`pool`, `poller`), one connection's read-answer loop (`conn`) on its
//! non-blocking socket (`socket`), the state they share (`shared`), and shutdown on a signal
//! (`shutdown`).
//!
//! It knows HTTP through `crate::http` and calls the application only through the `Handler` it
//! is given; it imports nothing from `crate::app`.

pub mod conn;
pub mod poller;
pub mod pool;
pub mod server;
pub mod shared;
pub mod shutdown;
pub mod socket;
