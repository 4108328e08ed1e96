//! Sigma condition expressions: `selection and not 1 of filter_*`.

/// A parsed condition over selection indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    Open,
    Close,
    One,
    All,
    Of,
    Them,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open)
            }
            ')' => {
                chars.next();
                out.push(Tok::Close)
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.' | '?') => {
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.' | '?') {
                        end = j + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &s[i..end];
                out.push(match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "1" | "any" => Tok::One,
                    "all" => Tok::All,
                    "of" => Tok::Of,
                    "them" => Tok::Them,
                    _ => Tok::Ident(word.to_string()),
                });
            }
            '|' => {
                return Err(format!(
                    "aggregations after `|` (column {}) are not Sigma v2; use a correlation rule",
                    i + 1
                ))
            }
            other => return Err(format!("unexpected {other:?} at column {}", i + 1)),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
}

/// Parse `text` against the rule's selection names.
pub fn parse(text: &str, names: &[String]) -> Result<Cond, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        names,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected {:?} after a complete condition",
            p.toks[p.pos]
        ));
    }
    Ok(c)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, String> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Open) => {
                let c = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(c)
            }
            Some(q @ (Tok::One | Tok::All)) => {
                if self.peek() != Some(&Tok::Of) {
                    return Err("expected `of` after a quantifier".into());
                }
                self.pos += 1;
                let sels: Vec<usize> = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Them) => (0..self.names.len())
                        .filter(|&i| !self.names[i].starts_with('_'))
                        .collect(),
                    Some(Tok::Ident(pat)) => (0..self.names.len())
                        .filter(|&i| glob(&pat, &self.names[i]))
                        .collect(),
                    other => return Err(format!("expected a selection pattern, found {other:?}")),
                };
                self.pos += 1;
                if sels.is_empty() {
                    return Err("a `1 of`/`all of` pattern names no selection".into());
                }
                let parts = sels.into_iter().map(Cond::Sel).collect();
                Ok(if q == Tok::One {
                    Cond::Or(parts)
                } else {
                    Cond::And(parts)
                })
            }
            Some(Tok::Ident(name)) => match self.names.iter().position(|n| *n == name) {
                Some(i) => Ok(Cond::Sel(i)),
                None => Err(format!(
                    "the condition names `{name}`, which is not a selection"
                )),
            },
            Some(other) => Err(format!("unexpected {other:?}")),
            None => Err("the condition ends too early".into()),
        }
    }
}

/// Selection-name patterns: `*` any run, `?` one character.
fn glob(pat: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((b'?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pat.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_and_quantifiers() {
        let n = names(&["selection", "filter_a", "filter_b", "_hidden"]);
        assert_eq!(
            parse("selection and not 1 of filter_*", &n).unwrap(),
            Cond::And(vec![
                Cond::Sel(0),
                Cond::Not(Box::new(Cond::Or(vec![Cond::Sel(1), Cond::Sel(2)])))
            ])
        );
        assert_eq!(
            parse("selection or filter_a and filter_b", &n).unwrap(),
            Cond::Or(vec![
                Cond::Sel(0),
                Cond::And(vec![Cond::Sel(1), Cond::Sel(2)])
            ])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Cond::And(vec![Cond::Sel(0), Cond::Sel(1), Cond::Sel(2)])
        );
        assert_eq!(parse("(selection)", &n).unwrap(), Cond::Sel(0));
        for bad in [
            "",
            "selection and",
            "nope",
            "(selection",
            "1 of x*",
            "selection | count() > 5",
            "selection )",
        ] {
            assert!(parse(bad, &n).is_err(), "{bad}");
        }
    }
}
