//! Publish JSON lines from standard input to a NATS subject, one message per line, at an
//! optional rate: the load generator for `bench/trail.sh`.
//!
//!     nats_publish URL SUBJECT [EVENTS_PER_SECOND] < events.jsonl
//!     DELETE_STREAM=NAME nats_publish URL SUBJECT < /dev/null   # clean up afterwards

use std::io::BufRead;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: nats_publish URL SUBJECT [EVENTS_PER_SECOND] < events.jsonl");
        std::process::exit(2);
    }
    let rate: f64 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(0.0);
    let c = async_nats::connect(&args[1]).await.expect("connect");
    let start = Instant::now();
    let mut n = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        if line.is_empty() {
            continue;
        }
        c.publish(args[2].clone(), line.into_bytes().into())
            .await
            .expect("publish");
        n += 1;
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    // A flush makes sure the server has everything before we exit.
    c.flush().await.expect("flush");
    if let Ok(stream) = std::env::var("DELETE_STREAM") {
        let _ = async_nats::jetstream::new(c.clone())
            .delete_stream(&stream)
            .await;
    }
    eprintln!(
        "published {n} messages in {:.2}s",
        start.elapsed().as_secs_f64()
    );
}
