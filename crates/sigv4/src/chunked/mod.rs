//! `aws-chunked` bodies (S3 streaming uploads), decoded incrementally with bounded memory:
//! each chunk's signature checked in its chain from the request's seed signature, the final
//! zero-size chunk, trailers (checksums and their signature), the decoded length.
//!
//! Wire form (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>):
//! `hex-size;chunk-signature=<sig>\r\n<data>\r\n` ... `0;chunk-signature=<sig>\r\n\r\n` for
//! signed chunks, `hex-size\r\n<data>\r\n` ... `0\r\n` then trailers
//! (`x-amz-checksum-crc32:...\r\n`, signed ones ending in `x-amz-trailer-signature:...\r\n`) and
//! an empty line for the trailer forms. Some SDKs close the zero chunk with its own empty line
//! before the trailers; both are read.

mod trailers;

use crate::checksum::Checksummer;
use crate::payload::EMPTY_SHA256;
use crate::verify::SigningKey;
use crate::{PayloadHash, SigError, Verified};
use http::HeaderMap;
use sha2::{Digest, Sha256};

/// Bounds on what the decoder holds.
#[derive(Debug, Clone, Copy)]
pub struct ChunkLimits {
    /// Longest chunk-size line, `\r\n` included (a signed one is about 90 bytes).
    pub max_line: usize,
    /// Largest signed chunk: its data is held until its signature is checked, so this is the
    /// decoder's memory bound. SDKs send 64-128 KiB; default 1 MiB.
    pub max_signed_chunk: u64,
    /// Signed chunks other than the last data chunk must be at least this big (S3: 8 KiB),
    /// which bounds the HMAC work per byte.
    pub min_signed_chunk: u64,
    /// Bytes of trailer section, all lines together.
    pub max_trailer_bytes: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_line: 256,
            max_signed_chunk: 1 << 20,
            min_signed_chunk: 8192,
            max_trailer_bytes: 4096,
        }
    }
}

/// One trailing header, name lowercased, value trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data {
        remaining: u64,
    },
    DataCrlf {
        seen_cr: bool,
    },
    /// After the zero chunk of the plain signed form: `\r\n`, then the end.
    FinalCrlf {
        seen_cr: bool,
    },
    Trailers,
    Done,
    Failed,
}

struct Signing {
    key: SigningKey,
    amz_date: String,
    scope: String,
    previous: String,
}

/// Decodes one aws-chunked body. Feed it the body's bytes as they come, split anywhere;
/// decoded payload bytes are appended to the caller's buffer (for signed chunks only once the
/// chunk's signature is checked). Call [`ChunkedDecoder::finish`] at the end of the body: only
/// then is the body known whole and unaltered (length, final chunk, trailers, checksums), so a
/// proxy holds back the last bytes upstream until it returns `Ok`.
pub struct ChunkedDecoder {
    limits: ChunkLimits,
    signing: Option<Signing>,
    trailers_allowed: bool,
    declared_len: u64,
    decoded: u64,
    offset: u64,
    chunk_index: u64,
    state: State,
    line: Vec<u8>,
    held: Vec<u8>,
    /// The current chunk's claimed signature, checked once its data is in.
    claimed: Vec<u8>,
    chunk_hasher: Sha256,
    last_data_chunk_small: bool,
    declared_trailers: Vec<String>,
    checksums: Vec<(String, Checksummer)>,
    trailers: Vec<Trailer>,
    trailer_bytes: usize,
    blank_before_trailers: bool,
    failure: Option<SigError>,
}

impl std::fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("state", &self.state)
            .field("decoded", &self.decoded)
            .field("declared_len", &self.declared_len)
            .finish()
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, SigError> {
    let mut all = headers.get_all(name).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(SigError::Duplicate {
            what: format!("{name} header"),
        });
    }
    v.to_str().map(Some).map_err(|_| SigError::Malformed {
        what: name,
        detail: "not visible ASCII".into(),
    })
}

