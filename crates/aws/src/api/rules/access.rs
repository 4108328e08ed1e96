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

pub(super) fn resource_policy(c: &Ctx, out: &mut Out, key: &str, rtype: &'static str) {
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
    let Some(st) = c.p.get(key).document().and_then(|d| parse_policy(&d).ok()) else {
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
