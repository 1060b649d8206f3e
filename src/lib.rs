//! A small, careful HTTP/1.1 origin server: a blocking listener, a fixed worker pool, a
//! hand-written incremental parser and a match-on-path router.
//!
//! `main.rs` turns argv into a [`Config`] and calls [`run`]. Tests call [`start`], which binds
//! (port 0 picks a free port) and returns a [`Handle`] with the bound address.

#![forbid(unsafe_code)]
// Nothing from the network, the disk or argv may panic: no unwrap/expect, no indexing that can
// go out of bounds (use `get`), outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod app;
pub mod buf;
pub mod config;
pub mod engine;
pub mod http;
pub mod log;

pub use config::Config;
pub use engine::server::{Handle, Server};

use std::io;

/// Binds and serves until the process ends.
///
/// # Errors
/// A bad `--directory` (`InvalidInput`) or a bind failure, with a message for the user.
pub fn run(config: Config) -> io::Result<()> {
    Server::bind(config)?.run()
}

/// Binds and serves on a background thread; the handle knows the bound address and stops the
/// server when dropped.
///
/// # Errors
/// As for [`run`].
pub fn start(config: Config) -> io::Result<Handle> {
    Server::bind(config)?.spawn()
}
