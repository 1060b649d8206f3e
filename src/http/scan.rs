//! Byte searches for the parser and router, eight bytes at a time.
//!
//! A request head is searched several times (for its end, each line's end, the spaces of the
//! request line), and a long target made these byte-at-a-time loops the parser's main cost
//! (perf on a 1 KiB `/echo/` target: a sixth of the server's CPU in `parse_head_reusing`).
//! std has no public `memchr` for slices, so these look at a word at a time ("SWAR"): XOR with
//! the wanted byte turns matches into zero bytes, and `(v - 0x01..01) & !v & 0x80..80` marks
//! the zero bytes. Its lowest set bit is always a true match (a false mark can only appear
//! above a true one), so the first match is exact.

const LOW_BITS: u64 = u64::from_le_bytes([0x01; 8]);
const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each zero byte of `v` set (plus, possibly, marks above the lowest one).
#[inline]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LOW_BITS) & !v & HIGH_BITS
}

/// Searches for the first byte for which `mark` (applied to eight bytes at a time, read little-
/// endian) gives a mark, or `matches` (on the tail) says yes.
#[inline]
fn first_marked(
    hay: &[u8],
    mark: impl Fn(u64) -> u64,
    matches: impl Fn(u8) -> bool,
) -> Option<usize> {
    let (words, tail) = hay.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let m = mark(u64::from_le_bytes(*word));
        if m != 0 {
            return Some(i * 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    let done = words.len() * 8;
    tail.iter().position(|&b| matches(b)).map(|i| done + i)
}

/// The index of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let n = LOW_BITS * u64::from(needle);
    first_marked(hay, |v| zero_bytes(v ^ n), |b| b == needle)
}

/// The index of the first byte of `hay` that is `a` or `b`.
pub fn find_either(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let (na, nb) = (LOW_BITS * u64::from(a), LOW_BITS * u64::from(b));
    // Marks from either search, combined before taking the lowest: each one's lowest mark is
    // exact, so the lowest of the two is too.
    first_marked(
        hay,
        |v| zero_bytes(v ^ na) | zero_bytes(v ^ nb),
        |c| c == a || c == b,
    )
}

/// Whether every byte is visible ASCII (0x21..=0x7E): the characters of a request target.
pub fn all_visible(bytes: &[u8]) -> bool {
    // No early exit inside a block, so the compiler can compare many bytes at once.
    bytes.chunks(64).all(|block| {
        block
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x21) < 0x7f - 0x21))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_find(hay: &[u8], needle: u8) -> Option<usize> {
        hay.iter().position(|&b| b == needle)
    }

    #[test]
    fn find_agrees_with_a_byte_loop_at_every_position_and_length() {
        // Every length to three words and a bit, the needle at every place, alone, twice, and
        // next to bytes that differ from it by one bit or one unit (borrow and carry cases).
        for len in 0..30 {
            for at in 0..=len {
                for filler in [0u8, 0x01, b'\n' - 1, b'\n' + 1, 0x0b, 0x8a, 0xff, b'a'] {
                    let mut hay = vec![filler; len];
                    if at < len {
                        hay[at] = b'\n';
                        if at + 3 < len {
                            hay[at + 3] = b'\n';
                        }
                    }
                    assert_eq!(find(&hay, b'\n'), naive_find(&hay, b'\n'), "{hay:?}");
                    assert_eq!(find(&hay, filler), naive_find(&hay, filler), "{hay:?}");
                }
            }
        }
        for needle in 0..=255u8 {
            let hay: Vec<u8> = (0..=255u8).rev().collect();
            assert_eq!(find(&hay, needle), naive_find(&hay, needle));
        }
    }

    #[test]
    fn find_either_gives_the_first_of_two() {
        for len in 0..26 {
            for a_at in 0..=len {
                for b_at in 0..=len {
                    let mut hay = vec![b'x'; len];
                    if a_at < len {
                        hay[a_at] = b'?';
                    }
                    if b_at < len {
                        hay[b_at] = b'#';
                    }
                    let want = hay.iter().position(|&c| c == b'?' || c == b'#');
                    assert_eq!(find_either(&hay, b'?', b'#'), want, "{hay:?}");
                }
            }
        }
    }

    #[test]
    fn all_visible_is_exactly_0x21_to_0x7e() {
        for b in 0..=255u8 {
            let want = (0x21..=0x7e).contains(&b);
            for len in [1, 7, 8, 9, 63, 64, 65, 130] {
                for at in [0, len / 2, len - 1] {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(all_visible(&s), want, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(all_visible(b""));
    }
}
