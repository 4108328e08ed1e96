//! Which globals a pickle may import: allowlist first, then a deny list with reasons.
//! The lists are data (`data/globals.toml`, embedded) and a user file can extend them.

use crate::Error;
use serde::Deserialize;
use std::collections::HashMap;

const BUILTIN: &str = include_str!("../data/globals.toml");

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// How a global is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// On the allowlist: what model checkpoints need.
    Allowed,
    /// On the deny list; the reason says what it can do.
    Denied(String),
    /// On neither list: a model does not need it.
    Unlisted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    allow: Vec<Section>,
    #[serde(default)]
    deny: Vec<Section>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    why: String,
    /// Spanned: a bad pattern is reported at its line.
    #[serde(default)]
    globals: Vec<toml::Spanned<String>>,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    classes_in: Vec<String>,
}

/// A pattern over "module.qualname".
#[derive(Debug, Clone)]
enum Pattern {
    /// `a.b` (from `modules`) or `a.b.*`: the name itself or anything below it.
    Prefix(String),
    /// `a.b.*Storage`: anything below `a.b` ending in the suffix.
    Suffix(String, String),
    /// CamelCase names anywhere below a package (classes, not functions).
    ClassesIn(String),
}

impl Pattern {
    fn matches(&self, full: &str) -> bool {
        match self {
            Pattern::Prefix(p) => below(full, p) || full == p,
            Pattern::Suffix(p, s) => below(full, p) && full.ends_with(s.as_str()),
            Pattern::ClassesIn(p) => {
                below(full, p)
                    && full
                        .rsplit('.')
                        .next()
                        .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_uppercase()))
            }
        }
    }
}

fn below(full: &str, prefix: &str) -> bool {
    full.len() > prefix.len() + 1
        && full.starts_with(prefix)
        && full.as_bytes()[prefix.len()] == b'.'
}

#[derive(Default, Debug, Clone)]
struct Layer {
    allow_exact: HashMap<String, String>,
    deny_exact: HashMap<String, String>,
    allow_patterns: Vec<(Pattern, String)>,
    deny_patterns: Vec<(Pattern, String)>,
}

impl Layer {
    fn parse(text: &str, origin: &str) -> Result<Layer, Error> {
        let file: File = toml::from_str(text).map_err(|source| {
            let (line, column) = source.span().map_or((1, 1), |s| line_column(text, s.start));
            Error::Toml {
                origin: origin.to_string(),
                line,
                column,
                source: Box::new(source),
            }
        })?;
        let mut layer = Layer::default();
        for (sections, allow) in [(file.allow, true), (file.deny, false)] {
            for s in sections {
                let (exact, patterns) = if allow {
                    (&mut layer.allow_exact, &mut layer.allow_patterns)
                } else {
                    (&mut layer.deny_exact, &mut layer.deny_patterns)
                };
                for g in s.globals {
                    let (line, column) = line_column(text, g.span().start);
                    let g = g.into_inner();
                    let bad = || Error::Pattern {
                        origin: origin.to_string(),
                        pattern: g.clone(),
                        line,
                        column,
                    };
                    match pattern(&g).ok_or_else(bad)? {
                        Some(p) => patterns.push((p, s.why.clone())),
                        None => {
                            exact.insert(g, s.why.clone());
                        }
                    }
                }
                for m in s.modules {
                    patterns.push((Pattern::Prefix(m), s.why.clone()));
                }
                for c in s.classes_in {
                    patterns.push((Pattern::ClassesIn(c), s.why.clone()));
                }
            }
        }
        Ok(layer)
    }

    /// Exact entries beat patterns; among patterns, deny beats allow.
    fn classify(&self, full: &str) -> Option<Class> {
        if self.allow_exact.contains_key(full) {
            return Some(Class::Allowed);
        }
        if let Some(why) = self.deny_exact.get(full) {
            return Some(Class::Denied(why.clone()));
        }
        if let Some((_, why)) = self.deny_patterns.iter().find(|(p, _)| p.matches(full)) {
            return Some(Class::Denied(why.clone()));
        }
        if self.allow_patterns.iter().any(|(p, _)| p.matches(full)) {
            return Some(Class::Allowed);
        }
        None
    }
}

/// `Some(None)`: an exact name; `None`: a `*` somewhere other than after the last `.`.
fn pattern(g: &str) -> Option<Option<Pattern>> {
    let Some(star) = g.find('*') else {
        return Some(None);
    };
    let (prefix, rest) = g.split_at(star);
    let prefix = prefix.strip_suffix('.')?;
    let suffix = &rest[1..];
    if suffix.contains(['*', '.']) || prefix.is_empty() {
        return None;
    }
    Some(Some(if suffix.is_empty() {
        Pattern::Prefix(prefix.to_string())
    } else {
        Pattern::Suffix(prefix.to_string(), suffix.to_string())
    }))
}

/// The allow and deny lists: the embedded ones plus, optionally, a user file whose
/// entries win.
#[derive(Debug, Clone)]
pub struct Globals {
    user: Option<Layer>,
    builtin: &'static Layer,
}

