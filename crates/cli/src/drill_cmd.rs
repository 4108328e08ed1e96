//! `parapet drill`: replay the incident scenarios against the guard and say which guard
//! held at which step.

use crate::remote::{Client, ServerArgs};
use crate::respond_io::clean;
use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use parapet_respond::drill::{self, Scenario, Sent};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Replay scripted incidents (an agent reverting an emergency patch during an incident,
/// an agent deleting and recreating a production database, the 8-minute takeover from
/// a leaked key) against the guard: a running decision service (--server, with a token
/// acting as the agent), or the policy pack in process. Says which guard held at which
/// step. Run it in CI and after every policy change.
///
/// Against a server, held steps become decisions like any other (pending ones expire
/// unapproved); use a token of a drill agent (`agent:drill`) so approvers can tell them
/// apart.
///
/// Exit codes: 0 every step as expected, 1 a guard did not hold, 2 bad input or usage.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  parapet drill                                   # the built-in pack, in process\n  parapet drill --policies policies/ --scenario takeover\n  parapet drill --server https://parapet.example.com   # PARAPET_TOKEN of agent:drill"
)]
pub struct DrillArgs {
    /// Only these scenarios (ids: revert-emergency-patch, delete-recreate-database,
    /// takeover).
    #[arg(long = "scenario", value_name = "ID")]
    scenarios: Vec<String>,
    /// Scenarios replacing the built-in ones (TOML, see crates/respond/data/drills.toml).
    #[arg(long, value_name = "FILE")]
    drills: Option<PathBuf>,
    /// Without --server: a directory of Cedar policies to judge with, as `plan check
    /// --policies`: its files are added to the built-in pack, and a file named like a
    /// built-in one (30-privilege.cedar) replaces it.
    #[arg(long, value_name = "PATH")]
    policies: Option<PathBuf>,
    /// Without --server: who the steps are judged as (with --server, the token's actor).
    #[arg(long, default_value = "agent:drill", value_name = "ACTOR")]
    actor: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    /// One JSON object per step.
    Json,
}

/// How a step was judged.
struct Judged {
    outcome: String,
    policies: Vec<String>,
    decision: Option<String>,
}

enum Judge {
    Local {
        engine: Box<parapet_policy::PolicyEngine>,
        actor: parapet_model::Actor,
    },
    Server(Client),
}

impl Judge {
    fn judge(&self, sent: &Sent) -> Result<Judged> {
        match self {
            Judge::Local { engine, actor } => {
                let report = match sent {
                    Sent::Call { action, params } => {
                        let call = parapet_gate::ApiCall::new(action, None, params.clone())
                            .with_context(|| action.clone())?;
                        let opts = parapet_gate::CallOptions {
                            actor: actor.clone(),
                            incident: None,
                            critical: Default::default(),
                            account: None,
                        };
                        let r = parapet_gate::check_call(&call, &opts, engine);
                        serde_json::to_value(&r)?
                    }
                    Sent::Plan { name, json } => {
                        let opts = parapet_gate::GateOptions {
                            actor: actor.clone(),
                            incident: None,
                            plan: Default::default(),
                            input_name: name.clone(),
                        };
                        let r = parapet_gate::check_plan(json.as_bytes(), &opts, engine)
                            .with_context(|| format!("plan {name}"))?;
                        serde_json::to_value(&r)?
                    }
                };
                Ok(from_report(&report, None))
            }
            Judge::Server(c) => {
                let body = match sent {
                    Sent::Call { action, params } => {
                        json!({"call": {"action": action, "params": params}})
                    }
                    Sent::Plan { json, .. } => {
                        let plan: Value = serde_json::from_str(json).context("the drill's plan")?;
                        json!({ "plan": plan })
                    }
                };
                let v = c.call("POST", "/v1/decisions", Some(&body))?;
                let id = v["id"].as_str().map(String::from);
                Ok(from_report(&v["report"], id))
            }
        }
    }
}

