//! A tar reader over random access: headers are read, member data is only located
//! (ustar, GNU long names, PAX paths and sizes, base-256 sizes).

use crate::blob::ReadAt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink(String),
    Hardlink(String),
    Other(u8),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub data_offset: u64,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct Archive {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
}

/// A ustar/GNU header at offset 257, with a valid checksum.
pub fn looks_like_tar(head: &[u8]) -> bool {
    head.len() >= 512 && checksum_ok(&head[..512])
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == stored && h.iter().any(|&b| b != 0)
}

fn octal(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256 (GNU) for sizes past 8 GiB
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(f).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(f: &[u8]) -> String {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

pub fn read(src: &dyn ReadAt, max_entries: usize) -> Archive {
    let mut out = Archive::default();
    let mut at = 0u64;
    let (mut long_name, mut long_link, mut pax_path, mut pax_size): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u64>,
    ) = (None, None, None, None);
    while at + 512 <= src.len() {
        if out.entries.len() >= max_entries {
            out.notes
                .push(format!("stopped after {max_entries} members"));
            break;
        }
        let h = match src.bytes_at(at, 512) {
            Ok(h) if h.len() == 512 => h,
            _ => break,
        };
        if h.iter().all(|&b| b == 0) {
            break;
        }
        if !checksum_ok(&h) {
            out.notes
                .push(format!("bad tar header checksum at offset {at}; stopped"));
            break;
        }
        let Some(mut size) = octal(&h[124..136]) else {
            out.notes
                .push(format!("bad size field at offset {at}; stopped"));
            break;
        };
        if let Some(s) = pax_size.take() {
            size = s;
        }
        let data = at + 512;
        let flag = h[156];
        let meta_text = || -> String {
            let body = src
                .bytes_at(data, size.min(1 << 20) as usize)
                .unwrap_or_default();
            cstr(&body)
        };
        match flag {
            b'L' => long_name = Some(meta_text()),
            b'K' => long_link = Some(meta_text()),
            b'x' => {
                let body = src
                    .bytes_at(data, size.min(1 << 20) as usize)
                    .unwrap_or_default();
                for (k, v) in pax_records(&body) {
                    match k.as_str() {
                        "path" => pax_path = Some(v),
                        "size" => pax_size = v.parse().ok(),
                        "linkpath" => long_link = Some(v),
                        _ => {}
                    }
                }
            }
            b'g' => {}
            _ => {
                let mut name = cstr(&h[..100]);
                if &h[257..262] == b"ustar" {
                    let prefix = cstr(&h[345..500]);
                    if !prefix.is_empty() {
                        name = format!("{prefix}/{name}");
                    }
                }
                let name = pax_path.take().or(long_name.take()).unwrap_or(name);
                let link = long_link.take().unwrap_or_else(|| cstr(&h[157..257]));
                let kind = match flag {
                    b'0' | 0 | b'7' => Kind::File,
                    b'5' => Kind::Dir,
                    b'2' => Kind::Symlink(link),
                    b'1' => Kind::Hardlink(link),
                    f => Kind::Other(f),
                };
                out.entries.push(Entry {
                    name,
                    kind,
                    data_offset: data,
                    size,
                });
            }
        }
        let Some(next) = size
            .div_ceil(512)
            .checked_mul(512)
            .and_then(|s| data.checked_add(s))
        else {
            break;
        };
        if next > src.len() {
            out.notes.push(format!(
                "archive truncated inside the member at offset {at}"
            ));
            if let Some(last) = out.entries.last_mut() {
                last.size = last.size.min(src.len().saturating_sub(last.data_offset));
            }
            break;
        }
        at = next;
    }
    out
}

fn pax_records(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some((len, _)) = rest.split_once(' ') {
        let Ok(n) = len.parse::<usize>() else { break };
        let Some(rec) = rest.get(..n) else { break };
        let body = rec.get(len.len() + 1..).unwrap_or("");
        if let Some((k, v)) = body.trim_end_matches('\n').split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[n..];
        if n == 0 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        let a = read(&&[0u8; 1024][..], 10);
        assert!(a.entries.is_empty());
        let mut h = vec![b'7'; 512];
        h[156] = b'0';
        let a = read(&h, 10);
        assert!(a.entries.is_empty());
        assert!(!looks_like_tar(&h));
    }
}
