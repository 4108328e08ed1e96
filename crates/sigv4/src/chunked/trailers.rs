//! The end of an aws-chunked body: trailer lines, their signature, checksums, the length.

use super::{ChunkedDecoder, State, Trailer};
use crate::SigError;
use sha2::{Digest, Sha256};

impl ChunkedDecoder {
    pub(super) fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), SigError> {
        self.trailer_bytes += line.len() + 2;
        if self.trailer_bytes > self.limits.max_trailer_bytes {
            return Err(self.framing(
                "trailer",
                format!("trailers over {} bytes", self.limits.max_trailer_bytes),
            ));
        }
        if line.is_empty() {
            if self.trailers.is_empty() && !self.blank_before_trailers {
                // The zero chunk's own CRLF (some SDKs), or an empty trailer section.
                self.blank_before_trailers = true;
                return Ok(());
            }
            self.complete()?;
            self.state = State::Done;
            return Ok(());
        }
        let text = std::str::from_utf8(line).map_err(|_| self.framing("trailer", "not UTF-8"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| self.framing("trailer", "expected name:value"))?;
        let name = name.trim().to_ascii_lowercase();
        if self.trailers.iter().any(|t| t.name == name) {
            return Err(SigError::Duplicate {
                what: format!("trailer {name}"),
            });
        }
        let signature_trailer = name == "x-amz-trailer-signature";
        if signature_trailer && self.signing.is_none() {
            return Err(self.framing("trailer", "x-amz-trailer-signature in an unsigned body"));
        }
        if !signature_trailer && !self.declared_trailers.contains(&name) {
            return Err(self.framing(
                "trailer",
                format!("{name:?} was not declared in x-amz-trailer"),
            ));
        }
        if self
            .trailers
            .iter()
            .any(|t| t.name == "x-amz-trailer-signature")
        {
            return Err(self.framing(
                "trailer",
                "x-amz-trailer-signature must be the last trailer",
            ));
        }
        self.trailers.push(Trailer {
            name,
            value: value.trim().to_owned(),
        });
        Ok(())
    }

    /// The end is reached: check trailers (declared, signed), checksums and the length.
    pub(super) fn complete(&mut self) -> Result<(), SigError> {
        if self.decoded != self.declared_len {
            return Err(SigError::DecodedLength {
                declared: self.declared_len,
                actual: self.decoded,
            });
        }
        for name in &self.declared_trailers {
            if !self.trailers.iter().any(|t| &t.name == name) {
                return Err(self.framing(
                    "trailer",
                    format!("{name} was declared in x-amz-trailer but not sent"),
                ));
            }
        }
        if let (Some(s), true) = (&self.signing, self.trailers_allowed) {
            let claimed = match self.trailers.last() {
                Some(t) if t.name == "x-amz-trailer-signature" => t.value.clone(),
                _ => {
                    return Err(SigError::Missing {
                        what: "x-amz-trailer-signature trailer",
                    })
                }
            };
            let mut sorted: Vec<&Trailer> = self
                .trailers
                .iter()
                .filter(|t| t.name != "x-amz-trailer-signature")
                .collect();
            sorted.sort_by(|a, b| a.name.cmp(&b.name));
            let canonical: String = sorted
                .iter()
                .map(|t| format!("{}:{}\n", t.name, t.value))
                .collect();
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                s.amz_date,
                s.scope,
                s.previous,
                hex::encode(Sha256::digest(canonical.as_bytes()))
            );
            if !s.key.check(sts.as_bytes(), &claimed) {
                return Err(SigError::TrailerSignature);
            }
        }
        for (name, sum) in std::mem::take(&mut self.checksums) {
            let computed = sum.finish_base64();
            let declared = self
                .trailers
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.value.clone())
                .unwrap_or_default();
            if declared != computed {
                return Err(SigError::ChecksumMismatch {
                    name,
                    declared,
                    computed,
                });
            }
        }
        Ok(())
    }
}
