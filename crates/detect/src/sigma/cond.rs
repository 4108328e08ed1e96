//! Sigma condition expressions: `selection and not 1 of filter_*`.

pub use super::error::CondError;

/// How deep parentheses and `not`s may nest: real conditions use a few levels, and the
/// parser recurses per level, so a hostile rule cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

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

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tok::Ident(s) => s,
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::One => "1",
            Tok::All => "all",
            Tok::Of => "of",
            Tok::Them => "them",
        })
    }
}

fn lex(s: &str) -> Result<Vec<Tok>, CondError> {
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
                return Err(CondError::Aggregation {
                    column: s[..i].chars().count() + 1,
                })
            }
            other => {
                return Err(CondError::Character {
                    found: other,
                    column: s[..i].chars().count() + 1,
                })
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
    depth: usize,
}

/// Parse `text` against the rule's selection names.
pub fn parse(text: &str, names: &[String]) -> Result<Cond, CondError> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        names,
        depth: 0,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(CondError::Trailing(p.toks[p.pos].to_string()));
    }
    Ok(c)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Cond, CondError> {
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

    fn and(&mut self) -> Result<Cond, CondError> {
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

    fn not(&mut self) -> Result<Cond, CondError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn deeper(&mut self) -> Result<(), CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CondError::TooDeep(MAX_DEPTH));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Open) => {
                self.deeper()?;
                let c = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::Close) {
                    return Err(CondError::MissingClose);
                }
                self.pos += 1;
                Ok(c)
            }
            Some(q @ (Tok::One | Tok::All)) => {
                if self.peek() != Some(&Tok::Of) {
                    return Err(CondError::ExpectedOf);
                }
                self.pos += 1;
                let sels: Vec<usize> = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Them) => (0..self.names.len())
                        .filter(|&i| !self.names[i].starts_with('_'))
                        .collect(),
                    Some(Tok::Ident(pat)) => (0..self.names.len())
                        .filter(|&i| glob(&pat, &self.names[i]))
                        .collect(),
                    other => {
                        return Err(CondError::ExpectedPattern {
                            found: other.map(|t| t.to_string()),
                        })
                    }
                };
                self.pos += 1;
                if sels.is_empty() {
                    return Err(CondError::EmptyPattern);
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
                None => Err(CondError::NotASelection(name)),
            },
            Some(other) => Err(CondError::Unexpected(other.to_string())),
            None => Err(CondError::EndsEarly),
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
        let deep = format!("{}selection{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse(&deep, &n), Err(CondError::TooDeep(MAX_DEPTH)));
        let nots = format!("{}selection", "not ".repeat(100_000));
        assert_eq!(parse(&nots, &n), Err(CondError::TooDeep(MAX_DEPTH)));
        let ok = format!(
            "{}selection{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert_eq!(parse(&ok, &n), Ok(Cond::Sel(0)));
        assert_eq!(
            parse("selection | count() > 5", &n),
            Err(CondError::Aggregation { column: 11 })
        );
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
