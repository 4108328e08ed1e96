//! A forgiving view of API parameters: `IpPermissions`, `ipPermissions` and
//! `ippermissions` are one key, and CloudTrail's `{"items": [...]}` wrappers read as lists.

use serde_json::Value;

static NULL: Value = Value::Null;

#[derive(Clone, Copy, Debug)]
pub struct P<'a>(pub &'a Value);

impl<'a> P<'a> {
    pub fn new(v: &'a Value) -> P<'a> {
        P(v)
    }

    pub fn get(&self, key: &str) -> P<'a> {
        let Some(obj) = self.0.as_object() else {
            return P(&NULL);
        };
        if let Some(v) = obj.get(key) {
            return P(v);
        }
        P(obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .unwrap_or(&NULL))
    }

    /// The first of several spellings that is present (`CidrIp`, `cidrIp`, `CidrIpv4`...).
    pub fn any(&self, keys: &[&str]) -> P<'a> {
        keys.iter()
            .map(|k| self.get(k))
            .find(|p| !p.0.is_null())
            .unwrap_or(P(&NULL))
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    pub fn list(&self) -> Vec<P<'a>> {
        match self.0 {
            Value::Array(a) => a.iter().map(P).collect(),
            Value::Object(o) => match o.get("items").or_else(|| o.get("Items")) {
                Some(Value::Array(a)) => a.iter().map(P).collect(),
                _ => vec![*self],
            },
            Value::Null => Vec::new(),
            _ => vec![*self],
        }
    }

    pub fn str(&self) -> Option<&'a str> {
        self.0.as_str()
    }

    pub fn strings(&self) -> Vec<&'a str> {
        self.list().into_iter().filter_map(|p| p.str()).collect()
    }

    pub fn i64(&self) -> Option<i64> {
        match self.0 {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self.0 {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// A JSON document passed as a string (policies), possibly URL-encoded as the IAM
    /// query API and some CloudTrail records carry it.
    pub fn document(&self) -> Option<Value> {
        match self.0 {
            Value::Object(_) => Some(self.0.clone()),
            Value::String(s) => {
                let t = s.trim();
                if t.starts_with('%') {
                    serde_json::from_str(&percent_decode(t)?).ok()
                } else {
                    serde_json::from_str(t).ok()
                }
            }
            _ => None,
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_items() {
        let v = json!({"ipPermissions": {"items": [{"fromPort": 22}]}, "GroupId": "sg-1"});
        let p = P::new(&v);
        assert_eq!(
            p.get("IpPermissions").list()[0].get("FromPort").i64(),
            Some(22)
        );
        assert_eq!(p.get("groupId").str(), Some("sg-1"));
        assert!(p.get("nothing").is_null());
        let d = json!("%7B%22Statement%22%3A%5B%5D%7D");
        assert_eq!(P::new(&d).document(), Some(json!({"Statement": []})));
    }
}
