//! How long the per-call kill-switch read (`App::frozen_now`) takes on each store, in
//! process: 200 warm-up reads, then 5,000 timed ones; prints p50, p99 and max. A
//! measurement, run by `bench/freeze.sh`; never part of the tests.
//!
//! `cargo run --release -p parapet-server --example frozen_now -- [POSTGRES_URL]`:
//! a fresh SQLite file always; PostgreSQL too when a URL is given (a fresh schema in
//! it, dropped afterwards).

use parapet_policy::PolicyEngine;
use parapet_server::{App, ServerConfig, WebhookSecrets};
use parapet_store::{new_secret, open};

fn measure(location: &str) {
    let app = std::sync::Arc::new(App::new(
        open(location).expect("open the store"),
        PolicyEngine::load(None).expect("embedded policies"),
        ServerConfig::default(),
        WebhookSecrets::default(),
    ));
    let backend = app.store.backend();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for _ in 0..200 {
            app.frozen_now("agent:kiro").await.expect("frozen_now");
        }
        let mut took: Vec<f64> = Vec::with_capacity(5000);
        for _ in 0..5000 {
            let t = std::time::Instant::now();
            app.frozen_now("agent:kiro").await.expect("frozen_now");
            took.push(t.elapsed().as_secs_f64() * 1e6);
        }
        took.sort_by(f64::total_cmp);
        let q = |p: f64| took[((took.len() as f64 - 1.0) * p) as usize];
        println!(
            "{backend}: frozen_now p50 {:.0} us, p99 {:.0} us, max {:.0} us",
            q(0.5),
            q(0.99),
            q(1.0)
        );
    });
}

fn main() {
    let dir = std::env::temp_dir().join(format!("parapet-freeze-{}", new_secret()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    measure(dir.join("p.db").to_str().expect("utf-8 path"));
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(base) = std::env::args().nth(1) {
        let schema = format!("parapet_b_{}", &new_secret()[..12]);
        let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL");
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        measure(&format!("{base}{sep}options=-c%20search_path%3D{schema}"));
        let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
