//! Sigma YAML to rules: detection rules and correlation rules, one or many per file
//! (`---` separated), with errors that name the file, the rule and the key.

use super::cond::{self, Cond};
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

/// Parse every document of a Sigma YAML file.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    for (i, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let v: Yaml = serde::Deserialize::deserialize(doc)
            .map_err(|e| format!("{file}: document {}: not YAML: {e}", i + 1))?;
        if v.is_null() {
            continue;
        }
        let where_ = |id: &str| {
            if id.is_empty() {
                format!("{file}: document {}", i + 1)
            } else {
                format!("{file}: rule {id}")
            }
        };
        let id = v.get("id").and_then(Yaml::as_str).unwrap_or("").to_string();
        let rule = parse_rule(file, &v).map_err(|e| format!("{}: {e}", where_(&id)))?;
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

fn parse_rule(file: &str, v: &Yaml) -> Result<Rule, String> {
    if !v.is_mapping() {
        return Err("a rule must be a YAML mapping".into());
    }
    let title = s(v, "title").ok_or("no `title`")?;
    let level = match s(v, "level") {
        None => Level::Medium,
        Some(l) => Level::parse(&l).ok_or_else(|| format!("unknown level `{l}`"))?,
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
        Body::Correlation(correlation(c)?)
    } else {
        Body::Detection(detection(v.get("detection").ok_or("no `detection`")?)?)
    };
    Ok(Rule { meta, body })
}

