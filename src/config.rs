//! The server's configuration: every limit and timeout, each a named constant with its default,
//! and the `Config` value that carries them (overridden by flags in `main.rs`).
//!
//! `Config` is what a user sets, in one place. Each layer gets only its own part of it:
//! [`EngineConfig`] (the address, the pool, admission, timeouts, the head limits),
//! [`StoreConfig`] (the folder and what may be done with it) and [`AccessConfig`] (users and
//! the checks), made by `Config::engine`, `store` and `access` where the server is wired
//! together (`lib.rs`, `app::App::new`).
//!
//! This module only holds values. It does not parse argv and does not touch the filesystem,
//! except `Config::check_directory`, which validates `--directory` once at start-up.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Default TCP port (the CodeCrafters checker connects here).
pub const DEFAULT_PORT: u16 = 4221;
/// Default address to bind.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Largest request head (request line + header fields), and largest trailer section. Past it: 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest request line. Past it: 414.
pub const MAX_REQUEST_LINE_BYTES: usize = 8 * 1024;
/// Most header fields in one request. Past it: 431.
pub const MAX_HEADERS: usize = 100;
/// Most hex digits in a chunk-size (16 digits = 64 bits, so the value cannot overflow).
pub const MAX_CHUNK_SIZE_DIGITS: usize = 16;
/// Longest chunk-size line including extensions, which are read and ignored.
pub const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
/// Default cap on an upload streamed to disk (`--max-upload`). Past it: 413.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most bytes of large folder listings (pages, JSON, text, search results past
/// `COUNTED_LISTING_BYTES` in `app::page::listing`) held in memory at once while they are sent,
/// over every connection: each is built whole, and a client that reads slowly keeps it. Past
/// it a large listing is answered 503 with `Retry-After`, so that many slow readers of a big
/// folder cannot take the machine's memory.
pub const DEFAULT_MAX_LISTING_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;
/// Most body bytes the server reads and throws away to keep a connection usable after an answer
/// that did not need the body (a 404 to a POST, say). A longer unread body closes the connection.
pub const MAX_DRAIN_BYTES: u64 = 64 * 1024;

/// How long an idle persistent connection is kept open waiting for its next request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client has to send a whole request head once it has sent its first byte: 408 past it.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next piece of a request body before the connection is dropped.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a single write may block on a client that does not read its answer.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a drain (on SIGTERM or SIGINT) lets requests and uploads in progress finish before
/// the server exits anyway (`--shutdown-timeout`).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Default for `--stale-upload-age` (a day: no upload is that slow).
pub const DEFAULT_STALE_UPLOAD_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The most worker threads `--threads` accepts (each is a real thread with its own stack).
pub const MAX_THREADS: usize = 1024;
/// The largest `--max-head-bytes` accepted: a connection may hold this much while a head arrives.
pub const MAX_HEAD_BYTES_LIMIT: usize = 1024 * 1024;
/// Worker threads per available core, for the default `--threads`. No worker waits on the
/// network, so one per core keeps every core busy; more only share the cores, and the tail
/// at saturation grows with them (measured, docs/performance.md: p99 with `wrk -c50` 3.3 ms
/// at 2 workers on 2 cores, 10 ms at 4, 21 ms at 8). A worker still waits on the disk (an
/// `fsync`, a cold read, NFS): more workers help there (`--threads`).
pub const THREADS_PER_CORE: usize = 1;
/// Fewest worker threads by default, whatever the core count: one can wait on the disk or a
/// password check while the other serves.
pub const MIN_DEFAULT_THREADS: usize = 2;
/// Most connections admitted at once by default (being served, queued, or parked between
/// requests or in the middle of a transfer); past it the acceptor answers 503 itself. A parked
/// connection costs a few KiB (docs/design.md, "Slow clients"), so this is bounded by descriptors, not
/// memory: see [`max_connections_for`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The open-descriptor limit the server raises its soft limit to at start-up (within the hard
/// limit).
pub const WANTED_OPEN_FILES: u64 = 65_536;
/// Descriptors one connection may hold at once: its socket, and for an upload the temporary
/// file and its folder (a download: the file).
pub const FDS_PER_CONNECTION: u64 = 3;
/// Descriptors kept for everything else: the listener, the poller, stdio, the log, start-up
/// and clean-up work.
pub const RESERVED_FDS: u64 = 64;

