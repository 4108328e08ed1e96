//! Secrets recognised by their shape inside any text.

use crate::names::Names;
use crate::{MaskError, ShapeRule, MASK};
use regex::{Regex, RegexSet};

pub(crate) struct Shapes {
    set: RegexSet,
    each: Vec<Regex>,
    /// `name=value`, `name: value`, `"name": "value"` in free text.
    kv: Regex,
    /// `--name value` command-line flags.
    flag: Regex,
    /// An AWS access key id (not secret itself; its secret key next to it is).
    akid: Regex,
    /// Runs of base64 characters, to find 40-character secret access keys.
    b64: Regex,
    /// A base64 body of a DER structure (`MII...`) over several lines, with or
    /// without its PEM header.
    der: Regex,
}

// An unquoted value ends where a shell word does (`;`, `&`, `|`, `<`, `>`, `(`, `)`,
// backquote, `$`): what follows is another command, and an approver must see it.
const KV: &str = r#"(?P<k>[A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*[:=][ \t]*(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<v>[^\s"',;&|<>()`$]+))"#;
const FLAG: &str = r#"(?:^|\s)--?(?P<k>[A-Za-z][A-Za-z0-9_-]*)(?:[ \t]+|=)(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<v>[^\s"'\-;&|<>()`$][^\s"';&|<>()`$]*))"#;

/// Where a shell runs a command inside a double-quoted or unquoted value: from there on
/// the value is shown, so a secret-named flag cannot hide `$(curl ...|sh)`.
fn substitution_at(v: &str) -> Option<usize> {
    ["$(", "`", "${"].iter().filter_map(|p| v.find(p)).min()
}

impl Shapes {
    pub(crate) fn new(rules: &[ShapeRule]) -> Result<Shapes, MaskError> {
        let mut each = Vec::with_capacity(rules.len());
        for r in rules {
            each.push(Regex::new(&r.pattern).map_err(|source| MaskError::Pattern {
                name: r.name.clone(),
                source,
            })?);
        }
        let set = RegexSet::new(rules.iter().map(|r| r.pattern.as_str())).map_err(|source| {
            MaskError::Pattern {
                name: "(all shapes)".into(),
                source,
            }
        })?;
        Ok(Shapes {
            set,
            each,
            kv: Regex::new(KV).expect("kv pattern"),
            flag: Regex::new(FLAG).expect("flag pattern"),
            akid: Regex::new(r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}\b").expect("akid"),
            b64: Regex::new(r"[A-Za-z0-9/+]+=*").expect("b64"),
            der: Regex::new(r"MI[A-Za-z0-9/+]{10}[A-Za-z0-9/+=\r\n]{190,}").expect("der"),
        })
    }

    pub(crate) fn has_access_key_id(&self, s: &str) -> bool {
        s.len() >= 20 && self.akid.is_match(s)
    }

