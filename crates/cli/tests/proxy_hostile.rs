//! Hostile requests at `parapet proxy aws`, sent byte for byte with Python's
//! http.client and signed by botocore's own SigV4 signer: a forged signature (wrong
//! secret), the same signed request sent twice, a request signed 20 minutes ago, a
//! key parapet never issued, and an expired presigned URL are refused with AWS's
//! codes, and moto's request recorder shows that none of them reached it. A freshly
//! signed request of the same kind is the control: it passes and reaches moto once.

mod common;
mod proxy_common;

use proxy_common::*;
use serde_json::Value;

/// IAM ListUsers (a read, forwarded without judging) tagged by a path prefix that
/// shows in moto's recording.
fn list_users(tag: &str) -> String {
    format!("Action=ListUsers&Version=2010-05-08&PathPrefix=/{tag}/")
}

fn reached(s: &Stack, tag: &str) -> usize {
    s.moto
        .recorded()
        .iter()
        .filter(|r| {
            r["body"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("/{tag}/"))
        })
        .count()
}

fn refused(r: &Value, codes: &[&str]) {
    let status = r["status"].as_u64().unwrap();
    assert!((400..500).contains(&status), "{r}");
    let body = r["body"].as_str().unwrap();
    assert!(
        codes
            .iter()
            .any(|c| body.contains(&format!("<Code>{c}</Code>"))),
        "one of {codes:?} in {body}"
    );
}

#[test]
fn forged_replayed_expired_and_unknown_requests_never_reach_aws() {
    let s = Stack::start("hostile", Opts::default());
    s.moto.record();

    // The control: botocore's signature, sent once, passes.
    let r = s.python(&["raw", "fresh", "iam", &list_users("fresh-1")]);
    assert_eq!(r[0]["status"], 200, "{r:?}");
    assert!(r[0]["body"].as_str().unwrap().contains("ListUsersResult"));
    assert_eq!(reached(&s, "fresh-1"), 1);

    // Signed with a wrong secret.
    let r = s.python(&["raw", "forged", "iam", &list_users("forged-1")]);
    refused(&r[0], &["SignatureDoesNotMatch"]);
    assert_eq!(reached(&s, "forged-1"), 0);

    // The same signed bytes twice: the first passes, the replay does not.
    let r = s.python(&["raw", "replay", "iam", &list_users("replay-1")]);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["status"], 200, "{r:?}");
    let status = r[1]["status"].as_u64().unwrap();
    assert!(
        (400..500).contains(&status),
        "the replay was refused: {r:?}"
    );
    assert!(
        r[1]["body"].as_str().unwrap().contains("<Code>"),
        "an AWS-shaped error: {r:?}"
    );
    assert_eq!(reached(&s, "replay-1"), 1, "only the first reached moto");

    // Signed 20 minutes ago (SigV4 allows 15).
    let r = s.python(&["raw", "expired", "iam", &list_users("expired-1")]);
    refused(&r[0], &["RequestExpired", "RequestTimeTooSkewed"]);
    assert_eq!(reached(&s, "expired-1"), 0);

    // A well-formed key parapet never issued.
    let stranger = AgentKeys {
        key_id: "PKIAAAAAAAAAAAAAAAAA".into(),
        secret: s.agent.secret.clone(),
    };
    let o = s.python_via(
        0,
        &stranger,
        &["raw", "fresh", "iam", &list_users("stranger-1")],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    refused(&r, &["InvalidClientTokenId"]);
    assert_eq!(reached(&s, "stranger-1"), 0);

    // Presigned URLs (SigV4): a live one works; one past its expiry is refused.
    s.moto.aws(&["s3", "mb", "s3://signed"]);
    let file = s.dir.join("hello.txt");
    std::fs::write(&file, "hello through the proxy\n").unwrap();
    s.moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "signed",
        "--key",
        "hello.txt",
        "--body",
        file.to_str().unwrap(),
    ]);
    s.moto.record();
    let r = s.python(&["presigned", "signed", "hello.txt", "300", "0"]);
    assert_eq!(r[0]["status"], 200, "{r:?}");
    let r = s.python(&["presigned", "signed", "hello.txt", "1", "2.5"]);
    let status = r[0]["status"].as_u64().unwrap();
    assert!((400..500).contains(&status), "{r:?}");
    assert!(r[0]["body"].as_str().unwrap().contains("<Code>"), "{r:?}");
    // SigV2 (what botocore presigns S3 with for a custom endpoint by default): refused.
    let r = s.python(&["presigned", "signed", "hello.txt", "300", "0", "s3"]);
    refused(
        &r[0],
        &[
            "MissingAuthenticationToken",
            "AccessDenied",
            "InvalidRequest",
        ],
    );
    let gets = s
        .moto
        .recorded()
        .iter()
        .filter(|r| r["url"].as_str().unwrap_or("").contains("hello.txt"))
        .count();
    assert_eq!(gets, 1, "only the live presigned URL reached moto");
    s.finish();
}
