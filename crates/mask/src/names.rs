//! Secret names: `master_password`, `SecretString`, `API_TOKEN`, `DB_PASS`; and the
//! names that only refer to a secret (`SecretArn`, `PasswordLength`).

use crate::NameRules;

pub(crate) struct Names {
    contains: Vec<String>,
    words: Vec<String>,
    references: Vec<String>,
    pair_names: Vec<String>,
    pair_values: Vec<String>,
    secret_types: Vec<String>,
}

fn squash_into(name: &str, out: &mut String) {
    out.clear();
    out.extend(
        name.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'))
            .map(|c| c.to_ascii_lowercase()),
    );
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|w| {
            let mut s = String::new();
            squash_into(w, &mut s);
            s
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of a name, lower-cased: `DB_PASS` -> db, pass; `dbPass` -> db, pass;
/// `APIKey` -> api, key; `SecretARN` -> secret, arn.
pub(crate) fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if c.is_uppercase() => {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            }
            _ => false,
        };
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Names {
    pub(crate) fn new(r: &NameRules) -> Names {
        Names {
            contains: lower(&r.contains),
            words: lower(&r.words),
            references: lower(&r.references),
            pair_names: lower(&r.pair_names),
            pair_values: lower(&r.pair_values),
            secret_types: lower(&r.secret_types),
        }
    }

    pub(crate) fn is_reference(&self, name: &str) -> bool {
        words(name)
            .last()
            .is_some_and(|w| self.references.iter().any(|r| r == w))
    }

    pub(crate) fn is_secret(&self, name: &str) -> bool {
        let mut s = String::with_capacity(name.len());
        squash_into(name, &mut s);
        let named = self.contains.iter().any(|w| s.contains(w.as_str()));
        if !named {
            // Short words only as the last whole word: `DB_PASS` yes, `PassRole` or
            // `bypass` no.
            let short = self.words.iter().any(|w| s.contains(w.as_str()));
            if !short || !words(name).last().is_some_and(|w| self.words.contains(w)) {
                return false;
            }
        }
        !self.is_reference(name)
    }

    pub(crate) fn is_pair_name(&self, key: &str) -> bool {
        let mut s = String::new();
        squash_into(key, &mut s);
        self.pair_names.contains(&s)
    }

    /// `{"Type": "SecureString"}`: a type whose value field is secret.
    pub(crate) fn is_secret_type(&self, key: &str, v: &serde_json::Value) -> bool {
        let mut s = String::new();
        squash_into(key, &mut s);
        s == "type"
            && v.as_str().is_some_and(|t| {
                squash_into(t, &mut s);
                self.secret_types.contains(&s)
            })
    }

    pub(crate) fn is_pair_value(&self, key: &str) -> bool {
        let mut s = String::new();
        squash_into(key, &mut s);
        self.pair_values.contains(&s)
    }
}
