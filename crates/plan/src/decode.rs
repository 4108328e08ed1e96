//! Bytes to text: plans arrive as UTF-8, UTF-8 with BOM, or UTF-16 from a Windows
//! PowerShell redirect. Binary plan files and other formats get a clear error.

use crate::PlanError;
use std::borrow::Cow;

pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, PlanError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PlanError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(PlanError::BinaryPlan);
    }
    // UTF-32 before UTF-16: its little-endian BOM starts with UTF-16's.
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE\0\0") {
        return utf32(rest, u32::from_le_bytes, 4).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\0\0\xFE\xFF") {
        return utf32(rest, u32::from_be_bytes, 4).map(Cow::Owned);
    }
    // UTF-32 without a BOM: JSON starts with an ASCII character, so three of the
    // first four bytes are zero.
    if let [a, 0, 0, 0, ..] = bytes {
        if *a != 0 {
            return utf32(bytes, u32::from_le_bytes, 0).map(Cow::Owned);
        }
    }
    if let [0, 0, 0, d, ..] = bytes {
        if *d != 0 {
            return utf32(bytes, u32::from_be_bytes, 0).map(Cow::Owned);
        }
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest, 3);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes).map(Cow::Owned);
    }
    // UTF-16 without a BOM: JSON starts with an ASCII character, so one of the first
    // two bytes is zero.
    if bytes.len() >= 2 && bytes[1] == 0 && bytes[0] != 0 {
        return utf16(bytes, u16::from_le_bytes).map(Cow::Owned);
    }
    if bytes.len() >= 2 && bytes[0] == 0 && bytes[1] != 0 {
        return utf16(bytes, u16::from_be_bytes).map(Cow::Owned);
    }
    utf8(bytes, 0)
}

fn utf8(bytes: &[u8], skipped: usize) -> Result<Cow<'_, str>, PlanError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(e) => {
            let at = e.valid_up_to();
            // A NUL or other control bytes early on mean a binary file, not text.
            let binary = bytes[..bytes.len().min(512)]
                .iter()
                .any(|&b| b == 0 || (b < 0x09));
            if binary {
                Err(PlanError::NotText)
            } else {
                Err(PlanError::Encoding {
                    offset: at + skipped,
                })
            }
        }
    }
}

fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> Result<String, PlanError> {
    if bytes.len() % 2 != 0 {
        return Err(PlanError::Encoding {
            offset: bytes.len(),
        });
    }
    let units = bytes.chunks_exact(2).map(|c| word([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, r) in char::decode_utf16(units).enumerate() {
        match r {
            Ok(c) => out.push(c),
            Err(_) => return Err(PlanError::Encoding { offset: i * 2 }),
        }
    }
    Ok(out)
}

/// UTF-32 text (RFC 8259 allows only UTF-8 for JSON, but Windows tools write UTF-32
/// too): read it; a bad code point is an error at its byte offset in the file.
fn utf32(bytes: &[u8], word: fn([u8; 4]) -> u32, skipped: usize) -> Result<String, PlanError> {
    if bytes.len() % 4 != 0 {
        return Err(PlanError::Encoding {
            offset: skipped + bytes.len() - bytes.len() % 4,
        });
    }
    let mut out = String::with_capacity(bytes.len() / 4);
    for (i, c) in bytes.chunks_exact(4).enumerate() {
        match char::from_u32(word([c[0], c[1], c[2], c[3]])) {
            Some(ch) => out.push(ch),
            None => {
                return Err(PlanError::Encoding {
                    offset: skipped + i * 4,
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode(b"{}").unwrap(), "{}");
        assert_eq!(decode(b"\xEF\xBB\xBF{}").unwrap(), "{}");
        assert_eq!(decode(b"\xFF\xFE{\0}\0").unwrap(), "{}");
        assert_eq!(decode(b"\xFE\xFF\0{\0}").unwrap(), "{}");
        assert_eq!(decode(b"{\0}\0").unwrap(), "{}");
        assert!(matches!(decode(b""), Err(PlanError::Empty)));
        assert!(matches!(decode(b"  \n"), Err(PlanError::Empty)));
        assert!(matches!(
            decode(b"PK\x03\x04rest"),
            Err(PlanError::BinaryPlan)
        ));
        assert!(matches!(
            decode(b"{\"a\":\"\xff\"}"),
            Err(PlanError::Encoding { offset: 6 })
        ));
        assert!(matches!(
            decode(b"\x01\x02\xff\xfe\x00"),
            Err(PlanError::NotText)
        ));
    }

    fn utf32(text: &str, le: bool) -> Vec<u8> {
        text.chars()
            .flat_map(|c| {
                if le {
                    (c as u32).to_le_bytes()
                } else {
                    (c as u32).to_be_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn utf32_with_and_without_bom() {
        let json = "{\"a\":\"\u{e9}\u{1F600}\"}";
        for le in [true, false] {
            assert_eq!(decode(&utf32(json, le)).unwrap(), json);
            assert_eq!(
                decode(&utf32(&format!("\u{FEFF}{json}"), le)).unwrap(),
                json
            );
        }
        // Truncated mid-character, and a code point beyond Unicode: errors with where.
        let mut cut = utf32(json, true);
        cut.pop();
        assert!(matches!(
            decode(&cut),
            Err(PlanError::Encoding { offset: 36 })
        ));
        let mut bad = b"\xFF\xFE\0\0".to_vec();
        bad.extend_from_slice(&utf32("{}", true));
        bad.extend_from_slice(&0x11_0000u32.to_le_bytes());
        assert!(matches!(
            decode(&bad),
            Err(PlanError::Encoding { offset: 12 })
        ));
    }
}
