//! The MCP gateway's mapping on arbitrary tool calls: the shipped mapping files and the
//! AWS CLI parser behind call_aws give actions, unmapped or unreadable, never a panic;
//! a call_aws command line that is not a plain `aws ...` command is never read as
//! actions, and nothing it yields is a non-AWS (mcp:) read.
//!
//! Input: the server name and the tool name on one line each, then the arguments: a
//! JSON object, or else the text itself as call_aws's `cli_command`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_mcp::map::Mappings;
use parapet_mcp::{Mapping, ToolCall};
use serde_json::{Map, Value};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static MAPPINGS: OnceLock<Mappings> = OnceLock::new();
    let m = MAPPINGS.get_or_init(Mappings::embedded);
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let server = parts.next().unwrap_or("");
    let tool = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let arguments: Map<String, Value> = match serde_json::from_str::<Value>(rest) {
        Ok(Value::Object(o)) => o,
        _ => [("cli_command".to_string(), Value::String(rest.to_string()))]
            .into_iter()
            .collect(),
    };
    let r = m.map(&ToolCall {
        server,
        tool,
        arguments: &arguments,
    });
    let _ = m.static_actions(server, tool);
    if let Mapping::Actions(actions) = &r {
        assert!(!actions.is_empty());
        if server == "AWS-API-MCP" && tool == "call_aws" {
            for a in actions {
                assert!(a.access.is_none() && !a.action.starts_with("mcp:"), "{a:?}");
            }
            if let Some(Value::String(line)) = arguments.get("cli_command") {
                assert!(line.trim_start().starts_with("aws"), "{line:?}");
            }
        }
    }
});
