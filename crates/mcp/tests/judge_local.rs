//! The in-process judge (`parapet proxy mcp --database`) on the real stores: SQLite and
//! the machine's PostgreSQL. Verdicts, one decision per call, approvals bound to the
//! exact call and used once, masking, freezes, hiding.

mod judge_common;

use judge_common::*;
use parapet_mcp::judge::{Judge, JudgeError};
use parapet_mcp::{Mapping, Verdict};
use parapet_store::{NewFreeze, Role};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn tokens_name_the_caller_and_approvers_may_not_call_tools() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let agent = token(&*app.store, Role::Agent, "agent:kiro");
        let approver = token(&*app.store, Role::Approver, "human:alice");
        let rt = rt();
        let j = Judge::in_process(app.clone(), "http://approve.example");
        assert_eq!(
            rt.block_on(j.authenticate(&agent)).unwrap(),
            caller("agent:kiro")
        );
        for bad in [approver.as_str(), "not-a-token", ""] {
            let e = rt.block_on(j.authenticate(bad)).unwrap_err();
            assert!(matches!(e, JudgeError::Unauthenticated(_)), "{bad}: {e}");
        }
    }
}

#[test]
fn a_read_is_allowed_a_production_delete_denied_and_credentials_refused() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "http://approve.example");
        let who = caller("agent:kiro");
        let a = args(json!({"cli_command": "aws s3api list-buckets"}));
        let v = rt
            .block_on(j.judge(
                &who,
                &call("aws", "call_aws", &a),
                &actions(vec![aws("s3:ListBuckets", json!({}))]),
            ))
            .unwrap();
        assert_eq!(
            v,
            Verdict::Allow { decision: None },
            "pure reads are not recorded"
        );

        let a = args(
            json!({"cli_command": "aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot"}),
        );
        let m = actions(vec![aws(
            "rds:DeleteDBInstance",
            json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": true}),
        )]);
        let Verdict::Deny {
            decision: Some(id),
            reason,
        } = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &a), &m))
            .unwrap()
        else {
            panic!("a production delete by an agent is denied")
        };
        assert!(reason.contains("Automation may not destroy"), "{reason}");
        let stored = app.store.request(&id).unwrap().unwrap();
        assert_eq!(
            (stored.outcome.as_str(), stored.requester.as_str()),
            ("deny", "agent:kiro")
        );
        let report = stored.report_value();
        assert_eq!(report["request"]["source"], "mcp");
        assert_eq!(report["action"], "rds:DeleteDBInstance");
        assert_eq!(report["mcp"]["server"], "aws");

        let a = args(
            json!({"cli_command": "aws sts assume-role --role-arn arn:aws:iam::1:role/x --role-session-name s"}),
        );
        let m = actions(vec![aws(
            "sts:AssumeRole",
            json!({"RoleArn": "arn:aws:iam::1:role/x", "RoleSessionName": "s"}),
        )]);
        let Verdict::Deny { reason, .. } = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &a), &m))
            .unwrap()
        else {
            panic!("credential-minting calls are refused")
        };
        assert!(reason.contains("temporary AWS credentials"), "{reason}");
    }
}

#[test]
fn several_actions_make_one_decision_and_the_worst_wins() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let a = args(json!({"script": "two calls"}));
        let m = actions(vec![
            aws("s3:ListBuckets", json!({})),
            aws(
                "rds:DeleteDBInstance",
                json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": true}),
            ),
        ]);
        let before = app.store.recent(100).unwrap().len();
        let v = rt
            .block_on(j.judge(&caller("agent:kiro"), &call("ops", "batch", &a), &m))
            .unwrap();
        let Verdict::Deny {
            decision: Some(id), ..
        } = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(
            app.store.recent(100).unwrap().len(),
            before + 1,
            "one decision per call"
        );
        let report = app.store.request(&id).unwrap().unwrap().report_value();
        let shown: Vec<&str> = report["mcp"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            shown,
            ["s3:ListBuckets", "rds:DeleteDBInstance"],
            "every action is shown"
        );
        assert_eq!(report["mcp"]["actions"][1]["outcome"], "deny");
    }
}

