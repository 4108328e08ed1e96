//! Reading what a request's signature claims: the Authorization header form and the
//! presigned query form, strictly. Anything ambiguous (both forms, a parameter twice) or
//! malformed is refused with the part that is wrong named.

use crate::canonical::{form_decode, is_s3};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date, parse_scope_date};
use crate::{PayloadHash, SigError, Signed, MAX_PRESIGNED_EXPIRES};
use http::HeaderMap;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";
/// Longest value of any one signature component we read (a credential, a signed-header list).
const MAX_COMPONENT: usize = 4096;

/// The presigned query parameters, each at most once.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

impl QueryAuth {
    fn read(query: &str) -> Result<QueryAuth, SigError> {
        let mut q = QueryAuth::default();
        for piece in query.split('&') {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            // Names compared decoded: `X-Amz-%53ignature` is X-Amz-Signature too.
            let name = form_decode(k.as_bytes());
            let slot = match name.as_slice() {
                b"X-Amz-Algorithm" => &mut q.algorithm,
                b"X-Amz-Credential" => &mut q.credential,
                b"X-Amz-Date" => &mut q.date,
                b"X-Amz-Expires" => &mut q.expires,
                b"X-Amz-SignedHeaders" => &mut q.signed_headers,
                b"X-Amz-Signature" => &mut q.signature,
                b"X-Amz-Security-Token" => &mut q.security_token,
                _ => continue,
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            if slot.is_some() {
                return Err(SigError::Duplicate {
                    what: format!("query parameter {name}"),
                });
            }
            let value =
                String::from_utf8(form_decode(v.as_bytes())).map_err(|_| SigError::Malformed {
                    what: "presigned query parameter",
                    detail: format!("{name} is not UTF-8"),
                })?;
            *slot = Some(value);
        }
        Ok(q)
    }

    /// Whether any parameter that makes this a presigned request is there.
    fn any_signing_param(&self) -> Option<&'static str> {
        [
            (self.algorithm.is_some(), "X-Amz-Algorithm"),
            (self.credential.is_some(), "X-Amz-Credential"),
            (self.signed_headers.is_some(), "X-Amz-SignedHeaders"),
            (self.signature.is_some(), "X-Amz-Signature"),
        ]
        .into_iter()
        .find_map(|(present, name)| present.then_some(name))
    }
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, SigError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigError::Duplicate {
            what: format!("{name} header"),
        });
    }
    first.to_str().map(Some).map_err(|_| SigError::Malformed {
        what: name,
        detail: "not visible ASCII".into(),
    })
}

fn check_algorithm(algorithm: &str) -> Result<(), SigError> {
    match algorithm {
        ALGORITHM => Ok(()),
        SIGV4A => Err(SigError::SigV4aNotSupported {
            algorithm: algorithm.into(),
        }),
        other => Err(SigError::UnsupportedAlgorithm {
            algorithm: other.chars().take(64).collect(),
        }),
    }
}

fn scope_part_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `AKID/yyyymmdd/region/service/aws4_request` -> (akid, date, region, service).
fn parse_credential(credential: &str) -> Result<(String, String, String, String), SigError> {
    let bad = |detail: &str| SigError::BadScope {
        scope: credential.chars().take(256).collect(),
        detail: detail.into(),
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts[..] else {
        return Err(bad(
            "expected <access key id>/<yyyymmdd>/<region>/<service>/aws4_request",
        ));
    };
    if akid.is_empty() || akid.len() > 128 || !akid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("the access key id must be 1-128 letters and digits"));
    }
    if parse_scope_date(date).is_none() {
        return Err(bad("the date must be a real yyyymmdd date"));
    }
    if !scope_part_ok(region) {
        return Err(bad("the region must be lowercase letters, digits and '-'"));
    }
    if !scope_part_ok(service) {
        return Err(bad("the service must be lowercase letters, digits and '-'"));
    }
    if terminator != "aws4_request" {
        return Err(bad("the scope must end with aws4_request"));
    }
    Ok((akid.into(), date.into(), region.into(), service.into()))
}

