//! One API call through the knowledge layer and the built-in pack, as `parapet call
//! check`, the decision service and the proxy judge it: any action name, resource and
//! JSON parameters (API or CloudTrail shapes). Input: the action on the first line, the
//! resource (or nothing) on the second, the parameters after. A report or a refused
//! call, never a panic; an action the catalog does not know is never allowed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_gate::{check_call, masked_params, ApiCall, CallOptions};
use parapet_model::{Actor, Outcome};
use std::sync::OnceLock;

static ENGINE: OnceLock<parapet_policy::PolicyEngine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let action = lines.next().unwrap_or_default();
    let resource = lines.next().filter(|r| !r.is_empty()).map(String::from);
    // Parameters that are not JSON still reach the call as a string: it must refuse them.
    let params = match lines.next() {
        None => serde_json::Value::Null,
        Some(p) => serde_json::from_str(p).unwrap_or_else(|_| p.into()),
    };
    let Ok(call) = ApiCall::new(action, resource, params) else {
        return;
    };
    let engine = ENGINE.get_or_init(|| parapet_policy::PolicyEngine::load(None).unwrap());
    for actor in ["agent:fuzz", "human:fuzz"] {
        let opts = CallOptions {
            actor: Actor::parse(actor).unwrap(),
            incident: None,
            critical: Default::default(),
            account: Some("111122223333".into()),
        };
        let report = check_call(&call, &opts, engine);
        if report.access_level.is_none() {
            // 70-unknown.cedar: deny for automation, review for people.
            let want = if opts.actor.kind.is_automation() {
                Outcome::Deny
            } else {
                Outcome::Review
            };
            assert!(
                report.decision.outcome >= want,
                "{}: {:?}",
                report.action,
                report.decision
            );
        }
        serde_json::to_string(&report).expect("a call report serialises");
    }
    serde_json::to_string(&masked_params(&call.params)).expect("masked parameters serialise");
});
