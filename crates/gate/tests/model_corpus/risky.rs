//! Per operation parapet has a rule for: every place the service model puts the risky
//! part is recognised. An input with every member of the operation's input shape is made
//! from the model; each member that can carry the risk is found in it by name, the others
//! are made harmless, and the risk is put in that one place, in the API's shape and
//! CloudTrail's. A member the model adds later is found the same way, so a rule that
//! does not read it fails here.

use super::corpus::{cloudtrail, corpus, full_input};
use parapet_aws::api::{analyze_call, ApiCall};
use parapet_model::Effect;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A path into parameters: object keys and list indices.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path to a key whose trailing keys are `suffix` (`Expiration.Days`), ignoring
/// case and list indices.
fn find(v: &Value, suffix: &[&str]) -> Vec<Vec<Step>> {
    fn walk(v: &Value, at: &mut Vec<Step>, suffix: &[&str], out: &mut Vec<Vec<Step>>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    at.push(Step::Key(k.clone()));
                    let keys: Vec<&str> = at
                        .iter()
                        .filter_map(|s| match s {
                            Step::Key(k) => Some(k.as_str()),
                            Step::Index(_) => None,
                        })
                        .collect();
                    if keys.len() >= suffix.len()
                        && keys[keys.len() - suffix.len()..]
                            .iter()
                            .zip(suffix)
                            .all(|(a, b)| a.eq_ignore_ascii_case(b))
                    {
                        out.push(at.clone());
                    }
                    walk(x, at, suffix, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    at.push(Step::Index(i));
                    walk(x, at, suffix, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), suffix, &mut out);
    out
}

/// Sets the value at `path`; `None` removes the key. Nothing when its parent is gone (a
/// harmless value replaced it).
fn set(v: &mut Value, path: &[Step], new: Option<Value>) {
    let (last, parent) = path.split_last().unwrap();
    let mut cur = v;
    for s in parent {
        let next = match s {
            Step::Key(k) => cur.get_mut(k.as_str()),
            Step::Index(i) => cur.get_mut(*i),
        };
        let Some(next) = next else { return };
        cur = next;
    }
    if !cur.is_object() && matches!(last, Step::Key(_)) {
        return;
    }
    match (last, new) {
        (Step::Key(k), Some(n)) => {
            cur.as_object_mut().unwrap().insert(k.clone(), n);
        }
        (Step::Key(k), None) => {
            cur.as_object_mut().unwrap().remove(k);
        }
        (Step::Index(i), Some(n)) => cur[*i] = n,
        (Step::Index(_), None) => unreachable!(),
    }
}

/// One family of risky members.
struct Risk {
    actions: &'static [&'static str],
    /// Values that make the call an ordinary one wherever these members are.
    harmless: Vec<(&'static str, Option<Value>)>,
    /// (member suffix, risky value, effect id it must give), one at a time.
    risky: Vec<(&'static str, Value, &'static str)>,
}

/// Port 22 wherever a port range is (botocore gives some members of a structure, not
/// always both ends of a range).
fn port_22(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for pair in [["FromPort", "ToPort"], ["From", "To"]] {
                let has = m
                    .keys()
                    .any(|k| pair.iter().any(|p| k.eq_ignore_ascii_case(p)));
                if has {
                    for p in pair {
                        m.retain(|k, _| !k.eq_ignore_ascii_case(p));
                        m.insert(p.into(), json!(22));
                    }
                }
            }
            m.values_mut().for_each(port_22);
        }
        Value::Array(a) => a.iter_mut().for_each(port_22),
        _ => {}
    }
}

fn public_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "*"}]})
}

fn admin_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

/// A policy document as the API takes it (JSON text), URL-encoded as the IAM query API
/// and some CloudTrail records carry it, and as CloudTrail's parsed object.
fn policy_forms(doc: Value) -> Vec<Value> {
    let text = doc.to_string();
    let encoded: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    vec![Value::String(text), Value::String(encoded), doc]
}