fn header_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigError> {
    let names: Vec<&str> = list.split(';').collect();
    for (i, name) in names.iter().enumerate() {
        if !header_name_ok(name) {
            return Err(SigError::BadSignedHeaders {
                detail: format!(
                    "{:?} is not a lowercase header name",
                    name.chars().take(64).collect::<String>()
                ),
            });
        }
        if i > 0 && names[i - 1] >= *name {
            let detail = if names[i - 1] == *name {
                "repeats"
            } else {
                "is out of order after"
            };
            return Err(SigError::BadSignedHeaders {
                detail: format!("{name:?} {detail} {:?}", names[i - 1]),
            });
        }
    }
    if names.binary_search(&"host").is_err() {
        return Err(SigError::HostNotSigned {
            signed: list.chars().take(256).collect(),
        });
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}

fn check_signature(sig: &str) -> Result<(), SigError> {
    if sig.len() == 64
        && sig
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(SigError::Malformed {
            what: "Signature",
            detail: "expected 64 lowercase hex digits".into(),
        })
    }
}

fn payload_from_header(value: &str) -> Result<PayloadHash, SigError> {
    Ok(match value {
        "UNSIGNED-PAYLOAD" => PayloadHash::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadHash::StreamingSigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadHash::StreamingSignedTrailer,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadHash::StreamingUnsignedTrailer,
        v if v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") => {
            return Err(SigError::SigV4aNotSupported {
                algorithm: v.into(),
            })
        }
        v if v.len() == 64
            && v.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            PayloadHash::Hex(v.into())
        }
        v => {
            return Err(SigError::BadContentSha256 {
                value: v.chars().take(80).collect(),
            })
        }
    })
}

