//! A user's Cedar policy file (any text) loaded beside the built-in baseline, as
//! `--policies DIR` loads it: refused with the file named, or loaded and then deciding
//! one fixed set of facts without a panic, failing closed (an evaluation error is a
//! deny; a review says what approval it needs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_model::{Actor, Outcome};
use parapet_policy::{builtin_files, Facts, PolicyEngine, PolicyFile, ResourceFacts};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The baseline holds the permit; the user file adds to it. The other built-in files
    // cost every run their parsing and validation and are seeds instead.
    let mut files: Vec<PolicyFile> = builtin_files()
        .into_iter()
        .filter(|f| f.name == "00-baseline.cedar")
        .collect();
    files.push(PolicyFile {
        name: "90-user.cedar".into(),
        text: text.into(),
    });
    let engine = match PolicyEngine::from_files(files) {
        Ok(e) => e,
        Err(e) => {
            assert!(e.to_string().contains("90-user.cedar"), "{e}");
            return;
        }
    };
    let facts = Facts {
        actor: Actor::parse("agent:fuzz").unwrap(),
        action: "delete".into(),
        resource: ResourceFacts {
            resource_type: "aws_db_instance".into(),
            address: "module.prod.aws_db_instance.main".into(),
            tags: [("env".to_string(), "prod".to_string())].into(),
            critical: true,
            data_bearing: true,
        },
        effects: vec!["destroy".into(), "data_loss_possible".into()],
        max_severity: 4,
        writes: true,
        incident: Some("INC-1".into()),
        source: "plan".into(),
    };
    let d = engine.decide(&facts);
    if !d.errors.is_empty() {
        assert_eq!(d.outcome, Outcome::Deny, "{d:?}");
    }
    assert_eq!(d.outcome == Outcome::Review, d.approval.is_some(), "{d:?}");
    // The memo answers as a fresh evaluation did.
    let again = engine.decide(&facts);
    assert_eq!(again.outcome, d.outcome);
});
