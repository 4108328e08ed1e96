//! The decision service on the machine's PostgreSQL: two `parapet serve` replicas share
//! one database; when the database goes away every decision is denied with a clear
//! reason, and decisions resume when it returns. The outage is real: the replicas reach
//! PostgreSQL through a TCP relay that this test cuts and restores.

mod common;
use common::*;
use serde_json::{json, Value};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn pg_base() -> String {
    std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

/// A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones
/// closed at once) and restored.
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: (&'static str, u16)) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, o) = (down.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                o.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, down, open }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

fn serve(url: &str) -> Server {
    start_args(&[
        "serve".into(),
        "--database".into(),
        url.into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ])
}

#[test]
fn replicas_share_postgres_and_fail_closed_when_it_is_gone() {
    // A fresh schema per run, reached through the relay.
    let schema = format!(
        "parapet_e2e_{}_{}",
        std::process::id(),
        parapet_store::now()
    );
    let mut admin = postgres::Client::connect(&pg_base(), postgres::NoTls)
        .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let relay = Relay::start(("127.0.0.1", 5432));
    let url = format!(
        "postgres://root@127.0.0.1:{}/test?options=-c%20search_path%3D{schema}&connect_timeout=3",
        relay.port
    );
    let agent = token_at(&url, "kiro", "agent", "agent:kiro");
    let alice = token_at(&url, "alice", "approver", "human:alice");
    let bob = token_at(&url, "bob", "approver", "human:bob");
    let a = serve(&url);
    let b = serve(&url);

    // Requested on replica A, approved on both, seen approved on A.
    let call =
        json!({"call": {"action": "iam:CreateAccessKey", "params": {"UserName": "deploy-bot"}}})
            .to_string();
    let (s, v) = http(a.port, "POST", "/v1/decisions", Some(&agent), Some(&call));
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "pending");
    let id = v["id"].as_str().unwrap().to_string();
    let vote = json!({"content_hash": v["content_hash"]}).to_string();
    let path = format!("/v1/decisions/{id}/approve");
    let (s, v) = http(b.port, "POST", &path, Some(&alice), Some(&vote));
    assert_eq!(s, 200, "{v}");
    // A double click on the other replica counts once.
    let (s, v) = http(a.port, "POST", &path, Some(&alice), Some(&vote));
    assert_eq!(
        (s, v["approval"]["approvals"].as_u64()),
        (200, Some(1)),
        "{v}"
    );
    let (_, v) = http(a.port, "POST", &path, Some(&bob), Some(&vote));
    assert_eq!(v["state"], "approved", "{v}");
    let (_, v) = http(
        a.port,
        "GET",
        &format!("/v1/decisions/{id}"),
        Some(&agent),
        None,
    );
    assert_eq!(v["state"], "approved");

    // The database goes away: deny with a clear reason, not ready, nothing allowed.
    relay.cut();
    // Past the cached incident/pin state (STATE_TTL, 1 s): requests now fail reading
    // it, so the decision writer never touches its connection during the outage and
    // must find it dead only after the database returns.
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let allowed = json!({"call": {"action": "s3:ListAllMyBuckets"}}).to_string();
    for srv in [&a, &b] {
        let (s, v): (u16, Value) = http(
            srv.port,
            "POST",
            "/v1/decisions",
            Some(&agent),
            Some(&allowed),
        );
        assert_eq!(s, 503, "{v}");
        assert_eq!(v["outcome"], "deny");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("unavailable, failing closed"),
            "{v}"
        );
        assert_eq!(http(srv.port, "GET", "/readyz", None, None).0, 503);
        assert_eq!(http(srv.port, "GET", "/healthz", None, None).0, 200);
    }

    // It returns: decisions resume without a restart.
    relay.restore();
    let (s, v) = http(
        a.port,
        "POST",
        "/v1/decisions",
        Some(&agent),
        Some(&allowed),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "allowed");
    assert_eq!(http(b.port, "GET", "/readyz", None, None).0, 200);

    // One chain across both replicas, verified by the CLI against the same database.
    let o = bin()
        .args(["audit", "verify", "--database", &url])
        .output()
        .unwrap();
    assert!(exited(o, 0).contains("intact"));
    drop((a, b));
    let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}
