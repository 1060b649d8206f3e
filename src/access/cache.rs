//! Logins remembered: checking a stored password hash costs PBKDF2's hundreds of thousands of
//! rounds, too much for every request of a browser that sends its credentials each time. A
//! right `Authorization` value for such a user is remembered, as an HMAC under a key made at
//! start-up (the values themselves are never kept), for the `MAX_ENTRIES` most recent logins.
//!
//! Out of scope: checking the password (`users`).

use crate::access::crypto::hmac::hmac_sha256;
use crate::access::crypto::password::random_bytes;
use crate::access::users::UserId;
use std::collections::VecDeque;
use std::io;
use std::sync::{Mutex, PoisonError};

/// Logins remembered.
pub const MAX_ENTRIES: usize = 64;

pub struct LoginCache {
    key: [u8; 32],
    entries: Mutex<VecDeque<([u8; 32], UserId)>>,
}

impl LoginCache {
    /// # Errors
    /// When no random key can be had (no `/dev/urandom`).
    pub fn new() -> io::Result<LoginCache> {
        let mut key = [0u8; 32];
        random_bytes(&mut key)?;
        Ok(LoginCache {
            key,
            entries: Mutex::new(VecDeque::with_capacity(MAX_ENTRIES)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<([u8; 32], UserId)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The user a remembered `Authorization` value logged in as.
    pub fn get(&self, authorization: &[u8]) -> Option<UserId> {
        let tag = hmac_sha256(&self.key, authorization);
        self.lock()
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, id)| *id)
    }

    /// Remembers a right `Authorization` value; the oldest goes when full.
    pub fn put(&self, authorization: &[u8], id: UserId) {
        let tag = hmac_sha256(&self.key, authorization);
        let mut entries = self.lock();
        if entries.iter().any(|(t, _)| *t == tag) {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((tag, id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::users::Users;
    use crate::config::{Rights, UserEntry};

    #[test]
    fn remembers_the_most_recent_logins_only() {
        let entries: Vec<UserEntry> = (0..2)
            .map(|i| UserEntry {
                name: format!("u{i}"),
                password: "pw".into(),
                rights: Rights::Read,
            })
            .collect();
        let users = Users::new(&entries).unwrap();
        let (a, b) = (
            users.verify(b"u0", b"pw").unwrap(),
            users.verify(b"u1", b"pw").unwrap(),
        );
        let cache = LoginCache::new().unwrap();
        assert_eq!(cache.get(b"Basic x"), None);
        cache.put(b"Basic x", a);
        cache.put(b"Basic x", a);
        assert_eq!(cache.get(b"Basic x"), Some(a));
        assert_eq!(cache.get(b"Basic y"), None);
        for i in 0..MAX_ENTRIES {
            cache.put(format!("Basic {i}").as_bytes(), b);
        }
        assert_eq!(cache.get(b"Basic x"), None, "the oldest went");
        assert_eq!(cache.get(b"Basic 0"), Some(b));
        assert_eq!(cache.lock().len(), MAX_ENTRIES);
    }
}
