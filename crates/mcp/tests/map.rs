//! Tool calls through the shipped mapping files and user overrides: the AWS API MCP
//! server's call_aws through the AWS CLI parser, filesystem, Kubernetes, Terraform and
//! shell tools, unmapped and unreadable calls, static actions for tools/list hiding, and
//! bad mapping files refused with the file named.

use parapet_mcp::map::{MapError, Mappings};
use parapet_mcp::{Access, MappedAction, Mapping, ToolCall};
use serde_json::{json, Map, Value};

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn map(m: &Mappings, server: &str, tool: &str, a: Value) -> Mapping {
    let arguments = args(a);
    m.map(&ToolCall {
        server,
        tool,
        arguments: &arguments,
    })
}

fn actions(m: Mapping) -> Vec<MappedAction> {
    match m {
        Mapping::Actions(a) => a,
        other => panic!("expected actions, got {other:?}"),
    }
}

#[test]
fn call_aws_through_the_cli_parser() {
    let m = Mappings::embedded();
    let a = actions(map(
        &m,
        "AWS-API-MCP",
        "call_aws",
        json!({"cli_command": "aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot"}),
    ));
    assert_eq!(
        a,
        [MappedAction {
            action: "rds:DeleteDBInstance".into(),
            resource: None,
            params: json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": true}),
            access: None,
        }]
    );
    // Batch mode: every command, in order.
    let a = actions(map(
        &m,
        "AWS-API-MCP",
        "call_aws",
        json!({"cli_command": ["aws s3api list-buckets", "aws s3 rm s3://b/logs --recursive"], "max_results": 5}),
    ));
    let names: Vec<&str> = a.iter().map(|x| x.action.as_str()).collect();
    assert_eq!(
        names,
        ["s3:ListBuckets", "s3:ListObjectsV2", "s3:DeleteObject"]
    );
    assert_eq!(a[2].resource.as_deref(), Some("arn:aws:s3:::b/logs*"));
    // One unreadable command makes the whole call unreadable, naming it.
    for (cmd, needle) in [
        (
            json!([
                "aws s3api list-buckets",
                "aws iam create-user --user-name x | sh"
            ]),
            "command 2 of 2",
        ),
        (
            json!("aws iam create-policy --policy-name p --policy-document file://p.json"),
            "file://p.json",
        ),
        (
            json!("aws --endpoint-url http://evil ec2 describe-instances"),
            "endpoint",
        ),
        (json!("aws nosuch thing"), "unknown AWS CLI service"),
        (json!(42), "neither"),
        (json!([]), "neither"),
    ] {
        match map(&m, "AWS-API-MCP", "call_aws", json!({ "cli_command": cmd })) {
            Mapping::Unreadable { why } => assert!(why.contains(needle), "{why}"),
            other => panic!("{cmd}: {other:?}"),
        }
    }
    assert!(matches!(
        map(&m, "AWS-API-MCP", "call_aws", json!({})),
        Mapping::Unreadable { .. }
    ));
    // suggest_aws_commands only reads; call_aws depends on its arguments.
    let s = m
        .static_actions("AWS-API-MCP", "suggest_aws_commands")
        .unwrap();
    assert_eq!(s[0].access, Some(Access::Read));
    assert_eq!(m.static_actions("AWS-API-MCP", "call_aws"), None);
}

