//! Bad and hostile requests are refused with AWS-shaped errors and nothing reaches the
//! upstream (a fake that records every complete request it receives); an allowed read
//! goes through re-signed with the proxy's own credentials and comes back unchanged.

mod common;
use common::*;
use std::time::{Duration, SystemTime};

const WHO: &str = "Action=GetCallerIdentity&Version=2011-06-15";

#[tokio::test]
async fn an_allowed_read_is_re_signed_and_answered_unchanged() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let (status, headers, body) = env.call(Req::query("sts", WHO)).await;
    assert_eq!(status, 200, "{}", text(&body));
    assert_eq!(&body[..], FAKE_BODY);
    assert_eq!(headers["x-upstream"], "fake");
    assert_eq!(up.count(), 1);
    let seen = up.seen.lock().unwrap()[0].clone();
    assert_eq!(&seen.body[..], WHO.as_bytes());
    // The upstream saw the proxy's credentials, not the agent's, and the signature
    // verifies under the real secret.
    let auth = seen.headers["authorization"].to_str().unwrap();
    assert!(
        auth.contains(REAL_KEY) && !auth.contains(&env.key),
        "{auth}"
    );
    let uri: http::Uri = seen.uri.parse().unwrap();
    let signed =
        parapet_sigv4::parse("POST", uri.path(), uri.query().unwrap_or(""), &seen.headers).unwrap();
    let mut signed = signed;
    if signed.needs_body_hash() {
        signed.set_body_hash(&sha(&seen.body));
    }
    parapet_sigv4::verify(
        &signed,
        REAL_SECRET,
        "POST",
        uri.path(),
        uri.query().unwrap_or(""),
        &seen.headers,
        parapet_store::now(),
    )
    .expect("the forwarded request is signed with the real credentials");
    no_secret(&headers, &body);
}

#[tokio::test]
async fn forged_unknown_unsigned_and_expired_requests_are_refused() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let forged = Req::query("sts", WHO).signed(&env.url(), &env.key, "not-the-secret");
    let (status, _, body) = send(forged).await;
    assert_eq!(status, 403);
    assert!(
        text(&body).contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        text(&body)
    );

    let stranger = Req::query("sts", WHO).signed(&env.url(), "PKIAAAAAAAAAAAAAAAAA", "x");
    let (status, _, body) = send(stranger).await;
    assert_eq!(status, 403);
    assert!(
        text(&body).contains("<Code>InvalidClientTokenId</Code>"),
        "{}",
        text(&body)
    );

    let (status, _, body) = send(
        http::Request::post(env.url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(http_body_util::Full::new(bytes::Bytes::from(WHO)))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        text(&body).contains("MissingAuthenticationToken"),
        "{}",
        text(&body)
    );

    let mut old = Req::query("sts", WHO);
    old.time = SystemTime::now() - Duration::from_secs(20 * 60);
    let (status, _, body) = env.call(old).await;
    assert_eq!(status, 403);
    assert!(
        text(&body).contains("RequestTimeTooSkewed"),
        "{}",
        text(&body)
    );
    assert_eq!(up.count(), 0, "nothing was forwarded");
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let once = Req::query("sts", WHO);
    let (first, _, _) = send(once.signed(&env.url(), &env.key, &env.secret)).await;
    assert_eq!(first, 200);
    // The same signed bytes again (same time, same signature).
    let (again, _, body) = send(once.signed(&env.url(), &env.key, &env.secret)).await;
    // Refused as throttling: an SDK that sent the same call twice in one second
    // retries it with a fresh signature.
    assert_eq!(again, 400, "{}", text(&body));
    assert!(
        text(&body).contains("<Code>Throttling</Code>") && text(&body).contains("already used"),
        "{}",
        text(&body)
    );
    let json = Req::json("dynamodb", "DynamoDB_20120810.ListTables", "{}");
    assert_eq!(
        send(json.signed(&env.url(), &env.key, &env.secret)).await.0,
        200
    );
    let (status, _, body) = send(json.signed(&env.url(), &env.key, &env.secret)).await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["__type"], "ThrottlingException", "{v}");
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn a_body_that_is_not_its_declared_hash_is_refused_small_or_streamed() {
    let up = fake(false).await;
    let env = start(&up.url(), |c| c.limits.stream_threshold = 64 << 10).await;
    for size in [1000usize, 3 << 20] {
        let mut r = Req::s3("PUT", "/bucket/key", vec![b'a'; size]);
        r.content_sha = Some(sha(b"something else"));
        let (status, _, body) = env.call(r).await;
        assert_eq!(status, 400, "{size}: {}", text(&body));
        assert!(
            text(&body).contains("<Code>XAmzContentSHA256Mismatch</Code>"),
            "{}",
            text(&body)
        );
    }
    assert_eq!(up.count(), 0, "no complete body reached the upstream");
    // The same upload with its true hash streams through whole.
    let (status, _, body) = env
        .call(Req::s3("PUT", "/bucket/key", vec![b'a'; 3 << 20]))
        .await;
    assert_eq!(status, 200, "{}", text(&body));
    let seen = up.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), 3 << 20);
    assert_eq!(
        seen[0].headers["x-amz-content-sha256"],
        sha(&vec![b'a'; 3 << 20]).as_str()
    );
}

