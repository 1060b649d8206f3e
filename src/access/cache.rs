//! Logins remembered: checking a stored password hash costs PBKDF2's hundreds of thousands of
//! rounds, too much for every request of a browser that sends its credentials each time. A
//! right `Authorization` value for such a user is remembered, as an HMAC under a key made at
//! start-up (the values themselves are never kept), for the `MAX_ENTRIES` most recently used
//! logins.
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

/// What stands for an `Authorization` value: its HMAC under the start-up key.
pub type Tag = [u8; 32];

pub struct LoginCache {
    key: [u8; 32],
    entries: Mutex<VecDeque<(Tag, UserId)>>,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Tag, UserId)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tag of an `Authorization` value, by which it is remembered.
    pub fn tag(&self, authorization: &[u8]) -> Tag {
        hmac_sha256(&self.key, authorization)
    }

    /// The user a remembered `Authorization` value logged in as. A hit becomes the most
    /// recent entry, so the logins in use stay while unused ones go first.
    pub fn get(&self, tag: &Tag) -> Option<UserId> {
        let mut entries = self.lock();
        let i = entries.iter().rposition(|(t, _)| t == tag)?;
        // Already the most recent (one user, the usual case): nothing to move.
        if i + 1 < entries.len() {
            let entry = entries.remove(i)?;
            entries.push_back(entry);
        }
        entries.back().map(|(_, id)| *id)
    }

    /// Remembers a right `Authorization` value; the least recently used goes when full.
    pub fn put(&self, tag: Tag, id: UserId) {
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
        let tag = |s: &str| cache.tag(s.as_bytes());
        assert_eq!(cache.get(&tag("Basic x")), None);
        cache.put(tag("Basic x"), a);
        cache.put(tag("Basic x"), a);
        assert_eq!(cache.get(&tag("Basic x")), Some(a));
        assert_eq!(cache.get(&tag("Basic y")), None);
        for i in 0..MAX_ENTRIES {
            cache.put(tag(&format!("Basic {i}")), b);
        }
        assert_eq!(cache.get(&tag("Basic x")), None, "the oldest went");
        assert_eq!(cache.lock().len(), MAX_ENTRIES);
        // A login in use stays: "Basic 0" is used, so "Basic 1" goes before it.
        assert_eq!(cache.get(&tag("Basic 0")), Some(b));
        cache.put(tag("Basic new"), a);
        assert_eq!(
            cache.get(&tag("Basic 1")),
            None,
            "the least recently used went"
        );
        assert_eq!(cache.get(&tag("Basic 0")), Some(b));
        assert_eq!(cache.get(&tag("Basic new")), Some(a));
    }
}
