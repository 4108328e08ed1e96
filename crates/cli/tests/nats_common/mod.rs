//! NATS for the watch tests: a JetStream client on a small runtime, and a nats-server of
//! the test's own with TLS (a CA, server and client certificates made here) and a user.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn machine_url() -> String {
    std::env::var("PARAPET_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// The takeover demo's records (demo/trail/takeover) in time order, each as its JSON text.
pub fn takeover() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut events = Vec::new();
    parapet_trail::read_path(
        &root.join("demo/trail/takeover"),
        Default::default(),
        &mut |i| {
            if let parapet_trail::Item::Event(e) = i {
                events.push(*e);
            }
        },
    );
    events.sort_by_key(|e| e.time_ms);
    events.iter().map(|e| e.record.text().to_string()).collect()
}

/// A JetStream client for publishing and inspecting.
pub struct Js {
    pub rt: tokio::runtime::Runtime,
    pub js: async_nats::jetstream::Context,
}

impl Js {
    pub fn connect(url: &str, opts: async_nats::ConnectOptions) -> Js {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let c = rt
            .block_on(opts.connect(url))
            .unwrap_or_else(|e| panic!("NATS with JetStream at {url}: {e}"));
        // The JetStream context starts a task: it needs the runtime.
        let js = {
            let _in = rt.enter();
            async_nats::jetstream::new(c)
        };
        Js { rt, js }
    }

    pub fn stream(&self, name: &str, subject: &str) {
        self.rt
            .block_on(
                self.js
                    .get_or_create_stream(async_nats::jetstream::stream::Config {
                        name: name.into(),
                        subjects: vec![subject.into()],
                        ..Default::default()
                    }),
            )
            .unwrap();
    }

    /// Publish and wait until the stream has stored it.
    pub fn publish(&self, subject: &str, body: &[u8]) {
        self.rt.block_on(async {
            self.js
                .publish(subject.to_string(), body.to_vec().into())
                .await
                .unwrap()
                .await
                .unwrap();
        });
    }

    /// Wait until durable consumer `consumer` of `stream` has every message of the stream
    /// delivered and acknowledged (it may not exist yet: its workers create it).
    pub fn wait_consumed(&self, stream: &str, consumer: &str, within: Duration) {
        let until = std::time::Instant::now() + within;
        self.rt.block_on(async {
            loop {
                let s = self.js.get_stream(stream).await.unwrap();
                if let Ok(mut c) = s
                    .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
                    .await
                {
                    let info = c.info().await.unwrap();
                    if info.num_pending == 0 && info.num_ack_pending == 0 {
                        return;
                    }
                }
                assert!(
                    std::time::Instant::now() < until,
                    "consumer {consumer} of {stream} did not catch up within {within:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    /// Every message of a stream, in order.
    pub fn messages(&self, stream: &str) -> Vec<Vec<u8>> {
        self.rt.block_on(async {
            let mut s = self.js.get_stream(stream).await.unwrap();
            let last = s.info().await.unwrap().state.last_sequence;
            let mut out = Vec::new();
            for seq in 1..=last {
                if let Ok(m) = s.get_raw_message(seq).await {
                    out.push(m.payload.to_vec());
                }
            }
            out
        })
    }

    pub fn delete_stream(&self, name: &str) {
        let _ = self.rt.block_on(self.js.delete_stream(name));
    }

    pub fn delete_kv(&self, name: &str) {
        let _ = self.rt.block_on(self.js.delete_key_value(name));
    }
}

/// Files of a test PKI: CA, server (for 127.0.0.1 and localhost), client.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub fn pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "parapet test CA");
    let ca = p.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (sc, sk) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (cc, ck) = leaf(vec!["worker".into()], ExtendedKeyUsagePurpose::ClientAuth);
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: w("ca.pem", &ca.pem()),
        server_cert: w("server.pem", &sc),
        server_key: w("server.key", &sk),
        client_cert: w("client.pem", &cc),
        client_key: w("client.key", &ck),
    }
}

/// A nats-server of the test's own, killed when dropped.
pub struct NatsServer {
    pub child: Child,
    pub url: String,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JetStream with TLS (clients must present a certificate signed by the CA) and a
/// user with a password.
pub fn tls_server(dir: &Path, pki: &Pki, user: &str, password: &str) -> NatsServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?} }}\ntls {{ cert_file: {:?}\n key_file: {:?}\n ca_file: {:?}\n verify: true }}\nauthorization {{ user: {user:?}\n password: {password:?} }}\n",
            dir.join("js").display().to_string(),
            pki.server_cert.display().to_string(),
            pki.server_key.display().to_string(),
            pki.ca.display().to_string(),
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/nats-server")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/sbin/nats-server");
    let url = format!("tls://127.0.0.1:{port}");
    // Ready when it accepts connections.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    NatsServer { child, url }
}

pub fn tls_options(pki: &Pki, user: &str, password: &str) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(pki.ca.clone())
        .add_client_certificate(pki.client_cert.clone(), pki.client_key.clone())
        .require_tls(true)
        .user_and_password(user.into(), password.into())
}
