//! `parapet respond run|undo`: run an incident's proposed containment (from `trail scan
//! --format jsonl`) against AWS, and undo what ran. A dry run unless `--execute`.

use crate::remote::{segment, Client, ServerArgs};
use crate::respond_io::{clean, read_plans, read_records, Out};
use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use parapet_respond::{Applied, Executor, Playbooks, State};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum RespondCommand {
    /// Run the proposed containment of incidents: each step the gate allows (or a person
    /// approves through --server) is sent to AWS, then checked; every step is recorded
    /// with the call that undoes it. Without --execute nothing is sent: the run says what
    /// would happen.
    ///
    /// Steps the gate holds for review run only once approved in the decision service
    /// (--server); denied and incomplete steps never run.
    ///
    /// Exit codes: 0 every step that could run ran and checked out (dry run: nothing
    /// blocked), 1 a step failed, did not check out, or was not run, 2 bad input or usage.
    #[command(
        after_help = "Examples:\n  parapet trail scan logs/ --format jsonl > incidents.jsonl\n  parapet respond run incidents.jsonl                         # what would run\n  parapet respond run incidents.jsonl --execute --record steps.jsonl --expires 24h\n  parapet respond undo steps.jsonl --step deactivate-access-key --execute"
    )]
    Run(RunArgs),
    /// Undo steps recorded by `respond run --execute`, newest first. Without --execute
    /// nothing is sent.
    ///
    /// Exit codes: 0 every selected step undone (dry run: every one could be), 1 some
    /// could not, 2 bad input or usage.
    Undo(UndoArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    /// One JSON object per step (`"type": "containment-step"`).
    Json,
}

#[derive(Args)]
struct Aws {
    /// AWS region to act in (else the profile's or AWS_REGION's). IAM is global.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// Profile of the shared AWS config and credentials files (else the standard chain:
    /// environment, web identity, ECS, instance role).
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Send every call here instead of AWS (moto, LocalStack, a VPC endpoint).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

#[derive(Args)]
pub struct RunArgs {
    /// `trail scan --format jsonl` output (its `containment` lines), or one containment
    /// plan as JSON; `-` for standard input.
    input: PathBuf,
    /// Send the steps to AWS. Without it, a dry run.
    #[arg(long)]
    execute: bool,
    /// Append one JSON line per step here (what ran, AWS's request id, the undo).
    /// Required with --execute: it is what `respond undo` reads.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Steps that ran are undone by `respond undo --expired` once this has passed
    /// (e.g. 24h, 7d).
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
    /// Only these steps (playbook ids, e.g. deactivate-access-key).
    #[arg(long = "step", value_name = "ID")]
    steps: Vec<String>,
    /// Only this incident.
    #[arg(long, value_name = "ID")]
    incident: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    judge: Judge,
    #[command(flatten)]
    aws: Aws,
}

/// How steps are judged: every call is judged when it is about to run (the plan file's
/// `outcome` is only what the gate said when the plan was made).
#[derive(Args)]
struct Judge {
    /// The playbooks the plan was made with (`trail scan --playbooks`). Every step is
    /// remade from them: a step they do not have, or a call its step does not make, is
    /// refused; titles, undos and checks come from them, never from the file. Which
    /// resources a step names is the file's to say: keep plan files as you keep scripts.
    #[arg(long, value_name = "FILE")]
    playbooks: Option<PathBuf>,
    /// Cedar policies to judge the steps with (a directory of .cedar files replacing the
    /// built-in pack), as `trail scan --policies`.
    #[arg(long, value_name = "PATH")]
    policies: Option<PathBuf>,
    /// With --server: how long to wait for approvers before going on without a held step.
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    wait: String,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Args)]
pub struct UndoArgs {
    /// A record file written by `respond run --execute --record`.
    record: PathBuf,
    /// Send the undo calls to AWS. Without it, a dry run.
    #[arg(long)]
    execute: bool,
    /// Only these steps (playbook ids).
    #[arg(long = "step", value_name = "ID")]
    steps: Vec<String>,
    /// Only this incident.
    #[arg(long, value_name = "ID")]
    incident: Option<String>,
    /// Only steps whose --expires time has passed.
    #[arg(long)]
    expired: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    judge: Judge,
    #[command(flatten)]
    aws: Aws,
}

