//! The AWS CLI's shorthand syntax (`Key=k,Value=v`, `a=b,c`, `[x,y]`, `{k=v}`), ported
//! from awscli's `shorthand.ShorthandParser`: purely syntactic; the result is strings,
//! lists and objects that [`super::typed`] types by the model as awscli's
//! `BackCompatVisitor` does.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

const START: &str = r"\x21\x23-\x26\x28-\x2B\x2D-\x3C\x3E-\x5A\x5C-\x7A\x7C-\x{FFFF}";
const FIRST_FOLLOW: &str = r"\s\x21\x23-\x26\x28-\x2B\x2D-\x5C\x5E-\x7C\x7E-\x{FFFF}";
const SECOND_FOLLOW: &str = r"\s\x21\x23-\x26\x28-\x2B\x2D-\x3C\x3E-\x{FFFF}";

struct Res {
    first: Regex,
    second: Regex,
    single: Regex,
    double: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| {
        let word = |follow: &str| {
            Regex::new(&format!(r"^(\\,|[{START}])(\\,|[{follow}])*")).expect("regex")
        };
        Res {
            first: word(FIRST_FOLLOW),
            second: word(SECOND_FOLLOW),
            single: Regex::new(r"^'(?:\\'|[^'])*'").expect("regex"),
            double: Regex::new(r#"^"(?:\\"|[^"])*""#).expect("regex"),
        }
    })
}

/// How deep `[` and `{` may nest in one value.
const MAX_NEST: usize = 32;

pub(crate) struct Parser<'a> {
    s: &'a str,
    i: usize,
    /// A `key@=value`: awscli would read the value from a file when it names one.
    at_file: bool,
    depth: usize,
}

type R<T> = Result<T, String>;

