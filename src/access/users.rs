//! The configured users: their names, passwords (plain from `--auth`, or stored hashes from an
//! `--auth-file`) and rights, the file's format and its permission check, and checking a
//! password in constant time.
//!
//! Out of scope: reading credentials from a request (`basic`), deciding what a request may do
//! (`access::Access`).

use crate::access::crypto::ct::ct_eq;
use crate::access::crypto::password::PasswordHash;
use crate::access::crypto::sha256::sha256;
use crate::config::{Rights, UserEntry};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Longest user name.
pub const MAX_USER_NAME_BYTES: usize = 255;
/// Longest password: with the longest user name it still fits the `Authorization` value
/// (`basic::MAX_AUTHORIZATION_BYTES`, base64 of `USER:PASSWORD`).
pub const MAX_PASSWORD_BYTES: usize = 500;
/// Largest `--auth-file`.
pub const MAX_AUTH_FILE_BYTES: u64 = 1024 * 1024;

/// The start of a stored password hash in a user line.
pub const HASH_PREFIX: &str = "pbkdf2-sha256$";

enum Secret {
    /// The SHA-256 of a password given in plain: compared digest to digest, in constant time
    /// and whatever the length.
    Plain([u8; 32]),
    Hashed(PasswordHash),
}

impl Secret {
    /// The PBKDF2 rounds a check of this secret costs (none for a plain one).
    fn rounds(&self) -> u32 {
        match self {
            Secret::Hashed(h) => h.iterations(),
            Secret::Plain(_) => 0,
        }
    }
}

struct User {
    name: String,
    secret: Secret,
    rights: Rights,
    /// Rounds checked besides the user's own (a hash nothing matches), so that every check
    /// costs as many rounds as the slowest: see `Users::decoy`.
    pad: Option<PasswordHash>,
}

/// Every configured user.
pub struct Users {
    list: Vec<User>,
    /// Where some passwords are stored hashes: a hash that nothing matches, with as many rounds
    /// as the most of theirs, checked for a name nobody has. With the users' pads, every check
    /// (an unknown name, a plain password, a hash of fewer rounds) costs those rounds, so that
    /// timing does not tell which names exist or how their passwords are kept.
    decoy: Option<PasswordHash>,
}

/// A user a password was checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserId(usize);

