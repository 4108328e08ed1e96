use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use parapet_gate::{check_plan, load_pins, Config, GateOptions};
use parapet_model::{Actor, Outcome};
use parapet_plan::Options;
use parapet_policy::PolicyEngine;
use parapet_report::{render_to, Format, TextOptions};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Judge a plan: effects, findings and a decision for every change.
    ///
    /// Reads `terraform show -json` output (UTF-8 or UTF-16, format 0.x or 1.x).
    /// Exit codes: 0 every change allowed, 1 something denied or awaiting review
    /// (see --fail-on), 2 bad input or usage.
    Check(CheckArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// Grouped, readable report (coloured on a terminal).
    Text,
    /// Versioned JSON (schema parapet.plan-report/v1, docs/output.md).
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one test case per change.
    Junit,
    /// GitHub Actions annotations.
    Github,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum FailOn {
    /// Exit 1 when anything is denied or needs review (default).
    Review,
    /// Exit 1 only when something is denied.
    Deny,
    /// Always exit 0 when the plan was read (report only).
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The plan JSON file (`terraform show -json tfplan > plan.json`), or - for stdin.
    plan: PathBuf,

    /// Who proposes the change, as kind:name. Kinds: human, agent, pipeline, service,
    /// unknown. Automation (anything but human) is judged more strictly. Default
    /// unknown:unnamed. With --server the actor is the token's: one given here that
    /// differs is refused by the server.
    #[arg(long, env = "PARAPET_ACTOR", value_parser = parse_actor)]
    actor: Option<Actor>,

    /// Pinned emergency changes that must not be reverted (TOML, see docs/pins.md).
    #[arg(long, value_name = "FILE")]
    pins: Option<PathBuf>,

    /// Directory of .cedar files added to the built-in pack; a file with a built-in's
    /// name replaces it (`parapet policy list` shows the names).
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,

    /// Team settings (parapet.toml), e.g. what counts as a critical resource.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Incident mode: an incident with this id is open, so automation may not write.
    #[arg(long, value_name = "ID", env = "PARAPET_INCIDENT")]
    incident: Option<String>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: OutputFormat,

    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Which outcome makes the exit code 1.
    #[arg(long, value_enum, default_value = "review")]
    fail_on: FailOn,

    /// List every change in the text report, not only those with findings.
    #[arg(long, short = 'v')]
    verbose: bool,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,

    /// Refuse plans larger than this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    max_size: u64,

    /// Submit the plan to a decision service (`parapet serve`) instead of judging it
    /// here, and wait for its outcome (approvals, cooling-off). The actor is the
    /// token's. Exit 0 when executable, 1 when denied, rejected, expired or still
    /// waiting after --max-wait.
    #[arg(long, value_name = "URL", env = "PARAPET_SERVER")]
    server: Option<String>,

    /// API token for --server (role agent).
    #[arg(long, env = "PARAPET_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// How long to wait for approvals with --server (e.g. 30m, 2h).
    #[arg(long, default_value = "1h")]
    max_wait: String,
}

fn parse_actor(s: &str) -> Result<Actor, parapet_model::ActorError> {
    Actor::parse(s)
}

pub fn run(cmd: PlanCommand) -> Result<u8> {
    match cmd {
        PlanCommand::Check(args) => check(args),
    }
}

fn read_input(path: &PathBuf, max: u64) -> Result<(Vec<u8>, String)> {
    let limit = max.saturating_mul(1024 * 1024);
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .context("reading the plan from standard input")?;
        if buf.len() as u64 > limit {
            bail!("the plan on standard input is larger than --max-size {max} MiB");
        }
        return Ok((buf, "<stdin>".into()));
    }
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read plan {name}"))?;
    if meta.is_dir() {
        bail!("{name} is a directory; give the plan JSON file");
    }
    if meta.len() > limit {
        bail!(
            "{name} is {} MiB, larger than --max-size {max} MiB",
            meta.len() / (1024 * 1024)
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read plan {name}"))?;
    Ok((bytes, name))
}

fn check(args: CheckArgs) -> Result<u8> {
    let engine = PolicyEngine::load(args.policies.as_deref()).context("loading policies")?;
    let mut plan_opts = Options::default();
    if let Some(cfg) = &args.config {
        let c = Config::load(cfg)?;
        if let Some(critical) = c.critical {
            plan_opts.critical = critical;
        }
    }
    if let Some(p) = &args.pins {
        plan_opts.pins = load_pins(p)?;
    }
    let (bytes, name) = read_input(&args.plan, args.max_size)?;
    if let Some(server) = &args.server {
        let token = args
            .token
            .as_deref()
            .context("--server needs --token (or PARAPET_TOKEN)")?;
        let text = parapet_plan::decode_text(&bytes).with_context(|| format!("plan {name}"))?;
        let wait = parapet_policy::parse_duration(&args.max_wait)
            .with_context(|| format!("--max-wait {}: use 30m, 2h (at most 30d)", args.max_wait))?;
        return crate::remote::submit_plan(
            server,
            token,
            args.actor.as_ref().map(|a| a.to_string()),
            &text,
            std::time::Duration::from_secs(wait),
        );
    }
    let opts = GateOptions {
        actor: args.actor.clone().unwrap_or_else(|| Actor {
            kind: parapet_model::ActorKind::Unknown,
            name: "unnamed".into(),
        }),
        incident: args.incident.clone().filter(|s| !s.trim().is_empty()),
        plan: plan_opts,
        input_name: name.clone(),
    };
    let report = check_plan(&bytes, &opts, &engine).with_context(|| format!("plan {name}"))?;
    drop(bytes);
    let format = match args.format {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Junit => Format::Junit,
        OutputFormat::Github => Format::Github,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let opts = TextOptions {
        color,
        verbose: args.verbose,
    };
    // Written as it is rendered: a large JSON report is never one string in memory.
    match &args.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)
                .with_context(|| format!("writing {}", path.display()))?;
            render_to(&report, format, &opts, &mut f)
                .with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a stack of messages.
            if let Err(e) = render_to(&report, format, &opts, &mut out) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e).context("writing the report");
                }
            }
        }
    }
    let held = match args.fail_on {
        FailOn::Review => report.decision.outcome != Outcome::Allow,
        FailOn::Deny => report.decision.outcome == Outcome::Deny,
        FailOn::Never => false,
    };
    Ok(if held { EXIT_HELD } else { EXIT_ALLOW })
}