/// Parses one shorthand value into strings, lists and objects.
pub(crate) fn parse(s: &str) -> R<Value> {
    let mut p = Parser {
        s,
        i: 0,
        at_file: false,
        depth: 0,
    };
    p.parameter()
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }
    fn cur(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }
    fn ws(&mut self) {
        while let Some(c) = self.cur().filter(|c| c.is_whitespace()) {
            self.i += c.len_utf8();
        }
    }
    fn err(&self, want: &str) -> String {
        let got = self.cur().map_or("EOF".to_string(), |c| c.to_string());
        format!(
            "shorthand: expected {want:?}, got {got:?} at offset {}",
            self.i
        )
    }
    fn expect(&mut self, c: char, ws: bool) -> R<()> {
        if ws {
            self.ws();
        }
        if self.cur() != Some(c) {
            return Err(self.err(&c.to_string()));
        }
        self.i += 1;
        if ws {
            self.ws();
        }
        Ok(())
    }

    fn parameter(&mut self) -> R<Value> {
        let mut out = Map::new();
        let (k, v) = self.keyval()?;
        out.insert(k, v);
        while !self.eof() {
            self.expect(',', true)?;
            let (k, v) = self.keyval()?;
            if out.contains_key(&k) {
                return Err(format!("shorthand: key {k:?} given twice"));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }

    fn at_sign(&mut self) {
        self.at_file = false;
        self.ws();
        if self.cur() == Some('@') {
            self.i += 1;
            self.ws();
            self.at_file = true;
        }
    }

    fn keyval(&mut self) -> R<(String, Value)> {
        let key = self.key();
        self.at_sign();
        self.expect('=', true)?;
        Ok((key, self.values()?))
    }

    fn key(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self
            .cur()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.#/:".contains(*c))
        {
            self.i += c.len_utf8();
        }
        self.s[start..self.i].to_string()
    }

    fn values(&mut self) -> R<Value> {
        match self.cur() {
            None => Ok(Value::String(String::new())),
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            Some(_) => self.csv_value(),
        }
    }

    fn csv_value(&mut self) -> R<Value> {
        let first = self.first_value()?;
        self.ws();
        if self.eof() || self.cur() != Some(',') {
            return Ok(first);
        }
        self.expect(',', true)?;
        let mut list = vec![first.clone()];
        loop {
            let step = (|| -> R<(Value, bool)> {
                let v = self.second_value()?;
                self.ws();
                if self.eof() {
                    return Ok((v, true));
                }
                self.expect(',', true)?;
                Ok((v, false))
            })();
            match step {
                Ok((v, end)) => {
                    list.push(v);
                    if end {
                        break;
                    }
                }
                Err(e) => {
                    if self.eof() {
                        return Err(e);
                    }
                    // Not a value: the comma began the next key=value.
                    while self.i > 0 && self.s.as_bytes().get(self.i) != Some(&b',') {
                        self.i -= 1;
                    }
                    break;
                }
            }
        }
        Ok(if list.len() == 1 {
            first
        } else {
            Value::Array(list)
        })
    }

    fn nest(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NEST {
            return Err(format!("shorthand: nested deeper than {MAX_NEST}"));
        }
        Ok(())
    }

    fn explicit_list(&mut self) -> R<Value> {
        self.nest()?;
        self.expect('[', true)?;
        let mut out = Vec::new();
        while self.cur() != Some(']') {
            out.push(self.explicit_values()?);
            self.ws();
            if self.cur() != Some(']') {
                self.expect(',', false)?;
                self.ws();
            }
        }
        self.expect(']', false)?;
        self.depth -= 1;
        Ok(Value::Array(out))
    }

    fn explicit_values(&mut self) -> R<Value> {
        match self.cur() {
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            _ => self.first_value(),
        }
    }

    fn hash_literal(&mut self) -> R<Value> {
        self.nest()?;
        self.expect('{', true)?;
        let mut out = Map::new();
        while self.cur() != Some('}') {
            if self.eof() {
                return Err(self.err("}"));
            }
            let key = self.key();
            self.at_sign();
            self.expect('=', true)?;
            let v = self.explicit_values()?;
            self.ws();
            if self.cur() != Some('}') {
                self.expect(',', false)?;
                self.ws();
            }
            out.insert(key, v);
        }
        self.expect('}', false)?;
        self.depth -= 1;
        Ok(Value::Object(out))
    }

    fn first_value(&mut self) -> R<Value> {
        match self.cur() {
            Some('\'') => self.quoted(true),
            Some('"') => self.quoted(false),
            _ => {
                let m = res().first.find(self.rest()).map(|m| m.end());
                let v = match m {
                    Some(end) => {
                        let v = self.s[self.i..self.i + end].replace("\\,", ",");
                        self.i += end;
                        v.trim_end().to_string()
                    }
                    None => String::new(),
                };
                self.resolved(v)
            }
        }
    }

    fn second_value(&mut self) -> R<Value> {
        match self.cur() {
            Some('\'') => self.quoted(true),
            Some('"') => self.quoted(false),
            _ => {
                let end = res()
                    .second
                    .find(self.rest())
                    .map(|m| m.end())
                    .ok_or_else(|| self.err("<second>"))?;
                let v = self.s[self.i..self.i + end].replace("\\,", ",");
                self.i += end;
                self.resolved(v.trim_end().to_string())
            }
        }
    }

    fn quoted(&mut self, single: bool) -> R<Value> {
        let (re, q) = if single {
            (&res().single, '\'')
        } else {
            (&res().double, '"')
        };
        let end = re
            .find(self.rest())
            .map(|m| m.end())
            .ok_or_else(|| self.err("a closing quote"))?;
        let inner = &self.s[self.i + 1..self.i + end - 1];
        self.i += end;
        let v = inner
            .replace(&format!("\\{q}"), &q.to_string())
            .replace("\\\\", "\\");
        self.resolved(v)
    }

    /// `key@=file://...` reads a file in awscli: never here.
    fn resolved(&self, v: String) -> R<Value> {
        if self.at_file && (v.starts_with("file://") || v.starts_with("fileb://")) {
            return Err(format!(
                "shorthand: the value {v:?} is read from a local file"
            ));
        }
        Ok(Value::String(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shorthand() {
        let ok = |s: &str| parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("Key=k,Value=v"), json!({"Key":"k","Value":"v"}));
        assert_eq!(ok("a=b,c"), json!({"a":["b","c"]}));
        assert_eq!(ok("a=b,c,d=e"), json!({"a":["b","c"],"d":"e"}));
        assert_eq!(
            ok("a=[x,y],b={c=d,e=[f]}"),
            json!({"a":["x","y"],"b":{"c":"d","e":["f"]}})
        );
        assert_eq!(ok(r"a=x\,y"), json!({"a":"x,y"}));
        assert_eq!(ok("a='x,y',b=\"q\\\"r\""), json!({"a":"x,y","b":"q\"r"}));
        assert_eq!(ok("a="), json!({"a":""}));
        assert_eq!(ok("a = b , c = d"), json!({"a":"b","c":"d"}));
        assert_eq!(
            ok("Name=tag:Env,Values=prod,dev"),
            json!({"Name":"tag:Env","Values":["prod","dev"]})
        );
        assert_eq!(ok("a=b c=d"), json!({"a":"b c=d"}));
        for bad in [
            "a",
            "a=b,a=c",
            "a=[x",
            "a={b=c",
            "a=b,",
            "a@=file://x",
            "a=[x,",
        ] {
            assert!(parse(bad).is_err(), "{bad}: {:?}", parse(bad));
        }
        let deep = "a=".to_string() + &"[".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
