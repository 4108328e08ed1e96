//! Compressed streams that model loaders open before unpickling: everything joblib's
//! `compress=` writes (zlib, gzip, bz2, lzma, xz, lz4, and the `ZF` files of joblib
//! before 0.10), and what people wrap models in. Recognised by their magic bytes and
//! decompressed up to a cap, so a bomb is a reported error, not a hang or an OOM.

use crate::blob::{Cursor, ReadAt};
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    /// A raw zlib stream: joblib's `compress=('zlib', n)` and `compress=n` (n > 0).
    Zlib,
    /// joblib < 0.10 (`numpy_pickle_compat`): `ZF`, the length in hex padded to 19
    /// characters, then zlib.
    JoblibZfile,
    Bz2,
    Xz,
    /// `.lzma` (LZMA "alone"): what joblib and Python's `lzma.FORMAT_ALONE` write.
    Lzma,
    Lz4,
}

/// joblib's `_MAX_LEN = len(hex(2 ** 64))` after its `ZF` prefix.
const ZFILE_HEADER: usize = 2 + 19;

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib => "zlib",
            Codec::JoblibZfile => "joblib-zfile",
            Codec::Bz2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Lzma => "lzma",
            Codec::Lz4 => "lz4",
        }
    }

    /// The codec whose stream starts `head`. Weak signatures (zlib's two bytes) are
    /// only a guess: [`decode`] failing on them means "not compressed".
    pub fn detect(head: &[u8]) -> Option<Codec> {
        let h = |n: usize| head.get(n).copied();
        Some(match head {
            [0x1f, 0x8b, ..] => Codec::Gzip,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Codec::Xz,
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Codec::Bz2,
            [0x04, 0x22, 0x4d, 0x18, ..] => Codec::Lz4,
            [b'Z', b'F', b'0', b'x', ..] => Codec::JoblibZfile,
            // lc=3 lp=0 pb=2 (every preset) and a dictionary size that is a multiple of
            // 64 KiB (every preset's): joblib's own test is the prefix `]\0\0`.
            [0x5d, 0, 0, ..] if head.len() >= 13 => Codec::Lzma,
            // CM 8 with a 32 KiB window, no preset dictionary, and the header check.
            _ if h(0) == Some(0x78)
                && h(1).is_some_and(|f| f & 0x20 == 0 && (0x7800 | u16::from(f)) % 31 == 0) =>
            {
                Codec::Zlib
            }
            _ => return None,
        })
    }

    /// True when the signature alone proves the format (a failure to decode is then an
    /// error to report, not a sign that the bytes are something else).
    pub fn strong(self) -> bool {
        !matches!(self, Codec::Zlib)
    }
}

/// What came out: the data (up to `max + 1` bytes, so that "past the cap" shows) and
/// the error that stopped decoding early, if any.
pub struct Decoded {
    pub data: Vec<u8>,
    pub error: Option<String>,
}

/// Decompress `blob` with `codec`, keeping at most `max + 1` bytes.
pub fn decode(codec: Codec, blob: &dyn ReadAt, max: u64) -> Decoded {
    let mut data = Vec::new();
    let keep = max.saturating_add(1);
    let res = match codec {
        Codec::Gzip => flate2::read::MultiGzDecoder::new(Cursor::new(blob, 0))
            .take(keep)
            .read_to_end(&mut data),
        Codec::Zlib => flate2::read::ZlibDecoder::new(Cursor::new(blob, 0))
            .take(keep)
            .read_to_end(&mut data),
        Codec::JoblibZfile => {
            // An extra space after the header in files from joblib <= 0.8.4.
            let at = match blob.bytes_at(ZFILE_HEADER as u64, 1) {
                Ok(b) if b == b" " => ZFILE_HEADER + 1,
                _ => ZFILE_HEADER,
            };
            flate2::read::ZlibDecoder::new(Cursor::new(blob, at as u64))
                .take(keep)
                .read_to_end(&mut data)
        }
        Codec::Bz2 => bzip2::read::MultiBzDecoder::new(Cursor::new(blob, 0))
            .take(keep)
            .read_to_end(&mut data),
        Codec::Xz => lzma_rust2::XzReader::new(Cursor::new(blob, 0), true)
            .take(keep)
            .read_to_end(&mut data),
        // The memory limit (KiB) covers every preset's dictionary (64 MiB at -9).
        Codec::Lzma => {
            match lzma_rust2::LzmaReader::new_mem_limit(Cursor::new(blob, 0), 1 << 20, None) {
                Ok(r) => r.take(keep).read_to_end(&mut data),
                Err(e) => Err(e),
            }
        }
        Codec::Lz4 => lz4_flex::frame::FrameDecoder::new(Cursor::new(blob, 0))
            .take(keep)
            .read_to_end(&mut data),
    };
    Decoded {
        data,
        error: res.err().map(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        for (head, want) in [
            (&b"\x1f\x8b\x08\0"[..], Some(Codec::Gzip)),
            (b"\x78\x9c", Some(Codec::Zlib)),
            (b"\x78\x01", Some(Codec::Zlib)),
            (b"\x78\xda", Some(Codec::Zlib)),
            (b"\x78\x5e", Some(Codec::Zlib)),
            (b"\x78\x00", None),
            (b"\x78\xbb", None), // preset dictionary: not what joblib writes
            (b"BZh9", Some(Codec::Bz2)),
            (b"BZh0", None),
            (b"ZF0x1a               x", Some(Codec::JoblibZfile)),
            (
                b"]\0\0\x40\0\xff\xff\xff\xff\xff\xff\xff\xff",
                Some(Codec::Lzma),
            ),
            (b"]\0\0", None),
            (b"\xfd7zXZ\0", Some(Codec::Xz)),
            (b"\x04\x22\x4d\x18", Some(Codec::Lz4)),
            (b"\x80\x04\x95", None),
            (b"(S'x'\n", None),
            (b"", None),
        ] {
            assert_eq!(Codec::detect(head), want, "{head:?}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let zeros = vec![0u8; 8 << 20];
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, &zeros).unwrap();
        let z = e.finish().unwrap();
        let d = decode(Codec::Zlib, &z, 1 << 20);
        assert_eq!(d.data.len(), (1 << 20) + 1);
        let d = decode(Codec::Zlib, &&z[..z.len() / 2], 16 << 20);
        assert!(d.error.is_some());
    }
}