#[test]
fn unmapped_and_unreadable_calls_are_held_for_review() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "http://approve.example/");
        let who = caller("agent:kiro");
        let a = args(json!({"command": "rm -rf /"}));
        let unmapped = Mapping::Unmapped {
            why: "no mapping names shell/run".into(),
        };
        let Verdict::Review {
            decision,
            reason,
            explanation,
            approval_url,
        } = rt
            .block_on(j.judge(&who, &call("shell", "run", &a), &unmapped))
            .unwrap()
        else {
            panic!("an unmapped tool is reviewed")
        };
        assert!(
            reason.contains("No mapping says what shell/run does"),
            "{reason}"
        );
        assert!(explanation.contains("shell/run"), "{explanation}");
        assert_eq!(
            approval_url,
            Some(format!("http://approve.example/ui/decisions/{decision}"))
        );
        let report = app
            .store
            .request(&decision)
            .unwrap()
            .unwrap()
            .report_value();
        assert_eq!(report["action"], "mcp:run");
        assert_eq!(report["resource"], "mcp://shell/run");

        let unreadable = Mapping::Unreadable {
            why: "`aws s3 ls | sh` is a pipeline".into(),
        };
        let a = args(json!({"cli_command": "aws s3 ls | sh"}));
        let Verdict::Review { reason, .. } = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &a), &unreadable))
            .unwrap()
        else {
            panic!("an unreadable call is reviewed")
        };
        assert!(reason.contains("is a pipeline"), "{reason}");
    }
}

/// The IAM change waits for two approvers; the retry attaches; approved, it runs once;
/// a changed argument needs its own approval.
#[test]
fn an_approval_binds_the_exact_call_and_runs_once() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "http://approve.example");
        let who = caller("agent:kiro");
        let policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        let a = args(
            json!({"cli_command": format!("aws iam attach-role-policy --role-name ci --policy-arn {policy}")}),
        );
        let m = actions(vec![aws(
            "iam:AttachRolePolicy",
            json!({"RoleName": "ci", "PolicyArn": policy}),
        )]);
        let c = call("aws", "call_aws", &a);
        let Verdict::Review {
            decision: first, ..
        } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("a privilege grant is reviewed")
        };
        // A retry of the same call attaches to the same request.
        let Verdict::Review {
            decision: again, ..
        } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("still reviewed")
        };
        assert_eq!(first, again);
        // Still pending at the deadline: the review again, with progress ticks.
        let mut ticks = 0;
        let v = rt
            .block_on(j.wait(
                &who,
                &first,
                Instant::now() + Duration::from_millis(1500),
                |_| ticks += 1,
            ))
            .unwrap();
        assert!(matches!(v, Verdict::Review { .. }), "{v:?}");
        assert!(ticks >= 1);
        let needed = app
            .store
            .request(&first)
            .unwrap()
            .unwrap()
            .approvers_required as usize;
        approve(
            &*app.store,
            &first,
            &["human:alice", "human:bob"][..needed.max(1)],
        );
        let v = rt
            .block_on(j.wait(
                &who,
                &first,
                Instant::now() + Duration::from_secs(5),
                |_| {},
            ))
            .unwrap();
        assert_eq!(
            v,
            Verdict::Allow {
                decision: Some(first.clone())
            }
        );
        let executed = app.store.request(&first).unwrap().unwrap();
        assert_eq!(executed.executed_by.as_deref(), Some("agent:kiro"));
        // Used once: the same call again is a new review.
        let Verdict::Review {
            decision: third, ..
        } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("reviewed again")
        };
        assert_ne!(third, first);
        // Approved while nobody waits: the retry finds the approval and runs.
        approve(
            &*app.store,
            &third,
            &["human:alice", "human:bob"][..needed.max(1)],
        );
        let changed = args(
            json!({"cli_command": format!("aws iam attach-role-policy --role-name prod --policy-arn {policy}")}),
        );
        let mc = actions(vec![aws(
            "iam:AttachRolePolicy",
            json!({"RoleName": "prod", "PolicyArn": policy}),
        )]);
        let Verdict::Review {
            decision: other, ..
        } = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &changed), &mc))
            .unwrap()
        else {
            panic!("a changed argument needs its own approval")
        };
        assert_ne!(other, third);
        assert_eq!(
            rt.block_on(j.judge(&who, &c, &m)).unwrap(),
            Verdict::Allow {
                decision: Some(third.clone())
            }
        );
        // Another agent's identical call does not use it, nor may it wait on it.
        let e = rt
            .block_on(j.wait(&caller("agent:other"), &third, Instant::now(), |_| {}))
            .unwrap_err();
        assert!(matches!(e, JudgeError::NoDecision(_)), "{e}");
    }
}

