#[path = "strict_json.rs"]
mod strict_json;
use crate::{EXIT_ALLOW, EXIT_HELD};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use parapet_gate::{check_call, ApiCall, CallOptions, Config};
use parapet_model::{Actor, Outcome};
use parapet_policy::PolicyEngine;
use parapet_report::{render_call, TextOptions};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CallCommand {
    /// Judge one AWS API call an agent wants to make, before it is made.
    ///
    /// Parameters are JSON as the API takes them (IpPermissions, PolicyDocument...) or
    /// as CloudTrail records them (requestParameters). Same effects and policies as
    /// `plan check`; the Cedar action is "call".
    /// Exit codes: 0 allowed, 1 denied or awaiting review, 2 bad input or usage.
    #[command(
        after_help = "Example:\n  parapet call check --actor agent:kiro --action ec2:AuthorizeSecurityGroupIngress \\\n    --params '{\"GroupId\":\"sg-0abc\",\"IpPermissions\":[{\"IpProtocol\":\"tcp\",\"FromPort\":22,\"ToPort\":22,\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}]}]}'"
    )]
    Check(CallArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum CallFormat {
    Text,
    /// JSON (schema parapet.call-report/v1).
    Json,
}

#[derive(Args)]
pub struct CallArgs {
    /// The call, as service:Operation, e.g. iam:PutRolePolicy. Any case, boto3's
    /// (iam:put_role_policy) and the AWS CLI's (iam:put-role-policy) spellings name the
    /// same IAM action; an action parapet does not know is denied for automation and
    /// reviewed for people.
    #[arg(long)]
    action: String,

    /// The target ARN (or id), when known.
    #[arg(long)]
    resource: Option<String>,

    /// Parameters as a JSON object, or @FILE, or - for standard input.
    #[arg(long, default_value = "{}")]
    params: String,

    /// Who makes the call, as kind:name (human, agent, pipeline, service, unknown).
    #[arg(long, env = "PARAPET_ACTOR", default_value = "unknown:unnamed", value_parser = Actor::parse)]
    actor: Actor,

    /// The 12-digit account the call acts in (to tell its principals from others').
    #[arg(long)]
    account: Option<String>,

    /// Incident mode: an incident with this id is open.
    #[arg(long, env = "PARAPET_INCIDENT")]
    incident: Option<String>,

    /// Directory of .cedar files added to (or replacing) the built-in pack.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,

    /// Team settings (parapet.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: CallFormat,
}

pub fn run(cmd: CallCommand) -> Result<u8> {
    let CallCommand::Check(args) = cmd;
    let engine = PolicyEngine::load(args.policies.as_deref()).context("loading policies")?;
    let mut critical = Default::default();
    if let Some(c) = &args.config {
        if let Some(rules) = Config::load(c)?.critical {
            critical = rules;
        }
    }
    let text = match args.params.as_str() {
        "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading parameters from standard input")?;
            s
        }
        p if p.starts_with('@') => std::fs::read_to_string(&p[1..])
            .with_context(|| format!("reading parameters from {}", &p[1..]))?,
        p => p.to_string(),
    };
    let params: serde_json::Value = strict_json::from_str(&text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg
            .rsplit_once(" at line ")
            .map_or(msg.as_str(), |(m, _)| m)
            .to_string();
        anyhow::anyhow!(
            "--params is not valid JSON (line {}, column {}): {msg}",
            e.line(),
            e.column()
        )
    })?;
    if let Some(a) = &args.account {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account must be a 12-digit AWS account id");
        }
    }
    let call = ApiCall::new(&args.action, args.resource.clone(), params)?;
    let opts = CallOptions {
        actor: args.actor.clone(),
        incident: args.incident.clone().filter(|s| !s.trim().is_empty()),
        critical,
        account: args.account.clone(),
    };
    let report = check_call(&call, &opts, &engine);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!(
        "{}",
        render_call(
            &report,
            matches!(args.format, CallFormat::Json),
            &TextOptions {
                color,
                verbose: false
            }
        )
    );
    Ok(if report.decision.outcome == Outcome::Allow {
        EXIT_ALLOW
    } else {
        EXIT_HELD
    })
}