#[test]
fn filesystem_kubernetes_terraform_shell() {
    let m = Mappings::embedded();
    let fs = "secure-filesystem-server";
    let a = actions(map(&m, fs, "read_text_file", json!({"path": "/etc/hosts"})));
    assert_eq!(
        (a[0].action.as_str(), a[0].access),
        ("mcp:fs.ReadFile", Some(Access::Read))
    );
    assert_eq!(a[0].resource.as_deref(), Some("file:///etc/hosts"));
    let a = actions(map(
        &m,
        fs,
        "read_multiple_files",
        json!({"paths": ["/a", "/b"]}),
    ));
    assert_eq!(
        a.iter()
            .map(|x| x.resource.clone().unwrap())
            .collect::<Vec<_>>(),
        ["file:///a", "file:///b"]
    );
    let a = actions(map(
        &m,
        fs,
        "write_file",
        json!({"path": "/x", "content": "hello"}),
    ));
    assert_eq!(a[0].access, Some(Access::Write));
    assert_eq!(a[0].params, json!({"path": "/x"}));
    let a = actions(map(
        &m,
        fs,
        "move_file",
        json!({"source": "/a", "destination": "/b"}),
    ));
    assert_eq!(
        a.iter().map(|x| x.access.unwrap()).collect::<Vec<_>>(),
        [Access::Destroy, Access::Write]
    );
    match map(&m, fs, "write_file", json!({"content": "x"})) {
        Mapping::Unreadable { why } => {
            assert!(why.contains("/path") && why.contains("missing"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        m.static_actions(fs, "edit_file").unwrap()[0].access,
        Some(Access::Write)
    );

    let k = "kubernetes-mcp-server";
    let a = actions(map(
        &m,
        k,
        "resources_delete",
        json!({"namespace": "prod", "kind": "Deployment", "name": "api", "apiVersion": "apps/v1"}),
    ));
    assert_eq!(
        (a[0].action.as_str(), a[0].access),
        ("mcp:k8s.Delete", Some(Access::Destroy))
    );
    assert_eq!(a[0].resource.as_deref(), Some("k8s:///prod/Deployment/api"));
    assert_eq!(
        actions(map(&m, k, "pods_list", json!({})))[0].access,
        Some(Access::Read)
    );
    assert_eq!(
        actions(map(
            &m,
            k,
            "pods_exec",
            json!({"name": "p", "command": ["sh"]})
        ))[0]
            .access,
        Some(Access::Execute)
    );

    let t = "terraform-mcp-server";
    assert_eq!(
        actions(map(&m, t, "search_modules", json!({"module_query": "vpc"})))[0].access,
        Some(Access::Read)
    );
    assert_eq!(
        actions(map(
            &m,
            t,
            "action_run",
            json!({"run_id": "r", "action": "apply"})
        ))[0]
            .access,
        Some(Access::Execute)
    );
    assert_eq!(
        actions(map(
            &m,
            t,
            "delete_workspace_safely",
            json!({"terraform_org_name": "o", "workspace_name": "w"})
        ))[0]
            .resource
            .as_deref(),
        Some("terraform://o/w")
    );

    // Any server's command runner is execute; an unknown tool is unmapped.
    let a = actions(map(
        &m,
        "some-dev-server",
        "run_command",
        json!({"command": "rm -rf /"}),
    ));
    assert_eq!(
        (a[0].action.as_str(), a[0].access),
        ("mcp:shell.Exec", Some(Access::Execute))
    );
    match map(&m, "some-dev-server", "frobnicate", json!({})) {
        Mapping::Unmapped { why } => assert!(
            why.contains("frobnicate") && why.contains("some-dev-server"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.static_actions("some-dev-server", "frobnicate"), None);
    // A filesystem tool name on another server is not a filesystem tool.
    assert!(matches!(
        map(&m, "github", "write_file", json!({"path": "/x"})),
        Mapping::Unmapped { .. }
    ));
}

#[test]
fn overrides_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        r#"
servers = ["AWS-API-MCP", "internal-*"]
[[tools]]
name = "suggest_aws_commands"
action = "mcp:aws.Suggest"
access = "write"
[[tools]]
name = "get_*"
action = "s3:GetObject"
resource = "arn:aws:s3:::{/bucket}/{/key}"
params = { Bucket = "/bucket", Key = "/key" }
"#,
    )
    .unwrap();
    let m = Mappings::load(&[dir.path().to_path_buf()]).unwrap();
    // The override wins over the shipped rule; the shipped call_aws still applies.
    assert_eq!(
        m.static_actions("AWS-API-MCP", "suggest_aws_commands")
            .unwrap()[0]
            .access,
        Some(Access::Write)
    );
    assert!(matches!(
        map(
            &m,
            "AWS-API-MCP",
            "call_aws",
            json!({"cli_command": "aws s3 ls"})
        ),
        Mapping::Actions(_)
    ));
    let a = actions(map(
        &m,
        "internal-store",
        "get_object",
        json!({"bucket": "b", "key": "k"}),
    ));
    assert_eq!(a[0].resource.as_deref(), Some("arn:aws:s3:::b/k"));
    assert_eq!(a[0].params, json!({"Bucket": "b", "Key": "k"}));
    assert_eq!(a[0].access, None);

    for (text, needle) in [
        ("servers = []\n", "names no server"),
        ("tools = []\n", "servers"),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\n",
            "exactly one of",
        ),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\ncli = \"/c\"\naction = \"a:B\"\n",
            "exactly one of",
        ),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\naction = \"NoColon\"\n",
            "service:Operation",
        ),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\naction = \"a:B\"\naccess = \"sometimes\"\n",
            "sometimes",
        ),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\naction = \"a:B\"\nresource = \"x{path}\"\n",
            "JSON pointer",
        ),
        (
            "servers = \"x\"\n[[tools]]\nname = \"t\"\naction = \"a:B\"\nresource = \"x{/path\"\n",
            "unclosed",
        ),
        ("servers = \"[\"\n", "glob"),
        ("servers = \"x\"\nbogus = 1\n", "bogus"),
        ("not toml at all ==", "bad.toml"),
    ] {
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, text).unwrap();
        match Mappings::load(std::slice::from_ref(&f)) {
            Err(MapError::Invalid(e)) => {
                assert!(e.contains(needle), "{text:?}: {e}");
                assert!(e.contains("bad.toml"), "{e}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Mappings::load(&[dir.path().join("missing.toml")]),
        Err(MapError::Read { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Mappings::load(&[empty.path().to_path_buf()]),
        Err(MapError::Empty(_))
    ));
}
