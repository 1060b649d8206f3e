//! Where a connection goes between turns: the fixed worker pool (the `threadpool` crate) runs a
//! connection while it has requests, and the poller holds it while it has none.
//!
//! A worker runs `Conn::run`; what that returns decides the next stop: the poller (the socket
//! is empty, or full), the back of the queue (a long run of requests while others wait), or
//! nowhere (closed).
//! The poller's thread hands each ready connection back here. A panic while serving is a bug; it
//! costs that connection (dropped, and uncounted by `Conn`'s `Drop`), never the worker.
//!
//! Out of scope: accepting and admission (`server.rs`), a connection's own loop (`conn.rs`).

use crate::engine::conn::{catching, Conn, Step};
use crate::engine::poller::Poller;
use crate::engine::shared::Shared;
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use threadpool::ThreadPool;

/// The workers and the poller of one server.
pub struct Pool {
    workers: ThreadPool,
    poller: Poller<Conn>,
    shared: Arc<Shared>,
}

impl Pool {
    /// A pool of `shared.config.threads` workers (at least one) and a poller, not yet running.
    ///
    /// # Errors
    /// If the poller's wake-up socket cannot be made.
    pub fn new(shared: Arc<Shared>) -> io::Result<Arc<Pool>> {
        Ok(Arc::new(Pool {
            workers: ThreadPool::with_name("worker".into(), shared.config.threads.max(1)),
            poller: Poller::new()?,
            shared,
        }))
    }

    /// Starts the poller's thread.
    ///
    /// # Errors
    /// If the thread cannot be started.
    pub fn start_poller(self: &Arc<Pool>) -> io::Result<JoinHandle<()>> {
        let pool = Arc::clone(self);
        thread::Builder::new().name("poller".into()).spawn(move || {
            pool.poller.run(|mut conn| {
                conn.mark_woken();
                pool.schedule(conn);
            });
        })
    }

    /// Queues a connection to run on the next free worker.
    pub fn schedule(self: &Arc<Pool>, conn: Conn) {
        let pool = Arc::clone(self);
        self.workers.execute(move || {
            let peer = conn.peer();
            let others_waiting = || pool.workers.queued_count() > 0;
            match catching(|| conn.run(&others_waiting)) {
                Some(Step::Park(conn)) => pool.poller.park(conn),
                Some(Step::Yield(conn)) => pool.schedule(conn),
                Some(Step::Done) => {}
                None => pool
                    .shared
                    .log
                    .info(format_args!("{peer} connection dropped after a panic")),
            }
        });
    }

    /// Connections waiting in the poller.
    pub fn parked(&self) -> usize {
        self.poller.control().len()
    }

    /// Connections the poller has handed back to the workers since the start.
    pub fn wakeups(&self) -> u64 {
        self.poller.control().handed_back()
    }

    /// Closes idle connections now and as they become idle (the server is draining).
    pub fn drain(&self) {
        self.poller.control().drain();
    }

    /// Ends the poller's thread; parked connections are closed.
    pub fn stop(&self) {
        self.poller.control().stop();
    }
}