impl Default for Globals {
    fn default() -> Self {
        static PARSED: std::sync::OnceLock<Layer> = std::sync::OnceLock::new();
        Globals {
            user: None,
            builtin: PARSED.get_or_init(|| {
                Layer::parse(BUILTIN, "built-in globals.toml")
                    .expect("embedded globals.toml parses (tested)")
            }),
        }
    }
}

impl Globals {
    /// The built-in lists extended by a user file in the same format.
    pub fn with_user_file(text: &str, origin: &str) -> Result<Globals, Error> {
        Ok(Globals {
            user: Some(Layer::parse(text, origin)?),
            ..Globals::default()
        })
    }

    /// Judge `module` + `name` as a pickle names them (Python 2 spellings accepted).
    pub fn classify(&self, module: &str, name: &str) -> Class {
        let full = full_name(module, name);
        if let Some(c) = self.user.as_ref().and_then(|u| u.classify(&full)) {
            return c;
        }
        let builtin = self.builtin.classify(&full);
        if has_dunder_hop(name) && !matches!(builtin, Some(Class::Denied(_))) {
            return Class::Denied(
                "reaches a dunder attribute (__globals__, __class__, __subclasses__...): \
                 the classic route from a harmless object to arbitrary code"
                    .into(),
            );
        }
        builtin.unwrap_or(Class::Unlisted)
    }
}

/// A dotted name with a `__x__` part past the first (protocol 4 allows `a.__class__`).
fn has_dunder_hop(name: &str) -> bool {
    name.split('.')
        .skip(1)
        .any(|p| p.len() > 4 && p.starts_with("__") && p.ends_with("__"))
}

/// "module.name" with Python 2 module names mapped as pickle's `fix_imports` does.
pub fn full_name(module: &str, name: &str) -> String {
    let module = match module {
        "__builtin__" | "exceptions" => "builtins",
        "copy_reg" => "copyreg",
        "cPickle" => "pickle",
        "UserDict" | "UserList" | "UserString" => "collections",
        "Queue" => "queue",
        "SocketServer" => "socketserver",
        "httplib" => "http.client",
        "urllib2" => "urllib.request",
        "commands" => "subprocess",
        m => m,
    };
    format!("{module}.{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_judge_known_names() {
        let g = Globals::default();
        assert_eq!(
            g.classify("torch._utils", "_rebuild_tensor_v2"),
            Class::Allowed
        );
        assert_eq!(g.classify("torch", "FloatStorage"), Class::Allowed);
        assert_eq!(g.classify("__builtin__", "set"), Class::Allowed);
        assert!(matches!(g.classify("posix", "system"), Class::Denied(_)));
        assert!(matches!(
            g.classify("__builtin__", "eval"),
            Class::Denied(_)
        ));
        assert!(matches!(g.classify("bdb", "Bdb.run"), Class::Denied(_)));
        assert!(matches!(
            g.classify("httplib", "HTTPSConnection"),
            Class::Denied(_)
        ));
        // exact allow beats a denied module
        assert_eq!(
            g.classify("joblib.numpy_pickle", "NumpyArrayWrapper"),
            Class::Allowed
        );
        assert!(matches!(g.classify("joblib", "load"), Class::Denied(_)));
        // CamelCase classes of ML libraries yes, their functions and test helpers no
        assert_eq!(
            g.classify("sklearn.linear_model._logistic", "LogisticRegression"),
            Class::Allowed
        );
        assert_eq!(g.classify("sklearn.utils", "resample"), Class::Unlisted);
        assert!(matches!(
            g.classify("sklearn.utils._testing", "TempMemmap"),
            Class::Denied(_)
        ));
        assert_eq!(g.classify("mylib.models", "Thing"), Class::Unlisted);
        assert!(matches!(
            g.classify("collections", "OrderedDict.__init__.__globals__"),
            Class::Denied(_)
        ));
        assert!(matches!(g.classify("numpy", "load"), Class::Denied(_)));
        assert!(matches!(
            g.classify("torch.serialization", "load"),
            Class::Denied(_)
        ));
    }

    #[test]
    fn user_file_wins_and_bad_patterns_are_errors() {
        let g = Globals::with_user_file(
            "[[allow]]\nwhy = \"ours\"\nglobals = [\"mylib.models.Thing\"]\n\
             [[deny]]\nwhy = \"no\"\nglobals = [\"torch.Size\"]\n",
            "user.toml",
        )
        .unwrap();
        assert_eq!(g.classify("mylib.models", "Thing"), Class::Allowed);
        assert_eq!(g.classify("torch", "Size"), Class::Denied("no".into()));
        let err = Globals::with_user_file("[[allow]]\nwhy=\"x\"\nglobals=[\"a*b.c\"]\n", "u.toml")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "u.toml:3:10: pattern \"a*b.c\": a '*' may only follow the last '.'"
        );
        let err = Globals::with_user_file("[[allow]]\nglobals=[]\n", "u.toml").unwrap_err();
        assert!(matches!(err, Error::Toml { line: 1, .. }), "{err:?}");
        let cause = std::error::Error::source(&err).expect("the TOML error is kept");
        assert!(cause.to_string().contains("why"), "{cause}");
    }
}