    /// The text with every secret-shaped part replaced, or `None` when nothing is.
    /// `near_key_id`: an AWS access key id is in the same value, so 40-character
    /// secret access keys are masked too.
    pub(crate) fn mask(&self, names: &Names, s: &str, near_key_id: bool) -> Option<String> {
        if s.len() < 4 {
            return None;
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for i in self.set.matches(s).iter() {
            for c in self.each[i].captures_iter(s) {
                let m = c.name("s").unwrap_or_else(|| c.get(0).expect("match"));
                spans.push((m.start(), m.end()));
            }
        }
        if s.contains('=') || s.contains(':') {
            self.pairs(&self.kv, names, s, &mut spans);
        }
        if s.contains('-') {
            self.pairs(&self.flag, names, s, &mut spans);
        }
        if s.len() >= 40 {
            let near = near_key_id || self.has_access_key_id(s);
            for m in self.b64.find_iter(s) {
                let t = m.as_str().trim_end_matches('=');
                // Next to a key id any random-looking 40 characters are its secret; on
                // their own they must also look like one (not a path, enough entropy).
                if t.len() == 40 && looks_random(t) && (near || looks_like_secret_key(t)) {
                    spans.push((m.start(), m.start() + 40));
                }
            }
        }
        if s.len() > 200 && s.contains("MI") {
            for m in self.der.find_iter(s) {
                if is_private_key_der(m.as_str()) {
                    spans.push((m.start(), m.end()));
                }
            }
        }
        spans.retain(|(a, b)| a < b);
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (a, b) in spans {
            if b <= at {
                continue;
            }
            let a = a.max(at);
            out.push_str(&s[at..a]);
            out.push_str(MASK);
            at = b;
        }
        out.push_str(&s[at..]);
        (out != s).then_some(out)
    }

    fn pairs(&self, re: &Regex, names: &Names, s: &str, spans: &mut Vec<(usize, usize)>) {
        for c in re.captures_iter(s) {
            let key = c.name("k").map_or("", |k| k.as_str());
            if !names.is_secret(key) {
                continue;
            }
            if let Some(v) = c.name("dq").or(c.name("sq")).or(c.name("v")) {
                if v.as_str() != MASK && !v.as_str().starts_with(MASK) {
                    // Single quotes are literal in a shell; elsewhere a substitution runs.
                    let end = match c.name("sq") {
                        Some(_) => v.end(),
                        None => substitution_at(v.as_str()).map_or(v.end(), |i| v.start() + i),
                    };
                    spans.push((v.start(), end));
                }
            }
        }
    }
}

/// Mixed case and a digit or `/`/`+`: a random key, not a word or a hex digest.
fn looks_random(t: &str) -> bool {
    let upper = t.bytes().any(|b| b.is_ascii_uppercase());
    let lower = t.bytes().any(|b| b.is_ascii_lowercase());
    let other = t
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+');
    upper && lower && other
}

/// A bare AWS secret access key: 40 base64 characters drawn at random. Hex digests
/// (one case only), paths (a `/`-separated run of words) and low-entropy text are not.
fn looks_like_secret_key(t: &str) -> bool {
    if t.bytes().all(|b| b.is_ascii_hexdigit()) || !t.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    // Paths: segments that are each plain lower-case words or numbers.
    if t.contains('/')
        && t.split('/').all(|seg| {
            seg.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                || seg.bytes().all(|b| b.is_ascii_alphabetic())
        })
    {
        return false;
    }
    // Random base64 of 40 characters has over 4.35 bits of entropy per character
    // (99.9% of them) and switches between upper case, lower case, digits and symbols
    // 15 times or more; CamelCase identifiers of that length stay under 4.33 bits.
    let mut counts = [0u32; 128];
    for b in t.bytes() {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let n = t.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    let class = |b: u8| match b {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let switches = t
        .as_bytes()
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    entropy >= 4.35 && switches >= 14
}

/// The start of base64 DER that is a private key: a SEQUENCE with a long length
/// (`30 81`/`30 82`) whose first member is the version INTEGER 0 or 1 (PKCS#1 RSA,
/// PKCS#8, SEC1 EC keys). Certificates (a SEQUENCE of SEQUENCEs) are not secret.
fn is_private_key_der(b64: &str) -> bool {
    let chars: Vec<u8> = b64
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .take(12)
        .collect();
    let Some(bytes) = decode_b64(&chars) else {
        return false;
    };
    let body = match bytes.as_slice() {
        [0x30, 0x81, _, rest @ ..] => rest,
        [0x30, 0x82, _, _, rest @ ..] => rest,
        _ => return false,
    };
    matches!(body, [0x02, 0x01, 0x00 | 0x01, ..])
}

fn decode_b64(chars: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for q in chars.chunks_exact(4) {
        let n = q
            .iter()
            .try_fold(0u32, |acc, &c| Some(acc << 6 | val(c)?))?;
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_shape() {
        assert!(looks_like_secret_key(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        ));
        assert!(looks_like_secret_key(
            "Zq3Vb8Kx1Lm5Np9Rt2Wy6Cd0Fg4Hj7Ks3Qa8Ue1O"
        ));
        for not in [
            "0123456789abcdef0123456789abcdef01234567",
            "0123456789ABCDEF0123456789ABCDEF01234567",
            "models/llama/weights/shard00001of00004ab",
            "ThisIsAVeryLongCamelCaseIdentifierName12",
            "aaaaaaaaaaaaaaaaaaaaAAAAAAAAAAAAAAAAAAA1",
            "AmazonSageMakerFullAccessPolicyVersion12",
            "MyApplicationLoadBalancerTargetGroup2024",
        ] {
            assert!(!looks_like_secret_key(not), "{not}");
        }
    }

    #[test]
    fn private_key_der_not_certificates() {
        // PKCS#1 RSA "MIIEowIBAAKCAQEA", PKCS#8 "MIIEvQIBADANBgkq", a certificate "MIIDdzCCAl+gAwIB".
        assert!(is_private_key_der("MIIEowIBAAKCAQEA"));
        assert!(is_private_key_der("MIIEvQIBADANBgkq"));
        assert!(!is_private_key_der("MIIDdzCCAl+gAwIB"));
    }
}
