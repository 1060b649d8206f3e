//! The cryptography that access control needs, written here (the crate has no dependency for
//! it): SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256, base64, comparison in constant time, and
//! stored password hashes.

pub mod base64;
pub mod ct;
pub mod hmac;
pub mod password;
pub mod pbkdf2;
pub mod sha256;