#[test]
fn a_rejected_review_is_denied_when_waited_on() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let who = caller("agent:kiro");
        let a = args(json!({"command": "deploy"}));
        let Verdict::Review {
            decision,
            approval_url,
            ..
        } = rt
            .block_on(j.judge(
                &who,
                &call("shell", "run", &a),
                &Mapping::Unmapped { why: "none".into() },
            ))
            .unwrap()
        else {
            panic!("reviewed")
        };
        assert_eq!(approval_url, None, "no public URL, no link");
        let r = app.store.request(&decision).unwrap().unwrap();
        app.store
            .vote(
                &decision,
                "human:alice",
                false,
                &r.content_hash,
                Some("not now"),
            )
            .unwrap();
        let v = rt
            .block_on(j.wait(
                &who,
                &decision,
                Instant::now() + Duration::from_secs(5),
                |_| {},
            ))
            .unwrap();
        let Verdict::Deny { reason, .. } = v else {
            panic!("{v:?}")
        };
        assert!(reason.contains("rejected"), "{reason}");
    }
}

#[test]
fn secrets_in_arguments_are_masked_in_what_is_stored() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let a = args(json!({
            "cli_command": "aws secretsmanager create-secret --name db --secret-string Hunter2Hunter2",
            "env": {"API_TOKEN": "tok-abcdef-123456"},
        }));
        let m = actions(vec![aws(
            "secretsmanager:CreateSecret",
            json!({"Name": "db", "SecretString": "Hunter2Hunter2"}),
        )]);
        let (Verdict::Review { decision, .. }
        | Verdict::Deny {
            decision: Some(decision),
            ..
        }) = rt
            .block_on(j.judge(&caller("agent:kiro"), &call("aws", "call_aws", &a), &m))
            .unwrap()
        else {
            // Allowed calls are recorded too when they write; find it in the store.
            let recent = app.store.recent(1).unwrap();
            check_masked(&recent[0].report_value().to_string());
            continue;
        };
        let stored = app.store.request(&decision).unwrap().unwrap();
        check_masked(stored.report.get());
        for e in app.store.audit().unwrap() {
            check_masked(&serde_json::to_string(&e).unwrap());
        }
    }
}

fn check_masked(text: &str) {
    assert!(!text.contains("Hunter2Hunter2"), "{text}");
    assert!(!text.contains("tok-abcdef-123456"), "{text}");
    assert!(
        text.contains("create-secret --name db"),
        "the rest stays readable: {text}"
    );
}

#[test]
fn a_frozen_agent_is_denied_naming_the_freeze_but_keeps_its_tools_listed() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        app.store
            .freeze(&NewFreeze {
                actor: "agent:kiro".into(),
                reason: "suspected prompt injection".into(),
                incident: None,
                expires_at: None,
                by: "human:alice".into(),
            })
            .unwrap();
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let who = caller("agent:kiro");
        let a = args(json!({"cli_command": "aws s3api list-buckets"}));
        let m = actions(vec![aws("s3:ListBuckets", json!({}))]);
        let Verdict::Deny { reason, .. } = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &a), &m))
            .unwrap()
        else {
            panic!("frozen: even reads are denied")
        };
        assert!(reason.contains("suspected prompt injection"), "{reason}");
        let listed = [aws("s3:ListBuckets", json!({}))];
        assert!(rt
            .block_on(j.visible(&who, "aws", "list", Some(&listed)))
            .unwrap());
    }
}