#[tokio::test]
async fn conflicting_lengths_and_oversized_heads_are_refused() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let both = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n0\r\n\r\n",
        env.addr
    );
    let answer = raw(env.addr, both.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("Content-Length and Transfer-Encoding"),
        "{answer}"
    );

    // Over the limit: an AWS-shaped error; far over it, hyper's own 431.
    for (size, want) in [(70 << 10, "HTTP/1.1 400"), (200 << 10, "HTTP/1.1 431")] {
        let head = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
            env.addr,
            "b".repeat(size)
        );
        let answer = raw(env.addr, head.as_bytes()).await;
        assert!(
            answer.starts_with(want),
            "{size}: {}",
            &answer[..answer.len().min(300)]
        );
        if want.ends_with("400") {
            assert!(answer.contains("RequestHeaderSectionTooLarge"), "{answer}");
        }
    }
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = raw(
        env.addr,
        format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("RequestHeaderSectionTooLarge"),
        "{answer}"
    );
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn unknown_services_and_operations_are_refused() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let (status, headers, body) = env
        .call(Req::json(
            "dynamodb",
            "DynamoDB_20120810.FrobnicateTable",
            "{}",
        ))
        .await;
    assert_eq!(status, 400, "{}", text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["__type"].as_str().unwrap().contains("UnknownOperation"),
        "{v}"
    );
    assert!(headers.contains_key("x-amzn-requestid"));
    let (status, _, body) = env
        .call(Req::query("nosuchservice", "Action=Do&Version=1"))
        .await;
    assert_eq!(status, 400, "{}", text(&body));
    assert!(text(&body).contains("unknown service"), "{}", text(&body));
    let (status, _, body) = env
        .call(Req::query(
            "iam",
            "Action=FrobnicateRole&Version=2010-05-08",
        ))
        .await;
    assert_eq!(status, 400);
    assert!(
        text(&body).contains("<Code>InvalidAction</Code>"),
        "{}",
        text(&body)
    );
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn an_upstream_that_hangs_is_answered_with_a_timeout() {
    let up = fake(true).await;
    let env = start(&up.url(), |c| {
        c.timeouts.response = Duration::from_millis(500)
    })
    .await;
    let (status, _, body) =
        tokio::time::timeout(Duration::from_secs(30), env.call(Req::query("sts", WHO)))
            .await
            .expect("the proxy answers");
    assert_eq!(status, 504, "{}", text(&body));
    assert!(
        text(&body).contains("<Code>RequestTimeout</Code>"),
        "{}",
        text(&body)
    );
    // An upstream that is not there at all.
    let env = start("http://127.0.0.1:1", |_| {}).await;
    let (status, _, body) = env.call(Req::query("sts", WHO)).await;
    assert_eq!(status, 503, "{}", text(&body));
    assert!(text(&body).contains("ServiceUnavailable"));
}

#[tokio::test]
async fn a_frozen_agent_is_refused_even_for_reads() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    assert_eq!(env.call(Req::query("sts", WHO)).await.0, 200);
    env.app
        .store
        .freeze(&parapet_store::NewFreeze {
            actor: ACTOR.into(),
            reason: "went rogue".into(),
            incident: None,
            expires_at: None,
            by: "human:oncall".into(),
        })
        .unwrap();
    let (status, _, body) = env.call(Req::query("sts", WHO)).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(
        text(&body).contains("frozen") && text(&body).contains("went rogue"),
        "{}",
        text(&body)
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn metrics_are_served_and_hold_no_secret() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    env.call(Req::query("sts", WHO)).await;
    let (status, headers, body) = send(
        http::Request::get(format!("{}/_parapet/metrics", env.url()))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let t = text(&body);
    assert!(
        t.contains("parapet_proxy_requests_total{outcome=\"read\"} 1"),
        "{t}"
    );
    assert!(!t.contains(&env.secret) && !t.contains(&env.key));
    no_secret(&headers, &body);
}

#[tokio::test]
async fn a_small_signed_chunked_upload_is_decoded_and_forwarded_plain() {
    let up = fake(false).await;
    let env = start(&up.url(), |_| {}).await;
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (status, _, body) = send(chunked_put(&env, "/bucket/small", &payload, false)).await;
    assert_eq!(status, 200, "{}", text(&body));
    let seen = up.seen.lock().unwrap()[0].clone();
    assert!(
        seen.body[..] == payload[..],
        "the upstream got the plain payload"
    );
    assert_eq!(
        seen.headers["content-length"],
        payload.len().to_string().as_str()
    );
    assert_eq!(seen.headers["x-amz-content-sha256"], sha(&payload).as_str());
    for gone in ["content-encoding", "x-amz-decoded-content-length"] {
        assert!(
            !seen.headers.contains_key(gone),
            "{gone} forwarded: {:?}",
            seen.headers
        );
    }
}
