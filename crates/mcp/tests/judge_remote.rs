//! The remote judge (`parapet proxy mcp --server URL`) against a real decision service
//! (the server library serving HTTP on a port) over SQLite and PostgreSQL: the token
//! names the caller, the service binds and finds approvals, approvers vote over the
//! API, an approved call is executed once and only by its requester.

mod judge_common;

use judge_common::*;
use parapet_mcp::judge::{Judge, JudgeError};
use parapet_mcp::{Mapping, Verdict};
use parapet_store::Role;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The decision service on a free port; its base URL.
fn serve(rt: &tokio::runtime::Runtime, app: std::sync::Arc<parapet_server::App>) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(parapet_server::serve_on(app, listener));
    url
}

fn http(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let auth = format!("Bearer {token}");
    let mut resp = match method {
        "POST" => agent
            .post(url)
            .header("authorization", &auth)
            .send(body.unwrap_or(json!({})).to_string())
            .unwrap(),
        _ => agent
            .get(url)
            .header("authorization", &auth)
            .call()
            .unwrap(),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn the_remote_judge_decides_waits_and_runs_once_through_the_api() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let agent = token(&*app.store, Role::Agent, "agent:kiro");
        let other = token(&*app.store, Role::Agent, "agent:other");
        let alice = token(&*app.store, Role::Approver, "human:alice");
        let bob = token(&*app.store, Role::Approver, "human:bob");
        let rt = rt();
        let base = serve(&rt, app.clone());
        let j = Judge::remote(&base, Some(agent.clone())).unwrap();
        // A caller nobody authenticated is refused, not guessed.
        let e = rt
            .block_on(j.judge(
                &caller("agent:mallory"),
                &call("a", "b", &args(json!({}))),
                &Mapping::Unmapped { why: "x".into() },
            ))
            .unwrap_err();
        assert!(matches!(e, JudgeError::UnknownCaller(_)), "{e}");
        let who = rt.block_on(j.authenticate(&agent)).unwrap();
        assert_eq!(who, caller("agent:kiro"));
        assert!(matches!(
            rt.block_on(j.authenticate(&alice)).unwrap_err(),
            JudgeError::Unauthenticated(_)
        ));
        assert!(matches!(
            rt.block_on(j.authenticate("nope")).unwrap_err(),
            JudgeError::Unauthenticated(_)
        ));

        let read = args(json!({"cli_command": "aws s3api list-buckets"}));
        let v = rt
            .block_on(j.judge(
                &who,
                &call("aws", "call_aws", &read),
                &actions(vec![aws("s3:ListBuckets", json!({}))]),
            ))
            .unwrap();
        assert_eq!(v, Verdict::Allow { decision: None });

        let del = args(
            json!({"cli_command": "aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot"}),
        );
        let m = actions(vec![aws(
            "rds:DeleteDBInstance",
            json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": true}),
        )]);
        let v = rt
            .block_on(j.judge(&who, &call("aws", "call_aws", &del), &m))
            .unwrap();
        let Verdict::Deny {
            decision: Some(_),
            reason,
        } = v
        else {
            panic!("{v:?}")
        };
        assert!(reason.contains("Automation may not destroy"), "{reason}");

        let policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        let grant = args(
            json!({"cli_command": format!("aws iam attach-role-policy --role-name ci --policy-arn {policy}")}),
        );
        let m = actions(vec![aws(
            "iam:AttachRolePolicy",
            json!({"RoleName": "ci", "PolicyArn": policy}),
        )]);
        let c = call("aws", "call_aws", &grant);
        let Verdict::Review {
            decision: id,
            approval_url,
            explanation,
            ..
        } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("reviewed")
        };
        assert_eq!(
            approval_url,
            Some(format!("http://approve.example/ui/decisions/{id}"))
        );
        assert!(
            explanation.contains("iam:AttachRolePolicy"),
            "{explanation}"
        );
        let Verdict::Review {
            decision: again, ..
        } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("still reviewed")
        };
        assert_eq!(again, id, "a retry attaches to the same request");
        // Only the requester may execute; nothing is executable before approval.
        let exec = format!("{base}/v1/decisions/{id}/execute");
        assert_eq!(http("POST", &exec, &other, None).0, 403);
        assert_eq!(http("POST", &exec, &agent, None).0, 409);
        let (_, shown) = http("GET", &format!("{base}/v1/decisions/{id}"), &alice, None);
        let hash = shown["content_hash"].as_str().unwrap().to_string();
        let needed = shown["approval"]["approvers_required"].as_u64().unwrap() as usize;
        for t in [&alice, &bob].into_iter().take(needed) {
            let (s, _) = http(
                "POST",
                &format!("{base}/v1/decisions/{id}/approve"),
                t,
                Some(json!({"content_hash": hash})),
            );
            assert_eq!(s, 200);
        }
        let mut ticks = 0;
        let v = rt
            .block_on(
                j.wait(&who, &id, Instant::now() + Duration::from_secs(10), |_| {
                    ticks += 1
                }),
            )
            .unwrap();
        assert_eq!(
            v,
            Verdict::Allow {
                decision: Some(id.clone())
            }
        );
        // Used once.
        assert_eq!(http("POST", &exec, &agent, None).0, 409);
        let Verdict::Review { decision: next, .. } = rt.block_on(j.judge(&who, &c, &m)).unwrap()
        else {
            panic!("a new review")
        };
        assert_ne!(next, id);
        // Still pending at the deadline: the review again.
        let v = rt
            .block_on(j.wait(
                &who,
                &next,
                Instant::now() + Duration::from_millis(1200),
                |_| ticks += 1,
            ))
            .unwrap();
        assert!(matches!(v, Verdict::Review { .. }), "{v:?}");
        assert!(ticks >= 1, "progress while waiting");
        // Approved meanwhile: the retry runs it (attached and consumed by the service).
        let (_, shown) = http("GET", &format!("{base}/v1/decisions/{next}"), &alice, None);
        let hash = shown["content_hash"].as_str().unwrap().to_string();
        for t in [&alice, &bob].into_iter().take(needed) {
            http(
                "POST",
                &format!("{base}/v1/decisions/{next}/approve"),
                t,
                Some(json!({"content_hash": hash})),
            );
        }
        assert_eq!(
            rt.block_on(j.judge(&who, &c, &m)).unwrap(),
            Verdict::Allow {
                decision: Some(next.clone())
            }
        );

        // Hiding asks the service.
        let drop = [aws("rds:DeleteDBInstance", json!({}))];
        assert!(!rt
            .block_on(j.visible(&who, "aws", "drop_db", Some(&drop)))
            .unwrap());
        assert!(rt
            .block_on(j.visible(&who, "aws", "call_aws", None))
            .unwrap());
    }
}

