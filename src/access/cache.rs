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
