//! Any bytes through the whole gate: a plan that is read always gets a decision for
//! every change; one that is not read is an error. Never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<parapet_policy::PolicyEngine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| parapet_policy::PolicyEngine::load(None).unwrap());
    let opts = parapet_gate::GateOptions {
        actor: parapet_model::Actor::parse("agent:fuzz").unwrap(),
        incident: None,
        plan: Default::default(),
        input_name: "fuzz".into(),
    };
    if let Ok(report) = parapet_gate::check_plan(data, &opts, engine) {
        assert_eq!(report.changes.len(), report.counts.changes);
    }
});