/// The decision and the policies that made it, from a call or plan report.
fn from_report(r: &Value, decision: Option<String>) -> Judged {
    let d = &r["decision"];
    let outcome = d["outcome"].as_str().unwrap_or("unknown").to_string();
    let mut policies: Vec<String> = d["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["outcome"] == d["outcome"])
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    policies.dedup();
    Judged {
        outcome,
        policies,
        decision,
    }
}

/// Print a line; a reader that went away ends the run quietly.
fn say(line: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r.context("writing output"),
    }
}

pub fn run(a: DrillArgs) -> Result<u8> {
    let all = match &a.drills {
        Some(p) => drill::load(p)?,
        None => drill::embedded(),
    };
    if let Some(s) = a
        .scenarios
        .iter()
        .find(|s| !all.iter().any(|x| &x.id == *s))
    {
        let known: Vec<&str> = all.iter().map(|x| x.id.as_str()).collect();
        bail!("--scenario {s:?} is not a drill ({})", known.join(", "));
    }
    let chosen: Vec<&Scenario> = all
        .iter()
        .filter(|s| a.scenarios.is_empty() || a.scenarios.contains(&s.id))
        .collect();
    let judge = match a.server.client()? {
        Some(c) => {
            if a.policies.is_some() {
                bail!("--policies judges in process; with --server the service's policies judge");
            }
            if a.actor != "agent:drill" {
                bail!("--actor judges in process; with --server the token's actor is judged");
            }
            Judge::Server(c)
        }
        None => Judge::Local {
            engine: Box::new(
                parapet_policy::PolicyEngine::load(a.policies.as_deref())
                    .context("loading policies")?,
            ),
            actor: parapet_model::Actor::parse(&a.actor).context("--actor")?,
        },
    };
    let mut failed = 0;
    for s in chosen {
        if matches!(a.format, Format::Text) {
            say(&clean(&format!("{}: {}", s.id, s.title)))?;
        }
        let mut met = 0;
        for (n, step) in s.steps.iter().enumerate() {
            let j = judge.judge(&step.sent)?;
            if j.policies.iter().any(|p| p == "frozen") {
                bail!(
                    "the drill's actor is frozen in the decision service: every step is denied \
                     for that, so no policy was tested (clear the freeze, or use another token)"
                );
            }
            let ok = step.expect.met_by(&j.outcome);
            if ok {
                met += 1;
            } else {
                failed += 1;
            }
            let what = match &step.sent {
                Sent::Call { action, .. } => action.clone(),
                Sent::Plan { name, .. } => format!("plan {name}"),
            };
            match a.format {
                Format::Json => say(
                    &json!({"scenario": s.id, "step": n + 1, "title": step.title, "sent": what,
                        "expect": step.expect.as_str(), "outcome": j.outcome, "policies": j.policies,
                        "decision": j.decision, "as_expected": ok})
                    .to_string(),
                )?,
                Format::Text => {
                    let verdict = match (ok, step.expect) {
                        (false, _) => "NOT HELD",
                        (true, drill::Expect::Any) => "passed",
                        (true, _) => "held",
                    };
                    let mut line = format!(
                        "  {:>2}. {:<8} {:<6} {}: {}",
                        n + 1,
                        verdict,
                        j.outcome,
                        what,
                        step.title
                    );
                    if !j.policies.is_empty() {
                        line.push_str(&format!("  [{}]", j.policies.join(", ")));
                    }
                    if let Some(d) = &j.decision {
                        line.push_str(&format!("  (decision {d})"));
                    }
                    if !ok {
                        line.push_str(&format!("  expected {}", step.expect.as_str()));
                    }
                    say(&clean(&line))?;
                    if let Some(note) = step.note.as_ref().filter(|_| ok) {
                        say(&clean(&format!("      {note}")))?;
                    }
                }
            }
        }
        if matches!(a.format, Format::Text) {
            say(&clean(&format!(
                "{}: {met} of {} steps as expected",
                s.id,
                s.steps.len()
            )))?;
            say("")?;
        }
    }
    Ok(if failed == 0 { EXIT_ALLOW } else { EXIT_HELD })
}
