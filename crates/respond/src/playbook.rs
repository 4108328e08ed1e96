//! Playbooks: containment steps as data (`data/playbooks.toml`, embedded; a file of the
//! same format replaces it). Placeholders `{name}` in titles and parameters are filled
//! per subject; one without a value is left in place and reported as missing.

use crate::{Call, Check, Expect};
use parapet_detect::sigma::Level;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const EMBEDDED: &str = include_str!("../data/playbooks.toml");

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("reading playbooks {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("playbooks {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("playbooks {origin}, step {step}: {why}")]
    Invalid {
        origin: String,
        step: String,
        why: String,
    },
}

/// What a step is repeated for.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    AccessKey,
    RoleSession,
    /// Every alert whose action is one of these (`iam:CreateUser`).
    Alert {
        on: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub subject: Subject,
    /// Alert steps: only alerts of these rules (empty: any), so that a call that is risky
    /// in one form (sharing out) and routine in another (a description) is answered only
    /// for the first.
    pub rules: Vec<String>,
    pub min_level: Level,
    title: String,
    action: String,
    params: Value,
    undo: Option<(String, Value)>,
    verify: String,
    check: Option<RawCheck>,
    by_hand: Option<String>,
    undo_by_hand: Option<String>,
}

/// How to check a step took: a read call and what its answer must show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    action: String,
    #[serde(default)]
    params: toml::Table,
    /// The answer holds an element whose children have these texts (`*`: any text).
    #[serde(default)]
    has: Option<BTreeMap<String, String>>,
    /// The answer holds no element matching any of these.
    #[serde(default)]
    lacks: Vec<BTreeMap<String, String>>,
    /// The call fails with this error code (`NoSuchEntity`: the thing is gone).
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    subject: String,
    #[serde(default)]
    on: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    min_level: String,
    title: String,
    action: String,
    params: toml::Table,
    undo_action: Option<String>,
    undo_params: Option<toml::Table>,
    verify: String,
    check: Option<RawCheck>,
    /// What a person must supply before the step can run (values only the event's
    /// record has); such a step is proposed, never run by parapet.
    by_hand: Option<String>,
    undo_by_hand: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Playbooks {
    steps: Vec<Step>,
}

impl Playbooks {
    pub fn embedded() -> Playbooks {
        Playbooks::parse(EMBEDDED, "embedded").expect("the embedded playbooks are valid")
    }

