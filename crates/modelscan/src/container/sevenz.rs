//! 7z archives (LZMA/LZMA2, copy): each member decompressed into memory up to a limit.

use std::io::{Cursor, Read};

pub const MAGIC: &[u8; 6] = b"7z\xbc\xaf\x27\x1c";

pub struct Member {
    pub name: String,
    pub data: Result<Vec<u8>, MemberError>,
}

/// An archive that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot open 7z archive")]
    Open(#[source] sevenz_rust2::Error),
    #[error("cannot decompress 7z archive")]
    Decompress(#[source] sevenz_rust2::Error),
}

/// A member whose bytes were not read.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("{size} bytes, over the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("cannot decompress")]
    Decompress(#[source] std::io::Error),
}

/// Members with their bytes; an archive that cannot be opened is an error, a member
/// that cannot be decoded carries its own.
pub fn read(data: &[u8], max_member: u64, max_members: usize) -> Result<Vec<Member>, ArchiveError> {
    let mut reader =
        sevenz_rust2::ArchiveReader::new(Cursor::new(data), sevenz_rust2::Password::empty())
            .map_err(ArchiveError::Open)?;
    let mut out = Vec::new();
    let res = reader.for_each_entries(|entry, r| {
        if entry.is_directory {
            return Ok(true);
        }
        if out.len() >= max_members {
            return Ok(false);
        }
        let data = if entry.size() > max_member {
            Err(MemberError::TooLarge {
                size: entry.size(),
                max: max_member,
            })
        } else {
            let mut buf = Vec::new();
            r.take(max_member)
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(MemberError::Decompress)
        };
        out.push(Member {
            name: entry.name.clone(),
            data,
        });
        Ok(true)
    });
    if let Err(e) = res {
        if out.is_empty() {
            return Err(ArchiveError::Decompress(e));
        }
    }
    Ok(out)
}
