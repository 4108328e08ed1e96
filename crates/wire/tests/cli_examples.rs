//! A fixed corpus without Python: 205 commands from the AWS CLI's own examples (every
//! 30th `aws ...` line of awscli 1.45.11's examples that awscli reads) with the service,
//! operation and parameters awscli's argument processing made of each
//! (tests/cli/awscli-examples.jsonl, written by tests/cli/awscli_params.py). parapet's
//! parser must read each the same, or refuse it for a documented reason.

use parapet_wire::cli::{parse_command, CliError};
use parapet_wire::ServiceModels;
use serde_json::Value;

#[test]
fn awscli_examples_read_the_same() {
    let text = include_str!("cli/awscli-examples.jsonl");
    let models = ServiceModels::embedded();
    let (mut same, mut refused) = (0, Vec::new());
    let mut wrong = Vec::new();
    for line in text.lines() {
        let want: Value = serde_json::from_str(line).unwrap();
        let cmd = want["command"].as_str().unwrap();
        match parse_command(models, cmd) {
            Ok(calls) => {
                let c = &calls[0];
                if calls.len() == 1
                    && c.service == want["service"]
                    && c.operation == want["operation"]
                    && c.params == want["params"]
                {
                    same += 1;
                } else {
                    wrong.push(format!("{cmd}\n  want {want}\n  got {calls:?}"));
                }
            }
            Err(
                e @ (CliError::External { .. }
                | CliError::Shell(_)
                | CliError::Unsupported { .. }
                | CliError::EndpointOverride(_)),
            ) => refused.push(format!("{cmd}: {e}")),
            Err(e) => wrong.push(format!("{cmd}\n  refused: {e}")),
        }
    }
    eprintln!(
        "{same} read the same, {} refused for documented reasons",
        refused.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(same >= 150, "{same}");
}