#[test]
fn the_api_refuses_tool_bodies_that_are_not_whole() {
    for (loc, _pg, _dir) in locations() {
        let app = app_with(&loc, None);
        let agent = token(&*app.store, Role::Agent, "agent:kiro");
        let rt = rt();
        let base = serve(&rt, app.clone());
        let url = format!("{base}/v1/decisions");
        for bad in [
            json!({"tool": {"server": "s", "tool": "t"}}),
            json!({"tool": {"server": "s", "tool": "t", "unmapped": "x", "actions": []}}),
            json!({"tool": {"server": "", "tool": "t", "unmapped": "x"}}),
            json!({"tool": {"server": "s", "tool": "t", "unmapped": "x", "binding": "ab"}}),
            json!({"tool": {"server": "s", "tool": "t", "unmapped": "x"}, "call": {"action": "s3:ListBuckets"}}),
        ] {
            let (status, v) = http("POST", &url, &agent, Some(bad.clone()));
            assert_eq!(status, 400, "{bad}: {v}");
            assert_eq!(v["outcome"], "deny");
        }
        let (status, v) = http(
            "POST",
            &url,
            &agent,
            Some(
                json!({"tool": {"server": "s", "tool": "t", "unmapped": "x"}, "actor": "agent:other"}),
            ),
        );
        assert_eq!(status, 403, "{v}");
    }
}
