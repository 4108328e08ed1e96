//! Sigma YAML to rules: detection rules and correlation rules, one or many per file
//! (`---` separated), with errors that name the file, the rule and the key.

use super::cond::{self, Cond};
use super::error::{locate, Problem, RuleError, Seg, TimespanError};
use super::matcher::{parse_cidr, string_leaf, Leaf, Matcher, NumOp, Path, StrOp};
use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use yaml_serde::Value as Yaml;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// What every rule carries.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub id: String,
    pub name: Option<String>,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub description: String,
    pub author: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    /// parapet extension: where in an attack chain a match belongs (`recon`...).
    pub phase: Option<String>,
    /// Where the rule came from (a file, or `builtin:<file>`).
    pub file: String,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub field: Option<Path>,
    pub matcher: Matcher,
}

/// One named selection: a map (all items) or a list of maps (any map); keywords search
/// every string of the event.
#[derive(Debug, Clone)]
pub enum Selection {
    Maps(Vec<Vec<Item>>),
    Keywords(Vec<Leaf>),
}

#[derive(Debug, Clone)]
pub struct Detection {
    pub names: Vec<String>,
    pub selections: Vec<Selection>,
    pub condition: Cond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountOp {
    Gt,
    Gte,
    Eq,
}

#[derive(Debug, Clone)]
pub struct Correlation {
    pub kind: CorrelationType,
    /// Rule ids or names, resolved by the engine.
    pub rules: Vec<String>,
    pub group_by: Vec<Path>,
    pub timespan_ms: i64,
    pub op: CountOp,
    pub threshold: u64,
    pub field: Option<Path>,
    pub generate: bool,
}

#[derive(Debug, Clone)]
pub enum Body {
    Detection(Detection),
    Correlation(Correlation),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: Meta,
    pub body: Body,
}

/// A problem and the keys down to it, as it travels up to [`parse_file`].
struct At(Vec<Seg>, Problem);

impl<P: Into<Problem>> From<P> for At {
    fn from(p: P) -> At {
        At(Vec::new(), p.into())
    }
}

/// Prefix an error with the key or position it was found under.
fn under<S: Into<Seg>>(seg: S) -> impl FnOnce(At) -> At {
    let seg = seg.into();
    move |mut at| {
        at.0.insert(0, seg);
        at
    }
}

impl From<&str> for Seg {
    fn from(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// Parse every document of a Sigma YAML file. Errors name the file, the line and
/// column, the rule and the keys down to the problem.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Rule>, Box<RuleError>> {
    let mut out = Vec::new();
    for (i, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let v: Yaml = serde::Deserialize::deserialize(doc).map_err(|e| {
            let at = e.location();
            Box::new(RuleError {
                file: file.to_string(),
                document: i + 1,
                rule: None,
                line: at.as_ref().map(|l| l.line()),
                column: at.as_ref().map(|l| l.column()),
                path: Vec::new(),
                problem: Problem::Yaml(e),
            })
        })?;
        if v.is_null() {
            continue;
        }
        let rule = parse_rule(file, &v).map_err(|At(path, problem)| {
            let at = locate(text, i + 1, &path);
            Box::new(RuleError {
                file: file.to_string(),
                document: i + 1,
                rule: v
                    .get("id")
                    .and_then(Yaml::as_str)
                    .filter(|id| !id.is_empty())
                    .map(String::from),
                line: at.map(|a| a.0),
                column: at.map(|a| a.1),
                path,
                problem,
            })
        })?;
        out.push(rule);
    }
    Ok(out)
}

fn s(v: &Yaml, k: &str) -> Option<String> {
    match v.get(k)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list(v: &Yaml, k: &str) -> Vec<String> {
    match v.get(k) {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn parse_rule(file: &str, v: &Yaml) -> Result<Rule, At> {
    if !v.is_mapping() {
        return Err(Problem::NotAMapping.into());
    }
    let title = s(v, "title").ok_or(Problem::Missing("title"))?;
    let level = match s(v, "level") {
        None => Level::Medium,
        Some(l) => Level::parse(&l)
            .ok_or(Problem::Level(l))
            .map_err(|p| under("level")(p.into()))?,
    };
    let meta = Meta {
        id: s(v, "id")
            .or_else(|| s(v, "name"))
            .unwrap_or_else(|| title.clone()),
        name: s(v, "name"),
        title,
        level,
        status: s(v, "status"),
        description: s(v, "description").unwrap_or_default().trim().to_string(),
        author: s(v, "author").unwrap_or_default(),
        tags: list(v, "tags"),
        references: list(v, "references"),
        falsepositives: list(v, "falsepositives"),
        phase: s(v, "phase"),
        file: file.to_string(),
    };
    let body = if let Some(c) = v.get("correlation") {
        Body::Correlation(correlation(c).map_err(under("correlation"))?)
    } else {
        let d = v.get("detection").ok_or(Problem::Missing("detection"))?;
        Body::Detection(detection(d).map_err(under("detection"))?)
    };
    Ok(Rule { meta, body })
}

fn detection(d: &Yaml) -> Result<Detection, At> {
    let Yaml::Mapping(map) = d else {
        return Err(Problem::DetectionShape.into());
    };
    let (mut names, mut selections) = (Vec::new(), Vec::new());
    let mut condition = None;
    for (k, v) in map {
        let k = k.as_str().ok_or(Problem::DetectionKey)?;
        if k == "condition" {
            condition = Some(v.clone());
            continue;
        }
        if k == "timeframe" {
            return Err(under(k)(Problem::Timeframe.into()));
        }
        selections.push(selection(v).map_err(under(k))?);
        names.push(k.to_string());
    }
    let condition = match condition.ok_or(Problem::Missing("condition"))? {
        Yaml::String(c) => cond::parse(&c, &names).map_err(At::from),
        Yaml::Sequence(cs) => cs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.as_str()
                    .ok_or(Problem::ConditionNotString)
                    .and_then(|c| Ok(cond::parse(c, &names)?))
                    .map_err(|p| under(i)(p.into()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Cond::Or),
        _ => Err(Problem::ConditionShape.into()),
    }
    .map_err(under("condition"))?;
    Ok(Detection {
        names,
        selections,
        condition,
    })
}

fn selection(v: &Yaml) -> Result<Selection, At> {
    match v {
        Yaml::Mapping(_) => Ok(Selection::Maps(vec![items(v)?])),
        Yaml::Sequence(xs) if xs.iter().all(Yaml::is_mapping) => Ok(Selection::Maps(
            xs.iter()
                .enumerate()
                .map(|(i, x)| items(x).map_err(under(i)))
                .collect::<Result<_, _>>()?,
        )),
        Yaml::Sequence(xs) => Ok(Selection::Keywords(
            xs.iter()
                .enumerate()
                .map(|(i, x)| {
                    scalar_leaf(x, StrOp::Contains, false).map_err(|p| under(i)(p.into()))
                })
                .collect::<Result<_, _>>()?,
        )),
        Yaml::String(_) | Yaml::Number(_) => Ok(Selection::Keywords(vec![scalar_leaf(
            v,
            StrOp::Contains,
            false,
        )?])),
        _ => Err(Problem::SelectionShape.into()),
    }
}

fn items(v: &Yaml) -> Result<Vec<Item>, At> {
    let Yaml::Mapping(map) = v else {
        unreachable!("checked by the caller")
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let key = k.as_str().ok_or(Problem::FieldName)?;
        out.push(item(key, v).map_err(under(key))?);
    }
    Ok(out)
}

/// A field's modifiers (`|contains|all`, `|re|i`, `|cidr`...), read once per field.
#[derive(Default)]
struct Mods {
    op: StrOp,
    all: bool,
    cased: bool,
    exists: bool,
    fieldref: bool,
    re: bool,
    re_flags: String,
    cidr: bool,
    num: Option<NumOp>,
    b64: bool,
    b64offset: bool,
}

impl Mods {
    fn parse<'a>(mods: impl Iterator<Item = &'a str>) -> Result<Mods, Problem> {
        let mut m = Mods::default();
        for x in mods {
            match x {
                "contains" => m.op = StrOp::Contains,
                "startswith" => m.op = StrOp::StartsWith,
                "endswith" => m.op = StrOp::EndsWith,
                "all" => m.all = true,
                "cased" => m.cased = true,
                "exists" => m.exists = true,
                "fieldref" => m.fieldref = true,
                "re" => m.re = true,
                "i" | "ignorecase" => m.re_flags.push('i'),
                "m" | "multiline" => m.re_flags.push('m'),
                "s" | "dotall" => m.re_flags.push('s'),
                "cidr" => m.cidr = true,
                "lt" => m.num = Some(NumOp::Lt),
                "lte" => m.num = Some(NumOp::Lte),
                "gt" => m.num = Some(NumOp::Gt),
                "gte" => m.num = Some(NumOp::Gte),
                "base64" => m.b64 = true,
                "base64offset" => m.b64offset = true,
                other => return Err(Problem::Modifier(other.to_string())),
            }
        }
        Ok(m)
    }
}

fn item(key: &str, v: &Yaml) -> Result<Item, At> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mods = Mods::parse(parts)?;
    let field = (!field.is_empty()).then(|| Path::new(field));
    if mods.exists {
        let want = match v {
            Yaml::Bool(b) => *b,
            _ => return Err(Problem::Exists.into()),
        };
        return Ok(Item {
            field,
            matcher: Matcher::Exists(want),
        });
    }
    let mut leaves = Vec::new();
    match v {
        Yaml::Sequence(xs) => {
            for (i, x) in xs.iter().enumerate() {
                leaves_of(x, &mods, &mut leaves).map_err(|p| under(i)(p.into()))?;
            }
        }
        one => leaves_of(one, &mods, &mut leaves)?,
    }
    if leaves.is_empty() {
        return Err(Problem::EmptyList.into());
    }
    Ok(Item {
        field,
        matcher: if mods.all {
            Matcher::All(leaves)
        } else {
            Matcher::Any(leaves)
        },
    })
}

/// One value of a field under its modifiers, as leaves.
fn leaves_of(x: &Yaml, mods: &Mods, leaves: &mut Vec<Leaf>) -> Result<(), Problem> {
    let Mods {
        op,
        cased,
        fieldref,
        re,
        ref re_flags,
        cidr,
        num,
        b64,
        b64offset,
        ..
    } = *mods;
    if x.is_null() {
        leaves.push(Leaf::Null);
        return Ok(());
    }
    let text = || -> Result<String, Problem> {
        match x {
            Yaml::String(s) => Ok(s.clone()),
            Yaml::Number(n) => Ok(n.to_string()),
            Yaml::Bool(b) => Ok(b.to_string()),
            _ => Err(Problem::NotScalar),
        }
    };
    if fieldref {
        leaves.push(Leaf::FieldRef {
            path: Path::new(&text()?),
            op,
            cased,
        });
    } else if re {
        let t = text()?;
        let r = RegexBuilder::new(&t)
            .case_insensitive(re_flags.contains('i'))
            .multi_line(re_flags.contains('m'))
            .dot_matches_new_line(re_flags.contains('s'))
            .size_limit(1 << 20)
            .build()
            .map_err(|source| Problem::Regex { pattern: t, source })?;
        leaves.push(Leaf::Regex(r));
    } else if cidr {
        let (ip, bits) = parse_cidr(&text()?)?;
        leaves.push(Leaf::Cidr(ip, bits));
    } else if let Some(n) = num {
        let t = text()?;
        let f = t.parse::<f64>().map_err(|_| Problem::Number(t))?;
        leaves.push(Leaf::Num(n, f));
    } else if b64 || b64offset {
        let t = text()?;
        let encoded = if b64offset {
            offsets(t.as_bytes())
        } else {
            vec![base64(t.as_bytes())]
        };
        let op = if b64offset { StrOp::Contains } else { op };
        for e in encoded {
            leaves.push(string_leaf(&escape(&e), op, true)?);
        }
    } else {
        leaves.push(scalar_leaf(x, op, cased)?);
    }
    Ok(())
}

fn scalar_leaf(x: &Yaml, op: StrOp, cased: bool) -> Result<Leaf, Problem> {
    Ok(match x {
        Yaml::String(s) => string_leaf(s, op, cased)?,
        Yaml::Number(n) if op == StrOp::Exact => {
            Leaf::NumEq(n.as_f64().unwrap_or(f64::NAN), n.to_string())
        }
        Yaml::Number(n) => string_leaf(&n.to_string(), op, cased)?,
        Yaml::Bool(b) => Leaf::Bool(*b),
        Yaml::Null => Leaf::Null,
        _ => return Err(Problem::NotScalar),
    })
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('*', "\\*")
        .replace('?', "\\?")
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
        for _ in c.len()..3 {
            out.push('=');
        }
    }
    out
}

/// The three encodings a value has inside a longer base64 text (Sigma `base64offset`,
/// as pySigma computes them).
fn offsets(b: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(b);
            let e = base64(&padded);
            let stop = e.len().saturating_sub(END[(b.len() + i) % 3]).max(START[i]);
            e[START[i]..stop].to_string()
        })
        .collect()
}

fn correlation(c: &Yaml) -> Result<Correlation, At> {
    let kind = match s(c, "type").as_deref() {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some(other) => {
            return Err(under("type")(
                Problem::CorrelationType(other.to_string()).into(),
            ))
        }
        None => return Err(Problem::CorrelationMissing("type").into()),
    };
    let rules = list(c, "rules");
    if rules.is_empty() {
        return Err(Problem::CorrelationMissing("rules").into());
    }
    let timespan = s(c, "timespan").ok_or(Problem::CorrelationMissing("timespan"))?;
    let timespan_ms = parse_timespan(&timespan).map_err(|e| under("timespan")(e.into()))?;
    let (mut op, mut threshold, mut field) = (CountOp::Gte, rules.len() as u64, None);
    match c.get("condition") {
        Some(Yaml::Mapping(m)) => {
            for (k, v) in m {
                let k = k.as_str().unwrap_or("");
                match k {
                    "field" => field = v.as_str().map(Path::new),
                    "gt" | "gte" | "eq" => {
                        op = match k {
                            "gt" => CountOp::Gt,
                            "gte" => CountOp::Gte,
                            _ => CountOp::Eq,
                        };
                        threshold = v
                            .as_u64()
                            .ok_or_else(|| under("condition")(under(k)(Problem::Count.into())))?;
                    }
                    other => {
                        return Err(under("condition")(under(other)(
                            Problem::CountCondition(other.to_string()).into(),
                        )))
                    }
                }
            }
        }
        None if matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        ) => {}
        _ => return Err(Problem::CorrelationCondition.into()),
    }
    if kind == CorrelationType::ValueCount && field.is_none() {
        return Err(Problem::ValueCountField.into());
    }
    Ok(Correlation {
        kind,
        rules,
        group_by: list(c, "group-by").iter().map(|f| Path::new(f)).collect(),
        timespan_ms,
        op,
        threshold,
        field,
        generate: matches!(c.get("generate"), Some(Yaml::Bool(true))),
    })
}

