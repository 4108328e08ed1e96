//! Smithy RPC v2 CBOR bodies: a small CBOR decoder (RFC 8949: definite and indefinite
//! lengths, tag 1 timestamps, half/single/double floats) into JSON values, then typed by
//! shape like a JSON body. Byte strings become base64 text (as blobs are elsewhere).

use base64::Engine;
use serde_json::{Map, Number, Value};

use crate::shape::Ref;
use crate::value::{from_json, At, Ctx};
use crate::{WireError, MAX_DEPTH};

pub(crate) fn read_body(ctx: &Ctx, input: &Ref, body: &[u8]) -> Result<Value, WireError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let v = decode(body).map_err(|e| ctx.bad("body", e))?;
    if !v.is_object() {
        return Err(ctx.bad("body", "the body is not a CBOR map"));
    }
    Ok(
        from_json(ctx, input, v, &At::Root(""), false)?
            .unwrap_or_else(|| Value::Object(Map::new())),
    )
}

/// Decodes one CBOR item that must span all of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut d = Decoder { b: bytes, i: 0 };
    let v = d.item(0)?.ok_or("CBOR: unexpected break")?;
    if d.i != bytes.len() {
        return Err(format!("CBOR: {} bytes after the item", bytes.len() - d.i));
    }
    Ok(v)
}

struct Decoder<'a> {
    b: &'a [u8],
    i: usize,
}

const BREAK: u8 = 0xff;

impl Decoder<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let c = *self.b.get(self.i).ok_or("CBOR: truncated")?;
        self.i += 1;
        Ok(c)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let n = usize::try_from(n).map_err(|_| "CBOR: length too large")?;
        if self.b.len() - self.i < n {
            return Err("CBOR: truncated".into());
        }
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        Ok(s)
    }

    /// The argument of an initial byte; None for an indefinite length (31).
    fn arg(&mut self, info: u8) -> Result<Option<u64>, String> {
        Ok(Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().unwrap_or_default(),
            )),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().unwrap_or_default(),
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()),
            31 => return Ok(None),
            _ => return Err(format!("CBOR: reserved additional info {info}")),
        }))
    }

    /// A text or byte string, definite or as indefinite chunks of the same major type.
    fn string(&mut self, major: u8, info: u8) -> Result<Vec<u8>, String> {
        match self.arg(info)? {
            Some(n) => Ok(self.take(n)?.to_vec()),
            None => {
                let mut out = Vec::new();
                loop {
                    let c = self.byte()?;
                    if c == BREAK {
                        return Ok(out);
                    }
                    if c >> 5 != major || c & 0x1f == 31 {
                        return Err("CBOR: bad chunk in an indefinite string".into());
                    }
                    let n = self.arg(c & 0x1f)?.ok_or("CBOR: nested indefinite chunk")?;
                    out.extend_from_slice(self.take(n)?);
                }
            }
        }
    }

    fn text(&mut self, info: u8) -> Result<String, String> {
        String::from_utf8(self.string(3, info)?).map_err(|_| "CBOR: text is not UTF-8".to_string())
    }

    fn float(f: f64) -> Value {
        match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None if f.is_nan() => Value::String("NaN".into()),
            None if f > 0.0 => Value::String("Infinity".into()),
            None => Value::String("-Infinity".into()),
        }
    }

    /// One item; None for a break (only meaningful inside indefinite containers).
    fn item(&mut self, depth: usize) -> Result<Option<Value>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("CBOR: nested deeper than {MAX_DEPTH}"));
        }
        let c = self.byte()?;
        let (major, info) = (c >> 5, c & 0x1f);
        Ok(Some(match major {
            0 => Value::Number(self.arg(info)?.ok_or("CBOR: indefinite integer")?.into()),
            1 => {
                let n = self.arg(info)?.ok_or("CBOR: indefinite integer")?;
                let n = i64::try_from(n).map_err(|_| "CBOR: negative integer too large")?;
                Value::Number((-1 - n).into())
            }
            2 => Value::String(
                base64::engine::general_purpose::STANDARD.encode(self.string(2, info)?),
            ),
            3 => Value::String(self.text(info)?),
            4 => {
                let n = self.arg(info)?;
                let mut out = Vec::with_capacity(n.map_or(0, |n| n.min(1024) as usize));
                loop {
                    if n.is_some_and(|n| out.len() as u64 == n) {
                        break;
                    }
                    match self.item(depth + 1)? {
                        Some(v) => out.push(v),
                        None if n.is_none() => break,
                        None => return Err("CBOR: break in a definite array".into()),
                    }
                }
                Value::Array(out)
            }
            5 => {
                let n = self.arg(info)?;
                let mut out = Map::new();
                let mut count = 0u64;
                loop {
                    if n.is_some_and(|n| count == n) {
                        break;
                    }
                    let kc = self.byte()?;
                    if kc == BREAK && n.is_none() {
                        break;
                    }
                    if kc >> 5 != 3 {
                        return Err("CBOR: a map key is not text".into());
                    }
                    let k = self.text(kc & 0x1f)?;
                    let v = self
                        .item(depth + 1)?
                        .ok_or("CBOR: break instead of a map value")?;
                    if out.insert(k.clone(), v).is_some() {
                        return Err(format!("CBOR: key {k:?} given twice"));
                    }
                    count += 1;
                }
                Value::Object(out)
            }
            6 => {
                let tag = self.arg(info)?.ok_or("CBOR: indefinite tag")?;
                if tag != 1 {
                    return Err(format!("CBOR: tag {tag} is not accepted"));
                }
                let v = self.item(depth + 1)?.ok_or("CBOR: tag without item")?;
                if !v.is_number() {
                    return Err("CBOR: a timestamp (tag 1) is not a number".into());
                }
                v
            }
            _ => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 | 23 => Value::Null,
                25 => Self::float(half(u16::from_be_bytes(
                    self.take(2)?.try_into().unwrap_or_default(),
                ))),
                26 => Self::float(f64::from(f32::from_be_bytes(
                    self.take(4)?.try_into().unwrap_or_default(),
                ))),
                27 => Self::float(f64::from_be_bytes(
                    self.take(8)?.try_into().unwrap_or_default(),
                )),
                31 => return Ok(None),
                _ => return Err(format!("CBOR: simple value {info} is not accepted")),
            },
        }))
    }
}

