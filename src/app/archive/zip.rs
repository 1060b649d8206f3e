//! Zip records (PKWARE APPNOTE 6.3.10), written as a stream: each entry's local header says its
//! sizes come after the data (flag bit 3, a data descriptor), names are flagged UTF-8 (bit 11),
//! and Zip64 fields are used where a size or an offset passes 4 GiB or the entries pass 65 535,
//! and only there. Times are the DOS fields (UTC) plus the exact Unix time in an extended
//! timestamp field (0x5455), which unzip and bsdtar read.
//!
//! With stored entries every length is known before the first byte, so the archive's is too
//! ([`stored_len`]).
//!
//! Out of scope: walking the folder, reading and compressing the files (`mod.rs`).

/// Where a size or an offset needs Zip64: at 0xFFFFFFFF the 32-bit field means "see Zip64".
const ZIP64_FROM: u64 = 0xFFFF_FFFF;
/// Entries past this need the Zip64 end records.
const MAX_ENTRIES_WITHOUT_ZIP64: usize = 0xFFFF;

pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;

const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// "Made by" Unix, version 4.5 (Zip64).
const MADE_BY: u16 = (3 << 8) | 45;
const VERSION_PLAIN: u16 = 20;
const VERSION_ZIP64: u16 = 45;

/// What the central directory needs of an entry once its data has gone.
#[derive(Debug, Clone)]
pub struct Written {
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub method: u16,
    pub mtime: u64,
    pub crc: u32,
    pub compressed: u64,
    pub size: u64,
    /// Where its local header starts.
    pub offset: u64,
    /// Whether its local header and descriptor use Zip64 (decided before its data).
    pub zip64: bool,
}

/// Whether an entry of `size` bytes (before compression) starting at `offset` is written with
/// Zip64 sizes. Deflate can grow incompressible data a little: a margin keeps a file just under
/// 4 GiB safe.
pub fn needs_zip64(size: u64, offset: u64) -> bool {
    size >= ZIP64_FROM - (1 << 20) || offset >= ZIP64_FROM
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A 32-bit field for a value that may have moved to Zip64.
fn field32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX).min(ZIP64_FROM as u32)
}

/// DOS date and time (UTC; 2 s resolution; 1980 to 2107).
fn dos_time(mtime: u64) -> (u16, u16) {
    let (y, m, d) = crate::calendar::civil_from_days(mtime / 86_400);
    let rem = mtime % 86_400;
    if y < 1980 {
        return (0, (1 << 5) | 1);
    }
    let y = (y - 1980).min(127);
    let time = ((rem / 3600) << 11) | (((rem % 3600) / 60) << 5) | ((rem % 60) / 2);
    let date = (y << 9) | (m << 5) | d;
    (time as u16, date as u16)
}

/// The extended timestamp extra field: the modification time only.
fn put_unix_time(out: &mut Vec<u8>, mtime: u64) {
    put16(out, 0x5455);
    put16(out, 5);
    out.push(1);
    put32(out, u32::try_from(mtime).unwrap_or(u32::MAX));
}

/// An entry's local header (its sizes follow in the descriptor).
pub fn local_header(name: &[u8], method: u16, mtime: u64, zip64: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(30 + name.len() + 29);
    put32(&mut out, 0x0403_4b50);
    put16(&mut out, if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN });
    put16(&mut out, FLAG_DESCRIPTOR | FLAG_UTF8);
    put16(&mut out, method);
    let (time, date) = dos_time(mtime);
    put16(&mut out, time);
    put16(&mut out, date);
    put32(&mut out, 0); // CRC: in the descriptor
    let unknown = if zip64 { u32::MAX } else { 0 };
    put32(&mut out, unknown);
    put32(&mut out, unknown);
    put16(&mut out, name.len() as u16);
    put16(&mut out, 9 + if zip64 { 20 } else { 0 });
    out.extend_from_slice(name);
    put_unix_time(&mut out, mtime);
    if zip64 {
        // Sizes in the descriptor; these say so (APPNOTE 4.5.3).
        put16(&mut out, 0x0001);
        put16(&mut out, 16);
        put64(&mut out, 0);
        put64(&mut out, 0);
    }
    out
}

/// Bytes of [`local_header`] for this name.
pub fn local_header_len(name: &[u8], zip64: bool) -> u64 {
    30 + name.len() as u64 + 9 + if zip64 { 20 } else { 0 }
}

/// The data descriptor after an entry's data.
pub fn descriptor(w: &Written) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    put32(&mut out, 0x0807_4b50);
    put32(&mut out, w.crc);
    if w.zip64 {
        put64(&mut out, w.compressed);
        put64(&mut out, w.size);
    } else {
        put32(&mut out, w.compressed as u32);
        put32(&mut out, w.size as u32);
    }
    out
}

pub fn descriptor_len(zip64: bool) -> u64 {
    if zip64 {
        24
    } else {
        16
    }
}