    pub fn load(path: &Path) -> Result<Playbooks, PlaybookError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlaybookError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Playbooks::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Playbooks, PlaybookError> {
        let raw: RawFile = toml::from_str(text).map_err(|source| PlaybookError::Parse {
            origin: origin.into(),
            source,
        })?;
        let mut steps: Vec<Step> = Vec::new();
        for s in raw.step {
            let bad = |why: String| PlaybookError::Invalid {
                origin: origin.into(),
                step: s.id.clone(),
                why,
            };
            let subject = match s.subject.as_str() {
                "access_key" => Subject::AccessKey,
                "role_session" => Subject::RoleSession,
                "alert" if !s.on.is_empty() => Subject::Alert { on: s.on.clone() },
                "alert" => {
                    return Err(bad(
                        "an alert step needs `on`, the actions it answers".into()
                    ))
                }
                other => {
                    return Err(bad(format!(
                        "subject {other:?}: use access_key, role_session or alert"
                    )))
                }
            };
            let min_level = Level::parse(&s.min_level).ok_or_else(|| {
                bad(format!(
                    "min_level {:?}: use informational, low, medium, high or critical",
                    s.min_level
                ))
            })?;
            if !s.action.contains(':') {
                return Err(bad(format!(
                    "action {:?}: write service:Operation",
                    s.action
                )));
            }
            if steps.iter().any(|t| t.id == s.id) {
                return Err(bad("a step of this id comes earlier in the file".into()));
            }
            if let Some(a) = s.on.iter().find(|a| !a.contains(':') || a.contains('*')) {
                return Err(bad(format!(
                    "on {a:?}: write each action as service:Operation"
                )));
            }
            let known: &[&str] = match s.subject.as_str() {
                "access_key" => &["key", "user", "incident", "now"],
                "role_session" => &["role", "account", "incident", "now"],
                _ => &["target", "event", "incident", "now"],
            };
            if let Some(c) = &s.check {
                let ways = [c.has.is_some(), !c.lacks.is_empty(), c.error.is_some()];
                if ways.iter().filter(|w| **w).count() != 1 {
                    return Err(bad("check needs exactly one of has, lacks or error".into()));
                }
                if !c.action.contains(':') {
                    return Err(bad(format!(
                        "check action {:?}: write service:Operation",
                        c.action
                    )));
                }
            }
            let mut texts = vec![s.title.clone(), s.verify.clone()];
            texts.extend(s.by_hand.clone());
            texts.extend(s.undo_by_hand.clone());
            if let Some(c) = &s.check {
                texts.push(
                    serde_json::to_string(&(&c.params, &c.has, &c.lacks)).unwrap_or_default(),
                );
            }
            texts.push(toml_json(s.params.clone()).to_string());
            if let Some(p) = &s.undo_params {
                texts.push(toml_json(p.clone()).to_string());
            }
            for text in &texts {
                let mut names = Vec::new();
                fill(text, &BTreeMap::new(), &mut names);
                if let Some(n) = names.iter().find(|n| !known.contains(&n.as_str())) {
                    return Err(bad(format!(
                        "placeholder {{{n}}} is not one a {} step has ({})",
                        s.subject,
                        known.join(", ")
                    )));
                }
            }
            let undo = match (s.undo_action, s.undo_params) {
                (Some(a), p) => Some((a, toml_json(p.unwrap_or_default()))),
                (None, None) => None,
                (None, Some(_)) => return Err(bad("undo_params without undo_action".into())),
            };
            steps.push(Step {
                id: s.id,
                subject,
                rules: s.rules,
                min_level,
                title: s.title,
                action: s.action,
                params: toml_json(s.params),
                undo,
                verify: s.verify,
                check: s.check,
                by_hand: s.by_hand,
                undo_by_hand: s.undo_by_hand,
            });
        }
        Ok(Playbooks { steps })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

fn toml_json(t: toml::Table) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

type Vars = BTreeMap<&'static str, String>;

impl Step {
    pub(crate) fn call(&self, vars: &Vars) -> (Call, Vec<String>) {
        let mut missing = Vec::new();
        let params = fill_value(&self.params, vars, &mut missing);
        (
            Call {
                action: self.action.clone(),
                params,
            },
            missing,
        )
    }

    pub(crate) fn undo(&self, vars: &Vars) -> Option<Call> {
        self.undo_with_missing(vars).map(|(c, _)| c)
    }

    /// The undo, and the placeholders it has no value for.
    pub(crate) fn undo_with_missing(&self, vars: &Vars) -> Option<(Call, Vec<String>)> {
        let (action, params) = self.undo.as_ref()?;
        let mut missing = Vec::new();
        let params = fill_value(params, vars, &mut missing);
        Some((
            Call {
                action: action.clone(),
                params,
            },
            missing,
        ))
    }

    pub(crate) fn title(&self, vars: &Vars) -> (String, Vec<String>) {
        let mut missing = Vec::new();
        (fill(&self.title, vars, &mut missing), missing)
    }

    pub(crate) fn verify(&self, vars: &Vars) -> (String, Vec<String>) {
        let mut missing = Vec::new();
        (fill(&self.verify, vars, &mut missing), missing)
    }

    /// What a person must supply first, filled.
    pub(crate) fn by_hand(&self, vars: &Vars) -> Option<String> {
        Some(fill(self.by_hand.as_ref()?, vars, &mut Vec::new()))
    }

    pub(crate) fn undo_by_hand(&self, vars: &Vars) -> Option<String> {
        Some(fill(self.undo_by_hand.as_ref()?, vars, &mut Vec::new()))
    }

    pub(crate) fn check(&self, vars: &Vars) -> Option<Check> {
        let c = self.check.as_ref()?;
        let fill_map = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            m.iter()
                .map(|(k, v)| (k.clone(), fill(v, vars, &mut Vec::new())))
                .collect()
        };
        let expect = if let Some(h) = &c.has {
            Expect::Has(fill_map(h))
        } else if let Some(e) = &c.error {
            Expect::Error(e.clone())
        } else {
            Expect::Lacks(c.lacks.iter().map(fill_map).collect())
        };
        Some(Check {
            call: Call {
                action: c.action.clone(),
                params: fill_value(&toml_json(c.params.clone()), vars, &mut Vec::new()),
            },
            expect,
        })
    }
}

impl Step {
    /// The values a call of this step was made with, read back from its parameters by
    /// the step's templates: `None` unless filling the templates with them gives the same
    /// call exactly (a changed action, an extra parameter, an edited policy document).
    pub(crate) fn values_of(&self, call: &Call) -> Option<Vars> {
        if call.action != self.action {
            return None;
        }
        let mut vars = Vars::new();
        read_back(&self.params, &call.params, &mut vars)?;
        let (again, _) = self.call(&vars);
        (again == *call).then_some(vars)
    }

