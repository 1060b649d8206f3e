//! Base64 with the standard alphabet and `=` padding (RFC 4648 §4). Decoding is strict: only
//! the canonical encoding of some bytes is accepted.
//!
//! Out of scope: the URL-safe alphabet, line breaks, missing padding.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    let symbol = |n: u32, shift: u32| {
        char::from(
            ALPHABET
                .get(((n >> shift) & 63) as usize)
                .copied()
                .unwrap_or(b'='),
        )
    };
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(symbol(n, 18));
        out.push(symbol(n, 12));
        out.push(if chunk.len() > 1 { symbol(n, 6) } else { '=' });
        out.push(if chunk.len() > 2 { symbol(n, 0) } else { '=' });
    }
    out
}

fn value(symbol: u8) -> Option<u32> {
    let v = match symbol {
        b'A'..=b'Z' => symbol - b'A',
        b'a'..=b'z' => symbol - b'a' + 26,
        b'0'..=b'9' => symbol - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The bytes `text` encodes, or `None` unless it is canonical base64.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, quad) in text.chunks_exact(4).enumerate() {
        let last = i + 1 == quads;
        let pads = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &symbol in quad.get(..4 - pads)? {
            n = (n << 6) | value(symbol)?;
        }
        n <<= 6 * pads as u32;
        let bytes = n.to_be_bytes();
        let keep = 3 - pads;
        // The bits a padded quad does not use must be zero (canonical form).
        if bytes
            .get(1 + keep..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return None;
        }
        out.extend_from_slice(bytes.get(1..1 + keep)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc_4648_vectors_both_ways() {
        for (plain, coded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *coded);
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        for bad in [
            "Zg", "Zg=", "Z===", "Zm9v=", "Zh==", "Zm9=", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-_",
            "====", "Zg=a",
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_every_length() {
        let mut x: u32 = 12345;
        for len in 0..=300 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            assert_eq!(decode(encode(&data).as_bytes()).unwrap(), data, "{len}");
        }
    }
}
