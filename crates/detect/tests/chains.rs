//! The behaviour pack and lineage over the bundled takeover scenario and over the real
//! Stratus Red Team detonations: one incident per lineage, phases in order, nothing
//! from benign actors joined to the attack.

use parapet_detect::{Config, Detector};
use parapet_trail::{Item, Limits};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn events(dir: &Path) -> Vec<parapet_trail::Event> {
    let mut out = Vec::new();
    parapet_trail::read_path(dir, Limits::default(), &mut |i| match i {
        Item::Event(e) => out.push(*e),
        Item::Skipped { at, reason } => panic!("{at}: {reason}"),
    });
    out.sort_by_key(|e| e.time_ms);
    out
}

fn run(events: &[parapet_trail::Event]) -> Detector {
    let mut d = Detector::new(Config::builtin()).unwrap();
    for e in events {
        d.process(e);
    }
    d
}

#[test]
fn the_takeover_is_one_incident_with_every_phase() {
    let evs = events(&repo().join("demo/trail/takeover"));
    assert!(evs.len() > 150);
    let d = run(&evs);
    let incidents = d.incidents();
    let attack = incidents
        .iter()
        .find(|i| i.root.ends_with("user/svc-reporting"))
        .expect("an incident rooted at the leaked key's user");
    let phases: Vec<&str> = attack.phases.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        phases,
        // In the order they were reached.
        [
            "initial-access",
            "recon",
            "lambda-hijack",
            "admin-persistence",
            "secrets",
            "compute-hijack",
            "llmjacking",
            "exfil-share",
            "defense-evasion"
        ]
    );
    // Four identities: the leaked key, the hijacked function's role session, the admin
    // key it minted, the back-door user's key.
    assert_eq!(attack.actors.len(), 4, "{:?}", attack.actors);
    assert!(attack
        .actors
        .iter()
        .any(|a| a.contains("assumed-role/invoice-exporter-role/invoice-exporter")));
    for id in [
        "T1648",
        "T1098.001",
        "T1136.003",
        "T1496.004",
        "T1537",
        "AML.T0040",
    ] {
        assert!(
            attack.attack.iter().chain(&attack.atlas).any(|x| x == id),
            "{id} missing: {:?} {:?}",
            attack.attack,
            attack.atlas
        );
    }
    assert_eq!(attack.level, parapet_detect::sigma::Level::Critical);
    // The admin key's alerts name the whole lineage back to the leaked key's user.
    let admin = attack
        .alerts
        .iter()
        .find(|a| a.rule_id == "parapet-admin-granted")
        .unwrap();
    assert_eq!(admin.lineage.len(), 4, "{:?}", admin.lineage);
    assert!(admin.lineage[1].starts_with("session:"));
    // Benign actors stay out; automation mistakes are their own incidents.
    assert!(!attack
        .actors
        .iter()
        .any(|a| a.contains("alice") || a.contains("terraform")));
    let tf = incidents
        .iter()
        .find(|i| i.root.contains("gha-terraform"))
        .expect("the pipeline's delete-and-recreate");
    assert!(tf
        .rules
        .iter()
        .any(|r| r == "parapet-automation-delete-recreate"));
    let bot = incidents
        .iter()
        .find(|i| i.root.contains("drift-remediation-agent"))
        .expect("the drift bot's revert");
    assert!(bot
        .rules
        .iter()
        .any(|r| r == "parapet-automation-reverts-human"));
    assert!(
        !incidents.iter().any(|i| i.root.contains("alice")),
        "the engineer raised nothing"
    );
    assert_eq!(incidents.len(), 3);
}

#[test]
fn escalation_is_flagged_before_it_completes() {
    // Stop the stream right after the hijacked role minted a key: the incident is
    // already critical, before any back-door user exists.
    let evs = events(&repo().join("demo/trail/takeover"));
    let cut = evs
        .iter()
        .position(|e| e.name == "CreateAccessKey")
        .unwrap();
    let d = run(&evs[..=cut]);
    let attack = d
        .incidents()
        .into_iter()
        .find(|i| i.root.ends_with("user/svc-reporting"))
        .unwrap();
    assert!(attack
        .rules
        .iter()
        .any(|r| r == "parapet-lambda-role-escalates"));
    assert_eq!(attack.level, parapet_detect::sigma::Level::Critical);
}

