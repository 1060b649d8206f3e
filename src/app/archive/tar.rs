//! Tar headers, POSIX.1-2001 (pax) over ustar: a 512-byte ustar header per entry, preceded by
//! a pax extended header where a name does not fit ustar's fields (longer than 100 bytes, or
//! not splittable into a 155-byte prefix and a 100-byte name) or a size does not fit its 11
//! octal digits (8 GiB and over). Every length is known before the first byte, so an archive's
//! size is too.
//!
//! Out of scope: walking the folder and reading the files (`mod.rs`).

/// A tar block.
pub const BLOCK: u64 = 512;
/// Largest size ustar's 11 octal digits hold.
const MAX_USTAR_SIZE: u64 = 0o77_777_777_777;

/// Bytes that end a tar archive: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];

/// Rounds up to whole blocks.
pub fn padded(len: u64) -> u64 {
    len.div_ceil(BLOCK) * BLOCK
}

/// The header(s) of one entry: `name` is its path in the archive ('/'-separated, a folder's
/// ending in '/'), `size` 0 for a folder.
pub fn header(name: &[u8], size: u64, mtime: u64, is_dir: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK as usize);
    let split = ustar_split(name);
    let mut records = Vec::new();
    if split.is_none() {
        pax_record(&mut records, b"path", name);
    }
    if size > MAX_USTAR_SIZE {
        pax_record(&mut records, b"size", size.to_string().as_bytes());
    }
    if !records.is_empty() {
        let mut pax_name = b"PaxHeaders/".to_vec();
        pax_name.extend_from_slice(tail(name, 80));
        out.extend_from_slice(&ustar((b"", &pax_name), records.len() as u64, mtime, b'x'));
        let len = records.len() as u64;
        out.extend_from_slice(&records);
        out.resize(out.len() + (padded(len) - len) as usize, 0);
    }
    let (prefix, short) = split.unwrap_or((b"", tail(name, 100)));
    let ustar_size = if size > MAX_USTAR_SIZE { 0 } else { size };
    let kind = if is_dir { b'5' } else { b'0' };
    out.extend_from_slice(&ustar((prefix, short), ustar_size, mtime, kind));
    out
}

/// The bytes of `header(name, size, ...)` without making it: for the archive's length.
pub fn header_len(name: &[u8], size: u64) -> u64 {
    let mut records = 0;
    if ustar_split(name).is_none() {
        records += pax_record_len(b"path", name.len());
    }
    if size > MAX_USTAR_SIZE {
        records += pax_record_len(b"size", size.to_string().len());
    }
    let pax = if records == 0 {
        0
    } else {
        BLOCK + padded(records as u64)
    };
    pax + BLOCK
}

/// The last `n` bytes of a name (what ustar's fields keep of one too long for them).
fn tail(name: &[u8], n: usize) -> &[u8] {
    name.get(name.len().saturating_sub(n)..).unwrap_or_default()
}

/// `name` as ustar's (prefix, name) fields, split at a '/', if it fits them.
fn ustar_split(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= 100 {
        return Some((b"", name));
    }
    // The prefix ends at a '/' that is not kept; the rest must fit in 100 bytes.
    let start = name.len().saturating_sub(101);
    let cut = name
        .iter()
        .enumerate()
        .skip(start)
        .find(|&(_, &b)| b == b'/')
        .map(|(i, _)| i)?;
    let (prefix, rest) = (name.get(..cut)?, name.get(cut + 1..)?);
    (prefix.len() <= 155 && !rest.is_empty() && rest.len() <= 100).then_some((prefix, rest))
}

/// Appends one pax record: `"%d %s=%s\n"`, the length counting itself.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let len = pax_record_len(key, value.len());
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn pax_record_len(key: &[u8], value_len: usize) -> usize {
    // " key=value\n" plus the digits of the whole, which may tip it over a power of ten.
    let rest = 1 + key.len() + 1 + value_len + 1;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    len
}

/// One ustar header block.
fn ustar((prefix, name): (&[u8], &[u8]), size: u64, mtime: u64, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    let mut put = |at: usize, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            if let Some(slot) = h.get_mut(at + i) {
                *slot = *b;
            }
        }
    };
    put(0, name);
    let mode: &[u8] = if kind == b'5' {
        b"0000755\0"
    } else {
        b"0000644\0"
    };
    put(100, mode);
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{size:011o}\0").as_bytes());
    // 11 octal digits hold times until the year 4147.
    put(
        136,
        format!("{:011o}\0", mtime.min(MAX_USTAR_SIZE)).as_bytes(),
    );
    put(148, b"        ");
    put(156, &[kind]);
    put(257, b"ustar\0");
    put(263, b"00");
    put(345, prefix);
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let mut h2 = h;
    for (i, b) in format!("{sum:06o}\0 ").bytes().enumerate() {
        if let Some(slot) = h2.get_mut(148 + i) {
            *slot = b;
        }
    }
    h2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_what_is_written() {
        let long = "d/".repeat(120) + "file.txt";
        let names: [&[u8]; 5] = [
            b"a.txt",
            b"folder/",
            long.as_bytes(),
            "é/日本語.txt".as_bytes(),
            &[b'x'; 300],
        ];
        for name in names {
            for size in [0, 1, 511, 512, 513, MAX_USTAR_SIZE, MAX_USTAR_SIZE + 1] {
                assert_eq!(
                    header(name, size, 1_700_000_000, false).len() as u64,
                    header_len(name, size),
                    "{} bytes, size {size}",
                    name.len()
                );
            }
        }
    }

    #[test]
    fn pax_record_lengths_count_their_own_digits() {
        for n in 0..1200 {
            let mut out = Vec::new();
            pax_record(&mut out, b"path", &vec![b'a'; n]);
            let (digits, _) = std::str::from_utf8(&out).unwrap().split_once(' ').unwrap();
            assert_eq!(digits.parse::<usize>().unwrap(), out.len(), "{n}");
        }
    }

    #[test]
    fn names_split_into_prefix_and_name_where_they_fit() {
        assert_eq!(ustar_split(b"short"), Some((&b""[..], &b"short"[..])));
        let name = format!("{}/{}", "p".repeat(150), "n".repeat(99));
        let (prefix, rest) = ustar_split(name.as_bytes()).unwrap();
        assert_eq!((prefix.len(), rest.len()), (150, 99));
        assert_eq!(
            ustar_split("x".repeat(101).as_bytes()),
            None,
            "no '/' to split at"
        );
        let too_long_prefix = format!("{}/{}", "p".repeat(156), "n");
        assert_eq!(ustar_split(too_long_prefix.as_bytes()), None);
    }
}
