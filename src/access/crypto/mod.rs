//! The cryptography that access control needs, written here (the crate has no dependency for
//! it): SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256, base64, and comparison in constant time.