impl Users {
    /// Checks and takes in the users as configured.
    ///
    /// # Errors
    /// A message for the user: a bad name, an empty password, a malformed hash, a name given
    /// twice.
    pub fn new(entries: &[UserEntry]) -> Result<Users, String> {
        let mut list: Vec<User> = Vec::with_capacity(entries.len());
        for e in entries {
            check_name(&e.name)?;
            if list.iter().any(|u| u.name == e.name) {
                return Err(format!("user {:?} is given twice", e.name));
            }
            let secret = if e.password.starts_with(HASH_PREFIX) {
                Secret::Hashed(
                    PasswordHash::parse(&e.password)
                        .map_err(|why| format!("user {:?}: {why}", e.name))?,
                )
            } else if e.password.is_empty() {
                return Err(format!("user {:?} has an empty password", e.name));
            } else if e.password.len() > MAX_PASSWORD_BYTES {
                return Err(format!("user {:?}: the password is too long", e.name));
            } else {
                Secret::Plain(sha256(e.password.as_bytes()))
            };
            list.push(User {
                name: e.name.clone(),
                secret,
                rights: e.rights,
                pad: None,
            });
        }
        let rounds = list
            .iter()
            .map(|u| u.secret.rounds())
            .max()
            .filter(|&r| r > 0);
        let no_random = |e: std::io::Error| format!("no random bytes for the password checks: {e}");
        let decoy = rounds
            .map(PasswordHash::decoy)
            .transpose()
            .map_err(no_random)?;
        if let Some(rounds) = rounds {
            for u in &mut list {
                let own = u.secret.rounds();
                if own < rounds {
                    u.pad = Some(PasswordHash::decoy(rounds - own).map_err(no_random)?);
                }
            }
        }
        Ok(Users { list, decoy })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether some password is a stored hash (slow to check, so worth remembering).
    pub fn any_hashed(&self) -> bool {
        self.list
            .iter()
            .any(|u| matches!(u.secret, Secret::Hashed(_)))
    }

    /// Whether some user may write.
    pub fn any_writer(&self) -> bool {
        self.list.iter().any(|u| u.rights == Rights::Write)
    }

    /// Checks a user name and password. The password is compared in constant time. Every check
    /// costs the same: where some passwords are stored hashes, the rounds of the slowest (an
    /// unknown name checks the decoy, others add their pad); else the digest comparison of a
    /// plain password.
    pub fn verify(&self, name: &[u8], password: &[u8]) -> Option<UserId> {
        let user = self.list.iter().position(|u| u.name.as_bytes() == name);
        let Some(i) = user else {
            match &self.decoy {
                Some(decoy) => {
                    let _ = decoy.verify(password);
                }
                None => {
                    let _ = ct_eq(&sha256(password), &[0u8; 32]);
                }
            }
            return None;
        };
        let user = self.list.get(i)?;
        let ok = match &user.secret {
            Secret::Plain(digest) => ct_eq(&sha256(password), digest),
            Secret::Hashed(hash) => hash.verify(password),
        };
        if let Some(pad) = &user.pad {
            let _ = pad.verify(password);
        }
        ok.then_some(UserId(i))
    }

    /// Whether checking a password costs a PBKDF2: for every name, known or not, once some
    /// user has a stored hash (see `decoy`); for none otherwise.
    pub fn checks_are_slow(&self) -> bool {
        self.decoy.is_some()
    }

    pub fn name(&self, id: UserId) -> &str {
        self.list.get(id.0).map_or("", |u| u.name.as_str())
    }

    pub fn rights(&self, id: UserId) -> Rights {
        self.list.get(id.0).map_or(Rights::None, |u| u.rights)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a user name is empty".to_string());
    }
    if name.len() > MAX_USER_NAME_BYTES {
        return Err(format!("user name {:.20?}... is too long", name));
    }
    if name.contains(':') || name.chars().any(char::is_control) {
        return Err(format!(
            "user name {name:?} has a ':' or a control character"
        ));
    }
    Ok(())
}

/// One user from `USER:PASSWORD` (a flag's value), with the given rights.
///
/// # Errors
/// A message for the user when there is no `:`.
pub fn parse_flag(value: &str, rights: Rights) -> Result<UserEntry, String> {
    let (name, password) = value
        .split_once(':')
        .ok_or_else(|| "expected USER:PASSWORD".to_string())?;
    Ok(UserEntry {
        name: name.to_string(),
        password: password.to_string(),
        rights,
    })
}

/// Reads an `--auth-file`: one user a line, `USER:PASSWORD` or `USER:PASSWORD:read` (a
/// password that itself ends in `:read` cannot be written so; use a hash), `#` comments and
/// blank lines ignored. A file that others than its owner may read or write is refused.
///
/// # Errors
/// A message naming the file and, for a bad line, its number.
pub fn read_file(path: &Path) -> Result<Vec<UserEntry>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("--auth-file {shown}: {e}"))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "--auth-file {shown}: others than its owner may read or write it (mode {:03o}); \
             run: chmod 600 {shown}",
            mode & 0o777
        ));
    }
    if meta.len() > MAX_AUTH_FILE_BYTES {
        return Err(format!(
            "--auth-file {shown}: larger than {MAX_AUTH_FILE_BYTES} bytes"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("--auth-file {shown}: {e}"))?;
    parse_file(&text).map_err(|e| format!("--auth-file {shown}: {e}"))
}

/// The lines of an `--auth-file` (see [`read_file`]).
///
/// # Errors
/// `line N: why`.
pub fn parse_file(text: &str) -> Result<Vec<UserEntry>, String> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // Indentation goes; the rest of the line is the entry, spaces in a password included.
        let line = line.trim_start();
        if line.trim_end().is_empty() || line.starts_with('#') {
            continue;
        }
        let (rest, rights) = match line.strip_suffix(":read") {
            Some(rest) => (rest, Rights::Read),
            None => (line, Rights::Write),
        };
        let entry = parse_flag(rest, rights).map_err(|why| format!("line {}: {why}", i + 1))?;
        check_name(&entry.name).map_err(|why| format!("line {}: {why}", i + 1))?;
        users.push(entry);
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, password: &str, rights: Rights) -> UserEntry {
        UserEntry {
            name: name.into(),
            password: password.into(),
            rights,
        }
    }

    #[test]
    fn plain_and_hashed_passwords_verify() {
        let hash = PasswordHash::new(b"hunter2", 1000).unwrap().to_line();
        let users = Users::new(&[
            entry("alice", "secret", Rights::Write),
            entry("bob", &hash, Rights::Read),
        ])
        .unwrap();
        let alice = users.verify(b"alice", b"secret").unwrap();
        assert_eq!(
            (users.name(alice), users.rights(alice)),
            ("alice", Rights::Write)
        );
        let bob = users.verify(b"bob", b"hunter2").unwrap();
        assert_eq!(users.rights(bob), Rights::Read);
        // Wrong, of the right length; a prefix; longer; another user's; no such user.
        for (name, password) in [
            ("alice", "secreT"),
            ("alice", "secre"),
            ("alice", "secret!"),
            ("alice", "hunter2"),
            ("bob", "hunter3"),
            ("carol", "secret"),
            ("", ""),
        ] {
            assert_eq!(
                users.verify(name.as_bytes(), password.as_bytes()),
                None,
                "{name}:{password}"
            );
        }
    }

    #[test]
    fn every_check_costs_the_rounds_of_the_slowest_hash() {
        let (low, high) = (
            PasswordHash::new(b"a", 1000).unwrap().to_line(),
            PasswordHash::new(b"b", 3000).unwrap().to_line(),
        );
        let users = Users::new(&[
            entry("plain", "secret", Rights::Write),
            entry("low", &low, Rights::Write),
            entry("high", &high, Rights::Write),
        ])
        .unwrap();
        // The rounds each check does: its own plus its pad (the decoy for a name nobody has).
        let rounds = |name: &str| {
            let u = users.list.iter().find(|u| u.name == name).unwrap();
            u.secret.rounds() + u.pad.as_ref().map_or(0, PasswordHash::iterations)
        };
        assert_eq!([rounds("plain"), rounds("low"), rounds("high")], [3000; 3]);
        assert_eq!(
            users.decoy.as_ref().map(PasswordHash::iterations),
            Some(3000)
        );
        assert!(users.checks_are_slow());
        // Pads change no answer.
        assert!(users.verify(b"plain", b"secret").is_some());
        assert!(users.verify(b"low", b"a").is_some());
        assert!(users.verify(b"high", b"b").is_some());
        assert_eq!(users.verify(b"nobody", b"a"), None);
        // Without stored hashes nothing is slow, and there is nothing to pad with.
        let users = Users::new(&[entry("plain", "secret", Rights::Write)]).unwrap();
        assert!(users.decoy.is_none() && users.list.iter().all(|u| u.pad.is_none()));
        assert!(!users.checks_are_slow());
    }

    #[test]
    fn bad_users_are_refused_with_a_reason() {
        let cases: &[(&[UserEntry], &str)] = &[
            (&[entry("", "x", Rights::Write)], "empty"),
            (&[entry("a\nb", "x", Rights::Write)], "control"),
            (&[entry("a", "", Rights::Write)], "empty password"),
            (
                &[
                    entry("a", "x", Rights::Write),
                    entry("a", "y", Rights::Read),
                ],
                "twice",
            ),
            (
                &[entry("a", "pbkdf2-sha256$1$x$y", Rights::Write)],
                "user \"a\"",
            ),
        ];
        for (entries, want) in cases {
            let err = Users::new(entries).err().unwrap();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn the_file_format() {
        let text = "# team\n\nalice:secret\n  bob:pa:ss:read\ncarol:pbkdf2-sha256$1000$AAAA$BBBB\n\
                    dan:two words \n";
        let users = parse_file(text).unwrap();
        let got: Vec<(&str, &str, Rights)> = users
            .iter()
            .map(|u| (u.name.as_str(), u.password.as_str(), u.rights))
            .collect();
        assert_eq!(
            got,
            [
                ("alice", "secret", Rights::Write),
                ("bob", "pa:ss", Rights::Read),
                ("carol", "pbkdf2-sha256$1000$AAAA$BBBB", Rights::Write),
                ("dan", "two words ", Rights::Write),
            ]
        );
        let err = parse_file("alice:x\nnocolon\n").unwrap_err();
        assert_eq!(err, "line 2: expected USER:PASSWORD");
    }

    #[test]
    fn a_file_others_may_read_is_refused() {
        let path = std::env::temp_dir().join(format!("auth-file-{}", std::process::id()));
        std::fs::write(&path, "alice:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_file(&path).unwrap_err();
        assert!(
            err.contains("mode 644") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_file(&path).unwrap().len(), 1);
        std::fs::remove_file(&path).unwrap();
    }
}
