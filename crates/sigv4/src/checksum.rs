//! The flexible checksums S3 accepts in trailers (`x-amz-checksum-<algorithm>`), computed over
//! the decoded body so a trailer that does not match it is refused (S3's `BadDigest`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crc::{Crc, Digest as CrcDigest, Table, CRC_32_ISCSI, CRC_64_NVME};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// CRC-32C (Castagnoli) and CRC-64/NVME from the `crc` crate's catalogue, with
/// slice-by-16 tables (built at compile time).
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
static CRC64NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_NVME);

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(CrcDigest<'static, u32, Table<16>>),
    Crc64Nvme(CrcDigest<'static, u64, Table<16>>),
    Sha1(Sha1),
    Sha256(Sha256),
}

/// One running checksum of the decoded body.
#[derive(Clone)]
pub(crate) struct Checksummer(State);

impl Checksummer {
    /// The checksum a trailer name stands for; `None` for a name that is not a checksum.
    pub(crate) fn for_trailer(name: &str) -> Option<Checksummer> {
        Some(Checksummer(match name.strip_prefix("x-amz-checksum-")? {
            "crc32" => State::Crc32(crc32fast::Hasher::new()),
            "crc32c" => State::Crc32c(CRC32C.digest()),
            "crc64nvme" => State::Crc64Nvme(CRC64NVME.digest()),
            "sha1" => State::Sha1(Sha1::new()),
            "sha256" => State::Sha256(Sha256::new()),
            _ => return None,
        }))
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => c.update(data),
            State::Crc64Nvme(c) => c.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The checksum as S3 writes it: base64 of the big-endian bytes.
    pub(crate) fn finish_base64(self) -> String {
        match self.0 {
            State::Crc32(h) => STANDARD.encode(h.finalize().to_be_bytes()),
            State::Crc32c(c) => STANDARD.encode(c.finalize().to_be_bytes()),
            State::Crc64Nvme(c) => STANDARD.encode(c.finalize().to_be_bytes()),
            State::Sha1(h) => STANDARD.encode(h.finalize()),
            State::Sha256(h) => STANDARD.encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(name: &str, data: &[u8], split: usize) -> String {
        let mut c = Checksummer::for_trailer(name).unwrap();
        for piece in data.chunks(split.max(1)) {
            c.update(piece);
        }
        c.finish_base64()
    }

    #[test]
    fn standard_check_values() {
        // The catalogue check values of "123456789" for each CRC.
        let b64 = |bytes: &[u8]| STANDARD.encode(bytes);
        for split in [1, 3, 8, 100] {
            assert_eq!(
                sum("x-amz-checksum-crc32", b"123456789", split),
                b64(&0xCBF4_3926u32.to_be_bytes())
            );
            assert_eq!(
                sum("x-amz-checksum-crc32c", b"123456789", split),
                b64(&0xE306_9283u32.to_be_bytes())
            );
            assert_eq!(
                sum("x-amz-checksum-crc64nvme", b"123456789", split),
                b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
            );
        }
        assert_eq!(
            sum("x-amz-checksum-sha256", b"", 1),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            sum("x-amz-checksum-sha1", b"", 1),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
        assert!(Checksummer::for_trailer("x-amz-checksum-md5").is_none());
        assert!(Checksummer::for_trailer("x-amz-meta-a").is_none());
    }

    #[test]
    fn documented_crc32c_of_the_chunked_example() {
        // 66,560 bytes of 'a': the trailer AWS's trailing-header example sends, sOO8/Q==.
        assert_eq!(
            sum("x-amz-checksum-crc32c", &[b'a'; 66_560], 4096),
            "sOO8/Q=="
        );
    }
}
