//! PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-256 as its pseudo-random function.
//!
//! Out of scope: the stored form of a password (`password`).

use super::hmac::HmacSha256;

/// Fills `out` with the key derived from `password` and `salt` in `iterations` rounds (0 counts
/// as 1). Any `out` length works.
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let keyed = HmacSha256::new(password);
    for (i, block) in out.chunks_mut(32).enumerate() {
        // Block numbers start at 1; a u32 covers 137 GB of output, far past any use here.
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut mac = keyed.clone();
        mac.update(salt);
        mac.update(&index.to_be_bytes());
        let mut u = mac.finish();
        let mut t = u;
        for _ in 1..iterations.max(1) {
            let mut mac = keyed.clone();
            mac.update(&u);
            u = mac.finish();
            t.iter_mut().zip(u).for_each(|(t, u)| *t ^= u);
        }
        block.iter_mut().zip(t).for_each(|(b, t)| *b = t);
    }
}

#[cfg(test)]
mod tests {
    use super::super::sha256::hex;
    use super::*;

    #[test]
    fn rfc_7914_section_11_vectors() {
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
        pbkdf2_hmac_sha256(b"Password", b"NaCl", 80_000, &mut out);
        assert_eq!(
            hex(&out),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
             a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
        );
    }

    #[test]
    fn agrees_with_pythons_hashlib() {
        // hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 4096, 32)
        let mut out = [0u8; 32];
        pbkdf2_hmac_sha256(b"password", b"salt", 4096, &mut out);
        assert_eq!(
            hex(&out),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }
}
