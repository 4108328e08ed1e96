//! `call_aws` of the AWS API MCP server: its `cli_command` (one command line, or a list
//! run as a batch) read by the AWS CLI parser into the API calls each makes. One command
//! that cannot be read makes the whole call unreadable.

use serde_json::{Map, Value};

use parapet_wire::cli::{parse_command, CliError};
use parapet_wire::ServiceModels;

use crate::MappedAction;

/// The most commands one call may carry (the server's own limit is lower).
const MAX_COMMANDS: usize = 64;

pub(super) fn map(args: &Map<String, Value>, pointer: &str) -> Result<Vec<MappedAction>, String> {
    let v = Value::Object(args.clone());
    let commands: Vec<&str> = match v.pointer(pointer) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str().ok_or_else(|| {
                    format!("argument {pointer} holds something else than command strings")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(format!(
                "argument {pointer} is neither a command nor a list of commands"
            ))
        }
        None => {
            return Err(format!(
                "argument {pointer} (the AWS CLI command) is missing"
            ))
        }
    };
    if commands.len() > MAX_COMMANDS {
        return Err(format!(
            "{} commands in one call, more than {MAX_COMMANDS}",
            commands.len()
        ));
    }
    let models = ServiceModels::embedded();
    let mut out = Vec::new();
    for (i, line) in commands.iter().enumerate() {
        let calls = parse_command(models, line).map_err(|e| describe(i, commands.len(), &e))?;
        for c in calls {
            out.push(MappedAction {
                action: c.iam_action,
                resource: c.resource,
                params: c.params,
                access: None,
            });
        }
    }
    Ok(out)
}

fn describe(i: usize, n: usize, e: &CliError) -> String {
    // The error names the argument and why; values it quotes go through the masker
    // before anyone sees them (J masks reasons like arguments).
    let text = parapet_mask::masker()
        .mask_text(&e.to_string())
        .into_owned();
    if n == 1 {
        text
    } else {
        format!("command {} of {n}: {text}", i + 1)
    }
}