impl ChunkedDecoder {
    /// A decoder for a verified streaming request: the payload mode and signing chain from
    /// `verified`, `x-amz-decoded-content-length` (required) and `x-amz-trailer` from `headers`.
    pub fn new(verified: &Verified, headers: &HeaderMap) -> Result<ChunkedDecoder, SigError> {
        Self::with_limits(verified, headers, ChunkLimits::default())
    }

    /// [`ChunkedDecoder::new`] with other limits.
    pub fn with_limits(
        verified: &Verified,
        headers: &HeaderMap,
        limits: ChunkLimits,
    ) -> Result<ChunkedDecoder, SigError> {
        let len =
            header_str(headers, "x-amz-decoded-content-length")?.ok_or(SigError::Missing {
                what: "x-amz-decoded-content-length header",
            })?;
        let declared_len =
            (!len.is_empty() && len.len() <= 19 && len.bytes().all(|b| b.is_ascii_digit()))
                .then(|| len.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| SigError::Malformed {
                    what: "x-amz-decoded-content-length",
                    detail: format!("{len:?} is not a byte count"),
                })?;
        let trailer = header_str(headers, "x-amz-trailer")?;
        Self::from_parts(
            &verified.payload,
            Some(verified),
            declared_len,
            trailer,
            limits,
        )
    }

    /// A decoder from its parts: `payload` must be a streaming mode; `verified` is required
    /// for the signed ones; `trailer_header` is the `x-amz-trailer` value (declared trailers).
    pub fn from_parts(
        payload: &PayloadHash,
        verified: Option<&Verified>,
        declared_len: u64,
        trailer_header: Option<&str>,
        limits: ChunkLimits,
    ) -> Result<ChunkedDecoder, SigError> {
        let (signed, trailers_allowed) = match payload {
            PayloadHash::StreamingSigned => (true, false),
            PayloadHash::StreamingSignedTrailer => (true, true),
            PayloadHash::StreamingUnsignedTrailer => (false, true),
            other => {
                return Err(SigError::PayloadModeNotAllowed {
                    mode: other.name(),
                    detail: "the body is not aws-chunked",
                })
            }
        };
        let signing = match (signed, verified) {
            (true, Some(v)) => Some(Signing {
                key: v.signing_key.clone(),
                amz_date: v.amz_date.clone(),
                scope: v.scope.clone(),
                previous: v.seed_signature.clone(),
            }),
            (true, None) => {
                return Err(SigError::Missing {
                    what: "verified request for signed chunks",
                })
            }
            (false, _) => None,
        };
        let mut declared_trailers = Vec::new();
        let mut checksums = Vec::new();
        if let Some(list) = trailer_header.filter(|l| !l.trim().is_empty()) {
            if !trailers_allowed {
                return Err(SigError::PayloadModeNotAllowed {
                    mode: payload.name(),
                    detail: "x-amz-trailer needs a -TRAILER payload mode",
                });
            }
            for name in list.split(',').map(|n| n.trim().to_ascii_lowercase()) {
                let Some(sum) = Checksummer::for_trailer(&name) else {
                    return Err(SigError::Malformed {
                        what: "x-amz-trailer",
                        detail: format!("{name:?} is not a supported x-amz-checksum-* trailer"),
                    });
                };
                if declared_trailers.contains(&name) {
                    return Err(SigError::Duplicate {
                        what: format!("{name} in x-amz-trailer"),
                    });
                }
                checksums.push((name.clone(), sum));
                declared_trailers.push(name);
            }
        }
        Ok(ChunkedDecoder {
            limits,
            signing,
            trailers_allowed,
            declared_len,
            decoded: 0,
            offset: 0,
            chunk_index: 0,
            state: State::Header,
            line: Vec::new(),
            held: Vec::new(),
            claimed: Vec::new(),
            chunk_hasher: Sha256::new(),
            last_data_chunk_small: false,
            declared_trailers,
            checksums,
            trailers: Vec::new(),
            trailer_bytes: 0,
            blank_before_trailers: false,
            failure: None,
        })
    }

