//! Who may read and who may write: users and their passwords, HTTP Basic credentials, the limit
//! on failed logins, and the checks against other web sites (cross-site writes, DNS rebinding).
//! [`Access::check`] runs them all for a request, in this order:
//!
//! 1. the client: the peer, or for a `--trust-proxy` peer the address it forwarded for;
//! 2. `Host` (421 for a name the server does not answer for: DNS rebinding);
//! 3. for a write, where a browser says it comes from (403 for another site);
//! 4. credentials, when users are configured: 429 while the client is over its failed-login
//!    limit, 401 for malformed or wrong ones, 503 while as many slow password checks run as
//!    `password_budget` allows (a request with the same credentials as one being checked
//!    waits for that check instead, while there is room: `flight`);
//! 5. the rights of the user, or of anonymous clients: 401 for an anonymous client that needs
//!    to log in, 403 for a user without the right.
//!
//! Out of scope: `--read-only` (the router refuses writes itself), the answers' bodies.

pub mod basic;
pub mod cache;
pub mod crypto;
pub mod flight;
pub mod forwarded;
pub mod limit;
pub mod origin;
pub mod users;

use crate::config::{AccessConfig, Cidr, LoginProbe, LoginStep, Rights};
use crate::http::error::Error;
use crate::http::parse::Head;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// What a request was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub rights: Rights,
}

/// What the access check found out about a request, and what it decided.
#[derive(Debug)]
pub struct Checked {
    /// Behind a proxy this server trusts: the client the proxy forwarded for.
    pub client: Option<IpAddr>,
    /// The user the request's credentials name, once they were checked.
    pub user: Option<String>,
    /// The rights granted, or why none are.
    pub outcome: Result<Grant, Error>,
}

/// The access policy and its state (failed logins, remembered logins).
pub struct Access {
    users: users::Users,
    anonymous: Rights,
    loopback_only: bool,
    allow_hosts: Vec<String>,
    trust: Vec<Cidr>,
    limiter: limit::FailureLimiter,
    cache: cache::LoginCache,
    flights: flight::Flights,
    slow_checks: Permits,
    probe: Option<LoginProbe>,
}

/// What anonymous clients may do when `--anonymous` is not given: nothing once there are users;
/// otherwise write on loopback (a local tool, and the CodeCrafters checker), read elsewhere.
pub fn default_anonymous(has_users: bool, loopback_only: bool) -> Rights {
    match (has_users, loopback_only) {
        (true, _) => Rights::None,
        (false, true) => Rights::Write,
        (false, false) => Rights::Read,
    }
}

impl Access {
    /// # Errors
    /// A message for the user: a bad user entry, or no randomness for the login cache.
    pub fn new(config: &AccessConfig) -> Result<Access, String> {
        let users = users::Users::new(&config.users)?;
        let loopback_only = config.loopback_only;
        let anonymous = config
            .anonymous
            .unwrap_or_else(|| default_anonymous(!users.is_empty(), loopback_only));
        let (slow_checks, waiters) = password_budget(config.threads);
        Ok(Access {
            users,
            anonymous,
            loopback_only,
            allow_hosts: config.allow_hosts.clone(),
            trust: config.trust_proxy.clone(),
            limiter: limit::FailureLimiter::default(),
            cache: cache::LoginCache::new().map_err(|e| format!("no random numbers: {e}"))?,
            flights: flight::Flights::new(waiters),
            slow_checks: Permits::new(slow_checks),
            probe: config.login_probe.clone(),
        })
    }

    pub fn anonymous(&self) -> Rights {
        self.anonymous
    }

