//! Drills (issue 24): scripted scenarios (`data/drills.toml`, embedded; `--drills FILE`
//! replaces them) of what agents do in the incidents parapet exists for, each step with
//! what the guard must do. Replaying them is the caller's (`parapet drill`): against a
//! running decision service, or the policy pack in process.

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

const EMBEDDED: &str = include_str!("../data/drills.toml");
const PLANS: [(&str, &str); 2] = [
    (
        "reopen-emergency-block",
        include_str!("../data/drills/reopen-emergency-block.json"),
    ),
    (
        "delete-recreate-database",
        include_str!("../data/drills/delete-recreate-database.json"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("reading drills {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("drills {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("drills {origin}, scenario {scenario}: {why}")]
    Invalid {
        origin: String,
        scenario: String,
        why: String,
    },
}

/// What the guard must do with a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Review or deny.
    Held,
    Deny,
    /// Reported, not judged.
    Any,
}

impl Expect {
    /// Whether the gate's outcome (`allow`, `review`, `deny`) meets it.
    pub fn met_by(self, outcome: &str) -> bool {
        match self {
            Expect::Held => matches!(outcome, "review" | "deny"),
            Expect::Deny => outcome == "deny",
            Expect::Any => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Held => "held",
            Expect::Deny => "deny",
            Expect::Any => "any",
        }
    }
}

/// What a step sends.
#[derive(Debug, Clone)]
pub enum Sent {
    Call {
        action: String,
        params: Value,
    },
    /// Terraform plan JSON.
    Plan {
        name: String,
        json: String,
    },
}

#[derive(Debug, Clone)]
pub struct DrillStep {
    pub title: String,
    pub sent: Sent,
    pub expect: Expect,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub steps: Vec<DrillStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenario: Vec<RawScenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    id: String,
    title: String,
    step: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: String,
    call: Option<RawCall>,
    plan: Option<String>,
    expect: Expect,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    action: String,
    #[serde(default)]
    params: toml::Table,
}

/// The embedded drills.
pub fn embedded() -> Vec<Scenario> {
    parse(EMBEDDED, "embedded", None).expect("the embedded drills are valid")
}

/// Drills from a file; `plan = "NAME"` reads `NAME.json` in a `drills/` directory beside it.
pub fn load(path: &Path) -> Result<Vec<Scenario>, DrillError> {
    let text = std::fs::read_to_string(path).map_err(|source| DrillError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new(".")).join("drills");
    parse(&text, &path.display().to_string(), Some(&dir))
}

fn parse(text: &str, origin: &str, dir: Option<&Path>) -> Result<Vec<Scenario>, DrillError> {
    let raw: RawFile = toml::from_str(text).map_err(|source| DrillError::Parse {
        origin: origin.into(),
        source,
    })?;
    let mut out: Vec<Scenario> = Vec::new();
    for s in raw.scenario {
        let bad = |why: String| DrillError::Invalid {
            origin: origin.into(),
            scenario: s.id.clone(),
            why,
        };
        if out.iter().any(|o| o.id == s.id) {
            return Err(bad("a scenario of this id comes earlier".into()));
        }
        let mut steps = Vec::new();
        for st in &s.step {
            let sent = match (&st.call, &st.plan) {
                (Some(c), None) if c.action.contains(':') => Sent::Call {
                    action: c.action.clone(),
                    params: serde_json::to_value(&c.params).unwrap_or(Value::Null),
                },
                (Some(c), None) => {
                    return Err(bad(format!(
                        "action {:?}: write service:Operation",
                        c.action
                    )))
                }
                (None, Some(name)) => {
                    // A name, not a path: plans stay in the drills directory.
                    let plain = !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if !plain {
                        return Err(bad(format!(
                            "plan {name:?}: a name of letters, digits, - and _ (drills/NAME.json)"
                        )));
                    }
                    let json = match dir {
                        Some(d) => {
                            let p = d.join(format!("{name}.json"));
                            std::fs::read_to_string(&p).map_err(|e| {
                                bad(format!("plan {name}: reading {}: {e}", p.display()))
                            })?
                        }
                        None => PLANS
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, j)| j.to_string())
                            .ok_or_else(|| bad(format!("no embedded plan {name:?}")))?,
                    };
                    Sent::Plan {
                        name: name.clone(),
                        json,
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "step {:?}: give one of call or plan",
                        st.title
                    )))
                }
            };
            steps.push(DrillStep {
                title: st.title.clone(),
                sent,
                expect: st.expect,
                note: st.note.clone(),
            });
        }
        if steps.is_empty() {
            return Err(bad("a scenario needs steps".into()));
        }
        out.push(Scenario {
            id: s.id,
            title: s.title,
            steps,
        });
    }
    if out.is_empty() {
        return Err(DrillError::Invalid {
            origin: origin.into(),
            scenario: "-".into(),
            why: "no scenarios: a drill that runs nothing proves nothing".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_drills_load_and_bad_ones_are_refused() {
        let d = embedded();
        assert!(d.iter().any(|s| s.id == "takeover"));
        assert!(d.iter().any(|s| s.id == "revert-emergency-patch"));
        for (bad, says) in [
            ("[[scenario]]\nid='a'\ntitle='t'\n[[scenario.step]]\ntitle='s'\nexpect='held'\n", "one of call or plan"),
            ("[[scenario]]\nid='a'\ntitle='t'\n[[scenario.step]]\ntitle='s'\nplan='nope'\nexpect='held'\n", "no embedded plan"),
            ("[[scenario]]\nid='a'\ntitle='t'\n[[scenario.step]]\ntitle='s'\ncall={action='x'}\nexpect='held'\n", "service:Operation"),
            ("[[scenario]]\nid='a'\ntitle='t'\n[[scenario.step]]\ntitle='s'\ncall={action='a:B'}\nexpect='maybe'\n", "unknown variant"),
            ("[[scenario]]\nid='a'\ntitle='t'\n[[scenario.step]]\ntitle='s'\nplan='../../etc/passwd'\nexpect='held'\n", "a name of letters"),
            ("scenario = []\n", "no scenarios"),
        ] {
            let e = parse(bad, "t", None).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        assert!(Expect::Held.met_by("review") && Expect::Held.met_by("deny"));
        assert!(!Expect::Held.met_by("allow") && !Expect::Deny.met_by("review"));
    }
}
