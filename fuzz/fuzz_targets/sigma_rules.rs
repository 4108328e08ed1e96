//! Sigma rule files (YAML, conditions, modifiers, correlations) on arbitrary text:
//! a rule loads or is refused with a reason, never a panic; loaded rules evaluate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_detect::sigma;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(rules) = sigma::rule::parse_file("fuzz.yml", text) {
        if let Ok(engine) = sigma::Engine::new(rules, Default::default()) {
            let ev = serde_json::json!({"eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "a": {"b": [1, "x"]}});
            let mut out = Vec::new();
            engine.evaluate(&sigma::Doc { raw: &ev, extra: None }, &mut out);
        }
    }
});
