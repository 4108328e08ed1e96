//! Test harness: a proxy in process over a fresh SQLite store, an agent key, a signing
//! client, and upstreams (a recording fake, or moto server).

#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parapet_proxy::{CredentialSource, Proxy, ProxyConfig};
use parapet_server::{App, ServerConfig};
use parapet_store::Role;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The proxy's real credentials in tests: they must never show in an answer.
pub const REAL_KEY: &str = "AKIAREALPROXYKEY0001";
pub const REAL_SECRET: &str = "real-secret-7f3a9c1e5b-never-shown";
pub const REGION: &str = "us-east-1";
pub const ACTOR: &str = "agent:kiro";

pub struct Env {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub proxy: Proxy,
    pub key: String,
    pub secret: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Env {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sign as the agent and send through the proxy.
    pub async fn call(&self, r: Req) -> (u16, http::HeaderMap, Bytes) {
        let req = r.signed(&self.url(), &self.key, &self.secret);
        send(req).await
    }
}

pub async fn start(upstream: &str, configure: impl FnOnce(&mut ProxyConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parapet.db").to_str().unwrap().to_string();
    start_on(dir, &db, None, upstream, configure).await
}

/// A proxy on the database at `db` (a SQLite path or a PostgreSQL URL); `agent`: an
/// existing key to use instead of creating one.
pub async fn start_on(
    dir: tempfile::TempDir,
    db: &str,
    agent: Option<(String, String)>,
    upstream: &str,
    configure: impl FnOnce(&mut ProxyConfig),
) -> Env {
    // The PostgreSQL client blocks: never on an async thread.
    let location = db.to_string();
    let store = tokio::task::spawn_blocking(move || parapet_store::open(&location).unwrap())
        .await
        .unwrap();
    let engine = parapet_policy::PolicyEngine::load(None).unwrap();
    let server = ServerConfig {
        public_url: "http://parapet.test".into(),
        ..Default::default()
    };
    let app = Arc::new(App::new(store, engine, server, Default::default()));
    let credential_key = vec![7u8; 32];
    let (key, secret) = match agent {
        Some(k) => k,
        None => {
            let a = app.clone();
            let (_, key) = tokio::task::spawn_blocking(move || {
                a.store
                    .create_aws_token("kiro", Role::Agent, ACTOR, None, "human:test")
                    .unwrap()
            })
            .await
            .unwrap();
            let secret = parapet_store::aws_secret(&credential_key, &key);
            (key, secret)
        }
    };
    let mut config = ProxyConfig {
        upstream: Some(upstream.to_string()),
        public_url: "http://parapet.test".into(),
        credentials: CredentialSource::Static(Credentials::new(
            REAL_KEY,
            REAL_SECRET,
            None,
            None,
            "test",
        )),
        ..Default::default()
    };
    configure(&mut config);
    let proxy = Proxy::new(app.clone(), config, credential_key)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let p = proxy.clone();
    tokio::spawn(async move {
        p.serve_until(listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Env {
        addr,
        app,
        proxy,
        key,
        secret,
        stop: Some(stop),
        _dir: dir,
    }
}

/// A request to sign.
#[derive(Clone)]
pub struct Req {
    pub method: &'static str,
    /// Path and query, raw.
    pub target: String,
    pub service: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// `x-amz-content-sha256` to declare (S3 style); `None`: not sent (others).
    pub content_sha: Option<String>,
    pub time: SystemTime,
    pub host: Option<String>,
}

pub fn sha(b: &[u8]) -> String {
    parapet_sigv4::sha256_hex(b)
}

impl Req {
    /// Like the SDKs, every request carries a fresh `amz-sdk-invocation-id`, so two
    /// calls in the same second are not the same signed bytes.
    pub fn new(method: &'static str, target: &str, service: &'static str) -> Req {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Req {
            method,
            target: target.into(),
            service,
            headers: vec![(
                "amz-sdk-invocation-id".into(),
                format!("{}-{n}", std::process::id()),
            )],
            body: Bytes::new(),
            content_sha: None,
            time: SystemTime::now(),
            host: None,
        }
    }

    /// A query-protocol call: `Action=...&Version=...` as a form body.
    pub fn query(service: &'static str, form: &str) -> Req {
        Req::new("POST", "/", service)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(form.as_bytes().to_vec())
    }

    /// A json-protocol call.
    pub fn json(service: &'static str, target: &str, body: &str) -> Req {
        Req::new("POST", "/", service)
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.as_bytes().to_vec())
    }

    /// An S3 call, its body hash declared.
    pub fn s3(method: &'static str, target: &str, body: impl Into<Bytes>) -> Req {
        let body = body.into();
        let mut r = Req::new(method, target, "s3").body(body);
        r.content_sha = Some(sha(&r.body));
        r
    }

    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn body(mut self, b: impl Into<Bytes>) -> Req {
        self.body = b.into();
        self
    }

    /// The request as signed with `key`/`secret` for `base` (`http://host:port`).
    pub fn signed(&self, base: &str, key: &str, secret: &str) -> Request<Full<Bytes>> {
        self.sign_as(base, key, secret, false)
    }

    /// A presigned URL form of the request (signature in the query, 5 minutes).
    pub fn presigned(&self, base: &str, key: &str, secret: &str) -> Request<Full<Bytes>> {
        self.sign_as(base, key, secret, true)
    }

    fn sign_as(&self, base: &str, key: &str, secret: &str, presign: bool) -> Request<Full<Bytes>> {
        let uri: http::Uri = format!("{base}{}", self.target).parse().unwrap();
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| uri.authority().unwrap().to_string());
        let mut headers: Vec<(String, String)> = vec![("host".into(), host)];
        headers.extend(self.headers.iter().cloned());
        if let Some(h) = self.content_sha.as_ref().filter(|_| !presign) {
            headers.push(("x-amz-content-sha256".into(), h.clone()));
        }
        let s3 = self.service == "s3";
        let mut settings = SigningSettings::default();
        if s3 {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        if presign {
            settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let identity = Credentials::new(key, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let body = match &self.content_sha {
            _ if presign => SignableBody::UnsignedPayload,
            Some(h) => SignableBody::Precomputed(h.clone()),
            None => SignableBody::Bytes(&self.body),
        };
        let signable = SignableRequest::new(
            self.method,
            uri.to_string(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut b = Request::builder().method(self.method).uri(uri);
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let mut req = b.body(Full::new(self.body.clone())).unwrap();
        instructions.apply_to_request_http1x(&mut req);
        req
    }
}

pub async fn send(req: Request<Full<Bytes>>) -> (u16, http::HeaderMap, Bytes) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (status, parts.headers, body)
}

/// Raw bytes to an address, the whole answer back (the server closes or 5 s pass).
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// What a fake upstream received (complete requests only).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// An upstream that records each complete request and answers 200 with a fixed XML
/// body and headers of its own; `hang`: it reads the request and never answers.
pub async fn fake(hang: bool) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Default::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let s = s.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        s.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        });
                        if hang {
                            std::future::pending::<()>().await;
                        }
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .status(200)
                                .header("x-upstream", "fake")
                                .header("content-type", "text/xml")
                                .body(Full::new(Bytes::from_static(FAKE_BODY)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Fake { addr, seen }
}

pub const FAKE_BODY: &[u8] = b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/fake</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// moto server on a free port, killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sign with the real credentials and call moto directly.
    pub async fn call(&self, r: Req) -> (u16, http::HeaderMap, Bytes) {
        send(r.signed(&self.url(), REAL_KEY, REAL_SECRET)).await
    }
}

/// moto from target/moto (scripts/test installs it).
pub fn moto() -> Moto {
    let server = root().join("target/moto/bin/moto_server");
    assert!(
        server.exists(),
        "{} is missing: run scripts/test once (it installs moto)",
        server.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed and waited for on drop, also when it never comes up.
    let moto = Moto { child, port };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return moto;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto server did not start");
}

pub fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The proxy's real secret appears nowhere in an answer.
pub fn no_secret(headers: &http::HeaderMap, body: &Bytes) {
    let all = format!("{headers:?}{}", text(body));
    assert!(!all.contains(REAL_SECRET), "the real secret leaked: {all}");
}

/// CRC-32 (IEEE), base64, as `x-amz-checksum-crc32` carries it.
pub fn crc32_b64(data: &[u8]) -> String {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    let bytes = (!crc).to_be_bytes();
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
    let mut out: String = (0..4)
        .map(|i| A[((n >> (18 - 6 * i)) & 63) as usize] as char)
        .collect();
    let m = u32::from(bytes[3]) << 16;
    out.push(A[((m >> 18) & 63) as usize] as char);
    out.push(A[((m >> 12) & 63) as usize] as char);
    out.push_str("==");
    out
}

/// A fresh schema in the test PostgreSQL (`PARAPET_TEST_POSTGRES`, default the
/// machine's, database `test`): its URL, and a guard that drops it.
pub fn pg_schema() -> (String, PgSchema) {
    let base = std::env::var("PARAPET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let schema = format!("parapet_proxy_{}", &parapet_store::new_secret()[..12]);
    // The blocking client runs on a thread of its own (callers are async).
    let sql = format!("CREATE SCHEMA {schema}");
    let at = base.clone();
    std::thread::spawn(move || {
        postgres::Client::connect(&at, postgres::NoTls)
            .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running for this test")
            .batch_execute(&sql)
            .unwrap()
    })
    .join()
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        PgSchema { base, schema },
    )
}

pub struct PgSchema {
    base: String,
    schema: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA {} CASCADE", self.schema),
        );
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// An S3 PUT with a signed aws-chunked body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) in
/// 64 KiB chunks, each chunk signed in the chain from the request's signature;
/// `tamper` flips a byte of the second chunk after signing.
pub fn chunked_put(
    env: &Env,
    target: &str,
    payload: &[u8],
    tamper: bool,
) -> http::Request<http_body_util::Full<Bytes>> {
    let mut r = Req::new("PUT", target, "s3")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &payload.len().to_string());
    r.content_sha = Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into());
    let mut req = r.signed(&env.url(), &env.key, &env.secret);
    let auth = req.headers()["authorization"].to_str().unwrap().to_string();
    let mut prev = auth.rsplit("Signature=").next().unwrap().to_string();
    let amz_date = req.headers()["x-amz-date"].to_str().unwrap().to_string();
    let scope = format!("{}/{REGION}/s3/aws4_request", &amz_date[..8]);
    let key = parapet_sigv4::SigningKey::derive(&env.secret, &amz_date[..8], REGION, "s3");
    let mut out = Vec::new();
    let mut chunks: Vec<&[u8]> = payload.chunks(64 << 10).collect();
    chunks.push(&[]);
    for (i, c) in chunks.iter().enumerate() {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{}\n{}",
            parapet_sigv4::EMPTY_SHA256,
            sha(c)
        );
        let sig = key.sign(sts.as_bytes());
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        let start = out.len();
        out.extend_from_slice(c);
        if tamper && i == 1 {
            out[start] ^= 1;
        }
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    *req.body_mut() = http_body_util::Full::new(Bytes::from(out));
    req
}