/// The judge, ready: policies loaded, decision service client made.
struct Gate {
    playbooks: Playbooks,
    engine: parapet_policy::PolicyEngine,
    client: Option<Client>,
    wait: Duration,
}

impl Judge {
    fn load(&self) -> Result<Gate> {
        let wait = duration("--wait", &self.wait)?;
        if wait > 0 && self.server.server.is_none() {
            bail!(
                "--wait is how long to wait for approvers of the decision service: give --server"
            );
        }
        Ok(Gate {
            playbooks: match &self.playbooks {
                Some(p) => Playbooks::load(p)?,
                None => Playbooks::embedded(),
            },
            engine: parapet_policy::PolicyEngine::load(self.policies.as_deref())
                .context("loading policies for the containment steps")?,
            client: self.server.client()?,
            wait: Duration::from_secs(wait),
        })
    }
}

pub fn run(c: RespondCommand) -> Result<u8> {
    match c {
        RespondCommand::Run(a) => run_steps(a),
        RespondCommand::Undo(a) => undo_steps(a),
    }
}

fn now_text() -> String {
    parapet_model::time::rfc3339(parapet_store::now())
}

fn duration(flag: &str, s: &str) -> Result<u64> {
    parapet_policy::parse_duration(s)
        .with_context(|| format!("{flag} {s:?}: use a duration such as 30s, 15m, 24h or 7d"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The executor when steps are to be sent (`--execute`), saying who acts; none for a
/// dry run.
fn executor(rt: &tokio::runtime::Runtime, aws: &Aws, execute: bool) -> Result<Option<Executor>> {
    if !execute {
        return Ok(None);
    }
    let source = match &aws.profile {
        Some(p) => parapet_awsauth::CredentialSource::Profile(p.clone()),
        None => parapet_awsauth::CredentialSource::DefaultChain,
    };
    let e = rt
        .block_on(Executor::new(
            &source,
            aws.region.as_deref(),
            aws.endpoint_url.as_deref(),
        ))
        .context("setting up AWS credentials for containment")?;
    eprintln!("parapet: acting with {}", e.describe());
    Ok(Some(e))
}

/// `--step` names steps of the playbooks: a misspelt one is an error, not a quiet no-op.
fn check_steps(steps: &[String], playbooks: &Playbooks) -> Result<()> {
    if let Some(s) = steps.iter().find(|s| playbooks.step(s).is_none()) {
        let known: Vec<&str> = playbooks.steps().iter().map(|s| s.id.as_str()).collect();
        bail!(
            "--step {s:?} is not a step of the playbooks ({})",
            known.join(", ")
        );
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn run_steps(a: RunArgs) -> Result<u8> {
    match (a.execute, &a.record) {
        (true, None) => {
            bail!("--execute needs --record FILE: the record is what `parapet respond undo` reads")
        }
        (false, Some(_)) => {
            bail!("--record records what --execute runs; a dry run records nothing")
        }
        (false, None) if a.expires.is_some() => bail!("--expires applies to steps --execute runs"),
        _ => {}
    }
    if let Some(r) = &a.record {
        if same_file(r, &a.input) {
            bail!(
                "--record {} is the input file: give another file",
                r.display()
            );
        }
    }
    let expires = match a.expires.as_deref() {
        Some(s) => match duration("--expires", s)? {
            0 => bail!("--expires must be longer than 0s"),
            n => Some(n),
        },
        None => None,
    };
    let gate = a.judge.load()?;
    check_steps(&a.steps, &gate.playbooks)?;
    let mut plans = read_plans(&a.input, &gate.playbooks)?;
    if let Some(i) = &a.incident {
        plans.retain(|p| p.incident == *i);
        if plans.is_empty() {
            bail!(
                "{} holds no containment plan for incident {i}",
                a.input.display()
            );
        }
    }
    if plans.is_empty() {
        eprintln!("parapet: {} holds no containment plan", a.input.display());
        return Ok(EXIT_ALLOW);
    }
    let rt = runtime()?;
    let exec = executor(&rt, &a.aws, a.execute)?;
    let mut out = Out::open(a.record.as_deref(), matches!(a.format, Format::Json))?;
    let mut worst = EXIT_ALLOW;
    for mut plan in plans {
        let now = now_text();
        plan.restamp(&now);
        for p in &plan.proposals {
            if !a.steps.is_empty() && !a.steps.contains(&p.step) {
                continue;
            }
            let now = now_text();
            let mut rec = match gate.decide(&p.call, &p.missing)? {
                Decided::No(why) => Applied::new(&plan.incident, p, State::NotRun, why, &now),
                Decided::Yes(decision) => match &exec {
                    None => {
                        let mut r = Applied::new(
                            &plan.incident,
                            p,
                            State::NotRun,
                            format!("dry run: {} {}", p.call.action, p.call.params),
                            &now,
                        );
                        r.decision = decision;
                        out.emit(&r, true)?;
                        continue;
                    }
                    Some(e) => {
                        let mut r = rt.block_on(e.run(&plan.incident, p, &now));
                        r.decision = decision;
                        r
                    }
                },
            };
            if rec.state == State::Done {
                if let Some(secs) = expires {
                    rec.expires = Some(parapet_model::time::rfc3339(
                        parapet_store::now() + secs as i64,
                    ));
                }
            }
            if !matches!(rec.state, State::Done | State::AlreadySo) {
                worst = EXIT_HELD;
            }
            out.emit(&rec, false)?;
        }
        for l in &plan.left_out {
            eprintln!("parapet: {}: left out: {}", clean(&plan.incident), clean(l));
        }
    }
    Ok(worst)
}

enum Decided {
    /// May run; the decision service's request id when one was asked.
    Yes(Option<String>),
    No(String),
}

impl Gate {
    /// Whether `call` may run: judged now by the local gate, or with --server by the
    /// decision service (recorded in its audit chain), waiting up to --wait for
    /// approvers. `missing`: what a person must supply first.
    fn decide(&self, call: &parapet_respond::Call, missing: &[String]) -> Result<Decided> {
        if !missing.is_empty() {
            return Ok(Decided::No(format!(
                "incomplete: a person must supply {}",
                missing.join(", ")
            )));
        }
        let Some(c) = &self.client else {
            let (outcome, reason) = parapet_respond::judge_call(call, &self.engine);
            return Ok(match outcome.as_str() {
                "allow" => Decided::Yes(None),
                "review" => Decided::No(format!(
                    "waits for approval: {reason} (give --server so approvers can decide)"
                )),
                _ => Decided::No(format!("denied by the gate: {reason}")),
            });
        };
        let body = json!({"call": {"action": call.action, "params": call.params}});
        let mut v = c.call("POST", "/v1/decisions", Some(&body))?;
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let started = Instant::now();
        loop {
            match v["state"].as_str().unwrap_or_default() {
                "allowed" => return Ok(Decided::Yes(Some(id))),
                "approved" => {
                    c.call(
                        "POST",
                        &format!("/v1/decisions/{}/execute", segment(&id)),
                        None,
                    )?;
                    return Ok(Decided::Yes(Some(id)));
                }
                "pending" | "cooling_off" if started.elapsed() < self.wait => {
                    std::thread::sleep(Duration::from_millis(500));
                    v = c.call("GET", &format!("/v1/decisions/{}", segment(&id)), None)?;
                }
                "pending" | "cooling_off" => {
                    return Ok(Decided::No(format!(
                        "waits for approval: decision {id} {}",
                        v["review_url"].as_str().unwrap_or_default()
                    )))
                }
                other => {
                    let reason = v["report"]["decision"]["policies"][0]["reason"]
                        .as_str()
                        .unwrap_or("no reason given");
                    return Ok(Decided::No(format!(
                        "the decision service says {other} (decision {id}): {reason}"
                    )));
                }
            }
        }
    }
}

fn undo_steps(a: UndoArgs) -> Result<u8> {
    let gate = a.judge.load()?;
    check_steps(&a.steps, &gate.playbooks)?;
    let records = read_records(&a.record, &gate.playbooks)?;
    if let Some(i) = &a.incident {
        if !records.iter().any(|r| r.incident == *i) {
            bail!("{} holds no step of incident {i}", a.record.display());
        }
    }
    // A step undone later in the file is not undone again.
    let undone: Vec<(String, String, String)> = records
        .iter()
        .filter(|r| r.state == State::Undone)
        .map(|r| {
            (
                r.incident.clone(),
                r.step.clone(),
                r.call.params.to_string(),
            )
        })
        .collect();
    let now = parapet_store::now();
    let chosen: Vec<&Applied> = records
        .iter()
        .rev()
        .filter(|r| matches!(r.state, State::Done | State::Unverified))
        .filter(|r| {
            !undone.contains(&(
                r.incident.clone(),
                r.step.clone(),
                r.call.params.to_string(),
            ))
        })
        .filter(|r| a.steps.is_empty() || a.steps.contains(&r.step))
        .filter(|r| a.incident.as_ref().is_none_or(|i| *i == r.incident))
        .filter(|r| {
            !a.expired
                || r.expires
                    .as_deref()
                    .and_then(parapet_model::time::parse_rfc3339)
                    .is_some_and(|t| t <= now)
        })
        .collect();
    if chosen.is_empty() {
        eprintln!("parapet: nothing to undo in {}", a.record.display());
        return Ok(EXIT_ALLOW);
    }
    let rt = runtime()?;
    let exec = executor(&rt, &a.aws, a.execute)?;
    let mut out = Out::open(
        a.execute.then_some(a.record.as_path()),
        matches!(a.format, Format::Json),
    )?;
    let mut worst = EXIT_ALLOW;
    for r in chosen {
        let at = now_text();
        // The undo is a call like any other: judged now (re-enabling a key is a grant).
        let verdict = match (&r.undo, &r.undo_by_hand) {
            (Some(u), None) => Some(gate.decide(u, &[])?),
            _ => None,
        };
        if let Some(Decided::No(why)) = &verdict {
            let mut d = r.clone();
            d.at = at;
            d.state = State::NotRun;
            d.request_id = None;
            d.title = format!("undo of: {}", r.title);
            d.detail = why.clone();
            worst = EXIT_HELD;
            out.emit(&d, false)?;
            continue;
        }
        let decision = match verdict {
            Some(Decided::Yes(d)) => d,
            _ => None,
        };
        let (rec, would) = match &exec {
            Some(e) => {
                let mut u = rt.block_on(e.undo(r, &at));
                u.decision = decision;
                (u, false)
            }
            None => {
                let mut d = r.clone();
                d.at = at;
                d.state = State::NotRun;
                d.request_id = None;
                d.title = format!("undo of: {}", r.title);
                let (detail, would) = match (&r.undo, &r.undo_by_hand) {
                    (_, Some(h)) => (
                        format!("cannot be undone as recorded: a person must supply {h}"),
                        false,
                    ),
                    (Some(u), None) => (format!("dry run: {} {}", u.action, u.params), true),
                    (None, None) => ("the step has no undo".into(), false),
                };
                d.detail = detail;
                (d, would)
            }
        };
        let fine = if exec.is_some() {
            rec.state == State::Undone
        } else {
            would
        };
        if !fine {
            worst = EXIT_HELD;
        }
        out.emit(&rec, would)?;
    }
    Ok(worst)
}