fn detection(d: &Yaml) -> Result<Detection, String> {
    let Yaml::Mapping(map) = d else {
        return Err("`detection` must be a mapping".into());
    };
    let (mut names, mut selections) = (Vec::new(), Vec::new());
    let mut condition = None;
    for (k, v) in map {
        let k = k.as_str().ok_or("detection keys must be strings")?;
        if k == "condition" {
            condition = Some(v.clone());
            continue;
        }
        if k == "timeframe" {
            return Err("`timeframe` is Sigma v1 aggregation; use a correlation rule".into());
        }
        selections.push(selection(v).map_err(|e| format!("selection `{k}`: {e}"))?);
        names.push(k.to_string());
    }
    let condition = match condition.ok_or("no `condition`")? {
        Yaml::String(c) => cond::parse(&c, &names),
        Yaml::Sequence(cs) => cs
            .iter()
            .map(|c| {
                c.as_str()
                    .ok_or_else(|| "conditions must be strings".to_string())
                    .and_then(|c| cond::parse(c, &names))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Cond::Or),
        _ => Err("`condition` must be a string or a list".into()),
    }
    .map_err(|e| format!("condition: {e}"))?;
    Ok(Detection {
        names,
        selections,
        condition,
    })
}

fn selection(v: &Yaml) -> Result<Selection, String> {
    match v {
        Yaml::Mapping(_) => Ok(Selection::Maps(vec![items(v)?])),
        Yaml::Sequence(xs) if xs.iter().all(Yaml::is_mapping) => Ok(Selection::Maps(
            xs.iter().map(items).collect::<Result<_, _>>()?,
        )),
        Yaml::Sequence(xs) => Ok(Selection::Keywords(
            xs.iter()
                .map(|x| scalar_leaf(x, StrOp::Contains, false))
                .collect::<Result<_, _>>()?,
        )),
        Yaml::String(_) | Yaml::Number(_) => Ok(Selection::Keywords(vec![scalar_leaf(
            v,
            StrOp::Contains,
            false,
        )?])),
        _ => Err("a selection must be a mapping, a list of mappings or keywords".into()),
    }
}

fn items(v: &Yaml) -> Result<Vec<Item>, String> {
    let Yaml::Mapping(map) = v else {
        unreachable!("checked by the caller")
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let key = k.as_str().ok_or("field names must be strings")?;
        out.push(item(key, v).map_err(|e| format!("`{key}`: {e}"))?);
    }
    Ok(out)
}

fn item(key: &str, v: &Yaml) -> Result<Item, String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mods: Vec<&str> = parts.collect();
    let (mut op, mut all, mut cased, mut exists, mut fieldref) =
        (StrOp::Exact, false, false, false, false);
    let (mut re, mut re_flags, mut cidr, mut num) = (false, String::new(), false, None);
    let (mut b64, mut b64offset) = (false, false);
    for m in &mods {
        match *m {
            "contains" => op = StrOp::Contains,
            "startswith" => op = StrOp::StartsWith,
            "endswith" => op = StrOp::EndsWith,
            "all" => all = true,
            "cased" => cased = true,
            "exists" => exists = true,
            "fieldref" => fieldref = true,
            "re" => re = true,
            "i" | "ignorecase" => re_flags.push('i'),
            "m" | "multiline" => re_flags.push('m'),
            "s" | "dotall" => re_flags.push('s'),
            "cidr" => cidr = true,
            "lt" => num = Some(NumOp::Lt),
            "lte" => num = Some(NumOp::Lte),
            "gt" => num = Some(NumOp::Gt),
            "gte" => num = Some(NumOp::Gte),
            "base64" => b64 = true,
            "base64offset" => b64offset = true,
            other => return Err(format!("unsupported modifier `{other}`")),
        }
    }
    let field = (!field.is_empty()).then(|| Path::new(field));
    let values: Vec<&Yaml> = match v {
        Yaml::Sequence(xs) => xs.iter().collect(),
        one => vec![one],
    };
    if exists {
        let want = match v {
            Yaml::Bool(b) => *b,
            _ => return Err("`exists` takes true or false".into()),
        };
        return Ok(Item {
            field,
            matcher: Matcher::Exists(want),
        });
    }
    let mut leaves = Vec::new();
    for x in values {
        if x.is_null() {
            leaves.push(Leaf::Null);
            continue;
        }
        let text = || -> Result<String, String> {
            match x {
                Yaml::String(s) => Ok(s.clone()),
                Yaml::Number(n) => Ok(n.to_string()),
                Yaml::Bool(b) => Ok(b.to_string()),
                _ => Err("values must be scalars".into()),
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
                .map_err(|e| format!("regex {t:?}: {e}"))?;
            leaves.push(Leaf::Regex(r));
        } else if cidr {
            let (ip, bits) = parse_cidr(&text()?)?;
            leaves.push(Leaf::Cidr(ip, bits));
        } else if let Some(n) = num {
            let t = text()?;
            let f = t
                .parse::<f64>()
                .map_err(|_| format!("{t:?} is not a number"))?;
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
    }
    if leaves.is_empty() {
        return Err("an empty list matches nothing".into());
    }
    Ok(Item {
        field,
        matcher: if all {
            Matcher::All(leaves)
        } else {
            Matcher::Any(leaves)
        },
    })
}

fn scalar_leaf(x: &Yaml, op: StrOp, cased: bool) -> Result<Leaf, String> {
    match x {
        Yaml::String(s) => string_leaf(s, op, cased),
        Yaml::Number(n) if op == StrOp::Exact => {
            Ok(Leaf::NumEq(n.as_f64().unwrap_or(f64::NAN), n.to_string()))
        }
        Yaml::Number(n) => string_leaf(&n.to_string(), op, cased),
        Yaml::Bool(b) => Ok(Leaf::Bool(*b)),
        Yaml::Null => Ok(Leaf::Null),
        _ => Err("values must be scalars".into()),
    }
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

fn correlation(c: &Yaml) -> Result<Correlation, String> {
    let kind = match s(c, "type").as_deref() {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some(other) => return Err(format!("unsupported correlation type `{other}`")),
        None => return Err("correlation without `type`".into()),
    };
    let rules = list(c, "rules");
    if rules.is_empty() {
        return Err("correlation without `rules`".into());
    }
    let timespan = s(c, "timespan").ok_or("correlation without `timespan`")?;
    let timespan_ms = parse_timespan(&timespan)?;
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
                        threshold = v.as_u64().ok_or("a count must be a whole number")?;
                    }
                    other => {
                        return Err(format!(
                            "condition `{other}` is not supported (an alert fires as soon as a count is reached: use gt, gte or eq)"
                        ))
                    }
                }
            }
        }
        None if matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        ) => {}
        _ => return Err("correlation without a `condition` mapping".into()),
    }
    if kind == CorrelationType::ValueCount && field.is_none() {
        return Err("value_count needs `condition.field`".into());
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

pub fn parse_timespan(t: &str) -> Result<i64, String> {
    let t = t.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = n.parse().map_err(|_| format!("timespan {t:?}"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("timespan {t:?}: unit must be s, m, h, d or w")),
    };
    Ok(n * ms)
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
        assert!(e.contains("f.yml: rule x") && e.contains("nope"), "{e}");
        let e = parse_file(
            "f.yml",
            "title: t\ndetection:\n  sel:\n    a: 1\n  condition: other\n",
        )
        .unwrap_err();
        assert!(e.contains("other"), "{e}");
        assert!(parse_file("f.yml", "title: [").is_err());
        assert_eq!(parse_timespan("5m").unwrap(), 300_000);
        assert!(parse_timespan("5y").is_err());
    }
}