fn risks() -> Vec<Risk> {
    let mut harmless: Vec<(&str, Option<Value>)> = vec![
        ("CidrIp", Some(json!("10.0.0.0/8"))),
        ("CidrIpv4", Some(json!("10.0.0.0/8"))),
        ("CidrBlock", Some(json!("10.0.0.0/8"))),
        ("CidrIpv6", Some(json!("fd00::/8"))),
        ("Ipv6CidrBlock", Some(json!("fd00::/8"))),
    ];
    harmless.extend([
        ("PrefixListId", None),
        ("ReferencedGroupId", None),
        ("UserId", Some(json!("111122223333"))),
        ("SourceSecurityGroupOwnerId", Some(json!("111122223333"))),
        ("IpProtocol", Some(json!("tcp"))),
        ("Protocol", Some(json!("6"))),
        ("Egress", Some(json!(false))),
        ("RuleAction", Some(json!("allow"))),
    ]);
    let mut network = vec![
        ("CidrIp", json!("0.0.0.0/0"), "exposure.admin-port"),
        ("CidrIpv4", json!("0.0.0.0/0"), "exposure.admin-port"),
        ("CidrBlock", json!("0.0.0.0/0"), "exposure.admin-port"),
        ("CidrIpv6", json!("::/0"), "exposure.admin-port"),
        ("Ipv6CidrBlock", json!("::/0"), "exposure.admin-port"),
        (
            "PrefixListId",
            json!("pl-0123456789abcdef0"),
            "exposure.unknown",
        ),
        ("UserId", json!("999988887777"), "share.external-account"),
        (
            "SourceSecurityGroupOwnerId",
            json!("999988887777"),
            "share.external-account",
        ),
        (
            "ReferencedGroupId",
            json!("999988887777/sg-1"),
            "share.external-account",
        ),
    ];
    // An unreadable source is judged as the whole internet, and said to be unreadable.
    network.push(("CidrIp", json!("0.0.0.0/0 "), "exposure.admin-port"));
    network.push(("CidrIp", json!("any"), "unknown.parameters"));
    let acl = [
        "GrantRead",
        "GrantWrite",
        "GrantFullControl",
        "GrantReadACP",
        "GrantWriteACP",
    ];
    let mut acl_harmless: Vec<(&str, Option<Value>)> = acl
        .iter()
        .map(|k| (*k, Some(json!("id=\"abc\""))))
        .collect();
    acl_harmless.extend([("ACL", Some(json!("private"))), ("URI", None)]);
    let all_users = "http://acs.amazonaws.com/groups/global/AllUsers";
    let mut acl_risky: Vec<(&str, Value, &str)> = acl
        .iter()
        .map(|k| {
            (
                *k,
                json!(format!("uri=\"{all_users}\"")),
                "exposure.public-access",
            )
        })
        .collect();
    acl_risky.push(("ACL", json!("public-read"), "exposure.public-access"));
    acl_risky.push(("ACL", json!("authenticated-read"), "exposure.public-access"));
    acl_risky.push(("URI", json!(all_users), "exposure.public-access"));
    let block = [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ];
    let mut policies = Vec::new();
    let mut grants = Vec::new();
    for form in policy_forms(public_policy()) {
        for key in ["Policy", "PolicyText", "ResourcePolicy"] {
            policies.push((key, form.clone(), "exposure.public-access"));
        }
    }
    for form in policy_forms(admin_policy()) {
        grants.push(("PolicyDocument", form, "privilege.admin"));
    }
    vec![
        Risk {
            actions: &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:ModifySecurityGroupRules",
                "ec2:CreateNetworkAclEntry",
                "ec2:ReplaceNetworkAclEntry",
            ],
            harmless,
            risky: network,
        },
        Risk {
            actions: &[
                "s3:PutBucketAcl",
                "s3:PutObjectAcl",
                "s3:PutObject",
                "s3:CopyObject",
                "s3:CreateMultipartUpload",
                "s3:CreateBucket",
            ],
            harmless: acl_harmless,
            risky: acl_risky,
        },
        Risk {
            actions: &["s3:PutPublicAccessBlock"],
            harmless: block.iter().map(|k| (*k, Some(json!(true)))).collect(),
            risky: block.iter().map(|k| (*k, json!(false), "exposure.public-access")).collect(),
        },
        Risk {
            actions: &[
                "s3:PutBucketPolicy",
                "s3:PutAccessPointPolicy",
                "s3:PutMultiRegionAccessPointPolicy",
                "kms:PutKeyPolicy",
                "kms:CreateKey",
                "kms:ReplicateKey",
                "ecr:SetRepositoryPolicy",
                "secretsmanager:PutResourcePolicy",
            ],
            harmless: vec![],
            risky: policies,
        },
        Risk {
            actions: &[
                "iam:PutRolePolicy",
                "iam:PutUserPolicy",
                "iam:PutGroupPolicy",
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
            ],
            harmless: vec![("SetAsDefault", Some(json!(true)))],
            risky: grants,
        },
        Risk {
            actions: &["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"],
            harmless: vec![],
            risky: vec![(
                "PolicyArn",
                json!("arn:aws:iam::aws:policy/AdministratorAccess"),
                "privilege.admin",
            )],
        },
        Risk {
            actions: &["s3:PutBucketLifecycleConfiguration", "s3:PutBucketLifecycle"],
            harmless: vec![
                ("Status", Some(json!("Enabled"))),
                ("Days", Some(json!(365))),
                ("NoncurrentDays", Some(json!(365))),
                ("Date", Some(json!("2999-01-01T00:00:00Z"))),
            ],
            risky: vec![
                ("Expiration.Days", json!(1), "impact.data-expiry"),
                ("Expiration.Date", json!("2001-01-01T00:00:00Z"), "impact.data-expiry"),
                ("Expiration.Date", json!(978307200), "impact.data-expiry"),
                ("NoncurrentVersionExpiration.NoncurrentDays", json!(1), "impact.data-expiry"),
            ],
        },
        Risk {
            actions: &["rds:DeleteDBInstance", "rds:DeleteDBCluster"],
            harmless: vec![("SkipFinalSnapshot", Some(json!(false)))],
            risky: vec![("SkipFinalSnapshot", json!(true), "destroy.data-loss")],
        },
        Risk {
            actions: &["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"],
            harmless: vec![("RoleArn", Some(json!("arn:aws:iam::111122223333:role/orders")))],
            risky: vec![(
                "RoleArn",
                json!("arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"),
                "identity.assume-privileged-role",
            )],
        },
        Risk {
            actions: &["sqs:SetQueueAttributes", "sqs:CreateQueue", "sns:CreateTopic"],
            harmless: vec![("Attributes", Some(json!({"Policy": "{}"})))],
            risky: vec![(
                "Attributes",
                json!({"Policy": public_policy().to_string()}),
                "exposure.public-access",
            )],
        },
        Risk {
            actions: &["sns:SetTopicAttributes"],
            harmless: vec![
                ("AttributeName", Some(json!("Policy"))),
                ("AttributeValue", Some(json!("{}"))),
            ],
            risky: policy_forms(public_policy())
                .into_iter()
                .map(|f| ("AttributeValue", f, "exposure.public-access"))
                .collect(),
        },
        Risk {
            actions: &["sqs:AddPermission", "sns:AddPermission"],
            harmless: vec![
                ("AWSAccountIds", Some(json!(["111122223333"]))),
                ("AWSAccountId", Some(json!(["111122223333"]))),
            ],
            risky: vec![
                ("AWSAccountIds", json!(["999988887777"]), "share.external-account"),
                ("AWSAccountId", json!(["999988887777"]), "share.external-account"),
            ],
        },
        Risk {
            actions: &["kms:CreateGrant"],
            harmless: vec![
                ("GranteePrincipal", Some(json!("arn:aws:iam::111122223333:role/app"))),
                ("RetiringPrincipal", Some(json!("arn:aws:iam::111122223333:role/app"))),
            ],
            risky: vec![
                ("GranteePrincipal", json!("arn:aws:iam::999988887777:root"), "share.external-account"),
                ("RetiringPrincipal", json!("arn:aws:iam::999988887777:role/x"), "share.external-account"),
            ],
        },
        Risk {
            actions: &["ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute"],
            harmless: vec![
                ("OperationType", Some(json!("add"))),
                ("UserId", Some(json!("111122223333"))),
                ("UserIds", Some(json!(["111122223333"]))),
                ("Group", None),
                ("GroupNames", Some(json!([]))),
                ("UserGroups", Some(json!([]))),
                ("Remove", Some(json!([]))),
                ("OrganizationArn", None),
                ("OrganizationalUnitArn", None),
                ("OrganizationArns", Some(json!([]))),
                ("OrganizationalUnitArns", Some(json!([]))),
            ],
            risky: vec![
                ("Add.UserId", json!("999988887777"), "share.external-account"),
                ("Add.Group", json!("all"), "share.public"),
                ("UserIds", json!(["999988887777"]), "share.external-account"),
                ("GroupNames", json!(["all"]), "share.public"),
                ("UserGroups", json!(["all"]), "share.public"),
            ],
        },
        Risk {
            actions: &["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"],
            harmless: vec![
                ("AttributeName", Some(json!("restore"))),
                ("ValuesToAdd", Some(json!([]))),
            ],
            risky: vec![
                ("ValuesToAdd", json!(["999988887777"]), "share.external-account"),
                ("ValuesToAdd", json!(["all"]), "share.public"),
            ],
        },
        Risk {
            actions: &["s3:PutBucketReplication"],
            harmless: vec![
                ("Status", Some(json!("Enabled"))),
                ("Account", Some(json!("111122223333"))),
            ],
            risky: vec![("Destination.Account", json!("999988887777"), "share.external-account")],
        },
        Risk {
            actions: &["eks:UpdateClusterConfig", "eks:CreateCluster"],
            harmless: vec![
                ("endpointPublicAccess", Some(json!(false))),
                ("publicAccessCidrs", Some(json!(["0.0.0.0/0"]))),
            ],
            risky: vec![("endpointPublicAccess", json!(true), "exposure.public-access")],
        },
        Risk {
            actions: &["iam:CreateRole", "iam:UpdateAssumeRolePolicy"],
            harmless: ["AssumeRolePolicyDocument", "PolicyDocument"]
                .iter()
                .map(|k| {
                    let service = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
                    (*k, Some(Value::String(service.to_string())))
                })
                .collect(),
            risky: policy_forms(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}))
            .into_iter()
            .flat_map(|f| {
                [
                    ("AssumeRolePolicyDocument", f.clone(), "privilege.trust-opened"),
                    ("PolicyDocument", f, "privilege.trust-opened"),
                ]
            })
            .collect(),
        },
        Risk {
            actions: &["rds:ModifyDBInstance", "rds:CreateDBInstance"],
            harmless: vec![
                ("PubliclyAccessible", Some(json!(false))),
                ("MasterUserPassword", None),
            ],
            risky: vec![("PubliclyAccessible", json!(true), "exposure.public-access")],
        },
        Risk {
            actions: &["lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"],
            harmless: vec![("AuthType", Some(json!("AWS_IAM")))],
            risky: vec![("AuthType", json!("NONE"), "exposure.public-access")],
        },
        Risk {
            actions: &["lambda:AddPermission"],
            harmless: ["SourceArn", "SourceAccount", "PrincipalOrgID", "FunctionUrlAuthType"]
                .iter()
                .map(|k| (*k, None))
                .chain([("Principal", Some(json!("s3.amazonaws.com")))])
                .collect(),
            risky: vec![("Principal", json!("*"), "exposure.public-access")],
        },
    ]
}

