//! Open-loop load for `parapet proxy aws` (bench/proxy.sh). Every request is signed
//! afresh with AWS's own SigV4 signer (aws-sigv4) and carries a unique
//! `amz-sdk-invocation-id`, as the SDKs send it: the proxy refuses a signature it has
//! seen, so a tool that resends identical bytes (oha, wrk) measures refusals.
//!
//! Open loop: request i is due at start + i/rate and its latency runs from then, not
//! from when a connection was free (no coordinated omission). `--rate 0` is closed
//! loop instead: `--connections` workers send back to back, for the ceiling.
//! Percentiles from an HDR histogram (1 us to 60 s, 3 significant digits). Prints one
//! JSON object.
//!
//! Calls: `read` = STS GetCallerIdentity (query protocol), `write` = S3 PutObject of
//! 1 KiB to a new key, `put` = S3 PutObject of `--size` bytes (payload hash signed).

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

struct Args {
    url: String,
    call: String,
    rate: f64,
    duration: f64,
    warmup: f64,
    connections: usize,
    threads: usize,
    count: u64,
    size: usize,
    bucket: String,
    key_id: String,
    secret: String,
    region: String,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        call: "read".into(),
        rate: 1000.0,
        duration: 10.0,
        warmup: 1.0,
        connections: 64,
        threads: 1,
        count: 0,
        size: 1024,
        bucket: "bench".into(),
        key_id: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
        secret: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        region: "eu-west-1".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| die(&format!("{flag} needs a value")));
        let num = |v: &str| -> f64 { v.parse().unwrap_or_else(|_| die(&format!("{flag} {v}"))) };
        match flag.as_str() {
            "--url" => a.url = v.trim_end_matches('/').to_string(),
            "--call" => a.call = v,
            "--rate" => a.rate = num(&v),
            "--duration" => a.duration = num(&v),
            "--warmup" => a.warmup = num(&v),
            "--connections" => a.connections = num(&v) as usize,
            "--threads" => a.threads = num(&v) as usize,
            "--count" => a.count = num(&v) as u64,
            "--size" => a.size = num(&v) as usize,
            "--bucket" => a.bucket = v,
            "--region" => a.region = v,
            _ => die(&format!("unknown flag {flag}")),
        }
    }
    if a.url.is_empty() || a.key_id.is_empty() || a.secret.is_empty() {
        die("usage: AWS_ACCESS_KEY_ID=.. AWS_SECRET_ACCESS_KEY=.. loadgen --url URL [--call read|write|put] [--rate N|0] [--duration S] [--count N] [--connections C] [--size BYTES]");
    }
    if !matches!(a.call.as_str(), "read" | "write" | "put") {
        die("--call is read, write or put");
    }
    a
}

fn die(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    std::process::exit(2)
}

/// What every request shares: the endpoint, the keys, the body of `put`.
struct Plan {
    url: String,
    host: String,
    call: String,
    bucket: String,
    region: String,
    identity: Identity,
    big: Bytes,
    big_sha: String,
    run: u64,
}

