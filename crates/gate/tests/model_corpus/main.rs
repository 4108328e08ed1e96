//! Issue 22, driven by AWS's service models: every write operation of the services in
//! crates/wire's botocore corpus (one request per operation, with the parameters botocore
//! was given), judged as an agent would ask, in the API's shape and in CloudTrail's
//! (camelCase, EC2's `items` wrappers). A write is never allowed with no effects unless
//! parapet read the resource it acts on, or the model says its input names none (it
//! makes something new, or acts on the account); a write whose target cannot be read or
//! placed is an `Unknown` effect with its reason.

#[path = "../common/mod.rs"]
mod common;
mod corpus;
mod risky;

use common::engine;
use corpus::{cloudtrail, corpus};
use parapet_aws::api::{analyze_call, ids, ApiCall, CallAnalysis};
use parapet_aws::AccessLevel;
use parapet_gate::{check_call, CallOptions};
use parapet_model::{Actor, CallReport, Effect, Outcome, Unrecognised};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub fn agent() -> CallOptions {
    CallOptions {
        actor: Actor::parse("agent:corpus").unwrap(),
        incident: None,
        critical: Default::default(),
        account: Some("111122223333".into()),
    }
}

/// Where a write lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lands {
    /// Not in the IAM catalog: denied for automation.
    UnknownAction,
    /// An `Unknown` effect (parameters or resource type): reviewed with the reason.
    Unknown,
    /// Effects parapet knows.
    Effects,
    /// No effects; the resource it acts on was read and placed.
    PlacedAndRead,
    /// No effects; the model's input names no existing resource (it makes one, or acts
    /// on the account).
    NamesNothing,
    /// No effects; the model makes naming the target optional and the call leaves it
    /// out, so AWS acts on the default one (the default event bus, the caller's own user).
    Default,
    /// Allowed with no effects, although parapet did not read what it acts on.
    Miss,
}

fn lands(a: &CallAnalysis, r: &CallReport, action: &str) -> Lands {
    if a.level.is_none() {
        return Lands::UnknownAction;
    }
    if r.effects
        .iter()
        .any(|e| matches!(e, Effect::Unknown { .. }))
    {
        return Lands::Unknown;
    }
    if !r.effects.is_empty() {
        return Lands::Effects;
    }
    if a.placed && !a.resources.is_empty() {
        return Lands::PlacedAndRead;
    }
    let (svc, op) = action.split_once(':').unwrap();
    let (svc, op) = parapet_aws::api::normalise(svc, op).unwrap();
    let target = ids::target(&svc, op);
    if a.placed && target.is_none_or(|t| t.parts.is_empty()) {
        return Lands::NamesNothing;
    }
    if a.placed && target.is_some_and(|t| t.parts.iter().all(|p| !p.required)) {
        return Lands::Default;
    }
    Lands::Miss
}

fn is_write(a: &CallAnalysis) -> bool {
    matches!(
        a.level,
        None | Some(AccessLevel::Write | AccessLevel::PermissionsManagement | AccessLevel::Tagging)
    )
}

#[test]
fn every_write_in_the_models_is_read_placed_or_reviewed() {
    let corpus = corpus();
    assert!(corpus.len() > 5000, "{}", corpus.len());
    let mut counts: BTreeMap<Lands, usize> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut shape_diffs = Vec::new();
    let mut unread = Vec::new();
    let mut writes = 0;
    for (service, op, action, params) in &corpus {
        let call = ApiCall::new(action, None, params.clone()).unwrap();
        let a = analyze_call(&call, Some("111122223333"));
        if !is_write(&a) {
            continue;
        }
        writes += 1;
        let r = check_call(&call, &agent(), engine());
        let l = lands(&a, &r, action);
        *counts.entry(l).or_default() += 1;
        if std::env::var_os("PARAPET_CORPUS_DUMP").is_some() {
            let ids: Vec<_> = r.effects.iter().map(|e| e.summary()).collect();
            eprintln!("LANDS {l:?} {action} {:?} {ids:?}", r.decision.outcome);
        }
        // botocore refuses to send a request without the model's required members, so a
        // target the models require is always there to read.
        for e in &r.effects {
            if let Effect::Unknown { why, .. } = e {
                if why.contains("it acts on cannot be read") {
                    unread.push(format!("{action}: {why}"));
                }
            }
        }
        if l == Lands::Miss {
            misses.push(format!(
                "{action} ({service}:{op}) placed={} {:?}",
                a.placed, a.resources
            ));
        }
        // Only a call whose target was read, or whose input names none, is allowed
        // with no effects.
        if r.decision.outcome == Outcome::Allow && r.effects.is_empty() {
            assert!(
                matches!(
                    l,
                    Lands::PlacedAndRead | Lands::NamesNothing | Lands::Default | Lands::Miss
                ),
                "{action}: {l:?}"
            );
        }
        // The same call as CloudTrail records it reads the same.
        let trail = cloudtrail(service, op, params);
        let ct = analyze_call(
            &ApiCall::new(action, None, trail.clone()).unwrap(),
            Some("111122223333"),
        );
        let ids_of = |x: &CallAnalysis| x.effects.iter().map(Effect::id).collect::<BTreeSet<_>>();
        if ids_of(&ct) != ids_of(&a)
            || ct.placed != a.placed
            || ct.resources.len() != a.resources.len()
        {
            shape_diffs.push(format!(
                "{action}: API {:?} {} {:?} / CloudTrail {:?} {} {:?}",
                ids_of(&a),
                a.placed,
                a.resources.len(),
                ids_of(&ct),
                ct.placed,
                ct.resources.len()
            ));
        }
    }
    eprintln!("model corpus: {writes} write operations: {counts:?}");
    for m in misses.iter().take(80) {
        eprintln!("MISS {m}");
    }
    for d in shape_diffs.iter().take(80) {
        eprintln!("SHAPE {d}");
    }
    assert!(writes > 2500, "{writes}");
    assert!(misses.is_empty(), "{} misses", misses.len());
    assert!(unread.is_empty(), "{unread:?}");
    assert!(
        shape_diffs.is_empty(),
        "{} shape differences",
        shape_diffs.len()
    );
}

/// Unknown effects say why.
#[test]
fn unknown_writes_say_why() {
    for (_, _, action, _) in corpus().iter().take(400) {
        let call = ApiCall::new(action, None, Value::Object(Default::default())).unwrap();
        let r = check_call(&call, &agent(), engine());
        for e in &r.effects {
            if let Effect::Unknown {
                unrecognised, why, ..
            } = e
            {
                assert!(!why.is_empty(), "{action}");
                if *unrecognised == Unrecognised::Parameters {
                    assert_ne!(r.decision.outcome, Outcome::Allow, "{action}");
                }
            }
        }
    }
}