#[test]
fn arrival_order_does_not_matter_within_lateness() {
    // Files as delivered (the attack's written 12 minutes late, so listed after later
    // ones), then shuffled within 15-minute groups, through the reorder buffer give the
    // same incidents as a sorted replay.
    let dir = repo().join("demo/trail/takeover");
    let mut files = Vec::new();
    parapet_trail::list(&dir, &mut files, &mut |_| {});
    for chunk in files.chunks_mut(3) {
        chunk.reverse();
    }
    let mut d = Detector::new(Config::builtin()).unwrap();
    let mut r = parapet_detect::reorder::Reorder::new(30 * 60_000, 1_000_000);
    for (f, _) in &files {
        parapet_trail::read_file(f, Limits::default(), &mut |i| {
            if let Item::Event(e) = i {
                r.push(e, &mut |e| {
                    d.process(&e);
                });
            }
        });
    }
    r.flush(&mut |e| {
        d.process(&e);
    });
    let sorted = run(&events(&dir));
    let summary = |d: &Detector| {
        d.incidents()
            .iter()
            .map(|i| {
                (
                    i.root.clone(),
                    i.phases.iter().map(|p| p.0.clone()).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&d), summary(&sorted));
}

#[test]
fn a_checkpoint_keeps_an_incident_in_progress() {
    let evs = events(&repo().join("demo/trail/takeover"));
    let half = evs.iter().position(|e| e.name == "CreateUser").unwrap();
    let dir = std::env::temp_dir().join(format!("parapet-cp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cp = dir.join("state.json");
    let mut first = Detector::new(Config::builtin()).unwrap();
    for e in &evs[..half] {
        first.process(e);
    }
    first.save(&cp).unwrap();
    drop(first);
    let mut second = Detector::new(Config::builtin()).unwrap();
    second.restore(&cp).unwrap();
    for e in &evs[half..] {
        second.process(e);
    }
    let whole = run(&evs);
    let attack = |d: &Detector| {
        let i = d
            .incidents()
            .into_iter()
            .find(|i| i.root.ends_with("user/svc-reporting"))
            .unwrap()
            .clone();
        let alert_times: Vec<i64> = i.alerts.iter().map(|a| a.first_ms).collect();
        (
            i.id,
            i.phases.len(),
            i.actors.len(),
            i.rules.len(),
            i.first_ms,
            alert_times,
        )
    };
    assert_eq!(attack(&second), attack(&whole));
    // A damaged checkpoint is an error that names the file, not a silent fresh start.
    std::fs::write(&cp, b"{\"version\": 1, \"lineage\": ").unwrap();
    let err = Detector::new(Config::builtin())
        .unwrap()
        .restore(&cp)
        .unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stratus_detonations_raise_their_technique() {
    let dir = repo().join("testdata/cloudtrail/stratus");
    // file -> a rule that must fire on it
    let expect = [
        (
            "aws.credential-access.ec2-get-password-data.json",
            "parapet-password-data",
        ),
        (
            "aws.credential-access.secretsmanager-retrieve-secrets.json",
            "parapet-secrets-harvest",
        ),
        (
            "aws.defense-evasion.cloudtrail-stop.json",
            "parapet-defense-evasion",
        ),
        (
            "aws.defense-evasion.dns-delete-logs.json",
            "parapet-defense-evasion",
        ),
        (
            "aws.discovery.ec2-download-user-data.json",
            "parapet-denied-storm",
        ),
        (
            "aws.execution.ec2-launch-unusual-instances.json",
            "parapet-gpu-launch",
        ),
        (
            "aws.execution.ec2-user-data.json",
            "parapet-user-data-modified",
        ),
        (
            "aws.execution.ssm-start-session.json",
            "parapet-ssm-session-spread",
        ),
        (
            "aws.initial-access.console-login-without-mfa.json",
            "parapet-console-no-mfa",
        ),
        (
            "aws.lateral-movement.ec2-instance-connect.json",
            "parapet-instance-key-pushed",
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "parapet-shared-out",
        ),
        (
            "aws.impact.bedrock-invoke-model.json",
            "parapet-bedrock-access-enabled",
        ),
        (
            "aws.persistence.iam-create-admin-user.json",
            "parapet-admin-granted",
        ),
        (
            "aws.persistence.iam-create-backdoor-role.json",
            "parapet-trust-opened",
        ),
        (
            "aws.persistence.iam-create-user-login-profile.json",
            "parapet-credential-for-other",
        ),
        (
            "aws.persistence.lambda-overwrite-code.json",
            "parapet-lambda-change",
        ),
        (
            "aws.persistence.rolesanywhere-create-trust-anchor.json",
            "parapet-new-credential-mechanism",
        ),
    ];
    for (file, rule) in expect {
        let d = run(&events(&dir.join(file)));
        let rules: Vec<String> = d.incidents().iter().flat_map(|i| i.rules.clone()).collect();
        assert!(
            rules.iter().any(|r| r == rule),
            "{file}: {rule} not in {rules:?}"
        );
    }
}

#[test]
fn output_formats_are_stable() {
    let d = run(&events(&repo().join("demo/trail/takeover")));
    let attack = d
        .incidents()
        .into_iter()
        .find(|i| i.root.ends_with("user/svc-reporting"))
        .unwrap();
    insta::assert_snapshot!(
        "takeover_timeline",
        parapet_detect::output::timeline(attack)
    );
    // Keys sorted: the workspace build keeps JSON maps in insertion order, a single
    // crate's build does not.
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    let _sorted = settings.bind_to_scope();
    insta::assert_json_snapshot!(
        "takeover_incident",
        parapet_detect::output::incident_json(attack)
    );
    let admin = attack
        .alerts
        .iter()
        .find(|a| a.rule_id == "parapet-admin-granted")
        .unwrap();
    let ocsf = parapet_detect::output::alert_ocsf(admin);
    assert_eq!(ocsf["class_uid"], 2004);
    assert_eq!(ocsf["type_uid"], 200401);
    insta::assert_json_snapshot!("admin_alert_ocsf", ocsf);
    let inc = parapet_detect::output::incident_ocsf(attack);
    assert_eq!(inc["class_uid"], 2005);
    assert_eq!(inc["severity_id"], 5);
}
