//! `parapet proxy aws` end to end, with the real AWS CLI and boto3 (target/moto, from
//! PyPI) pointed at it by `AWS_ENDPOINT_URL`, moto server as AWS behind it, and
//! `parapet serve` on the same database: reads pass and are re-signed with the proxy's
//! own credentials; an agent's delete of a production database and SSH opened to the
//! internet (the CLI's flat form) are denied with an error the CLI prints, naming
//! parapet, the decision and its id, and never reach moto; the kill switch stops the
//! agent on its next call on every proxy; dry-run answers writes without forwarding
//! them and observe forwards everything. Every test ends with the no-leak check of the
//! real credentials ([`proxy_common::Stack::finish`]).

mod common;
mod proxy_common;

use proxy_common::*;
use serde_json::Value;

/// What the agent may find: made in moto directly, not through the proxy.
fn seed(s: &Stack) -> (String, String) {
    s.moto.aws(&["s3", "mb", "s3://agent-data"]);
    s.moto.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "r",
        "--assume-role-policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    ]);
    s.moto.aws(&[
        "rds",
        "create-db-instance",
        "--db-instance-identifier",
        "prod-orders",
        "--engine",
        "postgres",
        "--db-instance-class",
        "db.t3.micro",
        "--master-username",
        "app",
        "--master-user-password",
        "not-a-real-password-1",
        "--allocated-storage",
        "20",
        "--tags",
        "Key=Environment,Value=production",
    ]);
    let i = s.moto.aws(&[
        "ec2",
        "run-instances",
        "--image-id",
        "ami-12c6146b",
        "--instance-type",
        "t3.micro",
    ]);
    let instance = i["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let g = s.moto.aws(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web tier",
    ]);
    (instance, g["GroupId"].as_str().unwrap().to_string())
}

/// The refusal names parapet, the decision and its id, and the id is a recorded
/// decision of the agent with that outcome.
fn names_the_decision(s: &Stack, err: &str, outcome: &str) -> String {
    let lower = err.to_lowercase();
    assert!(lower.contains("parapet"), "{err}");
    let word = if outcome == "deny" { "denied" } else { outcome };
    assert!(lower.contains(word), "{err}");
    let id = decision_id(err);
    let d = s.decision(&id);
    assert_eq!(d["outcome"], outcome, "{d}");
    assert_eq!(d["requester"], "agent:kiro", "{d}");
    id
}

/// Requests moto received whose body or URL mentions `needle`.
fn reached(s: &Stack, needle: &str) -> Vec<Value> {
    s.moto
        .recorded()
        .into_iter()
        .filter(|r| {
            r["body"].as_str().unwrap_or("").contains(needle)
                || r["url"].as_str().unwrap_or("").contains(needle)
        })
        .collect()
}

