//! The proxy in front of moto server (the AWS API, from target/moto): reads pass
//! unchanged, denied writes are answered in each protocol's own error format and never
//! reach moto, reviews are held and bound to the exact call, S3 uploads stream, and the
//! dry-run and observe modes do what they say.

mod common;
use bytes::Bytes;
use common::*;
use std::time::Duration;

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let start = s
        .find(open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no {open} in {s}"));
    let end = s[start..].find(close).unwrap() + start;
    &s[start..end]
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_pass_unchanged_and_denied_writes_answer_in_each_protocol() {
    let moto = moto();
    let env = start(&moto.url(), |_| {}).await;
    // What exists, made directly.
    let db = "Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=prod&DBInstanceClass=db.t3.micro&Engine=postgres&AllocatedStorage=20&MasterUsername=admin&MasterUserPassword=secret123";
    assert_eq!(moto.call(Req::query("rds", db)).await.0, 200);
    assert_eq!(
        moto.call(Req::s3("PUT", "/keep", Bytes::new())).await.0,
        200
    );
    let table = r#"{"TableName":"orders","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    assert_eq!(
        moto.call(Req::json(
            "dynamodb",
            "DynamoDB_20120810.CreateTable",
            table
        ))
        .await
        .0,
        200
    );
    let (_, _, sg) = moto
        .call(Req::query(
            "ec2",
            "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=web&GroupDescription=web",
        ))
        .await;
    let group = between(&text(&sg), "<groupId>", "</groupId>").to_string();

    // A read: the same answer as moto gives directly.
    let (status, headers, through) = env.call(Req::s3("GET", "/", Bytes::new())).await;
    let (_, _, direct) = moto.call(Req::s3("GET", "/", Bytes::new())).await;
    assert_eq!(status, 200, "{}", text(&through));
    assert_eq!(through, direct);
    no_secret(&headers, &through);

    // query (rds): XML ErrorResponse.
    let (status, _, body) = env
        .call(Req::query("rds", "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=prod&SkipFinalSnapshot=true"))
        .await;
    let t = text(&body);
    assert_eq!(status, 403, "{t}");
    assert!(
        t.starts_with("<ErrorResponse><Error>") && t.contains("<Code>AccessDenied</Code>"),
        "{t}"
    );
    assert!(
        t.contains("parapet denied rds:DeleteDBInstance (decision dec_"),
        "{t}"
    );
    let id = between(&t, "(decision ", ")").to_string();
    let stored = env
        .app
        .store
        .request(&id)
        .unwrap()
        .expect("the denial is recorded");
    assert_eq!(stored.outcome, "deny");
    let (_, _, dbs) = moto
        .call(Req::query(
            "rds",
            "Action=DescribeDBInstances&Version=2014-10-31",
        ))
        .await;
    assert!(
        text(&dbs).contains("<DBInstanceIdentifier>prod</DBInstanceIdentifier>"),
        "the database is still there"
    );

    // ec2 (the CLI's flat form): <Response><Errors>.
    let flat = format!("Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId={group}&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0%2F0");
    let (status, _, body) = env.call(Req::query("ec2", &flat)).await;
    let t = text(&body);
    assert_eq!(status, 403, "{t}");
    assert!(
        t.contains("<Response><Errors><Error><Code>AccessDenied</Code>"),
        "{t}"
    );
    assert!(
        t.contains("parapet denied ec2:AuthorizeSecurityGroupIngress"),
        "{t}"
    );
    let (_, _, groups) = moto
        .call(Req::query(
            "ec2",
            &format!("Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1={group}"),
        ))
        .await;
    assert!(
        text(&groups).contains("<ipPermissions/>"),
        "no ingress rule was added: {}",
        text(&groups)
    );

    // json (dynamodb): __type.
    let (status, headers, body) = env
        .call(Req::json(
            "dynamodb",
            "DynamoDB_20120810.DeleteTable",
            r#"{"TableName":"orders"}"#,
        ))
        .await;
    assert_eq!(status, 403, "{}", text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["__type"]
            .as_str()
            .unwrap()
            .ends_with("AccessDeniedException"),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("parapet denied dynamodb:DeleteTable"),
        "{v}"
    );
    assert!(headers.contains_key("x-amzn-requestid"));
    let (_, _, tables) = moto
        .call(Req::json("dynamodb", "DynamoDB_20120810.ListTables", "{}"))
        .await;
    assert!(text(&tables).contains("orders"));

    // rest-json (eks): x-amzn-ErrorType.
    let (status, headers, body) = env.call(Req::new("DELETE", "/clusters/prod", "eks")).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(
        headers["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("AccessDeniedException"),
        "{headers:?}"
    );
    assert!(
        text(&body).contains("parapet denied eks:DeleteCluster"),
        "{}",
        text(&body)
    );

    // rest-xml (s3): <Error>.
    let (status, _, body) = env.call(Req::s3("DELETE", "/keep", Bytes::new())).await;
    let t = text(&body);
    assert_eq!(status, 403, "{t}");
    assert!(
        t.contains("<Error><Code>AccessDenied</Code>")
            && t.contains("parapet denied s3:DeleteBucket"),
        "{t}"
    );
    let (_, _, buckets) = moto.call(Req::s3("GET", "/", Bytes::new())).await;
    assert!(text(&buckets).contains("<Name>keep</Name>"));

    // An allowed write is recorded and forwarded.
    let (status, _, body) = env
        .call(Req::s3("PUT", "/made-by-agent", Bytes::new()))
        .await;
    assert_eq!(status, 200, "{}", text(&body));
    let (_, _, buckets) = moto.call(Req::s3("GET", "/", Bytes::new())).await;
    assert!(text(&buckets).contains("<Name>made-by-agent</Name>"));
    let recent = env.app.store.recent(20).unwrap();
    assert!(
        recent
            .iter()
            .any(|r| r.outcome == "allow" && r.requester == ACTOR),
        "the allowed write is recorded"
    );
    assert_eq!(
        recent.len(),
        6,
        "five denials and one allowed write; reads are not recorded"
    );
}

/// Approve a pending request of the agent's with two approvers, once one appears.
async fn approve_next(env: &Env, skip: &[String]) -> String {
    for _ in 0..200 {
        let pending = env.app.store.pending().unwrap();
        if let Some(r) = pending.into_iter().find(|r| !skip.contains(&r.id)) {
            for who in ["human:alice", "human:bob"] {
                env.app
                    .store
                    .vote(&r.id, who, true, &r.content_hash, None)
                    .unwrap();
            }
            return r.id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no review appeared");
}

/// A new IAM user: a new credential holder, reviewed by two people.
fn create_user(name: &str) -> Req {
    Req::query(
        "iam",
        &format!("Action=CreateUser&Version=2010-05-08&UserName={name}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_holds_the_call_and_its_approval_binds_that_call_once() {
    let moto = moto();
    let env = start(&moto.url(), |c| {
        c.hold = Duration::from_secs(4);
        c.poll = Duration::from_millis(50);
    })
    .await;
    // Held, approved meanwhile, forwarded.
    let (call, approval) = tokio::join!(env.call(create_user("deployer")), approve_next(&env, &[]));
    assert_eq!(call.0, 200, "{}", text(&call.2));
    let (_, _, user) = moto
        .call(Req::query(
            "iam",
            "Action=GetUser&Version=2010-05-08&UserName=deployer",
        ))
        .await;
    assert!(
        text(&user).contains("<UserName>deployer</UserName>"),
        "{}",
        text(&user)
    );
    let executed = env.app.store.request(&approval).unwrap().unwrap();
    assert_eq!(
        executed.state(parapet_store::now()),
        parapet_store::State::Executed
    );

    // Not approved in time: the answer names the approval page.
    let (status, _, body) = env.call(create_user("auditor")).await;
    let t = text(&body);
    assert_eq!(status, 403, "{t}");
    assert!(
        t.contains("http://parapet.test/ui/decisions/dec_") && t.contains("0 of 2 approvals"),
        "{t}"
    );
    let first = between(&t, "decisions/", " ")
        .trim_end_matches(',')
        .to_string();
    // Approved later: the same call retried goes through without waiting, once.
    for who in ["human:alice", "human:bob"] {
        let r = env.app.store.request(&first).unwrap().unwrap();
        env.app
            .store
            .vote(&first, who, true, &r.content_hash, None)
            .unwrap();
    }
    let (status, _, body) = env.call(create_user("auditor")).await;
    assert_eq!(status, 200, "{}", text(&body));
    // The approval is used: the same call again needs a new review.
    let (status, _, body) = env.call(create_user("auditor")).await;
    assert_eq!(status, 403, "{}", text(&body));
    let second = between(&text(&body), "decisions/", " ")
        .trim_end_matches(',')
        .to_string();
    assert_ne!(first, second);
    // A changed call does not find another call's approval.
    for who in ["human:alice", "human:bob"] {
        let r = env.app.store.request(&second).unwrap().unwrap();
        env.app
            .store
            .vote(&second, who, true, &r.content_hash, None)
            .unwrap();
    }
    let (status, _, body) = env.call(create_user("auditor2")).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(!text(&body).contains(&second));
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_uploads_stream_through_byte_identical() {
    let moto = moto();
    let env = start(&moto.url(), |c| c.limits.stream_threshold = 256 << 10).await;
    let (status, _, body) = env.call(Req::s3("PUT", "/uploads", Bytes::new())).await;
    assert_eq!(status, 200, "{}", text(&body));
    let payload: Vec<u8> = (0..(5u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();

    // Declared sha256, streamed and checked on the way.
    let (status, _, body) = env
        .call(Req::s3("PUT", "/uploads/declared", payload.clone()))
        .await;
    assert_eq!(status, 200, "{}", text(&body));
    // UNSIGNED-PAYLOAD.
    let mut r = Req::s3("PUT", "/uploads/unsigned", payload.clone());
    r.content_sha = Some("UNSIGNED-PAYLOAD".into());
    assert_eq!(env.call(r).await.0, 200);
    // Signed aws-chunked: decoded, each chunk verified, forwarded as the plain payload.
    let (status, _, body) = send(chunked_put(&env, "/uploads/chunked", &payload, false)).await;
    assert_eq!(status, 200, "{}", text(&body));
    // The same below the streaming threshold: read whole, decoded, sent plain.
    let small = &payload[..100 << 10];
    let (status, _, body) = send(chunked_put(&env, "/uploads/small-chunked", small, false)).await;
    assert_eq!(status, 200, "{}", text(&body));
    let (_, _, got) = moto
        .call(Req::s3("GET", "/uploads/small-chunked", Bytes::new()))
        .await;
    assert!(
        got[..] == small[..],
        "small chunked upload: {} bytes back",
        got.len()
    );
    for key in ["declared", "unsigned", "chunked"] {
        let (status, _, got) = env
            .call(Req::s3("GET", &format!("/uploads/{key}"), Bytes::new()))
            .await;
        assert_eq!(status, 200);
        assert!(
            got[..] == payload[..],
            "{key}: {} bytes back, not the {} sent",
            got.len(),
            payload.len()
        );
    }
    // STREAMING-UNSIGNED-PAYLOAD-TRAILER: checked on the way and passed through as sent.
    let mut framed = Vec::new();
    for c in payload.chunks(64 << 10) {
        framed.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        framed.extend_from_slice(c);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(
        format!("0\r\nx-amz-checksum-crc32:{}\r\n\r\n", crc32_b64(&payload)).as_bytes(),
    );
    let mut r = Req::new("PUT", "/uploads/trailer", "s3")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &payload.len().to_string())
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .header("x-amz-sdk-checksum-algorithm", "CRC32")
        .body(framed.clone());
    r.content_sha = Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER".into());
    let (status, _, body) = env.call(r.clone()).await;
    assert_eq!(status, 200, "{}", text(&body));
    let (_, _, got) = env
        .call(Req::s3("GET", "/uploads/trailer", Bytes::new()))
        .await;
    assert!(
        got[..] == payload[..],
        "trailer upload: {} bytes back",
        got.len()
    );
    // Its checksum wrong: refused before the last bytes go upstream.
    let bad = crc32_b64(b"other");
    let tail = framed.len() - 2 - 8 - 2;
    framed[tail..tail + 8].copy_from_slice(bad.as_bytes());
    let mut r = r.body(framed);
    r.target = "/uploads/badsum".into();
    let (status, _, body) = env.call(r).await;
    assert_eq!(status, 400, "{}", text(&body));
    assert!(text(&body).contains("BadDigest"), "{}", text(&body));
    assert_eq!(
        moto.call(Req::s3("GET", "/uploads/badsum", Bytes::new()))
            .await
            .0,
        404
    );

    // HEAD keeps the object's length; a presigned GET works once.
    let (status, headers, _) = env
        .call(Req::s3("HEAD", "/uploads/declared", Bytes::new()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-length"],
        payload.len().to_string().as_str()
    );
    let presigned = Req::s3("GET", "/uploads/declared", Bytes::new());
    let (status, _, got) = send(presigned.presigned(&env.url(), &env.key, &env.secret)).await;
    assert_eq!(status, 200, "{}", text(&got));
    assert!(got[..] == payload[..]);
    let (status, _, _) = send(presigned.presigned(&env.url(), &env.key, &env.secret)).await;
    assert_eq!(status, 400, "a presigned URL is accepted once");

    // A tampered chunk: refused, nothing stored.
    let (status, _, body) = send(chunked_put(&env, "/uploads/tampered", &payload, true)).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(
        text(&body).contains("SignatureDoesNotMatch"),
        "{}",
        text(&body)
    );
    let (status, _, _) = moto
        .call(Req::s3("GET", "/uploads/tampered", Bytes::new()))
        .await;
    assert_eq!(status, 404, "the tampered upload never completed upstream");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_forwards_reads_only_and_observe_forwards_everything() {
    let moto = moto();
    let dry = start(&moto.url(), |c| c.mode = parapet_proxy::Mode::DryRun).await;
    let (status, _, _) = dry.call(Req::s3("GET", "/", Bytes::new())).await;
    assert_eq!(status, 200);
    let (status, _, body) = dry.call(Req::s3("PUT", "/would-be", Bytes::new())).await;
    assert_eq!(status, 403);
    assert!(
        text(&body).contains("dry-run: s3:CreateBucket would be allowed"),
        "{}",
        text(&body)
    );
    let (status, _, body) = dry.call(Req::s3("DELETE", "/would-be", Bytes::new())).await;
    assert_eq!(status, 403);
    assert!(text(&body).contains("would be denied"), "{}", text(&body));
    let (_, _, buckets) = moto.call(Req::s3("GET", "/", Bytes::new())).await;
    assert!(
        !text(&buckets).contains("would-be"),
        "dry-run sent no write"
    );
    assert!(
        dry.app.store.recent(10).unwrap().is_empty(),
        "dry-run records nothing"
    );

    let observe = start(&moto.url(), |c| c.mode = parapet_proxy::Mode::Observe).await;
    let (_, _, sg) = moto
        .call(Req::query(
            "ec2",
            "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=obs&GroupDescription=obs",
        ))
        .await;
    let group = between(&text(&sg), "<groupId>", "</groupId>").to_string();
    let flat = format!("Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId={group}&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0%2F0");
    let (status, _, body) = observe.call(Req::query("ec2", &flat)).await;
    assert_eq!(
        status,
        200,
        "observe forwards what enforce would deny: {}",
        text(&body)
    );
    let (_, _, groups) = moto
        .call(Req::query(
            "ec2",
            &format!("Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1={group}"),
        ))
        .await;
    assert!(text(&groups).contains("0.0.0.0/0"));
    assert!(
        observe.app.store.recent(10).unwrap().is_empty(),
        "observe records nothing"
    );
    assert!(observe
        .proxy
        .metrics_text()
        .contains("parapet_proxy_requests_total{outcome=\"observed\"} 1"));
}

/// An agent behind the proxy must never be handed credentials that work at AWS without
/// it: session and federation tokens, assumed roles and new access keys are refused
/// before any policy runs, in every mode, and nothing reaches the upstream.
#[tokio::test(flavor = "multi_thread")]
async fn calls_that_mint_credentials_are_refused_in_every_mode() {
    let moto = moto();
    for mode in [
        parapet_proxy::Mode::Enforce,
        parapet_proxy::Mode::DryRun,
        parapet_proxy::Mode::Observe,
    ] {
        let env = start(&moto.url(), |c| c.mode = mode).await;
        for body in [
            "Action=GetSessionToken&Version=2011-06-15",
            "Action=GetFederationToken&Version=2011-06-15&Name=fed",
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr1&RoleSessionName=x",
        ] {
            let (status, _, reply) = env.call(Req::query("sts", body)).await;
            let t = text(&reply);
            assert_eq!(status, 403, "{body}: {t}");
            assert!(
                t.contains("<Code>AccessDenied</Code>") && t.contains("never given credentials"),
                "{body}: {t}"
            );
            assert!(!t.contains("SecretAccessKey"), "{t}");
        }
        let (status, _, reply) = env
            .call(Req::query(
                "iam",
                "Action=CreateAccessKey&Version=2010-05-08&UserName=u1",
            ))
            .await;
        assert_eq!(status, 403, "{}", text(&reply));
    }
}
