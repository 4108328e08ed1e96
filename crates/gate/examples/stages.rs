//! Times each stage of a plan check on one file: decode+parse, analysis, decisions,
//! rendering. `cargo run --release -p parapet-gate --example stages -- PLAN.json`
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: stages PLAN.json");
    let t = Instant::now();
    let bytes = std::fs::read(&path).unwrap();
    let read = t.elapsed();
    let t = Instant::now();
    let analysis = parapet_plan::analyze(&bytes, &Default::default()).unwrap();
    let analyze = t.elapsed();
    let t = Instant::now();
    let engine = parapet_policy::PolicyEngine::load(None).unwrap();
    let load = t.elapsed();
    let opts = parapet_gate::GateOptions {
        actor: parapet_model::Actor::parse("agent:kiro").unwrap(),
        incident: None,
        plan: Default::default(),
        input_name: path.clone(),
    };
    let t = Instant::now();
    let report = parapet_gate::check_plan(&bytes, &opts, &engine).unwrap();
    let full = t.elapsed();
    let t = Instant::now();
    let json = serde_json::to_string(&report).unwrap();
    let render = t.elapsed();
    println!(
        "{} changes; read {read:?}, analyze {analyze:?}, policy load {load:?}, check (analyze+decide) {full:?}, json {render:?} ({} bytes)",
        analysis.changes.len(),
        json.len()
    );
}
