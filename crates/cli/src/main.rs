//! The `parapet` binary: parse flags, call the libraries, print. Nothing else.

mod autopin;
mod call_cmd;
mod drill_cmd;
mod feed;
mod freeze_cmd;
mod freezer;
mod inventory_cmd;
mod logs;
mod model_cmd;
mod ops_cmd;
mod plan_cmd;
mod policy_cmd;
mod proxy_cmd;
mod proxy_mcp_cmd;
mod remote;
mod respond_cmd;
mod respond_io;
mod serve_cmd;
mod token_cmd;
mod trail_cmd;
mod watch_cmd;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

// Reading CloudTrail and deciding requests make many small, short-lived allocations;
// mimalloc serves them about twice as fast as glibc's (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in --help and the README.
pub const EXIT_ALLOW: u8 = 0;
pub const EXIT_HELD: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "parapet",
    version,
    about = "Judge changes that AI agents and automation want to make to AWS, before they run.",
    long_about = "parapet judges changes before they run. It reads a Terraform plan, works out \
what each change destroys or newly makes possible (exposure, privilege grants and escalation \
paths, defence evasion, reverts of emergency fixes), and decides allow, review or deny with \
Cedar policies.\n\nExit codes: 0 allowed, 1 denied or awaiting review, 2 bad input or usage.",
    after_help = "Examples:\n  terraform show -json tfplan > plan.json\n  parapet plan check plan.json --actor agent:kiro\n  parapet plan check plan.json --actor pipeline:drift-bot --pins pins.toml --format sarif > parapet.sarif\n  parapet call check --actor agent:kiro --action iam:AttachUserPolicy --params '{\"UserName\":\"bob\",\"PolicyArn\":\"arn:aws:iam::aws:policy/AdministratorAccess\"}'\n  parapet policy list"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Terraform plans.
    #[command(subcommand)]
    Plan(plan_cmd::PlanCommand),
    /// Single AWS API calls an agent wants to make.
    #[command(subcommand)]
    Call(call_cmd::CallCommand),
    Serve(serve_cmd::ServeArgs),
    /// API tokens for the decision service, and agent AWS keys for `parapet proxy aws`.
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
    /// The credential key that agent AWS keys (for `parapet proxy aws`) derive from.
    #[command(subcommand)]
    CredentialKey(token_cmd::CredentialKeyCommand),
    /// The decision service's audit log.
    #[command(subcommand)]
    Audit(serve_cmd::AuditCommand),
    /// Incident mode: while an incident is open, automation may not write.
    #[command(subcommand)]
    Incident(ops_cmd::IncidentCommand),
    /// Pins: manual emergency changes no decision may revert.
    #[command(subcommand)]
    Pin(ops_cmd::PinCommand),
    Freeze(freeze_cmd::FreezeArgs),
    Unfreeze(freeze_cmd::UnfreezeArgs),
    /// Proxies that judge every call an agent makes where it is made.
    #[command(subcommand)]
    Proxy(proxy_cmd::ProxyCommand),
    /// CloudTrail: detect attack chains (scan, watch) and explain recorded calls.
    #[command(subcommand)]
    Trail(trail_cmd::TrailCommand),
    /// Model files: find code that runs when a model is loaded.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    Inventory(inventory_cmd::InventoryArgs),
    Drill(drill_cmd::DrillArgs),
    /// Incident containment: run the steps `trail scan` proposes, and undo them.
    #[command(subcommand)]
    Respond(respond_cmd::RespondCommand),
    /// Inspect and validate Cedar policy packs.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
}

fn main() -> ExitCode {
    let parsed = Cli::command().try_get_matches().and_then(|m| {
        remote::record_sources(&m);
        Cli::from_arg_matches(&m)
    });
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_ALLOW
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Plan(c) => plan_cmd::run(c),
        Command::Policy(c) => policy_cmd::run(c),
        Command::Trail(c) => trail_cmd::run(c),
        Command::Call(c) => call_cmd::run(c),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Token(c) => token_cmd::token(c),
        Command::CredentialKey(c) => token_cmd::credential_key(c),
        Command::Audit(c) => serve_cmd::audit(c),
        Command::Incident(c) => ops_cmd::incident(c),
        Command::Pin(c) => ops_cmd::pin(c),
        Command::Freeze(a) => freeze_cmd::freeze(a),
        Command::Unfreeze(a) => freeze_cmd::unfreeze(a),
        Command::Proxy(c) => proxy_cmd::run(c),
        Command::Model(c) => model_cmd::run(c),
        Command::Inventory(a) => inventory_cmd::run(a),
        Command::Respond(c) => respond_cmd::run(c),
        Command::Drill(a) => drill_cmd::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("parapet: error: {}", error_chain(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// An error and its causes, joined by ": ". A cause is left out when the message
/// before it already ends with its text: some libraries print their source in their own
/// message and also return it as the source, which would read twice.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("IO error: {0}")]
    struct Echoes(#[source] std::io::Error);

    #[test]
    fn a_cause_printed_by_its_parent_is_not_printed_again() {
        let io = std::io::Error::other("Connection refused");
        let e = anyhow::Error::new(Echoes(io)).context("NATS nats://h:4222");
        assert_eq!(
            error_chain(&e),
            "NATS nats://h:4222: IO error: Connection refused"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
}
