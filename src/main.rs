//! Reads argv, builds the `Config`, and runs the server. A usage error exits with status 2, a
//! start-up error (bad directory, port in use) with status 1.

use http_server::access::crypto::password::{
    PasswordHash, DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS,
};
use http_server::access::users;
use http_server::config::{self, Cidr, Config, Rights, UserEntry};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: http-server [OPTIONS]

A small HTTP/1.1 server: GET /, /echo/{text}, /user-agent, and GET|HEAD|POST|PUT|DELETE
/files/{path} over --directory, with folder listings and a page to browse them.

Options:
  --directory DIR            serve and store /files/{path} in DIR (default: /files disabled)
  --port N                   TCP port (default 4221; 0 picks a free one)
  --bind ADDR                address to listen on (default 127.0.0.1; :: and 0.0.0.0 work)
  --threads N                worker threads (default 1 per core, at least 2; at most 1024)
  --max-connections N        connections admitted at once; more get 503 (default 10000, or what
                             the open-file limit allows at 3 descriptors each)
  --max-upload BYTES         largest upload (default 4294967296 = 4 GiB)
  --max-head-bytes N         largest request head (default 16384; at most 1048576)
  --max-request-line N       longest request line (default 8192)
  --max-headers N            most header fields (default 100)
  --idle-timeout SECS        close idle keep-alive connections after this (default 15)
  --header-timeout SECS      a request head must arrive within this (default 10)
  --body-timeout SECS        longest wait for the next piece of a body (default 10)
  --write-timeout SECS       longest wait for a client to take our bytes (default 10)
  --shutdown-timeout SECS    on SIGTERM/SIGINT, let requests in progress finish for up to
                             this long, then exit (default 10; a second signal exits at once)
  --drain-idle SECS          on SIGTERM/SIGINT, keep idle keep-alive connections open up to
                             this long (each then closes after one more answer), so that a
                             proxy in front closes them itself (default 0: close at once)
  --stale-upload-age SECS    at start-up, remove temporary upload files and copy folders
                             older than this whose lock cannot be tested (default 86400);
                             others only if provably dead, and a locked one never
  --no-sendfile              copy file bodies through a buffer instead of sendfile(2)
  --no-listing               answer folders with 404 instead of a listing
  --read-only                refuse PUT, POST and DELETE with 403
  --auth USER:PASSWORD       a user who may read and write (repeatable)
  --auth-read USER:PASSWORD  a user who may only read (repeatable)
  --auth-file FILE           users, one a line: USER:PASSWORD or USER:PASSWORD:read, where
                             PASSWORD may be a hash from --hash-password; the file must not
                             be readable by others than its owner
  --anonymous none|read|write  what a client without credentials may do (default: none with
                             users; else write on loopback, read on other addresses)
  --allow-host NAME          a host name this server answers for (repeatable); on loopback
                             other names get 421, elsewhere this restricts names to the list
  --trust-proxy ADDR[/BITS]  believe X-Forwarded-For and -Proto from these peers (repeatable)
  --hash-password            read a password from standard input, print its hash, exit
  --rounds N                 PBKDF2 rounds for --hash-password (default 600000; each login
                             check costs them once, about 0.3 s of CPU at the default)
  --show-hidden              list dot files too (they are served by name either way)
  --no-archive               do not offer folders as one zip, tar or tar.gz download
  --date                     send a Date header (off by default)
  --quiet                    no per-connection or per-request log lines
  -h, --help                 print this help
  -V, --version              print the version
";