/// A Sigma timespan (`30s`, `5m`, `1h`, `7d`, `2w`) in milliseconds.
pub fn parse_timespan(t: &str) -> Result<i64, TimespanError> {
    let t = t.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| TimespanError::Number(t.to_string()))?;
    let ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(TimespanError::Unit(t.to_string())),
    };
    n.checked_mul(ms)
        .ok_or_else(|| TimespanError::TooLong(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_offsets() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        // The three shapes `http` takes inside longer base64 (Sigma's own example).
        assert_eq!(offsets(b"http"), vec!["aHR0c", "h0dH", "odHRw"]);
    }

    #[test]
    fn errors_name_the_place() {
        let e = parse_file(
            "f.yml",
            "title: t\nid: x\ndetection:\n  sel:\n    a|nope: 1\n  condition: sel\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yml:5:5: rule x: selection `sel`: `a|nope`: unsupported modifier `nope`"
        );
        assert_eq!((e.line, e.column), (Some(5), Some(5)));
        let e = parse_file(
            "f.yml",
            "title: t\ndetection:\n  sel:\n    a: 1\n  condition: other\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yml:5:3: document 1: condition: the condition names `other`, which is not a selection"
        );
        let e = parse_file("f.yml", "title: [").unwrap_err();
        assert!(matches!(e.problem, Problem::Yaml(_)), "{e:?}");
        assert!(e.line.is_some() && e.column.is_some(), "{e:?}");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the YAML error is kept"
        );
        assert_eq!(parse_timespan("5m").unwrap(), 300_000);
        assert!(parse_timespan("5y").is_err());
        assert_eq!(
            parse_timespan("99999999999999999w"),
            Err(TimespanError::TooLong("99999999999999999w".into()))
        );
    }

    /// A condition nested 100,000 deep overflowed the stack (the parser recursed per
    /// level; `fuzz/corpus/sigma_rules/regress-deep-condition.yml`): now refused.
    #[test]
    fn deeply_nested_conditions_are_refused() {
        let n = 100_000;
        let text = format!(
            "title: deep\nid: deep\ndetection:\n  selection:\n    eventName: CreateUser\n  condition: {}selection{}\n",
            "(".repeat(n),
            ")".repeat(n)
        );
        let e = parse_file("deep.yml", &text).unwrap_err();
        assert!(
            matches!(
                e.problem,
                Problem::Condition(crate::sigma::CondError::TooDeep(64))
            ),
            "{e}"
        );
        assert_eq!(e.line, Some(6), "{e}");
    }

    /// Later documents, lists and correlations are placed too; the regex's own error is
    /// the source, not part of the message.
    #[test]
    fn errors_in_later_documents_and_lists_are_placed() {
        let text = "title: a\nid: a\ndetection:\n  sel:\n    x: 1\n  condition: sel\n---\n\
                    title: b\nid: b\ndetection:\n  sel:\n    - x: 1\n    - y|re:\n        - ok\n        - '('\n  condition: sel\n";
        let e = parse_file("g.yml", text).unwrap_err();
        assert_eq!(e.document, 2);
        assert_eq!(
            e.to_string(),
            "g.yml:15:11: rule b: selection `sel`: item 2: `y|re`: item 2: regex \"(\""
        );
        let cause = std::error::Error::source(&e).expect("regex error kept");
        assert!(cause.to_string().contains("unclosed group"), "{cause}");
        let corr = "title: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5y\n  condition: {gte: 2}\n";
        let e = parse_file("c.yml", corr).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yml:6:3: rule c: correlation: `timespan`: timespan \"5y\": unit must be s, m, h, d or w"
        );
    }
}
