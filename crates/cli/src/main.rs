//! The `parapet` binary: parse flags, call the libraries, print. Nothing else.

mod call_cmd;
mod freeze_cmd;
mod inventory_cmd;
mod model_cmd;
mod ops_cmd;
mod plan_cmd;
mod policy_cmd;
mod remote;
mod serve_cmd;
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
    /// API tokens for the decision service.
    #[command(subcommand)]
    Token(serve_cmd::TokenCommand),
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
    /// CloudTrail: detect attack chains (scan, watch) and explain recorded calls.
    #[command(subcommand)]
    Trail(trail_cmd::TrailCommand),
    /// Model files: find code that runs when a model is loaded.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    Inventory(inventory_cmd::InventoryArgs),
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
        Command::Token(c) => serve_cmd::token(c),
        Command::Audit(c) => serve_cmd::audit(c),
        Command::Incident(c) => ops_cmd::incident(c),
        Command::Pin(c) => ops_cmd::pin(c),
        Command::Freeze(a) => freeze_cmd::freeze(a),
        Command::Unfreeze(a) => freeze_cmd::unfreeze(a),
        Command::Model(c) => model_cmd::run(c),
        Command::Inventory(a) => inventory_cmd::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("parapet: error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