#[test]
fn tools_policy_always_refuses_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/policies")).unwrap()
    {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("90-no-shell.cedar"),
        "@id(\"no-agent-shell\")\n@reason(\"Agents may not use the shell server.\")\nforbid (principal, action, resource) when { principal.kind == \"agent\" && resource.type == \"mcp:shell\" };",
    )
    .unwrap();
    for (loc, _pg, _tmp) in locations() {
        let app = app_with(&loc, Some(dir.path()));
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let who = caller("agent:kiro");
        let visible = |server: &str, tool: &str, a: Option<Vec<parapet_mcp::MappedAction>>| {
            rt.block_on(j.visible(&who, server, tool, a.as_deref()))
                .unwrap()
        };
        assert!(visible(
            "aws",
            "list_buckets",
            Some(vec![aws("s3:ListBuckets", json!({}))])
        ));
        assert!(
            visible("aws", "call_aws", None),
            "depends on arguments: shown"
        );
        assert!(
            !visible(
                "aws",
                "drop_database",
                Some(vec![aws("rds:DeleteDBInstance", json!({}))])
            ),
            "agents may never destroy a database"
        );
        assert!(!visible(
            "aws",
            "assume",
            Some(vec![aws("sts:AssumeRole", json!({}))])
        ));
        assert!(
            !visible("shell", "run", None),
            "a policy on the server hides its tools"
        );
        assert!(
            visible("files", "read", None),
            "unmapped elsewhere: reviewed, not hidden"
        );
        // Humans may destroy with approval: shown.
        assert!(rt
            .block_on(j.visible(
                &caller("human:alice"),
                "aws",
                "drop_database",
                Some(&[aws("rds:DeleteDBInstance", json!({}))])
            ))
            .unwrap());
        // And a hidden tool called anyway is refused by the judge as well.
        let a = args(json!({"command": "ls"}));
        let v = rt
            .block_on(j.judge(
                &who,
                &call("shell", "run", &a),
                &Mapping::Unmapped { why: "none".into() },
            ))
            .unwrap();
        assert!(matches!(v, Verdict::Deny { .. }), "{v:?}");
    }
}

#[test]
fn a_tool_on_a_fixed_resource_a_policy_forbids_is_hidden() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/policies")).unwrap()
    {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("90-no-admin.cedar"),
        "@id(\"no-admin-tool\")\n@reason(\"Nobody uses the admin tool.\")\nforbid (principal, action, resource) when { resource.address == \"admin://all\" };\n",
    )
    .unwrap();
    // A tool mapped to a fixed resource: policies on that resource hide it.
    let maps = tempfile::tempdir().unwrap();
    std::fs::write(
        maps.path().join("tools.toml"),
        "servers = [\"tools\"]\n[[tools]]\nname = \"admin\"\naction = \"mcp:tools.Admin\"\naccess = \"write\"\nresource = \"admin://all\"\n[[tools]]\nname = \"fetch\"\naction = \"mcp:tools.Fetch\"\naccess = \"write\"\nresource = \"item://{/id}\"\n",
    )
    .unwrap();
    let mappings = parapet_mcp::map::Mappings::load(&[maps.path().to_path_buf()]).unwrap();
    for (loc, _pg, _tmp) in locations() {
        let app = app_with(&loc, Some(dir.path()));
        let rt = rt();
        let j = Judge::in_process(app.clone(), "");
        let who = caller("agent:kiro");
        let visible = |tool: &str| {
            let actions = mappings.static_actions("tools", tool);
            rt.block_on(j.visible(&who, "tools", tool, actions.as_deref()))
                .unwrap()
        };
        assert!(
            !visible("admin"),
            "a policy on the tool's fixed resource hides it"
        );
        assert!(
            visible("fetch"),
            "a resource that depends on arguments hides nothing"
        );
    }
}