/// The default connection limit under an open-descriptor limit of `open_files`: as many
/// connections as fit with `FDS_PER_CONNECTION` each, at most `DEFAULT_MAX_CONNECTIONS`, at
/// least one.
pub fn max_connections_for(open_files: u64) -> usize {
    let fit = open_files.saturating_sub(RESERVED_FDS) / FDS_PER_CONNECTION;
    usize::try_from(fit)
        .unwrap_or(usize::MAX)
        .clamp(1, DEFAULT_MAX_CONNECTIONS)
}

/// Everything the server needs to run. Build it with `Config::default()` and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on (port 0 picks a free port, as tests do).
    pub addr: SocketAddr,
    /// Where `/files/{name}` lives; `None` disables it.
    pub directory: Option<PathBuf>,
    /// Resolve every `/files` path by the checked walk, as where `openat2` is missing, instead
    /// of one `openat2` beneath the folder (tests run the path-safety cases both ways; the
    /// binary sets it from the environment variable `HTTP_SERVER_FORCE_PATH_WALK`).
    pub force_path_walk: bool,
    /// Size of the worker pool.
    pub threads: usize,
    /// Most connections admitted at once; more get 503.
    pub max_connections: usize,
    /// See [`MAX_HEAD_BYTES`].
    pub max_head_bytes: usize,
    /// See [`MAX_REQUEST_LINE_BYTES`].
    pub max_request_line_bytes: usize,
    /// See [`MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`DEFAULT_MAX_UPLOAD_BYTES`].
    pub max_upload_bytes: u64,
    /// See [`DEFAULT_MAX_LISTING_BYTES_IN_FLIGHT`] (no flag; tests lower it).
    pub max_listing_bytes_in_flight: usize,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`DEFAULT_BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// See [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// Temporary upload files older than this are removed at start-up whoever owns them
    /// (`--stale-upload-age`; see `app::uploads`).
    pub stale_upload_age: Duration,
    /// See [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub shutdown_timeout: Duration,
    /// How long a drain keeps idle keep-alive connections open before it closes them
    /// (`--drain-idle`; zero: at once). Meanwhile a request on one is answered, with
    /// `Connection: close`. Behind a proxy, longer than the proxy's keep-alive timeout: the
    /// proxy then closes them itself, and no request of its meets a connection being closed.
    pub drain_idle: Duration,
    /// Send file bodies with `sendfile(2)` where the platform has it (`--no-sendfile`: copy
    /// them through a buffer instead).
    pub sendfile: bool,
    /// Send a `Date` header (off by default: the CodeCrafters checker rejects it).
    pub send_date: bool,
    /// Leave out the per-connection and per-request log lines.
    pub quiet: bool,
    /// Answer `GET /files/{dir}/` with a listing (`--no-listing` turns it off: folders are then
    /// 404, as if absent).
    pub listing: bool,
    /// List dot files too (`--show-hidden`). They are served by name either way.
    pub show_hidden: bool,
    /// Offer every folder as one zip, tar or tar.gz download (`--no-archive` turns it off).
    pub archives: bool,
    /// Refuse every write (PUT, POST, DELETE) with 403, and say so in listings so that the page
    /// hides its write controls (`--read-only`).
    pub read_only: bool,
    /// Users and their passwords (`--auth`, `--auth-read`, `--auth-file`).
    pub users: Vec<UserEntry>,
    /// What a client without credentials may do (`--anonymous`); `None`: the default, which
    /// depends on the users and the address (see `access`).
    pub anonymous: Option<Rights>,
    /// Host names accepted besides loopback names and addresses (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (`--trust-proxy`).
    pub trust_proxy: Vec<Cidr>,
    /// Told of the steps of each password check (no flag sets it): tests use it to hold a check
    /// and to see who waits for it, instead of counting on a check taking long enough.
    pub login_probe: Option<LoginProbe>,
}

/// What a client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rights {
    None,
    Read,
    /// Read and write.
    Write,
}

/// One configured user, as given: the password is plain (`--auth`) or a stored hash line
/// (`pbkdf2-sha256$...`), checked when the server is built.
#[derive(Clone)]
pub struct UserEntry {
    pub name: String,
    pub password: String,
    pub rights: Rights,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in a debug print.
        write!(f, "UserEntry({:?}, {:?})", self.name, self.rights)
    }
}

/// A step of a login with a stored password hash, as `Config::login_probe` is told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStep {
    /// A request starts checking a password (it holds a check permit; the check runs when the
    /// probe returns).
    Checking,
    /// A request starts waiting for another request's check of the same credentials.
    Waiting,
}

/// What is told of each [`LoginStep`]; it runs on the worker doing the step.
#[derive(Clone)]
pub struct LoginProbe(pub std::sync::Arc<dyn Fn(LoginStep) + Send + Sync>);

impl std::fmt::Debug for LoginProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginProbe")
    }
}

/// An address or a network (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    ///
    /// # Errors
    /// A message for the user.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: the prefix length must be 0 to {max}")),
            },
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` lies in this network. An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`,
    /// as a dual-stack listener sees IPv4 peers) is compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let threads = default_threads();
        Config {
            addr: SocketAddr::new(DEFAULT_BIND, DEFAULT_PORT),
            directory: None,
            force_path_walk: false,
            threads,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_head_bytes: MAX_HEAD_BYTES,
            max_request_line_bytes: MAX_REQUEST_LINE_BYTES,
            max_headers: MAX_HEADERS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_listing_bytes_in_flight: DEFAULT_MAX_LISTING_BYTES_IN_FLIGHT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            drain_idle: Duration::ZERO,
            stale_upload_age: DEFAULT_STALE_UPLOAD_AGE,
            sendfile: true,
            send_date: false,
            quiet: false,
            listing: true,
            show_hidden: false,
            archives: true,
            read_only: false,
            users: Vec::new(),
            anonymous: None,
            allow_hosts: Vec::new(),
            trust_proxy: Vec::new(),
            login_probe: None,
        }
    }
}

/// `THREADS_PER_CORE` per available core, at least `MIN_DEFAULT_THREADS`.
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .saturating_mul(THREADS_PER_CORE)
        .max(MIN_DEFAULT_THREADS)
}

/// The limits a request head must keep (the parser enforces them: 414, 431).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head_bytes: usize,
    pub max_request_line_bytes: usize,
    pub max_headers: usize,
}

/// What the engine reads: the address, the pool, admission, each step's timeout, the drain,
/// and the protocol's limits. Nothing of files or users.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub addr: SocketAddr,
    pub threads: usize,
    pub max_connections: usize,
    /// The request head's limits, as the parser enforces them.
    pub limits: Limits,
    pub idle_timeout: Duration,
    pub header_timeout: Duration,
    pub body_read_timeout: Duration,
    pub write_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub drain_idle: Duration,
    pub sendfile: bool,
    pub send_date: bool,
    pub quiet: bool,
}

/// What the access policy reads: the users, what anonymous clients may do, the host names and
/// proxies to trust, and two facts of the engine's it depends on.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    pub users: Vec<UserEntry>,
    pub anonymous: Option<Rights>,
    pub allow_hosts: Vec<String>,
    pub trust_proxy: Vec<Cidr>,
    pub login_probe: Option<LoginProbe>,
    /// Whether the server listens on loopback only (the defaults and the rebinding check
    /// depend on it).
    pub loopback_only: bool,
    /// Workers in the pool: password checks may hold at most half of them.
    pub threads: usize,
}

/// What the file store and its pages read: the folder and what may be done with it.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub directory: Option<PathBuf>,
    /// Folders may be downloaded as one archive (`--no-archive` turns it off).
    pub archives: bool,
    pub max_upload_bytes: u64,
    /// Bytes of large listings being sent now, and the most there may be.
    pub listings_in_flight: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub max_listing_bytes_in_flight: usize,
    pub listing: bool,
    pub show_hidden: bool,
    pub read_only: bool,
    pub force_path_walk: bool,
}

impl Config {
    /// The part the file store and its pages read.
    pub fn store(&self) -> StoreConfig {
        StoreConfig {
            directory: self.directory.clone(),
            archives: self.archives,
            max_upload_bytes: self.max_upload_bytes,
            listings_in_flight: std::sync::Arc::default(),
            max_listing_bytes_in_flight: self.max_listing_bytes_in_flight,
            listing: self.listing,
            show_hidden: self.show_hidden,
            read_only: self.read_only,
            force_path_walk: self.force_path_walk,
        }
    }

    /// The part the access policy reads.
    pub fn access(&self) -> AccessConfig {
        AccessConfig {
            users: self.users.clone(),
            anonymous: self.anonymous,
            allow_hosts: self.allow_hosts.clone(),
            trust_proxy: self.trust_proxy.clone(),
            login_probe: self.login_probe.clone(),
            loopback_only: self.addr.ip().is_loopback(),
            threads: self.threads,
        }
    }

    /// The part the engine reads.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            addr: self.addr,
            threads: self.threads,
            max_connections: self.max_connections,
            limits: Limits {
                max_head_bytes: self.max_head_bytes,
                max_request_line_bytes: self.max_request_line_bytes,
                max_headers: self.max_headers,
            },
            idle_timeout: self.idle_timeout,
            header_timeout: self.header_timeout,
            body_read_timeout: self.body_read_timeout,
            write_timeout: self.write_timeout,
            shutdown_timeout: self.shutdown_timeout,
            drain_idle: self.drain_idle,
            sendfile: self.sendfile,
            send_date: self.send_date,
            quiet: self.quiet,
        }
    }

    /// Checks that `--directory`, if given, is an existing directory, and makes its path
    /// absolute and canonical so that later checks on symbolic links compare like with like.
    ///
    /// # Errors
    /// A message for the user when the path does not exist or is not a directory.
    pub fn check_directory(&mut self) -> Result<(), String> {
        let Some(dir) = &self.directory else {
            return Ok(());
        };
        let canonical = dir.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("--directory {}: no such directory", dir.display()),
            _ => format!("--directory {}: {e}", dir.display()),
        })?;
        if !canonical.is_dir() {
            return Err(format!("--directory {}: not a directory", dir.display()));
        }
        self.directory = Some(canonical);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_limit_fits_the_descriptors() {
        assert_eq!(max_connections_for(1024), (1024 - 64) / 3);
        assert_eq!(max_connections_for(65_536), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(max_connections_for(10), 1);
        assert_eq!(max_connections_for(u64::MAX), DEFAULT_MAX_CONNECTIONS);
    }

    #[test]
    fn networks_parse_and_contain() {
        let cases: &[(&str, &str, bool)] = &[
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("192.168.1.0/24", "::ffff:192.168.1.9", true),
            ("::1", "::1", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("::/0", "2001:db8::1", true),
            ("::/0", "1.2.3.4", false),
        ];
        for (net, ip, want) in cases {
            let c = Cidr::parse(net).unwrap();
            assert_eq!(c.contains(ip.parse().unwrap()), *want, "{net} {ip}");
        }
        for bad in [
            "",
            "x",
            "10.0.0.0/33",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "host/8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