fn main() -> ExitCode {
    // Every connection holds a descriptor, a transfer one or two more: take what the hard
    // limit allows (as nginx's worker_rlimit_nofile does), and size the default connection
    // limit from it.
    let open_files = http_server::sys::raise_open_file_limit(config::WANTED_OPEN_FILES)
        .or_else(|_| http_server::sys::open_file_limits().map(|(soft, _)| soft))
        .unwrap_or(1024);
    let (mut config, auth_files) = match parse_args(std::env::args().skip(1), open_files) {
        Ok(Some(Args::Serve(c, files))) => (*c, files),
        Ok(Some(Args::HashPassword(rounds))) => return hash_password(rounds),
        Ok(None) => return ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("http-server: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for path in auth_files {
        match users::read_file(&path) {
            Ok(entries) => config.users.extend(entries),
            Err(msg) => {
                eprintln!("http-server: {msg}");
                return ExitCode::from(1);
            }
        }
    }
    match http_server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--hash-password`: reads one line from standard input and prints its stored form.
fn hash_password(rounds: u32) -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("http-server: reading the password: {e}");
        return ExitCode::from(1);
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("http-server: the password is empty");
        return ExitCode::from(1);
    }
    match PasswordHash::new(password.as_bytes(), rounds) {
        Ok(hash) => {
            println!("{}", hash.to_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// What the arguments ask for.
enum Args {
    /// Serve with this configuration, once these `--auth-file`s are read in.
    Serve(Box<Config>, Vec<PathBuf>),
    /// Print the hash of a password read from standard input, made with so many rounds.
    HashPassword(u32),
}

/// Parses the arguments; `Ok(None)` when help or version was printed.
fn parse_args(args: impl Iterator<Item = String>, open_files: u64) -> Result<Option<Args>, String> {
    let mut c = Config {
        // For comparing the two ways of opening paths (see `Config::force_path_walk`).
        force_path_walk: std::env::var_os("HTTP_SERVER_FORCE_PATH_WALK").is_some(),
        ..Config::default()
    };
    let mut auth_files = Vec::new();
    let mut port = config::DEFAULT_PORT;
    let mut ip = config::DEFAULT_BIND;
    let mut max_connections = None;
    let mut hash = false;
    let mut rounds = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("http-server {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--directory" => c.directory = Some(PathBuf::from(value(&flag)?)),
            "--port" => port = number(&flag, &value(&flag)?)?,
            "--bind" => {
                let v = value(&flag)?;
                ip = v
                    .trim_matches(|ch| ch == '[' || ch == ']')
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--bind: '{v}' is not an IP address"))?;
            }
            "--threads" => c.threads = at_most(&flag, &value(&flag)?, config::MAX_THREADS)?,
            "--max-connections" => max_connections = Some(positive(&flag, &value(&flag)?)?),
            "--max-upload" => c.max_upload_bytes = number(&flag, &value(&flag)?)?,
            "--max-head-bytes" => {
                c.max_head_bytes = at_most(&flag, &value(&flag)?, config::MAX_HEAD_BYTES_LIMIT)?;
            }
            "--max-request-line" => c.max_request_line_bytes = positive(&flag, &value(&flag)?)?,
            "--max-headers" => c.max_headers = positive(&flag, &value(&flag)?)?,
            "--idle-timeout" => c.idle_timeout = seconds(&flag, &value(&flag)?)?,
            "--header-timeout" => c.header_timeout = seconds(&flag, &value(&flag)?)?,
            "--body-timeout" => c.body_read_timeout = seconds(&flag, &value(&flag)?)?,
            "--write-timeout" => c.write_timeout = seconds(&flag, &value(&flag)?)?,
            "--shutdown-timeout" => c.shutdown_timeout = seconds(&flag, &value(&flag)?)?,
            "--drain-idle" => {
                let v = value(&flag)?;
                c.drain_idle = if v == "0" {
                    Duration::ZERO
                } else {
                    seconds(&flag, &v)?
                };
            }
            "--stale-upload-age" => {
                c.stale_upload_age = seconds_up_to(&flag, &value(&flag)?, MAX_STALE_UPLOAD_AGE)?
            }
            "--date" if inline.is_none() => c.send_date = true,
            "--no-sendfile" if inline.is_none() => c.sendfile = false,
            "--quiet" if inline.is_none() => c.quiet = true,
            "--no-listing" if inline.is_none() => c.listing = false,
            "--read-only" if inline.is_none() => c.read_only = true,
            "--show-hidden" if inline.is_none() => c.show_hidden = true,
            "--no-archive" if inline.is_none() => c.archives = false,
            "--auth" => c.users.push(user(&flag, &value(&flag)?, Rights::Write)?),
            "--auth-read" => c.users.push(user(&flag, &value(&flag)?, Rights::Read)?),
            "--auth-file" => auth_files.push(PathBuf::from(value(&flag)?)),
            "--anonymous" => {
                c.anonymous = Some(match value(&flag)?.as_str() {
                    "none" => Rights::None,
                    "read" => Rights::Read,
                    "write" => Rights::Write,
                    v => return Err(format!("--anonymous: '{v}' is not none, read or write")),
                });
            }
            "--allow-host" => c.allow_hosts.push(host_name(&value(&flag)?)?),
            "--trust-proxy" => c
                .trust_proxy
                .push(Cidr::parse(&value(&flag)?).map_err(|e| format!("--trust-proxy: {e}"))?),
            "--hash-password" if inline.is_none() => hash = true,
            "--rounds" => {
                let n: u32 = number(&flag, &value(&flag)?)?;
                if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&n) {
                    return Err(format!(
                        "--rounds must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"
                    ));
                }
                rounds = Some(n);
            }
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    match (hash, rounds) {
        (true, rounds) => {
            return Ok(Some(Args::HashPassword(
                rounds.unwrap_or(DEFAULT_ITERATIONS),
            )))
        }
        (false, Some(_)) => return Err("--rounds only goes with --hash-password".into()),
        (false, None) => {}
    }
    c.max_connections = match max_connections {
        Some(n) if n as u64 > open_files.saturating_sub(config::RESERVED_FDS) => {
            return Err(format!(
                "--max-connections {n}: the open-file limit is {open_files}; raise it \
                 (ulimit -n, or LimitNOFILE= in a systemd unit) or ask for fewer"
            ))
        }
        Some(n) => n,
        None => config::max_connections_for(open_files),
    };
    if c.max_request_line_bytes > c.max_head_bytes {
        return Err("--max-request-line cannot exceed --max-head-bytes".into());
    }
    c.addr = SocketAddr::new(ip, port);
    Ok(Some(Args::Serve(Box::new(c), auth_files)))
}

fn user(flag: &str, v: &str, rights: Rights) -> Result<UserEntry, String> {
    users::parse_flag(v, rights).map_err(|e| format!("{flag}: {e}"))
}

/// A name for `--allow-host`: letters, digits, dots and dashes (an IP address needs no entry).
fn host_name(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(v.trim_end_matches('.').to_ascii_lowercase())
    } else {
        Err(format!("--allow-host: '{v}' is not a host name"))
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

fn positive(flag: &str, v: &str) -> Result<usize, String> {
    match number::<usize>(flag, v)? {
        0 => Err(format!("{flag} must be at least 1")),
        n => Ok(n),
    }
}

fn at_most(flag: &str, v: &str, max: usize) -> Result<usize, String> {
    match positive(flag, v)? {
        n if n > max => Err(format!("{flag} can be at most {max}")),
        n => Ok(n),
    }
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    seconds_up_to(flag, v, 86_400)
}

/// Longest `--stale-upload-age`: thirty days.
const MAX_STALE_UPLOAD_AGE: u64 = 30 * 86_400;

fn seconds_up_to(flag: &str, v: &str, max: u64) -> Result<Duration, String> {
    let secs: f64 = number(flag, v)?;
    if !(secs > 0.0 && secs <= max as f64) {
        return Err(format!("{flag} must be between 0 and {max} seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()), 1024)
    }

    #[test]
    fn hash_password_makes_the_default_rounds_unless_told_otherwise() {
        assert_eq!(DEFAULT_ITERATIONS, 600_000);
        assert!(matches!(
            parse(&["--hash-password"]),
            Ok(Some(Args::HashPassword(600_000)))
        ));
        assert!(matches!(
            parse(&["--rounds", "5000", "--hash-password"]),
            Ok(Some(Args::HashPassword(5000)))
        ));
        assert!(parse(&["--hash-password", "--rounds", "0"]).is_err());
        assert!(parse(&["--rounds", "5000"]).is_err());
    }
}
