use crate::EXIT_ALLOW;
use anyhow::{Context, Result};
use clap::Subcommand;
use parapet_policy::{builtin_files, PolicyEngine};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// List the policy files of the pack (built-in, plus --policies DIR).
    ///
    /// Exit codes: 0 listed, 2 the pack (with --policies) does not load.
    List {
        /// A directory of .cedar files to add to (or, by same file name, replace in)
        /// the built-in pack.
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
    },
    /// Print a built-in policy file, e.g. to copy and edit it.
    ///
    /// Exit codes: 0 printed, 2 no built-in file of that name.
    Show {
        /// File name, as `parapet policy list` prints it.
        name: String,
    },
    /// Parse and validate a policy directory against the schema (exit 2 on error).
    ///
    /// Exit codes: 0 valid, 2 a file does not parse or does not match the schema
    /// (the error says where).
    Validate {
        /// The directory of .cedar files to check, together with the built-in pack
        /// (as `--policies DIR` would load it).
        #[arg(value_name = "DIR")]
        policies: PathBuf,
    },
}

pub fn run(cmd: PolicyCommand) -> Result<u8> {
    match cmd {
        PolicyCommand::List { policies } => {
            let engine = PolicyEngine::load(policies.as_deref()).context("loading policies")?;
            let builtin: Vec<String> = builtin_files().into_iter().map(|f| f.name).collect();
            for f in &engine.files {
                let origin = if builtin.contains(f)
                    && policies.as_ref().is_none_or(|d| !d.join(f).exists())
                {
                    "built-in"
                } else {
                    "custom"
                };
                println!("{f}\t{origin}");
            }
            println!(
                "{} policies in {} files",
                engine.policy_count(),
                engine.files.len()
            );
        }
        PolicyCommand::Show { name } => {
            let f = builtin_files()
                .into_iter()
                .find(|f| f.name == name)
                .with_context(|| {
                    format!("no built-in policy file named {name}; see `parapet policy list`")
                })?;
            print!("{}", f.text);
        }
        PolicyCommand::Validate { policies } => {
            let engine = PolicyEngine::load(Some(&policies)).context("validating policies")?;
            println!(
                "ok: {} policies in {} files",
                engine.policy_count(),
                engine.files.len()
            );
        }
    }
    Ok(EXIT_ALLOW)
}