    /// Lines for the start-up log: what anonymous clients may do when that is not today's
    /// default, and the warning that Basic credentials cross the network readable.
    pub fn startup_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let users = if self.users.is_empty() {
            "no users"
        } else {
            "users configured"
        };
        match self.anonymous {
            Rights::Write if !self.loopback_only => notes.push(format!(
                "anyone who reaches this address may upload, replace and delete files \
                 (--anonymous write, {users})"
            )),
            Rights::Read if self.users.is_empty() => notes.push(
                "anonymous clients may only read, since this address is not loopback; to allow \
                 writes: --auth USER:PASSWORD (or --anonymous write, for anyone)"
                    .to_string(),
            ),
            Rights::Read => notes.push("anonymous clients may read; users log in to write".into()),
            Rights::None => notes.push("every request needs a user name and password".into()),
            Rights::Write => {}
        }
        if !self.loopback_only && self.allow_hosts.is_empty() {
            notes.push(
                "warning: without --allow-host this server answers any Host name, so a web page \
                 can reach it by DNS rebinding and read what anonymous clients may read; give \
                 --allow-host NAME for each name it is reached by"
                    .to_string(),
            );
        }
        if !self.users.is_empty() && !self.loopback_only {
            notes.push(
                "warning: Basic credentials cross the network readable by anyone on the path; \
                 put TLS in front (see docs/deployment.md)"
                    .to_string(),
            );
        }
        notes
    }

    /// Whether any user is configured (else there is nobody to log in as).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether a user could get more rights than anonymous clients have by logging in.
    pub fn login_would_help(&self) -> bool {
        !self.users.is_empty() && self.anonymous < Rights::Write
    }

    /// Checks a request from `peer` (see the module doc): who sent it, and what it may do.
    pub fn check(&self, peer: IpAddr, head: &Head, write: bool) -> Checked {
        let client = forwarded::client(peer, &head.headers, &self.trust);
        let mut user = None;
        let outcome = self.decide(&client, head, write, &mut user);
        Checked {
            client: client.forwarded.then_some(client.addr),
            user,
            outcome,
        }
    }

    /// The decision of [`Access::check`]; `user` is set once credentials name one.
    ///
    /// # Errors
    /// 421, 403, 429 or 401, with the reason.
    fn decide(
        &self,
        client: &forwarded::Client,
        head: &Head,
        write: bool,
        user: &mut Option<String>,
    ) -> Result<Grant, Error> {
        if let Some(host) = head.headers.get("host") {
            if !origin::host_is_allowed(host, self.loopback_only, &self.allow_hosts) {
                return Err(Error::Misdirected);
            }
        }
        if write {
            origin::check_cross_site(&head.headers, client.https).map_err(Error::Forbidden)?;
        }
        let needed = if write { Rights::Write } else { Rights::Read };
        // Without users there is nobody to log in as: credentials are ignored.
        let authorization = head
            .headers
            .get("authorization")
            .filter(|_| !self.users.is_empty());
        let Some(authorization) = authorization else {
            return self.anonymous_grant(needed);
        };
        let now = Instant::now();
        if let Some(retry_after) = self.limiter.blocked(client.addr, now) {
            return Err(Error::TooManyRequests { retry_after });
        }
        let id = self
            .login(head, authorization, client.addr, now)
            .map_err(LoginError::into_error)?;
        let name = self.users.name(id);
        *user = Some(name.to_string());
        let rights = self.users.rights(id);
        if rights >= needed {
            Ok(Grant { rights })
        } else {
            Err(Error::ForbiddenBecause(format!(
                "user {name} may only read"
            )))
        }
    }

    /// What a client without credentials gets: its rights if they are enough, else 401 (a
    /// user could log in) or 403 (nobody could).
    fn anonymous_grant(&self, needed: Rights) -> Result<Grant, Error> {
        if self.anonymous >= needed {
            Ok(Grant {
                rights: self.anonymous,
            })
        } else if self.users.is_empty() {
            // Nobody could log in: asking for credentials would only confuse.
            Err(Error::Forbidden(
                "anonymous clients may not do this here, and no users are configured \
                 (see --anonymous and --auth)",
            ))
        } else {
            Err(unauthorized(if needed == Rights::Write {
                "writing here needs a user name and password"
            } else {
                "this server needs a user name and password"
            }))
        }
    }

    /// Logs in with an `Authorization` value: a remembered one at once; one that another
    /// request is checking now with that request's outcome; otherwise one attempt counted
    /// against `client` (taken back if right) and the password checked.
    fn login(
        &self,
        head: &Head,
        authorization: &[u8],
        client: IpAddr,
        now: Instant,
    ) -> Result<users::UserId, LoginError> {
        let single = head.headers.count("authorization") == 1;
        // Plain passwords are checked faster than the cache is looked up.
        let tag = (self.users.any_hashed() && single).then(|| self.cache.tag(authorization));
        if let Some(tag) = &tag {
            if let Some(id) = self.cache.get(tag) {
                return Ok(id);
            }
            match self.flights.follow(tag, || self.tell(LoginStep::Waiting)) {
                Some(flight::Outcome::Right(id)) => return Ok(id),
                // The same wrong guess again: it counts (at the time it ends), and no second
                // check is needed.
                Some(flight::Outcome::Wrong) => {
                    self.limiter
                        .attempt(client, Instant::now())
                        .map_err(LoginError::Limited)?;
                    return Err(LoginError::Wrong(WRONG_PASSWORD));
                }
                // Nothing in flight; but a check may have ended between the look in the
                // cache and this one.
                None => {
                    if let Some(id) = self.cache.get(tag) {
                        return Ok(id);
                    }
                }
            }
        }
        self.limiter
            .attempt(client, now)
            .map_err(LoginError::Limited)?;
        let checked = self.check_password(single, authorization, tag);
        match &checked {
            Ok(_) => self.limiter.forgive(client),
            // Not a wrong password: the attempt does not count.
            Err(LoginError::Busy) => self.limiter.forgive(client),
            Err(_) => {}
        }
        checked
    }

    fn tell(&self, step: LoginStep) {
        if let Some(LoginProbe(probe)) = &self.probe {
            probe(step);
        }
    }

    /// `single`: the request had one `Authorization` field (two are refused). `tag`: the
    /// value's tag where stored hashes are configured (the check is then announced to other
    /// requests with the same credentials, and a right one remembered).
    fn check_password(
        &self,
        single: bool,
        authorization: &[u8],
        tag: Option<cache::Tag>,
    ) -> Result<users::UserId, LoginError> {
        if !single {
            return Err(LoginError::Wrong("more than one Authorization header"));
        }
        let credentials = basic::parse_authorization(authorization).map_err(LoginError::Wrong)?;
        // A stored hash costs a PBKDF2: only so many at once, whoever sends them, so that
        // wrong passwords from many addresses cannot take every worker.
        let slow = self.users.checks_are_slow();
        let _permit = if slow {
            Some(self.slow_checks.try_acquire().ok_or(LoginError::Busy)?)
        } else {
            None
        };
        let mut leader = tag.filter(|_| slow).and_then(|t| self.flights.lead(t));
        if slow {
            self.tell(LoginStep::Checking);
        }
        let id = self.users.verify(&credentials.user, &credentials.password);
        if let Some(leader) = &mut leader {
            leader.report(id.map_or(flight::Outcome::Wrong, flight::Outcome::Right));
        }
        let id = id.ok_or(LoginError::Wrong(WRONG_PASSWORD))?;
        if let (Some(tag), true) = (tag, slow) {
            self.cache.put(tag, id);
        }
        Ok(id)
    }
}

