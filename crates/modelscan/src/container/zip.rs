//! A lenient zip reader. `torch.load` (miniz) opens archives that Python's `zipfile`
//! rejects, and scanners built on `zipfile` have been bypassed that way (a corrupt
//! central directory, lying flag bits). So members come from the central directory when
//! it reads, and from walking the local headers always; the union is scanned.

use crate::blob::{Cursor, ReadAt, SubBlob};
use std::collections::BTreeMap;
use std::io::Read;

const LOCAL: &[u8; 4] = b"PK\x03\x04";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const END: &[u8; 4] = b"PK\x05\x06";
const END64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub method: u16,
    pub flags: u16,
    pub compressed: u64,
    pub size: u64,
    pub header_offset: u64,
    pub data_offset: u64,
    /// Found only by walking local headers: invisible to `zipfile`.
    pub hidden: bool,
}

impl Entry {
    /// ZipCrypto adds a 12-byte header: a stored member 12 bytes longer than its size
    /// really is encrypted; the flag bit alone proves nothing (torch ignores it).
    pub fn really_encrypted(&self) -> bool {
        self.flags & 1 == 1 && (self.method != 0 || self.compressed == self.size + 12)
    }
}

#[derive(Debug, Default)]
pub struct Archive {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

pub fn looks_like_zip(head: &[u8]) -> bool {
    head.starts_with(LOCAL) || head.starts_with(END)
}

/// A zip after other bytes, as Python's `zipfile` finds it (from the end record): where
/// its first member starts. `None` when the end record, the central directory or the
/// first local header is not there.
pub fn prefixed(src: &dyn ReadAt) -> Option<u64> {
    let entries = central(src, 1 << 20).ok()?;
    let first = entries.iter().map(|e| e.header_offset).min()?;
    let sig = src.bytes_at(first, 4).ok()?;
    (first > 0 && sig == LOCAL).then_some(first)
}

/// Read the member list. Never fails: what cannot be read becomes a note.
pub fn read(src: &dyn ReadAt, max_entries: usize) -> Archive {
    let mut out = Archive::default();
    let mut by_offset: BTreeMap<u64, Entry> = BTreeMap::new();
    match central(src, max_entries) {
        Ok(entries) => {
            for e in entries {
                by_offset.insert(e.header_offset, e);
            }
        }
        Err(why) => out.notes.push(format!(
            "central directory unreadable ({}); members read from local headers, as torch does",
            crate::because(&why)
        )),
    }
    let had_central = !by_offset.is_empty();
    // Bytes before the first member (a prefixed zip): the walk starts where it does.
    let start = by_offset.keys().next().copied().unwrap_or(0);
    let mut hidden = 0;
    for mut e in walk_local(src, start, &by_offset, max_entries) {
        if let Some(known) = by_offset.get_mut(&e.header_offset) {
            known.data_offset = e.data_offset;
            continue;
        }
        e.hidden = had_central;
        hidden += usize::from(had_central);
        by_offset.insert(e.header_offset, e);
    }
    for e in by_offset.values_mut().filter(|e| e.data_offset == 0) {
        if let Ok(h) = src.bytes_at(e.header_offset, 30) {
            if h.len() == 30 && &h[..4] == LOCAL {
                let (n, x) = (u64::from(u16_at(&h, 26)), u64::from(u16_at(&h, 28)));
                e.data_offset = e.header_offset + 30 + n + x;
            }
        }
    }
    if hidden > 0 {
        out.notes.push(format!(
            "{hidden} member(s) found only by their local headers (not in the central directory)"
        ));
    }
    out.entries = by_offset
        .into_values()
        .filter(|e| e.data_offset > 0)
        .collect();
    out
}

/// Why the central directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error("read error")]
    Io(#[from] std::io::Error),
    #[error("no end-of-central-directory record")]
    NoEnd,
    #[error("truncated end record")]
    TruncatedEnd,
    #[error("central directory lies outside the file")]
    Outside,
    #[error("central directory larger than 256 MiB")]
    TooLarge,
    #[error("more than {0} members")]
    TooMany(usize),
    #[error("truncated member name")]
    Name,
    #[error("truncated extra field")]
    Extra,
    #[error("central directory lists {listed} members but holds {held}")]
    Count { listed: u64, held: usize },
}

/// Why a member's bytes were not extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{size} bytes uncompressed, over the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("compression method {0} (torch reads only stored and deflate)")]
    Method(u16),
    #[error("cannot decompress")]
    Decompress(#[source] std::io::Error),
    #[error("decompresses past the {0}-byte limit")]
    PastLimit(u64),
}

fn central(src: &dyn ReadAt, max_entries: usize) -> Result<Vec<Entry>, CentralError> {
    let len = src.len();
    let tail_len = len.min(65_557);
    let tail = src.bytes_at(len - tail_len, tail_len as usize)?;
    let end = tail
        .windows(4)
        .rposition(|w| w == END)
        .ok_or(CentralError::NoEnd)?;
    let rec = tail.get(end..end + 22).ok_or(CentralError::TruncatedEnd)?;
    let mut count = u64::from(u16_at(rec, 10));
    let mut cd_size = u64::from(u32_at(rec, 12));
    let mut cd_off = u64::from(u32_at(rec, 16));
    // Where the central directory should end: the end record, or the zip64 record
    // before it (56 bytes, then the 20-byte locator).
    let end_at = len - tail_len + end as u64;
    let mut cd_end = end_at;
    if end >= 20 && &tail[end - 20..end - 16] == END64_LOCATOR {
        // As Python reads it: just before the locator (offsets may be shifted), else
        // where the locator says.
        let before = end_at.saturating_sub(76);
        let stated = u64_at(&tail, end - 20 + 8);
        for at in [before, stated] {
            let r = src.bytes_at(at, 56)?;
            if r.len() == 56 && &r[..4] == b"PK\x06\x06" {
                count = u64_at(&r, 32);
                cd_size = u64_at(&r, 40);
                cd_off = u64_at(&r, 48);
                cd_end = at;
                break;
            }
        }
    }
    // Bytes in front of the zip shift everything: Python's zipfile adds the difference
    // between where the directory is and where the end record says it is.
    let shift = cd_end.saturating_sub(cd_off.saturating_add(cd_size));
    cd_off = cd_off.saturating_add(shift);
    if cd_off.checked_add(cd_size).is_none_or(|e| e > len) {
        return Err(CentralError::Outside);
    }
    if cd_size > 256 << 20 {
        return Err(CentralError::TooLarge);
    }
    let cd = src.bytes_at(cd_off, cd_size as usize)?;
    let mut entries = Vec::new();
    let mut i = 0;
    while i + 46 <= cd.len() && &cd[i..i + 4] == CENTRAL {
        if entries.len() >= max_entries {
            return Err(CentralError::TooMany(max_entries));
        }
        let (n, x, c) = (
            usize::from(u16_at(&cd, i + 28)),
            usize::from(u16_at(&cd, i + 30)),
            usize::from(u16_at(&cd, i + 32)),
        );
        let name = cd.get(i + 46..i + 46 + n).ok_or(CentralError::Name)?;
        let extra = cd
            .get(i + 46 + n..i + 46 + n + x)
            .ok_or(CentralError::Extra)?;
        let mut e = Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: u16_at(&cd, i + 10),
            flags: u16_at(&cd, i + 8),
            compressed: u64::from(u32_at(&cd, i + 20)),
            size: u64::from(u32_at(&cd, i + 24)),
            header_offset: u64::from(u32_at(&cd, i + 42)),
            data_offset: 0,
            hidden: false,
        };
        zip64(extra, &mut e, true);
        e.header_offset = e.header_offset.saturating_add(shift);
        entries.push(e);
        i += 46 + n + x + c;
    }
    if (entries.len() as u64) < count.min(max_entries as u64) {
        return Err(CentralError::Count {
            listed: count,
            held: entries.len(),
        });
    }
    Ok(entries)
}

