//! Several proxies on one PostgreSQL database, as replicas behind a load balancer: an
//! agent key works on each, a review held on one is approved through another's store,
//! and a freeze made anywhere stops the agent on every replica at its next request.

mod common;
use common::*;
use std::time::Duration;
use tokio::task::block_in_place as blocking;

const WHO: &str = "Action=GetCallerIdentity&Version=2011-06-15";

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_keys_approvals_and_the_kill_switch() {
    let up = fake(false).await;
    let (url, _schema) = pg_schema();
    let a = start_on(tempfile::tempdir().unwrap(), &url, None, &up.url(), |c| {
        c.hold = Duration::from_secs(10);
        c.poll = Duration::from_millis(50);
    })
    .await;
    let agent = Some((a.key.clone(), a.secret.clone()));
    let b = start_on(tempfile::tempdir().unwrap(), &url, agent, &up.url(), |c| {
        c.hold = Duration::from_secs(10);
        c.poll = Duration::from_millis(50);
    })
    .await;
    assert_eq!(a.call(Req::query("sts", WHO)).await.0, 200);
    assert_eq!(b.call(Req::query("sts", WHO)).await.0, 200);

    // Held on B, approved through A's store.
    let approve = async {
        for _ in 0..200 {
            if let Some(r) = blocking(|| a.app.store.pending())
                .unwrap()
                .into_iter()
                .next()
            {
                for who in ["human:alice", "human:bob"] {
                    blocking(|| a.app.store.vote(&r.id, who, true, &r.content_hash, None)).unwrap();
                }
                return r.id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no review appeared");
    };
    let create_user = Req::query("iam", "Action=CreateUser&Version=2010-05-08&UserName=ops");
    let ((status, _, body), id) = tokio::join!(b.call(create_user), approve);
    assert_eq!(status, 200, "{}", text(&body));
    let executed = blocking(|| a.app.store.request(&id)).unwrap().unwrap();
    assert_eq!(
        executed.state(parapet_store::now()),
        parapet_store::State::Executed
    );

    // Frozen through A: B refuses the very next request.
    blocking(|| {
        a.app.store.freeze(&parapet_store::NewFreeze {
            actor: ACTOR.into(),
            reason: "incident 42".into(),
            incident: None,
            expires_at: None,
            by: "human:oncall".into(),
        })
    })
    .unwrap();
    let (status, _, body) = b.call(Req::query("sts", WHO)).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(text(&body).contains("frozen"), "{}", text(&body));
    assert_eq!(up.count(), 3);
}
