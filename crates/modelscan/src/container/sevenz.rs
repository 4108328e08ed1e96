//! 7z archives (LZMA/LZMA2, copy): each member decompressed into memory up to a limit.

use std::io::{Cursor, Read};

pub const MAGIC: &[u8; 6] = b"7z\xbc\xaf\x27\x1c";

pub struct Member {
    pub name: String,
    pub data: Result<Vec<u8>, String>,
}

/// Members with their bytes; an archive that cannot be opened is an error, a member
/// that cannot be decoded carries its own.
pub fn read(data: &[u8], max_member: u64, max_members: usize) -> Result<Vec<Member>, String> {
    let mut reader =
        sevenz_rust2::ArchiveReader::new(Cursor::new(data), sevenz_rust2::Password::empty())
            .map_err(|e| format!("cannot open 7z archive: {e}"))?;
    let mut out = Vec::new();
    let res = reader.for_each_entries(|entry, r| {
        if entry.is_directory {
            return Ok(true);
        }
        if out.len() >= max_members {
            return Ok(false);
        }
        let data = if entry.size() > max_member {
            Err(format!(
                "{} bytes, over the {max_member}-byte limit",
                entry.size()
            ))
        } else {
            let mut buf = Vec::new();
            r.take(max_member)
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(|e| format!("cannot decompress: {e}"))
        };
        out.push(Member {
            name: entry.name.clone(),
            data,
        });
        Ok(true)
    });
    if let Err(e) = res {
        if out.is_empty() {
            return Err(format!("cannot decompress 7z archive: {e}"));
        }
    }
    Ok(out)
}