/// Apply a zip64 extended-information field to sizes (and offset) saturated at u32::MAX.
fn zip64(extra: &[u8], e: &mut Entry, central: bool) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let (id, n) = (u16_at(extra, i), usize::from(u16_at(extra, i + 2)));
        let Some(body) = extra.get(i + 4..i + 4 + n) else {
            return;
        };
        if id == 1 {
            let mut j = 0;
            let mut next = |cur: &mut u64| {
                if *cur == u64::from(u32::MAX) && j + 8 <= body.len() {
                    *cur = u64_at(body, j);
                    j += 8;
                }
            };
            next(&mut e.size);
            next(&mut e.compressed);
            if central {
                next(&mut e.header_offset);
            }
        }
        i += 4 + n;
    }
}

/// Follow local headers from the start of the file, jumping over member data.
fn walk_local(
    src: &dyn ReadAt,
    start: u64,
    known: &BTreeMap<u64, Entry>,
    max_entries: usize,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut at = start;
    while out.len() < max_entries {
        let Ok(h) = src.bytes_at(at, 30) else { break };
        if h.len() < 30 || &h[..4] != LOCAL {
            break;
        }
        let (n, x) = (usize::from(u16_at(&h, 26)), usize::from(u16_at(&h, 28)));
        let Ok(var) = src.bytes_at(at + 30, n + x) else {
            break;
        };
        if var.len() < n + x {
            break;
        }
        let mut e = Entry {
            name: String::from_utf8_lossy(&var[..n]).into_owned(),
            method: u16_at(&h, 8),
            flags: u16_at(&h, 6),
            compressed: u64::from(u32_at(&h, 18)),
            size: u64::from(u32_at(&h, 22)),
            header_offset: at,
            data_offset: at + 30 + (n + x) as u64,
            hidden: false,
        };
        zip64(&var[n..], &mut e, false);
        if let Some(k) = known.get(&at) {
            // sizes in a data descriptor: the central directory has them
            e.compressed = k.compressed;
            e.size = k.size;
        } else if e.flags & 8 != 0 && e.compressed == 0 {
            match find_end(src, &e) {
                Some(len) => {
                    e.compressed = len;
                    if e.method == 0 {
                        e.size = len;
                    }
                }
                None => {
                    out.push(e);
                    break;
                }
            }
        }
        let mut next = e.data_offset.saturating_add(e.compressed);
        if e.flags & 8 != 0 {
            let d = src.bytes_at(next, 4).unwrap_or_default();
            next += if d == DESCRIPTOR { 16 } else { 12 };
            // zip64 descriptors are 8 bytes longer; a local header tells us which
            if src.bytes_at(next, 4).unwrap_or_default() != LOCAL
                && src.bytes_at(next + 8, 4).unwrap_or_default() == LOCAL
            {
                next += 8;
            }
        }
        out.push(e);
        if next <= at {
            break;
        }
        at = next;
    }
    out
}