/// Reads the signature of a request: the `Authorization` header form or the presigned query
/// form (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders`, `X-Amz-Signature`, `X-Amz-Security-Token`).
///
/// `path` and `query` are raw, as on the wire (`query` without `?`). `headers` must hold
/// `host` (for HTTP/2, insert it from the `:authority`). Refused: no signature, both forms,
/// any parameter twice, a malformed scope or signed-header list, `host` unsigned, an
/// algorithm other than AWS4-HMAC-SHA256, a missing `x-amz-content-sha256` on S3, a date
/// that is not the scope's, `X-Amz-Expires` over 7 days.
pub fn parse(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<Signed, SigError> {
    let _ = (method, path);
    let authorization = single_header(headers, "authorization")?;
    let q = QueryAuth::read(query)?;
    let (akid_scope, signed_headers, signature, presigned) =
        match (authorization, q.any_signing_param()) {
            (Some(_), Some(param)) => {
                return Err(SigError::BothForms {
                    param: param.into(),
                })
            }
            (None, None) => return Err(SigError::MissingAuthentication),
            (Some(auth), None) => {
                let (credential, signed, signature) = parse_authorization(auth)?;
                (credential, signed, signature, false)
            }
            (None, Some(_)) => {
                let missing = |what| SigError::Missing { what };
                check_algorithm(q.algorithm.as_deref().ok_or(missing("X-Amz-Algorithm"))?)?;
                let credential = q.credential.clone().ok_or(missing("X-Amz-Credential"))?;
                let signed = q
                    .signed_headers
                    .clone()
                    .ok_or(missing("X-Amz-SignedHeaders"))?;
                let signature = q.signature.clone().ok_or(missing("X-Amz-Signature"))?;
                (credential, signed, signature, true)
            }
        };
    for (what, v) in [
        ("credential", &akid_scope),
        ("SignedHeaders", &signed_headers),
    ] {
        if v.len() > MAX_COMPONENT {
            return Err(SigError::Malformed {
                what: "signature component",
                detail: format!("{what} is over {MAX_COMPONENT} bytes"),
            });
        }
    }
    let (access_key_id, date, region, service) = parse_credential(&akid_scope)?;
    let signed_headers = parse_signed_headers(&signed_headers)?;
    check_signature(&signature)?;
    let is_signed = |h: &str| {
        signed_headers
            .binary_search_by(|s| s.as_str().cmp(h))
            .is_ok()
    };

    let (timestamp, amz_date_text) = if presigned {
        let d = q
            .date
            .as_deref()
            .ok_or(SigError::Missing { what: "X-Amz-Date" })?;
        let t = parse_amz_date(d).ok_or_else(|| SigError::Malformed {
            what: "X-Amz-Date",
            detail: format!("{d:?} is not yyyymmddThhmmssZ"),
        })?;
        (t, d.to_owned())
    } else if let Some(d) = single_header(headers, "x-amz-date")? {
        let t = parse_amz_date(d).ok_or_else(|| SigError::Malformed {
            what: "x-amz-date",
            detail: format!("{d:?} is not yyyymmddThhmmssZ"),
        })?;
        if !is_signed("x-amz-date") {
            return Err(SigError::DateNotSigned {
                header: "x-amz-date",
            });
        }
        (t, d.to_owned())
    } else if let Some(d) = single_header(headers, "date")? {
        let t = parse_http_date(d).ok_or_else(|| SigError::Malformed {
            what: "date",
            detail: format!("{d:?} is not an HTTP date"),
        })?;
        if !is_signed("date") {
            return Err(SigError::DateNotSigned { header: "date" });
        }
        (t, format_amz_date(t))
    } else {
        return Err(SigError::Missing {
            what: "x-amz-date (or date) header",
        });
    };
    if amz_date_text[..8] != date {
        return Err(SigError::ScopeDateMismatch {
            scope_date: date,
            amz_date: amz_date_text,
        });
    }

    let presigned_expires = if presigned {
        let e = q.expires.as_deref().ok_or(SigError::Missing {
            what: "X-Amz-Expires",
        })?;
        let n = (e.len() <= 6 && !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
            .then(|| e.parse::<i64>().ok())
            .flatten()
            .filter(|n| (1..=MAX_PRESIGNED_EXPIRES).contains(n));
        Some(n.ok_or_else(|| SigError::BadExpires {
            value: e.chars().take(32).collect(),
        })?)
    } else {
        None
    };

    let s3 = is_s3(&service);
    let payload = match single_header(headers, "x-amz-content-sha256")? {
        Some(v) => payload_from_header(v)?,
        None if s3 && !presigned => return Err(SigError::MissingContentSha256),
        None if s3 => PayloadHash::Unsigned,
        None => PayloadHash::Missing,
    };
    if payload.is_streaming() && (presigned || !s3) {
        return Err(SigError::PayloadModeNotAllowed {
            mode: payload.name(),
            detail: "aws-chunked streaming is for S3 requests signed in the Authorization header",
        });
    }

    let security_token = if presigned {
        q.security_token
    } else {
        single_header(headers, "x-amz-security-token")?.map(str::to_owned)
    };
    Ok(Signed {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
        timestamp,
        presigned_expires,
        payload,
        security_token,
    })
}

/// `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (components in any
/// order, `,` with optional spaces) -> (credential, signed headers, signature).
fn parse_authorization(value: &str) -> Result<(String, String, String), SigError> {
    let malformed = |detail: String| SigError::Malformed {
        what: "Authorization header",
        detail,
    };
    let (algorithm, rest) = value
        .trim_matches(' ')
        .split_once(' ')
        .unwrap_or((value.trim_matches(' '), ""));
    check_algorithm(algorithm)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim_matches(' ');
        let (key, v) = component.split_once('=').ok_or_else(|| {
            malformed(format!(
                "component {:?} is not Key=Value",
                component.chars().take(64).collect::<String>()
            ))
        })?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            k => {
                return Err(malformed(format!(
                    "unknown component {:?}",
                    k.chars().take(64).collect::<String>()
                )))
            }
        };
        if slot.is_some() {
            return Err(SigError::Duplicate {
                what: format!("{key} in the Authorization header"),
            });
        }
        *slot = Some(v.to_owned());
    }
    Ok((
        credential.ok_or(SigError::Missing {
            what: "Credential in the Authorization header",
        })?,
        signed.ok_or(SigError::Missing {
            what: "SignedHeaders in the Authorization header",
        })?,
        signature.ok_or(SigError::Missing {
            what: "Signature in the Authorization header",
        })?,
    ))
}