    /// Decoded payload bytes released so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Whether the body's end was read (the caller still calls [`ChunkedDecoder::finish`]).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn fail(&mut self, err: SigError) -> SigError {
        self.state = State::Failed;
        self.failure = Some(err.clone());
        err
    }

    fn framing(&self, what: &'static str, detail: impl Into<String>) -> SigError {
        SigError::Chunk {
            what,
            offset: self.offset,
            detail: detail.into(),
        }
    }

    /// Decodes the next bytes of the body, appending released payload bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), SigError> {
        match self.step(input, out) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn step(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), SigError> {
        if let Some(e) = &self.failure {
            return Err(e.clone());
        }
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailers => {
                    let Some(line) = self.take_line(&mut input)? else {
                        continue;
                    };
                    if self.state == State::Header {
                        self.on_chunk_header(&line)?;
                    } else {
                        self.on_trailer_line(&line)?;
                    }
                }
                State::Data { remaining } => {
                    let n = remaining.min(input.len() as u64) as usize;
                    let (data, rest) = input.split_at(n);
                    self.on_data(data, out);
                    input = rest;
                    self.offset += n as u64;
                    self.state = if remaining == n as u64 {
                        State::DataCrlf { seen_cr: false }
                    } else {
                        State::Data {
                            remaining: remaining - n as u64,
                        }
                    };
                }
                State::DataCrlf { seen_cr } | State::FinalCrlf { seen_cr } => {
                    let b = input[0];
                    let ok = if seen_cr { b == b'\n' } else { b == b'\r' };
                    if !ok {
                        return Err(self.framing("chunk", "chunk data must be followed by CRLF"));
                    }
                    input = &input[1..];
                    self.offset += 1;
                    let final_chunk = matches!(self.state, State::FinalCrlf { .. });
                    self.state = match (seen_cr, final_chunk) {
                        (false, false) => State::DataCrlf { seen_cr: true },
                        (false, true) => State::FinalCrlf { seen_cr: true },
                        (true, false) => {
                            self.end_data_chunk(out)?;
                            State::Header
                        }
                        (true, true) => {
                            self.complete()?;
                            State::Done
                        }
                    };
                }
                State::Done => {
                    return Err(self.framing("end", "bytes after the end of the aws-chunked body"))
                }
                State::Failed => return Err(self.framing("state", "the body was already refused")),
            }
        }
        Ok(())
    }

    /// Accumulates one CRLF-terminated line (bounded); `None` until it is whole.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, SigError> {
        let limit = if self.state == State::Trailers {
            self.limits.max_trailer_bytes
        } else {
            self.limits.max_line
        };
        let (take, found) = match input.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (input.len(), false),
        };
        if self.line.len() + take > limit {
            return Err(self.framing("line", format!("a line over {limit} bytes")));
        }
        self.line.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.offset += take as u64;
        if !found {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        if line.len() < 2 || line[line.len() - 2] != b'\r' {
            return Err(self.framing("line", "lines must end with CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(Some(line))
    }

    fn on_chunk_header(&mut self, line: &[u8]) -> Result<(), SigError> {
        let (size_hex, ext) = match line.iter().position(|&b| b == b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if size_hex.is_empty() || size_hex.len() > 16 || !size_hex.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(self.framing("chunk size", "expected 1-16 hex digits"));
        }
        let size = size_hex.iter().fold(0u64, |n, &b| {
            n << 4 | u64::from((b as char).to_digit(16).unwrap_or(0))
        });
        match (&self.signing, ext) {
            (Some(_), Some(ext)) => {
                let sig = ext
                    .strip_prefix(b"chunk-signature=")
                    .filter(|s| {
                        s.len() == 64
                            && s.iter()
                                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                    })
                    .ok_or_else(|| {
                        self.framing(
                            "chunk extension",
                            "expected chunk-signature=<64 lowercase hex>",
                        )
                    })?;
                self.held.clear();
                self.chunk_hasher = Sha256::new();
                self.claimed = sig.to_vec();
            }
            (Some(_), None) => {
                return Err(self.framing("chunk extension", "a signed chunk needs chunk-signature"))
            }
            (None, Some(_)) => {
                return Err(self.framing("chunk extension", "unsigned chunks carry no extension"))
            }
            (None, None) => {}
        }
        if self.signing.is_some() && size > self.limits.max_signed_chunk {
            return Err(self.framing(
                "chunk size",
                format!(
                    "{size} bytes is over the {} byte limit for a signed chunk",
                    self.limits.max_signed_chunk
                ),
            ));
        }
        if self.signing.is_some() && size > 0 && self.last_data_chunk_small {
            return Err(self.framing(
                "chunk size",
                format!(
                    "only the last chunk may be under {} bytes",
                    self.limits.min_signed_chunk
                ),
            ));
        }
        if size > self.declared_len - self.decoded {
            return Err(SigError::DecodedLength {
                declared: self.declared_len,
                actual: self.decoded.saturating_add(size),
            });
        }
        if size == 0 {
            if self.signing.is_some() {
                let claimed = std::mem::take(&mut self.claimed);
                self.check_chunk(&claimed)?;
            }
            self.chunk_index += 1;
            self.state = if self.trailers_allowed {
                State::Trailers
            } else {
                State::FinalCrlf { seen_cr: false }
            };
        } else {
            self.last_data_chunk_small = size < self.limits.min_signed_chunk;
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn on_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for (_, sum) in &mut self.checksums {
            sum.update(data);
        }
        self.decoded += data.len() as u64;
        if self.signing.is_some() {
            self.chunk_hasher.update(data);
            self.held.extend_from_slice(data);
        } else {
            out.extend_from_slice(data);
        }
    }

    fn end_data_chunk(&mut self, out: &mut Vec<u8>) -> Result<(), SigError> {
        if self.signing.is_some() {
            let claimed = std::mem::take(&mut self.claimed);
            self.check_chunk(&claimed)?;
            out.extend_from_slice(&self.held);
            self.held.clear();
        }
        self.chunk_index += 1;
        Ok(())
    }

    /// `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous>\n<sha256("")>\n<sha256(data)>`.
    fn check_chunk(&mut self, claimed: &[u8]) -> Result<(), SigError> {
        let hash = std::mem::replace(&mut self.chunk_hasher, Sha256::new()).finalize();
        let s = self.signing.as_mut().expect("signed mode");
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            s.amz_date,
            s.scope,
            s.previous,
            hex::encode(hash)
        );
        let claimed = std::str::from_utf8(claimed).unwrap_or_default();
        if !s.key.check(sts.as_bytes(), claimed) {
            return Err(SigError::ChunkSignature {
                index: self.chunk_index,
                offset: self.offset,
            });
        }
        s.previous = claimed.to_owned();
        Ok(())
    }

    /// Ends the body: refused unless the last chunk, trailers and length were all read and
    /// checked. Returns the trailers (checksum values; the trailer signature last, if any).
    pub fn finish(mut self) -> Result<Vec<Trailer>, SigError> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let ended = match self.state {
            State::Done => true,
            // Trailer section that ends at a complete line without the closing empty line.
            State::Trailers
                if self.line.is_empty()
                    && (self.blank_before_trailers || !self.trailers.is_empty()) =>
            {
                self.complete()?;
                true
            }
            _ => false,
        };
        if !ended {
            if self.decoded != self.declared_len {
                return Err(SigError::DecodedLength {
                    declared: self.declared_len,
                    actual: self.decoded,
                });
            }
            return Err(self.framing("end", "the body ended before its final chunk"));
        }
        Ok(self.trailers)
    }
}
