//! HMAC-SHA-256 (RFC 2104), with the keyed inner and outer states computed once, so that
//! PBKDF2 pays two compressions per round, not four.
//!
//! Out of scope: the hash itself (`sha256`).

use super::sha256::{Sha256, BLOCK};

/// An HMAC-SHA-256 in progress, or a keyed state to clone for each message.
#[derive(Clone)]
pub struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    pub fn new(key: &[u8]) -> HmacSha256 {
        // A key longer than a block is hashed first (RFC 2104 §2).
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let digest = super::sha256::sha256(key);
            block.iter_mut().zip(digest).for_each(|(b, d)| *b = d);
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let mut inner = Sha256::new();
        let mut outer = Sha256::new();
        inner.update(&block.map(|b| b ^ 0x36));
        outer.update(&block.map(|b| b ^ 0x5c));
        HmacSha256 { inner, outer }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    pub fn finish(self) -> [u8; 32] {
        let inner = self.inner.finish();
        let mut outer = self.outer;
        outer.update(&inner);
        outer.finish()
    }
}

/// The HMAC-SHA-256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut h = HmacSha256::new(key);
    h.update(message);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::super::sha256::hex;
    use super::*;

    #[test]
    fn rfc_4231_vectors() {
        let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, msg, want)) in cases.iter().enumerate() {
            assert_eq!(hex(&hmac_sha256(key, msg)), *want, "case {}", i + 1);
        }
        // Case 5: truncated to 128 bits.
        let out = hmac_sha256(&[0x0c; 20], b"Test With Truncation");
        assert_eq!(hex(&out[..16]), "a3b6167473100ee06e0c796c2955552b");
    }
}
