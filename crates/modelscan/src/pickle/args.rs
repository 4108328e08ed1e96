//! Reading opcode arguments: fixed-width integers, lines, strings and bytes, each
//! checked against what remains so a hostile length never becomes an allocation.

use super::input::{parse_int, BlobSource};
use super::value::Value;
use super::vm::{halt, Halt, Step, Vm};
use std::rc::Rc;

impl Vm<'_> {
    pub fn fixed<const N: usize>(&mut self, src: &mut BlobSource<'_>, at: u64) -> Step<[u8; N]> {
        let v = src
            .take(N)
            .map_err(|e| io_halt(at, e))?
            .ok_or_else(|| halt(at, "input ends inside an opcode argument"))?;
        Ok(v.try_into().expect("take returns N bytes"))
    }

    pub(super) fn raw_line(
        &mut self,
        src: &mut BlobSource<'_>,
        at: u64,
        what: &str,
    ) -> Step<Vec<u8>> {
        let mut l = src
            .line(self.limits.max_line)
            .map_err(|e| io_halt(at, e))?
            .ok_or_else(|| halt(at, &format!("{what} argument has no end of line")))?;
        l.pop();
        Ok(l)
    }
    /// A line argument as text (GLOBAL/INST names, numbers, memo keys).
    pub(super) fn text_line(
        &mut self,
        src: &mut BlobSource<'_>,
        at: u64,
        what: &str,
    ) -> Step<String> {
        let l = self.raw_line(src, at, what)?;
        String::from_utf8(l).map_err(|_| halt(at, &format!("{what} argument is not UTF-8")))
    }

    pub(super) fn string(
        &mut self,
        src: &mut BlobSource<'_>,
        at: u64,
        n: u64,
        utf8: bool,
    ) -> Step<Value> {
        if n > src.remaining() {
            return Err(halt(
                at,
                &format!("string of {n} bytes but only {} remain", src.remaining()),
            ));
        }
        let keep = (n as usize).min(super::value::KEEP_TEXT * 4);
        let data = src
            .take(keep)
            .map_err(|e| io_halt(at, e))?
            .ok_or_else(|| halt(at, "input ends inside a string"))?;
        let full = keep as u64 == n;
        if !full {
            src.skip(n - keep as u64).map_err(|e| io_halt(at, e))?;
        }
        let text = if utf8 {
            match String::from_utf8(data) {
                Ok(s) => s,
                Err(e) if full => {
                    // CPython accepts lone surrogates ("surrogatepass"), nothing else
                    let bytes = e.into_bytes();
                    if !surrogates_only(&bytes) {
                        return Err(halt(at, "string is not valid UTF-8"));
                    }
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }
        } else {
            latin1(&data)
        };
        let v = Value::text(text);
        Ok(match v {
            Value::Str { text, .. } if !full => Value::Str { text, full: false },
            v => v,
        })
    }

    pub fn bytes(&mut self, src: &mut BlobSource<'_>, at: u64, n: u64) -> Step<Value> {
        if n > src.remaining() {
            return Err(halt(
                at,
                &format!("bytes of length {n} but only {} remain", src.remaining()),
            ));
        }
        let keep = n <= self.limits.keep_bytes as u64
            && self.kept_bytes + (n as usize) <= self.limits.max_kept_bytes;
        if keep {
            let d = src
                .take(n as usize)
                .map_err(|e| io_halt(at, e))?
                .ok_or_else(|| halt(at, "input ends inside bytes"))?;
            self.kept_bytes += d.len();
            Ok(Value::Bytes {
                len: n,
                data: Some(d.into()),
            })
        } else {
            src.skip(n).map_err(|e| io_halt(at, e))?;
            Ok(Value::Bytes { len: n, data: None })
        }
    }

    pub(super) fn long_bytes(&mut self, src: &mut BlobSource<'_>, at: u64, n: u64) -> Step<Value> {
        if n > src.remaining() {
            return Err(halt(at, "long integer longer than the input"));
        }
        let keep = n.min(64) as usize;
        let b = src
            .take(keep)
            .map_err(|e| io_halt(at, e))?
            .ok_or_else(|| halt(at, "input ends inside a long integer"))?;
        src.skip(n - keep as u64).map_err(|e| io_halt(at, e))?;
        if n <= 8 {
            let neg = b.last().is_some_and(|&x| x & 0x80 != 0);
            let mut buf = [if neg { 0xff } else { 0 }; 8];
            buf[..b.len()].copy_from_slice(&b);
            return Ok(Value::Int(i64::from_le_bytes(buf)));
        }
        Ok(Value::BigInt(b.into()))
    }
}

pub fn int_value(t: &str) -> Option<Value> {
    match parse_int(t)? {
        Ok(v) => Some(Value::Int(v)),
        Err(()) => Some(Value::BigInt(Rc::from(Vec::new()))),
    }
}

pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Invalid UTF-8 made only of encoded surrogates (ED A0..BF xx), which CPython allows.
fn surrogates_only(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        match std::str::from_utf8(&b[i..]) {
            Ok(_) => return true,
            Err(e) => {
                let bad = i + e.valid_up_to();
                if b.get(bad) == Some(&0xed)
                    && b.get(bad + 1).is_some_and(|x| (0xa0..=0xbf).contains(x))
                    && b.get(bad + 2).is_some_and(|x| (0x80..=0xbf).contains(x))
                {
                    i = bad + 3;
                } else {
                    return false;
                }
            }
        }
    }
    true
}

pub fn io_halt(offset: u64, e: std::io::Error) -> Halt {
    Halt {
        offset,
        message: format!("read error: {e}"),
        budget: false,
    }
}