    /// Values only the title holds (a role's account): read from `title` when it is this
    /// step's title; what the call gave wins.
    pub(crate) fn title_values(&self, title: &str, vars: &mut Vars) {
        let mut extra = Vars::new();
        if read_text(&self.title, title, &mut extra).is_some() {
            for (k, v) in extra {
                vars.entry(k).or_insert(v);
            }
        }
    }
}

/// Match `given` against `template`, collecting placeholder values.
fn read_back(template: &Value, given: &Value, vars: &mut Vars) -> Option<()> {
    match (template, given) {
        (Value::String(t), Value::String(g)) => read_text(t, g, vars),
        (Value::Array(t), Value::Array(g)) if t.len() == g.len() => {
            t.iter().zip(g).try_for_each(|(t, g)| read_back(t, g, vars))
        }
        (Value::Object(t), Value::Object(g)) if t.len() == g.len() => t
            .iter()
            .try_for_each(|(k, t)| read_back(t, g.get(k)?, vars)),
        (t, g) => (t == g).then_some(()),
    }
}

/// `template` with `{name}`s against `text`: literal parts must match; each placeholder
/// takes the shortest text up to the next literal part (the last one takes the rest).
/// A name seen twice must have one value.
fn read_text(template: &str, text: &str, vars: &mut Vars) -> Option<()> {
    let mut parts: Vec<(bool, &str)> = Vec::new(); // (is placeholder, text or name)
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let n = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if n > 0 && after[n..].starts_with('}') {
            parts.push((false, &rest[..open]));
            parts.push((true, &after[..n]));
            rest = &after[n + 1..];
        } else {
            parts.push((false, &rest[..open + 1]));
            rest = after;
        }
    }
    parts.push((false, rest));
    let mut at = text;
    let mut i = 0;
    while i < parts.len() {
        let (is_var, part) = parts[i];
        if !is_var {
            at = at.strip_prefix(part)?;
            i += 1;
            continue;
        }
        // The next literal part (placeholders are never adjacent in the playbooks).
        let next = parts[i + 1..].iter().find(|(v, p)| !v && !p.is_empty());
        let end = match next {
            Some((_, lit)) => at.find(lit)?,
            None => at.len(),
        };
        let value = &at[..end];
        let name = known_name(part)?;
        if value == format!("{{{name}}}") {
            // Left unfilled when the plan was made: still missing.
            at = &at[end..];
            i += 1;
            continue;
        }
        if let Some(old) = vars.get(name) {
            if old != value {
                return None;
            }
        }
        vars.insert(name, value.to_string());
        at = &at[end..];
        i += 1;
    }
    at.is_empty().then_some(())
}

