//! Percent-decoding, query strings and form bodies, header lists.

use std::borrow::Cow;

/// Decodes `%XX` escapes (a literal `+` stays `+`, as in paths). None when an escape is
/// malformed or the bytes are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `a=1&b=&c` into decoded pairs (`+` is a space, as in forms); a key without `=`
/// has the value "". Err names the first pair that does not decode.
pub(crate) fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in s.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(k, true).ok_or_else(|| format!("undecodable query key {k:?}"))?;
        let value = decode(v, true).ok_or_else(|| format!("undecodable value of {key:?}"))?;
        out.push((key.into_owned(), value.into_owned()));
    }
    Ok(out)
}

/// Splits a header list value as botocore writes it: comma-separated, an item holding a
/// comma or quote is quoted with `\"` escapes. Items are trimmed.
pub(crate) fn split_header_list(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars>| {
        while matches!(c.peek(), Some(' ' | '\t')) {
            c.next();
        }
    };
    loop {
        skip_ws(&mut chars);
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => item.push(chars.next().ok_or("unterminated escape")?),
                    Some('"') => break,
                    Some(c) => item.push(c),
                    None => return Err("unterminated quoted item".into()),
                }
            }
            skip_ws(&mut chars);
            match chars.next() {
                None => {
                    out.push(item);
                    return Ok(out);
                }
                Some(',') => out.push(item),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted item")),
            }
        } else {
            let mut ended = true;
            for c in chars.by_ref() {
                if c == ',' {
                    ended = false;
                    break;
                }
                item.push(c);
            }
            out.push(item.trim_end().to_string());
            if ended {
                return Ok(out);
            }
        }
    }
}

/// Whether `host` (no port) is an IPv4 or bracketed IPv6 literal.
pub(crate) fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// `host[:port]` -> host, lowercased.
pub(crate) fn host_only(host: &str) -> String {
    let h = if host.starts_with('[') {
        match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b+c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%e2%82"), None);
        assert_eq!(
            parse_pairs("Action=X&a.b=1+2&c&=v&d=%41").unwrap(),
            vec![
                ("Action".into(), "X".into()),
                ("a.b".into(), "1 2".into()),
                ("c".into(), "".into()),
                ("".into(), "v".into()),
                ("d".into(), "A".into())
            ]
        );
        assert!(parse_pairs("a=%").is_err());
    }

    #[test]
    fn header_lists() {
        assert_eq!(split_header_list("a, b,c").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(
            split_header_list(r#""a,b", "c\"d", e"#).unwrap(),
            vec!["a,b", "c\"d", "e"]
        );
        assert_eq!(split_header_list("").unwrap(), vec![""]);
        assert!(split_header_list(r#""abc"#).is_err());
        assert_eq!(host_only("Bucket.Localhost:8080"), "bucket.localhost");
        assert_eq!(host_only("[::1]:80"), "[::1]");
        assert!(is_ip("127.0.0.1") && is_ip("[::1]") && !is_ip("localhost"));
    }
}
