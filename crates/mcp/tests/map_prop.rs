//! Property tests of mapping: any arguments to any tool of the shipped mappings, and any
//! command line to call_aws, map without panicking; garbage never becomes a read-only
//! action; a command line with shell syntax is never read.

use parapet_mcp::map::Mappings;
use parapet_mcp::{Access, Mapping, ToolCall};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        "/[a-z/]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Words an AWS CLI line may be made of, and noise.
fn arb_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("aws".to_string()),
        Just("s3".to_string()),
        Just("s3api".to_string()),
        Just("ec2".to_string()),
        Just("iam".to_string()),
        Just("describe-instances".to_string()),
        Just("delete-bucket".to_string()),
        Just("rm".to_string()),
        Just("--recursive".to_string()),
        Just("--bucket".to_string()),
        Just("--region".to_string()),
        Just("--filters".to_string()),
        Just("Name=x,Values=a,b".to_string()),
        Just("s3://b/k".to_string()),
        Just("'{\"a\": [1]}'".to_string()),
        Just("|".to_string()),
        Just("&&".to_string()),
        Just("$(x)".to_string()),
        "[ -~]{0,12}",
    ];
    prop::collection::vec(word, 0..10).prop_map(|w| w.join(" "))
}

const TOOLS: &[(&str, &str)] = &[
    ("AWS-API-MCP", "call_aws"),
    ("AWS-API-MCP", "suggest_aws_commands"),
    ("secure-filesystem-server", "read_text_file"),
    ("secure-filesystem-server", "read_multiple_files"),
    ("secure-filesystem-server", "move_file"),
    ("kubernetes-mcp-server", "resources_delete"),
    ("terraform-mcp-server", "create_run"),
    ("x", "run_command"),
    ("x", "unknown_tool"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_arguments_map_without_panic(idx in 0..TOOLS.len(), args in prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..5)) {
        let m = Mappings::embedded();
        let (server, tool) = TOOLS[idx];
        let arguments: Map<String, Value> = args.into_iter().collect();
        let r = m.map(&ToolCall { server, tool, arguments: &arguments });
        if let Mapping::Actions(a) = &r {
            prop_assert!(!a.is_empty());
        }
    }

    #[test]
    fn call_aws_garbage_is_never_a_read(line in arb_line()) {
        let m = Mappings::embedded();
        let arguments: Map<String, Value> = [("cli_command".to_string(), json!(line.clone()))].into_iter().collect();
        let r = m.map(&ToolCall { server: "AWS-API-MCP", tool: "call_aws", arguments: &arguments });
        if let Mapping::Actions(a) = &r {
            // What is read is AWS actions (judged by the IAM catalog), never an mcp read.
            for x in a {
                prop_assert!(x.access.is_none(), "{line}: {x:?}");
                prop_assert!(x.action.contains(':') && !x.action.starts_with("mcp:"), "{line}: {x:?}");
            }
            // Shell syntax outside quotes is never read.
            if !line.contains('"') && !line.contains('\\') {
                let unquoted: String = line.split('\'').step_by(2).collect();
                prop_assert!(!unquoted.contains('|') && !unquoted.contains("&&") && !unquoted.contains("$("), "{line}");
            }
            prop_assert!(line.trim_start().starts_with("aws"), "{line}");
        }
    }

    #[test]
    fn unmapped_tools_are_never_actions(tool in "[a-z_]{1,16}") {
        let m = Mappings::embedded();
        let arguments = Map::new();
        let r = m.map(&ToolCall { server: "no-such-server-kind", tool: &tool, arguments: &arguments });
        match r {
            Mapping::Unmapped { .. } => prop_assert!(m.static_actions("no-such-server-kind", &tool).is_none()),
            Mapping::Actions(a) => prop_assert!(a.iter().all(|x| x.access == Some(Access::Execute)), "{tool}"),
            Mapping::Unreadable { .. } => {}
        }
    }
}
