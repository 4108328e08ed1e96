//! The bundled 8-minute takeover ends with its containment proposed: every access key
//! the lineage used deactivated (with its user), the hijacked role's old sessions
//! revoked, the back-door user quarantined, the opened port revoked; each step judged by
//! the gate and carrying its undo. Protected principals and the cap hold.

use parapet_detect::{Config, Detector, Incident};
use parapet_policy::PolicyEngine;
use parapet_respond::{propose, Limits, Playbooks};
use parapet_trail::{Item, Limits as ReadLimits};
use std::path::Path;

fn takeover() -> Incident {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/trail/takeover");
    let mut events = Vec::new();
    parapet_trail::read_path(&dir, ReadLimits::default(), &mut |i| match i {
        Item::Event(e) => events.push(*e),
        Item::Skipped { at, reason } => panic!("{at}: {reason}"),
    });
    events.sort_by_key(|e| e.time_ms);
    let mut d = Detector::new(Config::builtin()).unwrap();
    for e in &events {
        d.process(e);
    }
    // The attack's incident: the one with the most alerts.
    d.incidents()
        .into_iter()
        .max_by_key(|i| i.alerts.len())
        .cloned()
        .unwrap()
}

const NOW: &str = "2026-11-02T10:15:00Z";

#[test]
fn the_takeover_ends_with_its_containment_proposed() {
    let incident = takeover();
    let engine = PolicyEngine::load(None).unwrap();
    let plan = propose(
        &incident,
        &Playbooks::embedded(),
        &engine,
        &Limits::default(),
        NOW,
    );
    assert!(plan.dry_run);
    let titles: Vec<&str> = plan.proposals.iter().map(|p| p.title.as_str()).collect();
    for want in [
        "Deactivate access key AKIAEYKH2CMZ5ML24UMD of svc-reporting",
        "Deactivate access key AKIAHCJ6YFZEBYEZLKBW of ops-admin",
        "Deactivate access key AKIAHBY5RW3LIE5CHDMW of backup-svc",
        "Revoke the sessions of role invoice-exporter-role (account 111122223333) issued before 2026-11-02T10:15:00Z",
        "Quarantine user backup-svc: deny everything, keep it for forensics",
        "Revoke the ingress rules event",
    ] {
        assert!(
            titles.iter().any(|t| t.starts_with(want)),
            "{want} not in {titles:#?}"
        );
    }
    // One quarantine for the user however many alerts name it.
    assert_eq!(
        plan.proposals
            .iter()
            .filter(|p| p.step == "quarantine-created-user")
            .count(),
        1,
        "{titles:#?}"
    );
    let key = plan
        .proposals
        .iter()
        .find(|p| p.title.contains("AKIAHBY5RW3LIE5CHDMW"))
        .unwrap();
    assert_eq!(key.call.action, "iam:UpdateAccessKey");
    assert_eq!(key.call.params["Status"], "Inactive");
    assert_eq!(key.call.params["UserName"], "backup-svc");
    let undo = key.undo.as_ref().unwrap();
    assert_eq!(undo.params["Status"], "Active");
    assert!(key.missing.is_empty(), "{:?}", key.missing);
    let revoke = plan
        .proposals
        .iter()
        .find(|p| p.step == "revoke-role-sessions")
        .unwrap();
    let doc = revoke.call.params["PolicyDocument"].as_str().unwrap();
    let doc: serde_json::Value = serde_json::from_str(doc).expect("a JSON policy");
    assert_eq!(
        doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        NOW
    );
    // Every step is judged by the gate, and each says which policy decided: what only
    // takes access away (deactivating a key) runs at once; inline policies (which
    // replace any of the same name) wait for approvers.
    for p in &plan.proposals {
        assert!(
            ["allow", "review", "deny"].contains(&p.outcome.as_str()),
            "{p:?}"
        );
        assert!(!p.reason.is_empty());
    }
    for p in &plan.proposals {
        let want = match p.call.action.as_str() {
            "iam:UpdateAccessKey" | "iam:DeleteLoginProfile" | "ec2:ResetSnapshotAttribute" => {
                "allow"
            }
            "iam:PutRolePolicy" | "iam:PutUserPolicy" => "review",
            _ => continue,
        };
        assert_eq!(p.outcome, want, "{p:?}");
    }
    // The ingress step cannot know the rules from the alert alone: it says so.
    let ingress = plan
        .proposals
        .iter()
        .find(|p| p.step == "revoke-opened-ingress")
        .unwrap();
    assert!(ingress.call.params["IpPermissions"]
        .as_str()
        .unwrap()
        .contains("the ipPermissions of event"));
}

