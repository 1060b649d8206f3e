//! Stored passwords: `pbkdf2-sha256$ITERATIONS$SALT$HASH` (salt and hash in standard base64),
//! the form an `--auth-file` may hold instead of a plain password, and random salts.
//!
//! Out of scope: the users that own them (`access::users`).

use super::base64;
use super::ct::ct_eq;
use super::pbkdf2::pbkdf2_hmac_sha256;
use std::io::{self, Read};

/// Rounds for a new hash: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// Fewest rounds a stored hash may have.
pub const MIN_ITERATIONS: u32 = 1_000;
/// Most rounds a stored hash may have (each login check costs them, once: see `cache`).
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Bytes of salt in a new hash.
pub const SALT_BYTES: usize = 16;
/// Longest salt accepted in a stored hash.
pub const MAX_SALT_BYTES: usize = 64;

const SCHEME: &str = "pbkdf2-sha256";

/// A stored password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: [u8; 32],
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the salt or the hash: a debug print must not help an offline guess.
        write!(f, "PasswordHash({SCHEME}, {} rounds)", self.iterations)
    }
}

impl PasswordHash {
    /// Hashes `password` with a new random salt.
    ///
    /// # Errors
    /// When `/dev/urandom` cannot be read (never a weaker salt instead).
    pub fn new(password: &[u8], iterations: u32) -> io::Result<PasswordHash> {
        let mut salt = vec![0u8; SALT_BYTES];
        random_bytes(&mut salt)?;
        let mut hash = [0u8; 32];
        pbkdf2_hmac_sha256(password, &salt, iterations, &mut hash);
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// A hash that no password matches (a random salt and a random hash, never computed), that
    /// costs `iterations` rounds to check like any other: for names nobody has.
    ///
    /// # Errors
    /// When `/dev/urandom` cannot be read.
    pub fn decoy(iterations: u32) -> io::Result<PasswordHash> {
        let mut salt = vec![0u8; SALT_BYTES];
        let mut hash = [0u8; 32];
        random_bytes(&mut salt)?;
        random_bytes(&mut hash)?;
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// What is wrong with it, in one line.
    pub fn parse(s: &str) -> Result<PasswordHash, String> {
        let mut parts = s.split('$');
        if parts.next() != Some(SCHEME) {
            return Err(format!("unknown password scheme (expected {SCHEME}$...)"));
        }
        let (Some(iterations), Some(salt), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("expected {SCHEME}$ITERATIONS$SALT$HASH"));
        };
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|n| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(n))
            .ok_or_else(|| {
                format!("iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}")
            })?;
        let salt = base64::decode(salt.as_bytes()).ok_or("the salt is not base64")?;
        if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
            return Err(format!("the salt must be 1 to {MAX_SALT_BYTES} bytes"));
        }
        let hash: [u8; 32] = base64::decode(hash.as_bytes())
            .ok_or("the hash is not base64")?
            .try_into()
            .map_err(|_| "the hash must be 32 bytes".to_string())?;
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// The stored form.
    pub fn to_line(&self) -> String {
        format!(
            "{SCHEME}${}${}${}",
            self.iterations,
            base64::encode(&self.salt),
            base64::encode(&self.hash)
        )
    }

    /// The PBKDF2 rounds of this hash.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Whether `password` is the one hashed (compared in constant time).
    pub fn verify(&self, password: &[u8]) -> bool {
        let mut got = [0u8; 32];
        pbkdf2_hmac_sha256(password, &self.salt, self.iterations, &mut got);
        ct_eq(&got, &self.hash)
    }
}

/// Fills `buf` from the kernel's random source.
///
/// # Errors
/// When `/dev/urandom` cannot be opened or read.
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with Python: salt b"0123456789abcdef", password b"hunter2", 1000 rounds.
    const FROM_PYTHON: &str =
        "pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg==$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g=";

    #[test]
    fn a_hash_from_pythons_hashlib_verifies() {
        let h = PasswordHash::parse(FROM_PYTHON).unwrap();
        assert!(h.verify(b"hunter2"));
        assert!(!h.verify(b"hunter3"));
        assert!(!h.verify(b""));
        assert_eq!(h.to_line(), FROM_PYTHON);
    }

    #[test]
    fn new_hashes_round_trip_with_fresh_salts() {
        let a = PasswordHash::new(b"pw", MIN_ITERATIONS).unwrap();
        let b = PasswordHash::new(b"pw", MIN_ITERATIONS).unwrap();
        assert_ne!(a.salt, b.salt);
        assert_eq!(a.salt.len(), SALT_BYTES);
        let parsed = PasswordHash::parse(&a.to_line()).unwrap();
        assert_eq!(parsed, a);
        assert!(parsed.verify(b"pw"));
    }

    #[test]
    fn malformed_hashes_say_why() {
        let salt = "MDEyMzQ1Njc4OWFiY2RlZg==";
        let hash = "pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g=";
        let cases = [
            ("bcrypt$1000$x$y".to_string(), "unknown password scheme"),
            (format!("pbkdf2-sha256$1000${salt}"), "expected"),
            (format!("pbkdf2-sha256$1000${salt}${hash}$x"), "expected"),
            (format!("pbkdf2-sha256$999${salt}${hash}"), "iterations"),
            (
                format!("pbkdf2-sha256$99999999999${salt}${hash}"),
                "iterations",
            ),
            (format!("pbkdf2-sha256$x${salt}${hash}"), "iterations"),
            (
                format!("pbkdf2-sha256$1000$!!${hash}"),
                "salt is not base64",
            ),
            (format!("pbkdf2-sha256$1000$${hash}"), "salt must be"),
            (format!("pbkdf2-sha256$1000${salt}$AAAA"), "32 bytes"),
            (
                format!("pbkdf2-sha256$1000${salt}$%%"),
                "hash is not base64",
            ),
        ];
        for (line, want) in cases {
            let err = PasswordHash::parse(&line).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }
}
