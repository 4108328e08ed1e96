//! Real attack detonations (Stratus Red Team) through the same knowledge layer that
//! gates plans and calls: every state-changing technique shows the effect it has.

use std::path::Path;

fn effects_of(file: &str) -> Vec<(&'static str, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cloudtrail/stratus")
        .join(file);
    let (events, skipped) = parapet_trail::read_all(file, &std::fs::read(&path).unwrap());
    assert!(skipped.is_empty(), "{file}: {skipped:?}");
    events
        .iter()
        .filter_map(|r| r.analyze())
        .flat_map(|a| a.effects.into_iter().map(|e| (e.id(), e.summary())))
        .collect()
}

fn has(file: &str, id: &str) -> String {
    let effects = effects_of(file);
    let hit = effects.iter().find(|(i, _)| *i == id);
    assert!(hit.is_some(), "{file}: no {id} in {effects:#?}");
    hit.unwrap().1.clone()
}

#[test]
fn defence_evasion() {
    assert!(has(
        "aws.defense-evasion.cloudtrail-stop.json",
        "defense-evasion"
    )
    .contains("stops recording API activity"));
    assert!(has(
        "aws.defense-evasion.dns-delete-logs.json",
        "defense-evasion"
    )
    .contains("DNS"));
}

#[test]
fn exfiltration_by_sharing() {
    let s = has(
        "aws.exfiltration.ec2-share-ebs-snapshot.json",
        "share.external-account",
    );
    assert!(
        s.contains("EBS snapshot") && s.contains("with AWS account"),
        "{s}"
    );
}

#[test]
fn persistence() {
    has(
        "aws.persistence.iam-create-admin-user.json",
        "privilege.admin",
    );
    has(
        "aws.persistence.iam-create-admin-user.json",
        "privilege.new-credential",
    );
    has(
        "aws.persistence.iam-create-backdoor-role.json",
        "privilege.trust-opened",
    );
    has(
        "aws.persistence.iam-create-backdoor-role.json",
        "privilege.admin",
    );
    assert!(has(
        "aws.persistence.iam-create-user-login-profile.json",
        "privilege.new-credential"
    )
    .contains("console password"));
    has("aws.persistence.lambda-overwrite-code.json", "code.change");
    assert!(has(
        "aws.persistence.rolesanywhere-create-trust-anchor.json",
        "privilege.new-credential"
    )
    .contains("Roles Anywhere"));
}

#[test]
fn failed_attempts_change_nothing() {
    // ec2-launch-unusual-instances' only RunInstances failed; GetPasswordData calls failed.
    assert!(effects_of("aws.credential-access.ec2-get-password-data.json").is_empty());
}

#[test]
fn every_sample_reads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cloudtrail/stratus");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let (events, skipped) = parapet_trail::read_all("sample", &std::fs::read(&p).unwrap());
            assert!(
                !events.is_empty() && skipped.is_empty(),
                "{}: {skipped:?}",
                p.display()
            );
            for r in &events {
                let call = r.call();
                assert!(call.is_some(), "{}: {} has no call", p.display(), r.name);
                // The borrowed analysis the detector runs is the gate's analysis of
                // the same call.
                let ours = r
                    .analyze()
                    .map(|a| format!("{:?}", (a.action, a.resource, a.effects)));
                let gate = (r.error_code.is_none())
                    .then(|| parapet_aws::api::analyze_call(&call.unwrap(), r.account.as_deref()))
                    .map(|a| format!("{:?}", (a.action, a.resource, a.effects)));
                assert_eq!(ours, gate, "{}: {}", p.display(), r.name);
            }
            n += 1;
        }
    }
    assert_eq!(n, 17);
}