#[test]
fn protected_principals_and_the_cap_hold() {
    let incident = takeover();
    let engine = PolicyEngine::load(None).unwrap();
    let limits = Limits {
        max_steps: 2,
        protected: vec!["svc-reporting".into()],
    };
    let plan = propose(&incident, &Playbooks::embedded(), &engine, &limits, NOW);
    assert_eq!(plan.proposals.len(), 2);
    assert!(plan
        .proposals
        .iter()
        .all(|p| !p.title.contains("svc-reporting")));
    assert!(
        plan.left_out
            .iter()
            .any(|l| l.contains("svc-reporting is protected")),
        "{:?}",
        plan.left_out
    );
    assert!(
        plan.left_out.iter().any(|l| l.contains("over the cap")),
        "{:?}",
        plan.left_out
    );
}

#[test]
fn a_lower_incident_gets_no_step_its_level_does_not_reach() {
    let mut incident = takeover();
    incident.level = parapet_detect::sigma::Level::Medium;
    let engine = PolicyEngine::load(None).unwrap();
    let plan = propose(
        &incident,
        &Playbooks::embedded(),
        &engine,
        &Limits::default(),
        NOW,
    );
    assert!(plan.proposals.is_empty(), "{:?}", plan.proposals);
}

/// What the incident made is never protected by its name: an attacker chooses names.
#[test]
fn a_back_door_named_like_break_glass_is_still_contained() {
    let incident = takeover();
    let engine = PolicyEngine::load(None).unwrap();
    let limits = Limits {
        protected: vec!["backup-svc".into(), "svc-reporting".into()],
        ..Limits::default()
    };
    let plan = propose(&incident, &Playbooks::embedded(), &engine, &limits, NOW);
    assert!(
        plan.proposals
            .iter()
            .any(|p| p.title.contains("AKIAHBY5RW3LIE5CHDMW of backup-svc")),
        "the key the lineage minted for its own user: {:?}",
        plan.left_out
    );
    assert!(plan
        .proposals
        .iter()
        .any(|p| p.step == "quarantine-created-user"));
    // The lineage's root is a principal the organisation made: its name protects it.
    assert!(
        plan.left_out
            .iter()
            .any(|l| l.contains("svc-reporting is protected")),
        "{:?}",
        plan.left_out
    );
}

/// A plan is remade from the playbooks when it runs: each proposal of the takeover comes
/// back the same; an edited call (another action, an extra parameter, a loosened policy
/// document, a step the playbooks do not have) is refused.
#[test]
fn what_runs_is_what_the_playbooks_make() {
    let incident = takeover();
    let engine = PolicyEngine::load(None).unwrap();
    let books = Playbooks::embedded();
    let plan = propose(&incident, &books, &engine, &Limits::default(), NOW);
    for p in &plan.proposals {
        let again = parapet_respond::from_playbook(p, &books).unwrap();
        assert_eq!(again.call, p.call);
        // An undo that needs a person may lack a value only the event held.
        if p.undo_by_hand.is_none() {
            assert_eq!(again.undo, p.undo, "{}", p.step);
        }
        assert_eq!(again.undo_by_hand.is_some(), p.undo_by_hand.is_some());
        assert_eq!(again.check, p.check);
        assert_eq!(again.title, p.title);
        assert_eq!(again.missing, p.missing, "{}", p.step);
    }
    let quarantine = plan
        .proposals
        .iter()
        .find(|p| p.step == "quarantine-created-user")
        .unwrap();
    let tamper = |f: &dyn Fn(&mut parapet_respond::Proposal)| {
        let mut p = quarantine.clone();
        f(&mut p);
        parapet_respond::from_playbook(&p, &books).unwrap_err()
    };
    let e = tamper(&|p| p.call.action = "iam:AttachUserPolicy".into());
    assert!(e.contains("not one this step makes"), "{e}");
    tamper(&|p| {
        p.call.params["PolicyDocument"] = serde_json::json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        )
    });
    tamper(&|p| p.call.params["Extra"] = serde_json::json!("x"));
    let e = tamper(&|p| p.step = "routine-hygiene".into());
    assert!(e.contains("not one of the playbooks' steps"), "{e}");
    // The title, undo and check come from the playbook, whatever the file says.
    let mut p = quarantine.clone();
    p.title = "Routine hygiene".into();
    p.undo = None;
    p.check = None;
    let again = parapet_respond::from_playbook(&p, &books).unwrap();
    assert_eq!(again.title, quarantine.title);
    assert_eq!(again.undo, quarantine.undo);
    assert_eq!(again.check, quarantine.check);
}
