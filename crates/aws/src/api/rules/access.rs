//! Sharing and resource policies: snapshots, images, buckets, queues, keys.

use super::*;
use crate::resource_policy::{found_effect, judge, scan_value, Found, Path, Scan};

pub(super) fn share(
    c: &Ctx,
    out: &mut Out,
    what: &str,
    id_keys: &[&str],
    attr: &str,
    rtype: &'static str,
) {
    out.resource_type = Some(rtype);
    let resource = format!("{what} {}", c.target(id_keys));
    let perm = c.p.get(attr);
    let mut push = |target: ShareTarget| {
        let e = Effect::ExternalShare {
            resource: resource.clone(),
            target,
            certainty: Certainty::Known,
        };
        if !out.effects.contains(&e) {
            out.effects.push(e);
        }
    };
    // The flat form: Attribute=createVolumePermission, OperationType=add, UserIds and
    // groups (`GroupNames` for snapshots, `UserGroups` for images, `UserGroup` as the
    // query API and CloudTrail name both). Read beside the structure, whichever is given.
    if c.p
        .get("OperationType")
        .str()
        .is_some_and(|o| o.eq_ignore_ascii_case("add"))
    {
        for id in c.p.any(&["UserIds", "UserId"]).strings() {
            if Some(id) != c.own_account {
                push(ShareTarget::Account { id: id.into() });
            }
        }
        let groups = ["GroupNames", "UserGroups", "UserGroup"]
            .iter()
            .flat_map(|k| c.p.get(k).strings());
        if groups.into_iter().any(|g| g.eq_ignore_ascii_case("all")) {
            push(ShareTarget::Public);
        }
    }
    for a in perm.get("Add").list() {
        if a.get("Group")
            .str()
            .is_some_and(|g| g.eq_ignore_ascii_case("all"))
        {
            push(ShareTarget::Public);
        } else if let Some(id) = a.get("UserId").str() {
            if Some(id) != c.own_account {
                push(ShareTarget::Account { id: id.into() });
            }
        }
    }
}

pub(super) fn rds_share(c: &Ctx, out: &mut Out) {
    out.resource_type = Some("aws_db_snapshot");
    if !c
        .p
        .get("AttributeName")
        .str()
        .is_some_and(|a| a.eq_ignore_ascii_case("restore"))
    {
        return;
    }
    let resource = format!(
        "RDS snapshot {}",
        c.target(&["DBSnapshotIdentifier", "DBClusterSnapshotIdentifier"])
    );
    for v in c.p.get("ValuesToAdd").strings() {
        let target = if v == "all" {
            ShareTarget::Public
        } else {
            ShareTarget::Account { id: v.into() }
        };
        out.effects.push(Effect::ExternalShare {
            resource: resource.clone(),
            target,
            certainty: Certainty::Known,
        });
    }
}

pub(super) fn resource_policy(c: &Ctx, out: &mut Out, keys: &[&str], rtype: &'static str) {
    out.resource_type = Some(rtype);
    let target = c.target(&[
        "Bucket",
        "bucketName",
        "RepositoryName",
        "QueueUrl",
        "TopicArn",
        "KeyId",
        "SecretId",
    ]);
    let given = c.p.any(keys);
    let Some(doc) = given.document().filter(|d| parse_policy(d).is_ok()) else {
        // Given but unreadable: what it allows cannot be judged. (Parameters the
        // required table lists are reported there, once.)
        let listed = keys
            .iter()
            .any(|k| super::required::covers(c.service, c.op, k));
        if !given.is_null() && !listed {
            out.effects.push(Effect::Unknown {
                resource: target,
                unrecognised: parapet_model::Unrecognised::Parameters,
                name: [c.service, ":", c.op].concat(),
                why: format!(
                    "{} is {}, not a policy document parapet can read",
                    keys.join(" or "),
                    crate::api::ids::type_name(given.0)
                ),
            });
        }
        return;
    };
    out.policy_read = true;
    let mut scan = Scan::default();
    judge(&doc, &Path::Root, c.own_account, &mut scan);
    push_found(out, scan.found, &target);
}

/// Any other write whose parameters carry a resource policy (DynamoDB, Kinesis,
/// CodeArtifact, S3 Tables, Glue, and whatever comes next), found by its shape at any
/// depth, JSON held in strings included: judged like the ones above. A document that
/// looks like a resource policy but cannot be read is unknown, never harmless.
pub(super) fn shaped_policies(c: &Ctx, out: &mut Out) {
    let label = c.named_target();
    let mut notes = Vec::new();
    let scan = scan_value(&label, c.p.0, c.own_account, &mut notes);
    if scan.found.is_empty() && scan.unreadable.is_empty() {
        return;
    }
    out.policy_read = true;
    push_found(out, scan.found, &label);
    for (path, why) in scan.unreadable {
        out.effects.push(Effect::Unknown {
            resource: label.clone(),
            unrecognised: parapet_model::Unrecognised::Parameters,
            name: [c.service, ":", c.op].concat(),
            why: format!("its {path} {why}"),
        });
    }
}

fn push_found(out: &mut Out, found: Vec<Found>, label: &str) {
    let mut seen: Vec<&Found> = Vec::new();
    for f in &found {
        if !seen.contains(&f) {
            seen.push(f);
            out.effects.push(found_effect(f, label));
        }
    }
}

/// `s3:PutBucketReplication`: every enabled rule whose destination names an `Account`
/// other than this one copies the bucket's objects into that account. API shape
/// (`Rules`) and CloudTrail shape (`Rule`, one object or a list).
pub(super) fn replication(c: &Ctx, out: &mut Out) {
    let cfg = c.p.get("ReplicationConfiguration");
    let target = c.target(&["Bucket", "bucketName"]);
    let mut seen: Vec<&str> = Vec::new();
    for rule in cfg.any(&["Rules", "Rule"]).list() {
        let disabled = rule
            .get("Status")
            .str()
            .is_some_and(|s| s.eq_ignore_ascii_case("Disabled"));
        let Some(acct) = rule.get("Destination").get("Account").str() else {
            continue;
        };
        if disabled || Some(acct) == c.own_account || seen.contains(&acct) {
            continue;
        }
        seen.push(acct);
        out.effects.push(Effect::ExternalShare {
            resource: format!("S3 bucket {target} (replicated)"),
            target: ShareTarget::Account { id: acct.into() },
            certainty: Certainty::Known,
        });
    }
}