/// An entry's record in the central directory.
pub fn central_record(w: &Written) -> Vec<u8> {
    let mut extra = Vec::new();
    put_unix_time(&mut extra, w.mtime);
    let big = [w.size, w.compressed, w.offset]
        .iter()
        .any(|&v| v >= ZIP64_FROM);
    if big {
        let mut fields = Vec::new();
        if w.size >= ZIP64_FROM {
            put64(&mut fields, w.size);
        }
        if w.compressed >= ZIP64_FROM {
            put64(&mut fields, w.compressed);
        }
        if w.offset >= ZIP64_FROM {
            put64(&mut fields, w.offset);
        }
        put16(&mut extra, 0x0001);
        put16(&mut extra, fields.len() as u16);
        extra.extend_from_slice(&fields);
    }
    let mut out = Vec::with_capacity(46 + w.name.len() + extra.len());
    put32(&mut out, 0x0201_4b50);
    put16(&mut out, MADE_BY);
    put16(
        &mut out,
        if big || w.zip64 {
            VERSION_ZIP64
        } else {
            VERSION_PLAIN
        },
    );
    put16(&mut out, FLAG_DESCRIPTOR | FLAG_UTF8);
    put16(&mut out, w.method);
    let (time, date) = dos_time(w.mtime);
    put16(&mut out, time);
    put16(&mut out, date);
    put32(&mut out, w.crc);
    put32(&mut out, field32(w.compressed));
    put32(&mut out, field32(w.size));
    put16(&mut out, w.name.len() as u16);
    put16(&mut out, extra.len() as u16);
    put16(&mut out, 0); // comment
    put16(&mut out, 0); // disk
    put16(&mut out, 0); // internal attributes
                        // External attributes: the Unix mode in the high half, and MS-DOS's directory bit.
    let mode: u32 = if w.is_dir { 0o040_755 } else { 0o100_644 };
    put32(&mut out, (mode << 16) | u32::from(w.is_dir) << 4);
    put32(&mut out, field32(w.offset));
    out.extend_from_slice(&w.name);
    out.extend_from_slice(&extra);
    out
}

/// Bytes of [`central_record`].
pub fn central_record_len(name: &[u8], size: u64, compressed: u64, offset: u64) -> u64 {
    let big: u64 = [size, compressed, offset]
        .iter()
        .map(|&v| u64::from(v >= ZIP64_FROM) * 8)
        .sum();
    46 + name.len() as u64 + 9 + if big > 0 { 4 + big } else { 0 }
}

/// The end records, after the central directory of `entries` records, `size` bytes, starting
/// at `offset`: the Zip64 ones where needed, then the classic one.
pub fn end_records(entries: usize, offset: u64, size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(98);
    let zip64 = entries >= MAX_ENTRIES_WITHOUT_ZIP64 || offset >= ZIP64_FROM || size >= ZIP64_FROM;
    let end_of_central = offset + size;
    if zip64 {
        put32(&mut out, 0x0606_4b50);
        put64(&mut out, 44);
        put16(&mut out, MADE_BY);
        put16(&mut out, VERSION_ZIP64);
        put32(&mut out, 0);
        put32(&mut out, 0);
        put64(&mut out, entries as u64);
        put64(&mut out, entries as u64);
        put64(&mut out, size);
        put64(&mut out, offset);
        // The locator.
        put32(&mut out, 0x0706_4b50);
        put32(&mut out, 0);
        put64(&mut out, end_of_central);
        put32(&mut out, 1);
    }
    let count = u16::try_from(entries).unwrap_or(u16::MAX);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, field32(size));
    put32(&mut out, field32(offset));
    put16(&mut out, 0);
    out
}

pub fn end_records_len(entries: usize, offset: u64, size: u64) -> u64 {
    let zip64 = entries >= MAX_ENTRIES_WITHOUT_ZIP64 || offset >= ZIP64_FROM || size >= ZIP64_FROM;
    22 + if zip64 { 56 + 20 } else { 0 }
}

/// The length of a zip of stored entries, given (name, size) of each in order: every record's
/// length depends only on names, sizes and offsets, all known before the first byte.
pub fn stored_len<'a>(entries: impl Iterator<Item = (&'a [u8], u64)>) -> u64 {
    let mut offset = 0u64;
    let mut central = 0u64;
    let mut count = 0usize;
    for (name, size) in entries {
        let zip64 = needs_zip64(size, offset);
        central += central_record_len(name, size, size, offset);
        offset += local_header_len(name, zip64) + size + descriptor_len(zip64);
        count += 1;
    }
    offset + central + end_records_len(count, offset, central)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_match_what_is_written() {
        for name in [&b"a"[..], "日本語/ファイル.txt".as_bytes()] {
            for zip64 in [false, true] {
                assert_eq!(
                    local_header(name, STORED, 0, zip64).len() as u64,
                    local_header_len(name, zip64)
                );
                let w = Written {
                    name: name.to_vec(),
                    is_dir: false,
                    method: STORED,
                    mtime: 1_700_000_000,
                    crc: 1,
                    compressed: 5,
                    size: 5,
                    offset: 7,
                    zip64,
                };
                assert_eq!(descriptor(&w).len() as u64, descriptor_len(zip64));
            }
            for (size, offset) in [
                (5, 7),
                (ZIP64_FROM, 0),
                (1, ZIP64_FROM + 1),
                (u64::MAX / 2, u64::MAX / 2),
            ] {
                let w = Written {
                    name: name.to_vec(),
                    is_dir: false,
                    method: STORED,
                    mtime: 0,
                    crc: 0,
                    compressed: size,
                    size,
                    offset,
                    zip64: true,
                };
                assert_eq!(
                    central_record(&w).len() as u64,
                    central_record_len(name, size, size, offset)
                );
            }
        }
        for (entries, offset, size) in [(3, 10, 10), (70_000, 10, 10), (1, ZIP64_FROM, 1)] {
            assert_eq!(
                end_records(entries, offset, size).len() as u64,
                end_records_len(entries, offset, size)
            );
        }
    }

    #[test]
    fn dos_times() {
        // 2023-11-14 22:13:20 UTC.
        let (time, date) = dos_time(1_700_000_000);
        assert_eq!(date, ((2023 - 1980) << 9) | (11 << 5) | 14);
        assert_eq!(time, (22 << 11) | (13 << 5) | 10);
        assert_eq!(
            dos_time(0),
            (0, (1 << 5) | 1),
            "before 1980: the earliest DOS date"
        );
    }
}
