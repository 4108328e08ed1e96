//! Sharing and resource policies: snapshots, images, buckets, queues, keys.

use super::*;

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
    let mut adds = perm.get("Add").list();
    // The flat form: Attribute=createVolumePermission, OperationType=add, UserIds/GroupNames.
    if adds.is_empty()
        && c.p
            .get("OperationType")
            .str()
            .is_some_and(|o| o.eq_ignore_ascii_case("add"))
    {
        for id in c.p.get("UserIds").strings() {
            out.effects.push(Effect::ExternalShare {
                resource: resource.clone(),
                target: ShareTarget::Account { id: id.into() },
                certainty: Certainty::Known,
            });
        }
        if c.p.get("GroupNames").strings().contains(&"all") {
            out.effects.push(Effect::ExternalShare {
                resource,
                target: ShareTarget::Public,
                certainty: Certainty::Known,
            });
        }
        return;
    }
    for a in adds.drain(..) {
        if a.get("Group").str() == Some("all") {
            out.effects.push(Effect::ExternalShare {
                resource: resource.clone(),
                target: ShareTarget::Public,
                certainty: Certainty::Known,
            });
        } else if let Some(id) = a.get("UserId").str() {
            if Some(id) != c.own_account {
                out.effects.push(Effect::ExternalShare {
                    resource: resource.clone(),
                    target: ShareTarget::Account { id: id.into() },
                    certainty: Certainty::Known,
                });
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
    let Some(st) = c.p.any(keys).document().and_then(|d| parse_policy(&d).ok()) else {
        return;
    };
    for s in st.iter().filter(|s| s.allow) {
        for p in &s.principals {
            match p {
                Principal::Everyone if !s.has_condition => public(
                    out,
                    target.clone(),
                    format!("its policy lets anyone ({})", s.actions.join(", ")),
                ),
                Principal::Aws(a) => {
                    if let Some(acct) = account_of(a) {
                        if Some(acct) != c.own_account {
                            out.effects.push(Effect::ExternalShare {
                                resource: target.clone(),
                                target: ShareTarget::Account { id: acct.into() },
                                certainty: Certainty::Known,
                            });
                        }
                    }
                }
                _ => {}
            }
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