/// Length of a member whose sizes are only in a trailing data descriptor.
fn find_end(src: &dyn ReadAt, e: &Entry) -> Option<u64> {
    const WINDOW: usize = 1 << 20;
    let mut at = e.data_offset;
    if e.method == 8 {
        let reader = Cursor::new(src, at);
        let mut d = flate2::bufread::DeflateDecoder::new(std::io::BufReader::new(reader));
        std::io::copy(&mut d, &mut std::io::sink()).ok()?;
        return Some(d.total_in());
    }
    // stored: the descriptor signature followed by matching sizes, or the next header
    while at < src.len() {
        let chunk = src.bytes_at(at, WINDOW + 16).ok()?;
        for i in 0..chunk.len().saturating_sub(16) {
            let w = &chunk[i..i + 4];
            let len = at + i as u64 - e.data_offset;
            if w == DESCRIPTOR && u64::from(u32_at(&chunk, i + 8)) == len
                || (w == LOCAL || w == CENTRAL) && i >= 12
            {
                return Some(if w == DESCRIPTOR { len } else { len - 12 });
            }
        }
        if chunk.len() <= 16 {
            break;
        }
        at += WINDOW as u64;
    }
    None
}

/// A member's bytes (at most `max`), decompressed.
pub fn extract(src: &dyn ReadAt, e: &Entry, max: u64) -> Result<Vec<u8>, ExtractError> {
    if e.size > max {
        return Err(ExtractError::TooLarge { size: e.size, max });
    }
    let end = e.data_offset.saturating_add(e.compressed).min(src.len());
    let member = SubBlob {
        src,
        start: e.data_offset,
        len: end.saturating_sub(e.data_offset),
    };
    let raw = Cursor::new(&member, 0);
    let mut out = Vec::new();
    let res = match e.method {
        0 => raw.take(max + 1).read_to_end(&mut out),
        8 => flate2::read::DeflateDecoder::new(raw)
            .take(max + 1)
            .read_to_end(&mut out),
        m => return Err(ExtractError::Method(m)),
    };
    res.map_err(ExtractError::Decompress)?;
    if out.len() as u64 > max {
        return Err(ExtractError::PastLimit(max));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncation_never_panic() {
        for data in [
            &b""[..],
            b"PK\x03\x04",
            b"PK\x05\x06\0\0",
            b"PK\x03\x04\xff\xff\xff\xff",
        ] {
            let a = read(&data, 100);
            assert!(a.entries.is_empty());
        }
    }
}
