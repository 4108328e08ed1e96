//! AWS CLI command lines (`aws rds delete-db-instance --db-instance-identifier prod`) read
//! into the API calls they make, in each operation's input shape: what the AWS API MCP
//! server's `call_aws` tool runs. Follows awscli v1 (the version `scripts/test` pins):
//! its global options, service and operation names (botocore's `xform_name` plus the
//! exceptions in `data/aws-cli.json.gz`), argparse's option matching (`--flag value`,
//! `--flag=value`, unique prefixes), booleans (`--x`, `--no-x`), lists, shorthand syntax,
//! JSON values and `--cli-input-json`, and the high-level `aws s3` commands.
//!
//! Fail closed: what cannot be read exactly is a [`CliError`] naming what and where. That
//! includes values awscli would read from a local file or a URL (`file://`, `fileb://`,
//! `http(s)://`: the file is never read here), `--endpoint-url` (the call would go around
//! the proxy), customizations whose arguments awscli rewrites, and shell syntax.

mod args;
mod s3;
mod shorthand;
mod table;
mod typed;
mod words;

use serde_json::Value;

use crate::{ServiceModels, WireError};
pub use words::MAX_LINE;

/// One API call a command line makes.
#[derive(Debug, Clone, PartialEq)]
pub struct CliCall {
    /// botocore's service id ("rds", "s3").
    pub service: String,
    /// The operation as the model spells it ("DeleteDBInstance").
    pub operation: String,
    /// `<iam prefix>:<Operation>`.
    pub iam_action: String,
    /// The parameters in the operation's input shape (members as the model names them).
    /// A streaming body (`s3api put-object --body FILE`) is left out: it is a local file.
    pub params: Value,
    /// Set where the parameters cannot say it: the high-level `aws s3` commands that act
    /// on every object under a prefix (`aws s3 rm s3://b/logs/ --recursive`:
    /// `arn:aws:s3:::b/logs/*`). `None`: the parameters name the resource.
    pub resource: Option<String>,
    /// `--region` (`*`: every region, as the AWS API MCP server expands it); `None`: the
    /// default region of whoever runs the command.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
}

/// Why a command line could not be read. Each names what and where.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("command line unreadable: {0}")]
    Syntax(String),
    #[error("shell syntax: {0}")]
    Shell(String),
    #[error("not an AWS CLI command: it must start with `aws`")]
    NotAws,
    #[error("no service given after `aws`")]
    NoService,
    #[error("unknown AWS CLI service {0:?}")]
    UnknownService(String),
    #[error("unknown operation {operation:?} of `aws {service}`")]
    UnknownOperation { service: String, operation: String },
    #[error("`aws {command}` is not read by parapet: {reason}")]
    Unsupported { command: String, reason: String },
    #[error("`aws {command}`: bad argument {arg}: {reason}")]
    BadArgument {
        command: String,
        arg: String,
        reason: String,
    },
    #[error("`aws {command}`: {arg} takes its value from {value:?}, which is not read here")]
    External {
        command: String,
        arg: String,
        value: String,
    },
    #[error("--endpoint-url {0:?} sends the call somewhere else than AWS (around the proxy)")]
    EndpointOverride(String),
    #[error("`aws {0}` makes no AWS call (help, version or a skeleton)")]
    NoCall(String),
    #[error(transparent)]
    Model(#[from] WireError),
}

/// The awscli version whose names and customizations the parser follows.
pub fn awscli_version() -> &'static str {
    &table::CliTable::embedded().awscli
}

/// Reads one command line (`aws ...`) as the AWS API MCP server splits it.
pub fn parse_command(models: &ServiceModels, line: &str) -> Result<Vec<CliCall>, CliError> {
    let words = words::split(line)?;
    parse_words(models, &words)
}

/// Reads a command already split into words, `aws` first.
pub fn parse_words(models: &ServiceModels, words: &[String]) -> Result<Vec<CliCall>, CliError> {
    match words.first() {
        Some(w) if w == "aws" => {}
        _ => return Err(CliError::NotAws),
    }
    let g = args::globals(&words[1..])?;
    let Some(service) = g.command.clone() else {
        return Err(CliError::NoService);
    };
    let t = table::CliTable::embedded();
    if service == "s3" {
        return s3::calls(models, t, &g);
    }
    if service == "help" {
        return Err(CliError::NoCall("help".into()));
    }
    if t.custom_commands.contains(&service) {
        return Err(CliError::Unsupported {
            command: service,
            reason: "it changes local configuration or history, not AWS".into(),
        });
    }
    let Some(spec) = t.services.get(&service) else {
        return Err(CliError::UnknownService(service));
    };
    let Some(op_word) = g.rest.first() else {
        return Err(CliError::UnknownOperation {
            service,
            operation: String::new(),
        });
    };
    if op_word == "help" {
        return Err(CliError::NoCall(format!("{service} help")));
    }
    let call = args::operation(models, t, spec, &service, op_word, &g.rest[1..])?;
    Ok(vec![CliCall {
        region: g.region.clone(),
        profile: g.profile.clone(),
        ..call
    }])
}

#[cfg(test)]
mod tests;
