//! Typed errors of the Sigma stages. A rule error says where (file, line and column,
//! document or rule id, the keys down to the problem) and what; its `source` is the
//! foreign error behind it (YAML, regex), if any.

use std::fmt;
use std::path::PathBuf;

/// One step from a rule's root to the problem: a mapping key or a list position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// What is wrong, in the parser's words.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("not YAML")]
    Yaml(#[source] yaml_serde::Error),
    #[error("a rule must be a YAML mapping")]
    NotAMapping,
    #[error("no `{0}`")]
    Missing(&'static str),
    #[error("unknown level `{0}` (informational, low, medium, high or critical)")]
    Level(String),
    #[error("`detection` must be a mapping")]
    DetectionShape,
    #[error("detection keys must be strings")]
    DetectionKey,
    #[error("`timeframe` is Sigma v1 aggregation; use a correlation rule")]
    Timeframe,
    #[error("conditions must be strings")]
    ConditionNotString,
    #[error("`condition` must be a string or a list")]
    ConditionShape,
    #[error(transparent)]
    Condition(#[from] CondError),
    #[error("a selection must be a mapping, a list of mappings or keywords")]
    SelectionShape,
    #[error("field names must be strings")]
    FieldName,
    #[error("unsupported modifier `{0}`")]
    Modifier(String),
    #[error("`exists` takes true or false")]
    Exists,
    #[error("values must be scalars")]
    NotScalar,
    #[error("regex {pattern:?}")]
    Regex {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("{0:?} is not a number")]
    Number(String),
    #[error("an empty list matches nothing")]
    EmptyList,
    #[error("unsupported correlation type `{0}` (event_count, value_count, temporal or temporal_ordered)")]
    CorrelationType(String),
    #[error("correlation without `{0}`")]
    CorrelationMissing(&'static str),
    #[error(transparent)]
    Timespan(#[from] TimespanError),
    #[error("a count must be a whole number")]
    Count,
    #[error("condition `{0}` is not supported (an alert fires as soon as a count is reached: use gt, gte or eq)")]
    CountCondition(String),
    #[error("correlation without a `condition` mapping")]
    CorrelationCondition,
    #[error("value_count needs `condition.field`")]
    ValueCountField,
}

/// A rule file that cannot be used.
#[derive(Debug)]
pub struct RuleError {
    pub file: String,
    /// 1-based, as `---` separates them.
    pub document: usize,
    /// The rule's id, when the document has one.
    pub rule: Option<String>,
    /// Where in the file (1-based), when the YAML parser could place it.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The keys from the rule's root down to the problem.
    pub path: Vec<Seg>,
    pub problem: Problem,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        match &self.rule {
            Some(id) => write!(f, ": rule {id}")?,
            None => write!(f, ": document {}", self.document)?,
        }
        for part in describe(&self.path) {
            write!(f, ": {part}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for RuleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The problem is part of this message; its cause (YAML, regex) is the source.
        std::error::Error::source(&self.problem)
    }
}

/// The path as the message reads it: `selection `sel``, `` `a|contains` ``, `item 2`.
fn describe(path: &[Seg]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < path.len() {
        match (&path[i], path.get(i + 1)) {
            (Seg::Key(d), Some(Seg::Key(k))) if d == "detection" => {
                out.push(if k == "condition" {
                    "condition".to_string()
                } else {
                    format!("selection `{k}`")
                });
                i += 2;
                continue;
            }
            (Seg::Key(k), _) if k == "correlation" => out.push("correlation".into()),
            (Seg::Key(k), _) => out.push(format!("`{k}`")),
            (Seg::Index(n), _) => out.push(format!("item {}", n + 1)),
        }
        i += 1;
    }
    out
}

/// A condition expression that does not parse. Columns are 1-based, in characters of
/// the condition text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CondError {
    #[error("aggregations after `|` (column {column}) are not Sigma v2; use a correlation rule")]
    Aggregation { column: usize },
    #[error("unexpected {found:?} at column {column}")]
    Character { found: char, column: usize },
    #[error("unexpected `{0}` after a complete condition")]
    Trailing(String),
    #[error("missing `)`")]
    MissingClose,
    #[error("expected `of` after a quantifier")]
    ExpectedOf,
    #[error("expected a selection pattern, found {}", found.as_deref().map_or("the end".to_string(), |t| format!("`{t}`")))]
    ExpectedPattern { found: Option<String> },
    #[error("a `1 of`/`all of` pattern names no selection")]
    EmptyPattern,
    #[error("the condition names `{0}`, which is not a selection")]
    NotASelection(String),
    #[error("unexpected `{0}`")]
    Unexpected(String),
    #[error("the condition ends too early")]
    EndsEarly,
    #[error("the condition nests deeper than {0} levels")]
    TooDeep(usize),
}

/// A value under a modifier that cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a CIDR")]
    NotCidr(String),
    #[error("{0:?} has a bad prefix length")]
    Prefix(String),
    #[error("pattern {pattern:?}")]
    Pattern {
        pattern: String,
        #[source]
        source: regex::Error,
    },
}

/// A Sigma timespan (`5m`, `1h`, `7d`) that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimespanError {
    #[error("timespan {0:?}: a whole number and a unit, e.g. 5m")]
    Number(String),
    #[error("timespan {0:?}: unit must be s, m, h, d or w")]
    Unit(String),
    #[error("timespan {0:?} is too long")]
    TooLong(String),
}

/// Rules that load one by one but not together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("{file}: correlation {rule} refers to `{name}`, which is not a loaded detection rule")]
    UnknownRule {
        file: String,
        rule: String,
        name: String,
    },
}

/// A rules directory that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no .yml or .yaml rule files", path.display())]
    Empty { path: PathBuf },
    #[error(transparent)]
    Rule(#[from] Box<RuleError>),
}

/// Where `path` is in document `document` (1-based) of `text`: the YAML parser is run
/// again up to that key and made to fail there, and its error carries the position.
/// Only on the error path, so rules that load pay nothing for it.
pub(crate) fn locate(text: &str, document: usize, path: &[Seg]) -> Option<(usize, usize)> {
    use serde::de::DeserializeSeed;
    let doc = yaml_serde::Deserializer::from_str(text).nth(document.checked_sub(1)?)?;
    let err = Find(path)
        .deserialize(doc)
        .err()
        .filter(|e| e.to_string().contains(HERE))?;
    let at = err.location()?;
    Some((at.line(), at.column()))
}

/// Walks to `path` and fails there; anything else is skipped.
struct Find<'p>(&'p [Seg]);

const HERE: &str = "parapet: here";

impl<'de> serde::de::DeserializeSeed<'de> for Find<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Find<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("anything")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.0.split_first() else {
            return Err(serde::de::Error::custom(HERE));
        };
        // The last key is found on the key itself (the position of `key:`).
        while let Some(hit) = map.next_key_seed(Key {
            want,
            fail: rest.is_empty(),
        })? {
            if hit {
                return map.next_value_seed(Find(rest));
            }
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.0.split_first() else {
            return Err(serde::de::Error::custom(HERE));
        };
        for _ in 0..*want {
            if seq.next_element::<serde::de::IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Find(rest)).map(|_| ())
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
}

impl Find<'_> {
    /// A scalar is the place when the path ends here, and a dead end otherwise.
    fn scalar<E: serde::de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

/// A mapping key: whether it is the one wanted (failing on it when it is the last).
struct Key<'w> {
    want: &'w str,
    fail: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Key<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, k: &str) -> Result<bool, E> {
        match k == self.want {
            true if self.fail => Err(E::custom(HERE)),
            hit => Ok(hit),
        }
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(false)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}
