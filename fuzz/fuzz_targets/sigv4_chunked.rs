//! Any bytes as an aws-chunked body, split anywhere: decoded or refused, never a panic, and
//! never more payload released than declared.
//!
//! Input: byte 0 picks the payload mode and trailer, bytes 1..4 the decoded length (u24, little
//! endian), byte 4 the feed size; the rest is the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_sigv4::{ChunkLimits, ChunkedDecoder, PayloadHash, SigningKey, Verified};

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let payload = match data[0] % 3 {
        0 => PayloadHash::StreamingUnsignedTrailer,
        1 => PayloadHash::StreamingSigned,
        _ => PayloadHash::StreamingSignedTrailer,
    };
    let trailer = match data[0] / 3 % 4 {
        0 => None,
        1 => Some("x-amz-checksum-crc32"),
        2 => Some("x-amz-checksum-crc32c"),
        _ => Some("x-amz-checksum-sha256"),
    };
    let trailer = trailer.filter(|_| payload != PayloadHash::StreamingSigned);
    let declared = u64::from(u32::from_le_bytes([data[1], data[2], data[3], 0]));
    let step = usize::from(data[4]).max(1);
    let verified = Verified {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        signing_key: SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        ),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        amz_date: "20130524T000000Z".into(),
        timestamp: 1_369_353_600,
        valid_until: 1_369_354_500,
        payload: payload.clone(),
    };
    let limits = ChunkLimits {
        min_signed_chunk: 0,
        ..ChunkLimits::default()
    };
    let Ok(mut d) =
        ChunkedDecoder::from_parts(&payload, Some(&verified), declared, trailer, limits)
    else {
        return;
    };
    let mut out = Vec::new();
    for piece in data[5..].chunks(step) {
        if d.feed(piece, &mut out).is_err() {
            break;
        }
        assert!(out.len() as u64 <= declared);
    }
    if d.finish().is_ok() {
        assert_eq!(out.len() as u64, declared);
    }
});
