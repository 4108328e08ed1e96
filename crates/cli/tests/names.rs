//! Issue 19 through the real binary: every spelling of an action gets the canonical
//! action's decision, unknown actions are not allowed, errored plans are refused.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parapet(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args(args)
        .current_dir(root())
        .env_remove("PARAPET_ACTOR")
        .env_remove("PARAPET_INCIDENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn call(action: &str, params: &str) -> (i32, serde_json::Value) {
    let o = parapet(
        &[
            "call",
            "check",
            "--actor",
            "agent:kiro",
            "--action",
            action,
            "--params",
            params,
            "-f",
            "json",
        ],
        None,
    );
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap(), v)
}

#[test]
fn call_check_denies_every_spelling_of_a_database_delete() {
    let params = r#"{"DBInstanceIdentifier":"orders-prod","SkipFinalSnapshot":true}"#;
    for action in [
        "rds:DeleteDBInstance",
        "rds:delete_db_instance",
        "rds:deleteDBInstance",
        "rds:delete-db-instance",
        "rds:DeleteDBInstance ",
        "RDS:deletedbinstance",
    ] {
        let (code, v) = call(action, params);
        assert_eq!(code, 1, "{action}");
        assert_eq!(v["decision"]["outcome"], "deny", "{action}");
        assert_eq!(v["action"], "rds:DeleteDBInstance", "{action}");
    }
}

#[test]
fn call_check_does_not_allow_unknown_actions() {
    let (code, v) = call("rds:FrobnicateDBInstance", "{}");
    assert_eq!(code, 1);
    assert_eq!(v["decision"]["outcome"], "deny");
    let text = v.to_string();
    assert!(
        text.contains("parapet does not know rds:FrobnicateDBInstance"),
        "{text}"
    );
}

#[test]
fn plan_check_refuses_an_errored_plan() {
    let plan = br#"{"format_version": "1.2", "terraform_version": "1.9.8", "errored": true,
        "planned_values": {"root_module": {}}, "resource_changes": []}"#;
    let o = parapet(&["plan", "check", "-", "--actor", "agent:kiro"], Some(plan));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("incomplete") && err.contains("errored"),
        "{err}"
    );
}