fn harmless(original: &Value, risk: &Risk) -> Value {
    let mut base = original.clone();
    for (member, value) in &risk.harmless {
        for path in find(original, &[member]) {
            set(&mut base, &path, value.clone());
        }
    }
    port_22(&mut base);
    base
}

fn ids(action: &str, params: &Value) -> BTreeSet<&'static str> {
    let call = ApiCall::new(action, None, params.clone()).unwrap();
    analyze_call(&call, Some("111122223333"))
        .effects
        .iter()
        .map(Effect::id)
        .collect()
}

#[test]
fn every_place_the_models_put_the_risk_is_read() {
    let corpus = corpus();
    let mut misses = Vec::new();
    let mut checked = 0;
    for risk in risks() {
        for action in risk.actions {
            let found: Vec<_> = corpus.iter().filter(|(_, _, a, _)| a == action).collect();
            assert!(!found.is_empty(), "{action} is not in the corpus");
            // s3 and s3control both have PutPublicAccessBlock, with different inputs.
            for (service, op, _, _) in found {
                let original = &full_input(service, op);
                let base = harmless(original, &risk);
                for (suffix, value, want) in &risk.risky {
                    let suffix: Vec<&str> = suffix.split('.').collect();
                    for path in find(original, &suffix) {
                        let mut p = base.clone();
                        set(&mut p, &path, Some(value.clone()));
                        for (shape, params) in [
                            ("API", p.clone()),
                            ("CloudTrail", cloudtrail(service, op, &p)),
                        ] {
                            checked += 1;
                            let got = ids(action, &params);
                            if !got.contains(want) {
                                misses.push(format!(
                                    "{action} {shape} {path:?} = {value}: {got:?}, want {want}"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    for m in &misses {
        eprintln!("MISS {m}");
    }
    eprintln!("risky members: {checked} placements checked");
    assert!(checked > 200, "{checked}");
    assert!(misses.is_empty(), "{} misses", misses.len());
}

/// The harmless versions of the same calls raise none of the risks (the test above would
/// pass for a rule that reported every call).
#[test]
fn the_harmless_forms_stay_quiet() {
    let corpus = corpus();
    for risk in risks() {
        let wants: BTreeSet<&str> = risk.risky.iter().map(|r| r.2).collect();
        for action in risk.actions {
            for (service, op, _, _) in corpus.iter().filter(|(_, _, a, _)| a == action) {
                let original = &full_input(service, op);
                let base = harmless(original, &risk);
                let got = ids(action, &base);
                // Policies in botocore's params are not JSON: no policy, no risk.
                assert!(got.is_disjoint(&wants), "{action}: {got:?} from {base}");
            }
        }
    }
}