/// The placeholder names a step may use, as `'static` keys.
fn known_name(n: &str) -> Option<&'static str> {
    [
        "key", "user", "role", "account", "target", "event", "incident", "now",
    ]
    .into_iter()
    .find(|k| *k == n)
}

fn fill_value(v: &Value, vars: &Vars, missing: &mut Vec<String>) -> Value {
    match v {
        // A JSON document in a string (a policy): values go in as JSON string content,
        // so a name with a quote cannot add a member.
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            let escaped: Vars = vars
                .iter()
                .map(|(k, v)| {
                    let quoted = serde_json::to_string(v).unwrap_or_default();
                    (*k, quoted[1..quoted.len() - 1].to_string())
                })
                .collect();
            Value::String(fill(s, &escaped, missing))
        }
        Value::String(s) => Value::String(fill(s, vars, missing)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_value(x, vars, missing)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_value(x, vars, missing)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replace `{name}` (lowercase letters and `_`) with its value; JSON braces in a
/// document are left alone.
fn fill(s: &str, vars: &Vars, missing: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push_str(&rest[open..open + name_len + 2]);
                    missing.push(name.to_string());
                }
            }
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_json_left_alone() {
        let vars: Vars = BTreeMap::from([("role", "r".to_string()), ("now", "T".to_string())]);
        let mut missing = Vec::new();
        let got = fill(
            r#"{"Condition":{"DateLessThan":{"aws:TokenIssueTime":"{now}"}}} {role} {user}"#,
            &vars,
            &mut missing,
        );
        assert_eq!(
            got,
            r#"{"Condition":{"DateLessThan":{"aws:TokenIssueTime":"T"}}} r {user}"#
        );
        assert_eq!(missing, ["user"]);
    }

    #[test]
    fn a_value_in_a_policy_document_cannot_add_members() {
        let vars: Vars = BTreeMap::from([("target", "x\",\"Effect\":\"Allow".to_string())]);
        let doc = serde_json::json!(r#"{"Statement":[{"Effect":"Deny","Sid":"{target}"}]}"#);
        let got = fill_value(&doc, &vars, &mut Vec::new());
        let parsed: Value = serde_json::from_str(got.as_str().unwrap()).unwrap();
        assert_eq!(parsed["Statement"][0]["Effect"], "Deny");
        assert_eq!(parsed["Statement"][0]["Sid"], "x\",\"Effect\":\"Allow");
    }

    #[test]
    fn the_embedded_playbooks_load_and_bad_ones_are_refused() {
        assert!(Playbooks::embedded().steps().len() >= 7);
        for (bad, says) in [
            ("[[step]]\nid='x'\nsubject='alert'\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n", "needs `on`"),
            ("[[step]]\nid='x'\nsubject='keys'\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n", "subject"),
            ("[[step]]\nid='x'\nsubject='access_key'\nmin_level='severe'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n", "min_level"),
            ("[[step]]\nid='x'\nsubject='access_key'\nmin_level='high'\ntitle='t'\naction='UpdateKey'\nparams={}\nverify='v'\n", "service:Operation"),
            ("[[step]]\nid='x'\nsubject='access_key'\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\ncolour='red'\n", "unknown field"),
            ("[[step]]\nid='x'\nsubject='access_key'\nmin_level='high'\ntitle='{bogus}'\naction='a:B'\nparams={}\nverify='v'\n", "placeholder {bogus}"),
            ("[[step]]\nid='x'\nsubject='alert'\non=['*']\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n", "service:Operation"),
            ("[[step]]\nid='x'\nsubject='access_key'\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n[[step]]\nid='x'\nsubject='access_key'\nmin_level='high'\ntitle='t'\naction='a:B'\nparams={}\nverify='v'\n", "earlier"),
        ] {
            let e = Playbooks::parse(bad, "test").unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
