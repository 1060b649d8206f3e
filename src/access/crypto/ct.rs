//! Comparison in constant time: how long it takes does not depend on where two equal-length
//! byte strings first differ.
//!
//! Out of scope: hiding lengths; callers compare fixed-size digests, whose length is public.

use std::hint::black_box;

/// Whether `a` and `b` are equal, looking at every byte whatever the earlier ones were.
/// Different lengths are unequal at once (the length is not secret where this is used).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= black_box(x ^ y);
    }
    black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_is() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"Secret"));
        assert!(!ct_eq(b"secret", b"secre"));
        assert!(!ct_eq(b"", b"x"));
    }
}