impl Plan {
    /// Request number `seq`, signed now.
    fn request(&self, seq: u64) -> http::Request<Full<Bytes>> {
        let invocation = format!("{:016x}-{seq:016x}", self.run);
        let (method, path, service, content_type, body, sha) = match self.call.as_str() {
            "read" => {
                let b = Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15");
                let sha = hex::encode(Sha256::digest(&b));
                (
                    "POST",
                    "/".to_string(),
                    "sts",
                    "application/x-www-form-urlencoded; charset=utf-8",
                    b,
                    sha,
                )
            }
            "write" => {
                let b = Bytes::from(vec![b'x'; 1024]);
                let sha = hex::encode(Sha256::digest(&b));
                let path = format!("/{}/w/{invocation}", self.bucket);
                ("PUT", path, "s3", "application/octet-stream", b, sha)
            }
            _ => {
                let path = format!("/{}/big/{invocation}", self.bucket);
                (
                    "PUT",
                    path,
                    "s3",
                    "application/octet-stream",
                    self.big.clone(),
                    self.big_sha.clone(),
                )
            }
        };
        let uri = format!("{}{path}", self.url);
        let mut settings = SigningSettings::default();
        if service == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing parameters")
            .into();
        let len = body.len().to_string();
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", content_type),
            ("content-length", len.as_str()),
            ("amz-sdk-invocation-id", invocation.as_str()),
        ];
        let signable = SignableRequest::new(
            method,
            &uri,
            headers.iter().copied(),
            SignableBody::Precomputed(sha),
        )
        .expect("a signable request");
        let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
        let mut b = http::Request::builder().method(method).uri(&uri);
        for (k, v) in headers {
            b = b.header(k, v);
        }
        let mut req = b.body(Full::new(body)).expect("a request");
        instructions.apply_to_request_http1x(&mut req);
        req
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    codes: Mutex<BTreeMap<u16, u64>>,
    sample: Mutex<Option<String>>,
}

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Send one request; record its latency from `due` unless still warming up.
async fn one(
    client: &Http,
    plan: &Plan,
    seq: u64,
    due: Instant,
    record: bool,
    hist: &Mutex<Histogram<u64>>,
    tally: &Tally,
) {
    let req = plan.request(seq);
    let result = async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body))
    }
    .await;
    let took = due.elapsed();
    if !record {
        return;
    }
    match result {
        Ok((status, body)) => {
            if (200..300).contains(&status) {
                tally.ok.fetch_add(1, Ordering::Relaxed);
            } else {
                *tally.codes.lock().unwrap().entry(status).or_default() += 1;
                tally.sample.lock().unwrap().get_or_insert_with(|| {
                    String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned()
                });
            }
        }
        Err(e) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            tally.sample.lock().unwrap().get_or_insert(e);
        }
    }
    let us = took.as_micros().clamp(1, 60_000_000) as u64;
    hist.lock().unwrap().record(us).expect("in range");
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let host = a
        .url
        .split("://")
        .nth(1)
        .unwrap_or(&a.url)
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let big = Bytes::from(
        (0..a.size)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let big_sha = hex::encode(Sha256::digest(&big));
    let run = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let plan = Arc::new(Plan {
        url: a.url.clone(),
        host,
        call: a.call.clone(),
        bucket: a.bucket.clone(),
        region: a.region.clone(),
        identity: Credentials::new(&a.key_id, &a.secret, None, None, "loadgen").into(),
        big,
        big_sha,
        run,
    });
    let client: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.connections)
        .build_http();
    let hist = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let tally = Arc::new(Tally::default());
    let slots = Arc::new(tokio::sync::Semaphore::new(a.connections.max(1)));
    let start = Instant::now();
    let warm = start + Duration::from_secs_f64(a.warmup);
    let end = warm + Duration::from_secs_f64(a.duration);
    let seq = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let measured_start;
    if a.rate > 0.0 {
        // Open loop: a pacer thread wakes at each request's due time (an OS sleep, tens
        // of microseconds late at most; tokio's timer would be up to a millisecond late)
        // and hands it over; it is sent whatever else is in flight.
        let interval = Duration::from_secs_f64(1.0 / a.rate);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
        let count = a.count;
        let pacer = std::thread::spawn(move || {
            let mut i: u64 = 0;
            loop {
                let due = start + interval.mul_f64(i as f64);
                if due >= end || (count > 0 && i >= count) {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.send((i, due)).is_err() {
                    break;
                }
                i += 1;
            }
        });
        while let Some((i, due)) = rx.recv().await {
            let (c, p, h, t, s) = (
                client.clone(),
                plan.clone(),
                hist.clone(),
                tally.clone(),
                slots.clone(),
            );
            tasks.spawn(async move {
                let _slot = s.acquire_owned().await.unwrap();
                one(&c, &p, i, due, due >= warm, &h, &t).await;
            });
            // Reap finished tasks now and then so the set stays small.
            while tasks.try_join_next().is_some() {}
        }
        pacer.join().expect("the pacer");
        measured_start = warm;
    } else {
        // Closed loop: each worker sends back to back until the end (or the count).
        for _ in 0..a.connections.max(1) {
            let (c, p, h, t, n) = (
                client.clone(),
                plan.clone(),
                hist.clone(),
                tally.clone(),
                seq.clone(),
            );
            let count = a.count;
            tasks.spawn(async move {
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    let i = n.fetch_add(1, Ordering::Relaxed);
                    if count > 0 && i >= count {
                        break;
                    }
                    one(&c, &p, i, now, now >= warm || count > 0, &h, &t).await;
                }
            });
        }
        measured_start = if a.count > 0 { start } else { warm };
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = measured_start.elapsed().as_secs_f64().max(1e-9);
    let h = hist.lock().unwrap();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let codes: Vec<String> = tally
        .codes
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    let sample = tally.sample.lock().unwrap().clone().unwrap_or_default();
    println!(
        "{{\"call\": \"{}\", \"url\": \"{}\", \"asked_rate\": {}, \"connections\": {}, \"sent\": {}, \"ok\": {}, \"errors\": {}, \"non_2xx\": {{{}}}, \"answered_rate\": {:.1}, \"p50_ms\": {:.3}, \"p90_ms\": {:.3}, \"p99_ms\": {:.3}, \"p999_ms\": {:.3}, \"max_ms\": {:.3}, \"mean_ms\": {:.3}, \"sample_failure\": {:?}}}",
        a.call,
        a.url,
        a.rate,
        a.connections,
        h.len(),
        tally.ok.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        codes.join(", "),
        h.len() as f64 / elapsed,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0,
        h.mean() / 1000.0,
        sample,
    );
}