#[test]
fn reads_pass_and_destructive_calls_are_denied() {
    let s = Stack::start("aws", Opts::default());
    let (instance, group) = seed(&s);
    s.moto.record();

    // Reads, with the CLI.
    let who = s.agent_ok(&["sts", "get-caller-identity"]);
    assert_eq!(who["Account"], "123456789012", "moto's account: {who}");
    let o = s.agent(&["s3", "ls"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("agent-data"));
    let ec2 = s.agent_ok(&["ec2", "describe-instances"]);
    assert_eq!(
        ec2["Reservations"][0]["Instances"][0]["InstanceId"], instance,
        "{ec2}"
    );
    let roles = s.agent_ok(&["iam", "list-roles"]);
    assert!(
        roles["Roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["RoleName"] == "r"),
        "{roles}"
    );
    // And with boto3. botocore signs neither a nonce nor its invocation id, and
    // X-Amz-Date counts whole seconds: the same call by the CLI and by boto3 within one
    // second is the same signature, which the proxy refuses as a replay. Let the
    // second turn.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = &s.python(&["reads"])[0];
    assert_eq!(b["account"], "123456789012", "{b}");
    assert_eq!(b["buckets"], serde_json::json!(["agent-data"]), "{b}");
    assert!(b["roles"].as_array().unwrap().contains(&"r".into()), "{b}");
    assert_eq!(b["reservations"], 1, "{b}");

    // Every read reached moto re-signed with the proxy's credentials, never the agent's.
    let got = s.moto.recorded();
    assert!(got.len() >= 8, "{} requests reached moto", got.len());
    for r in &got {
        let auth = r["headers"]["Authorization"].as_str().unwrap_or("");
        assert!(
            auth.contains(&format!("Credential={REAL_KEY_ID}/")),
            "not re-signed: {auth}"
        );
        assert!(!auth.contains("PKIA"), "{auth}");
    }

    // An agent deleting the production database without a final snapshot: denied,
    // in the CLI's own words, and the database is still there.
    s.moto.record();
    let err = s.agent_refused(&[
        "rds",
        "delete-db-instance",
        "--db-instance-identifier",
        "prod-orders",
        "--skip-final-snapshot",
    ]);
    assert!(
        err.contains("when calling the DeleteDBInstance operation"),
        "the CLI printed it as a service error: {err}"
    );
    names_the_decision(&s, &err, "deny");
    assert!(reached(&s, "DeleteDBInstance").is_empty());
    let dbs = s.moto.aws(&["rds", "describe-db-instances"]);
    assert_eq!(
        dbs["DBInstances"][0]["DBInstanceIdentifier"], "prod-orders",
        "{dbs}"
    );

    // SSH to the internet, in the CLI's flat form (--protocol/--port/--cidr).
    let err = s.agent_refused(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &group,
        "--protocol",
        "tcp",
        "--port",
        "22",
        "--cidr",
        "0.0.0.0/0",
    ]);
    assert!(
        err.contains("when calling the AuthorizeSecurityGroupIngress operation"),
        "{err}"
    );
    names_the_decision(&s, &err, "deny");
    assert!(reached(&s, "AuthorizeSecurityGroupIngress").is_empty());
    let sg = s
        .moto
        .aws(&["ec2", "describe-security-groups", "--group-ids", &group]);
    assert_eq!(
        sg["SecurityGroups"][0]["IpPermissions"],
        serde_json::json!([]),
        "{sg}"
    );
    s.finish();
}

#[test]
fn the_kill_switch_stops_an_agent_mid_session_on_every_proxy() {
    let mut s = Stack::start("freeze", Opts::default());
    let second = s.add_proxy("20s", "enforce");
    let other = s.aws_keys("agent:other");
    s.agent_ok(&["sts", "get-caller-identity"]);
    let o = s
        .aws_via(second, &s.agent, &["sts", "get-caller-identity"])
        .output()
        .unwrap();
    assert!(s.keep(&o).contains("123456789012"));

    s.admin_cli(&[
        "freeze",
        "agent:kiro",
        "--reason",
        "deleting things it should not",
        "--incident",
        "INC-21",
    ]);
    s.moto.record();
    // The very next call, a read, on either proxy; CLI and boto3 alike.
    let err = s.agent_refused(&["sts", "get-caller-identity"]);
    let lower = err.to_lowercase();
    assert!(
        lower.contains("parapet") && lower.contains("frozen"),
        "{err}"
    );
    assert!(
        err.contains("INC-21"),
        "the freeze's incident is named: {err}"
    );
    let o = s.aws_via(second, &s.agent, &["s3", "ls"]).output().unwrap();
    let text = s.keep(&o);
    assert!(matches!(o.status.code(), Some(254 | 255)), "{text}");
    assert!(text.to_lowercase().contains("frozen"), "{text}");
    let o = s.python_via(0, &s.agent, &["reads"]);
    assert!(!o.status.success(), "boto3 was refused too");
    assert!(
        s.moto.recorded().is_empty(),
        "nothing of a frozen agent reached moto"
    );

    // Another agent is not frozen.
    let o = s
        .aws_via(0, &other, &["sts", "get-caller-identity"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", s.keep(&o));

    // Lifted, the agent works again. The same call signed within the same second as the
    // refused one above is byte-for-byte that request (botocore signs to the second), so
    // the proxy would answer it as a replay: wait for the next second, as a retry does.
    s.admin_cli(&["unfreeze", "agent:kiro"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.agent_ok(&["sts", "get-caller-identity"]);
    s.finish();
}

#[test]
fn dry_run_and_observe_modes_for_rollout() {
    let mut s = Stack::start("modes", Opts::default());
    let dry = s.add_proxy("20s", "dry-run");
    let observe = s.add_proxy("20s", "observe");
    s.moto.aws(&["s3", "mb", "s3://agent-data"]);
    let g = s.moto.aws(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web tier",
    ]);
    let group = g["GroupId"].as_str().unwrap().to_string();
    let ssh = [
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &group,
        "--protocol",
        "tcp",
        "--port",
        "22",
        "--cidr",
        "0.0.0.0/0",
    ];
    let run = |n: usize, args: &[&str]| {
        let o = s.aws_via(n, &s.agent, args).output().unwrap();
        let text = s.keep(&o);
        (o.status.code(), text)
    };
    s.moto.record();

    // dry-run: reads pass; writes are answered with what the decision would be, allowed
    // or not, and none reaches moto.
    let (code, text) = run(dry, &["sts", "get-caller-identity"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(dry, &ssh);
    assert!(matches!(code, Some(254 | 255)), "{text}");
    let lower = text.to_lowercase();
    assert!(lower.contains("dry-run") && lower.contains("den"), "{text}");
    let file = s.dir.join("note.txt");
    std::fs::write(&file, "a note\n").unwrap();
    let put = [
        "s3api",
        "put-object",
        "--bucket",
        "agent-data",
        "--key",
        "note.txt",
        "--body",
        file.to_str().unwrap(),
    ];
    let (code, text) = run(dry, &put);
    assert!(matches!(code, Some(254 | 255)), "{text}");
    assert!(text.to_lowercase().contains("dry-run"), "{text}");
    assert!(reached(&s, "AuthorizeSecurityGroupIngress").is_empty());
    assert!(reached(&s, "note.txt").is_empty());

    // observe: everything is forwarded, the denied call too (that is what it is for).
    let (code, text) = run(observe, &ssh);
    assert_eq!(code, Some(0), "{text}");
    let sg = s
        .moto
        .aws(&["ec2", "describe-security-groups", "--group-ids", &group]);
    assert_eq!(
        sg["SecurityGroups"][0]["IpPermissions"][0]["FromPort"], 22,
        "{sg}"
    );
    let (code, text) = run(observe, &put);
    assert_eq!(code, Some(0), "{text}");
    s.finish();
}
