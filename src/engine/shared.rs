//! What the acceptor, the workers and the poller all read: the configuration, the handler, the
//! logger, the count of connections in flight, and the drain state.
//!
//! It sits below every other engine module and imports none of them.

use crate::config::EngineConfig;
use crate::http::handler::Handler;
use crate::log::Logger;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// State shared by every thread of one server.
pub struct Shared {
    pub config: EngineConfig,
    /// The application (in the server, `app::App`, whose `handle` is in `app/router.rs`).
    pub handler: Box<dyn Handler>,
    pub log: Logger,
    /// Connections accepted and not yet closed.
    pub in_flight: AtomicUsize,
    /// Connections now reading a request body, on a worker or parked (for the drain report:
    /// uploads cut or finished).
    pub in_body: AtomicUsize,
    /// Set once the server drains: it accepts no more, and answers say `Connection: close`.
    draining: AtomicBool,
    /// Set once a drain closes idle connections (at its start, or after `--drain-idle`).
    closing_idle: AtomicBool,
    /// Requests answered since the drain began.
    pub drained_requests: AtomicU64,
    /// Idle connections closed by the drain.
    pub drained_idle: AtomicU64,
}

impl Shared {
    pub fn new(config: EngineConfig, handler: Box<dyn Handler>) -> Shared {
        let log = Logger {
            quiet: config.quiet,
        };
        Shared {
            config,
            handler,
            log,
            in_flight: AtomicUsize::new(0),
            in_body: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            closing_idle: AtomicBool::new(false),
            drained_requests: AtomicU64::new(0),
            drained_idle: AtomicU64::new(0),
        }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Whether a drain closes idle connections now.
    pub fn is_closing_idle(&self) -> bool {
        self.closing_idle.load(Ordering::Relaxed)
    }

    /// From now on, idle connections are closed (see [`Shared::is_closing_idle`]).
    pub fn close_idle(&self) {
        self.closing_idle.store(true, Ordering::Relaxed);
    }

    /// Marks the server as draining; returns whether it already was.
    pub fn begin_drain(&self) -> bool {
        self.draining.swap(true, Ordering::Relaxed)
    }
}