fn half(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x3ff);
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (mant + 1024.0) * 2f64.powi(i32::from(e) - 25),
    };
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

fn text_item(out: &mut Vec<u8>, s: &str) {
    let n = s.len() as u64;
    match n {
        0..=23 => out.push(0x60 | n as u8),
        24..=0xff => out.extend([0x78, n as u8]),
        0x100..=0xffff => {
            out.push(0x79);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(0x7a);
            out.extend((n.min(u64::from(u32::MAX)) as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s.as_bytes());
}

/// `{"__type": code, "message": message}` in CBOR.
pub(crate) fn encode_error(code: &str, message: &str) -> Vec<u8> {
    let message = &message[..message.len().min(u32::MAX as usize)];
    let mut out = vec![0xa2];
    text_item(&mut out, "__type");
    text_item(&mut out, code);
    text_item(&mut out, "message");
    text_item(&mut out, message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes() {
        // {"a": [1, -2, h'0102', 1.5, true, null], "b": 1(1700000000)}
        let b = [
            0xa2, 0x61, b'a', 0x86, 0x01, 0x21, 0x42, 1, 2, 0xf9, 0x3e, 0x00, 0xf5, 0xf6, 0x61,
            b'b', 0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00,
        ];
        assert_eq!(
            decode(&b).unwrap(),
            json!({"a": [1, -2, "AQI=", 1.5, true, null], "b": 1700000000})
        );
        // Indefinite map, array and text.
        let b = [
            0xbf, 0x61, b'x', 0x9f, 0x7f, 0x61, b'h', 0x61, b'i', 0xff, 0xff, 0xff,
        ];
        assert_eq!(decode(&b).unwrap(), json!({"x": ["hi"]}));
        let e = encode_error("Denied", "no");
        assert_eq!(
            decode(&e).unwrap(),
            json!({"__type": "Denied", "message": "no"})
        );
    }

    #[test]
    fn refuses() {
        assert!(decode(&[0xa2, 0x61, b'a', 1, 0x61, b'a', 2]).is_err()); // duplicate key
        assert!(decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err()); // huge array
        assert!(decode(&[0xc2, 0x41, 1]).is_err()); // bignum tag
        assert!(decode(&[0x01, 0x01]).is_err()); // trailing
        assert!(decode(&[0xa1, 0x01, 0x01]).is_err()); // int key
        assert!(decode(&[0x81; 200]).is_err()); // depth
    }
}