/// The challenge of a 401 (RFC 7617): HTTP Basic, with passwords in UTF-8.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"http-server\", charset=\"UTF-8\"";

/// A 401 for this reason, with the Basic challenge.
pub fn unauthorized(why: &'static str) -> Error {
    Error::Unauthorized {
        why,
        challenge: BASIC_CHALLENGE,
    }
}

/// The reason a wrong login gets.
const WRONG_PASSWORD: &str = "wrong user name or password";

/// Why a login did not succeed.
enum LoginError {
    /// Malformed or wrong credentials (401, and counted against the client).
    Wrong(&'static str),
    /// Too many stored hashes being checked at once (503, not counted).
    Busy,
    /// The client is over its failed-login limit (429): seconds until it may try again.
    Limited(u64),
}

impl LoginError {
    fn into_error(self) -> Error {
        match self {
            LoginError::Wrong(why) => unauthorized(why),
            LoginError::Busy => Error::Busy {
                retry_after: 1,
                why: "busy checking passwords",
            },
            LoginError::Limited(retry_after) => Error::TooManyRequests { retry_after },
        }
    }
}

/// Most stored password hashes checked at once (each is a PBKDF2 of 0.3 s of a core).
pub const MAX_SLOW_CHECKS: usize = 2;

/// How many workers password checks and waits for them may hold: (checks, waiters). At most
/// half the pool (at least one check, or nobody could log in), so that wrong passwords from
/// many addresses leave the other half serving: 8 workers give (2, 2), 16 give (2, 4), 4 give
/// (2, 0), 2 give (1, 0).
pub fn password_budget(threads: usize) -> (usize, usize) {
    let budget = (threads / 2).max(1);
    let checks = MAX_SLOW_CHECKS.min(budget);
    (checks, flight::MAX_WAITERS.min(budget - checks))
}

/// A counting limit, taken without waiting.
pub struct Permits {
    taken: AtomicUsize,
    max: usize,
}

/// One taken permit, given back when dropped.
pub struct Permit<'a>(&'a Permits);

impl Permits {
    pub fn new(max: usize) -> Permits {
        Permits {
            taken: AtomicUsize::new(0),
            max,
        }
    }

    /// A permit, or `None` when all are taken.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_checks_hold_at_most_half_the_pool() {
        for (threads, want) in [
            (1, (1, 0)),
            (2, (1, 0)),
            (4, (2, 0)),
            (8, (2, 2)),
            (16, (2, 4)),
        ] {
            assert_eq!(password_budget(threads), want, "{threads} workers");
        }
        for threads in 2..=256 {
            let (checks, waiters) = password_budget(threads);
            assert!(
                checks >= 1 && checks + waiters <= threads / 2,
                "{threads} workers"
            );
        }
    }

    #[test]
    fn permits_are_bounded_and_given_back() {
        let p = Permits::new(2);
        let a = p.try_acquire().unwrap();
        let b = p.try_acquire().unwrap();
        assert!(p.try_acquire().is_none());
        drop(a);
        let c = p.try_acquire().unwrap();
        assert!(p.try_acquire().is_none());
        drop((b, c));
        assert!(p.try_acquire().is_some());
    }
}
