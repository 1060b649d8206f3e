//! The engine: accepting and admission (`server`), one connection's read-answer loop (`conn`),
//! and the parking lot where idle connections wait (`park`).
//!
//! It knows HTTP framing through `crate::http` and calls the application only through the
//! `Handler` it is given.

pub mod conn;
pub mod park;
pub mod server;
