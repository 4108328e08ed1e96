//! Issue 22 point 3: any call whose parameters carry a resource policy is judged by the
//! policy's shape, whatever the service: public, cross-account and unpinned-service
//! access, in the API's and CloudTrail's shapes, JSON held in strings included. Member
//! names are the services' own (their API references); the reading is the one plans get.

use parapet_aws::api::{analyze_call, ApiCall};
use serde_json::{json, Value};

const OWN: &str = "111122223333";

fn ids(action: &str, params: Value) -> Vec<&'static str> {
    let call = ApiCall::new(action, None, params).unwrap();
    let mut v: Vec<_> = analyze_call(&call, Some(OWN))
        .effects
        .iter()
        .map(|e| e.id())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn doc(principal: Value, condition: Option<Value>) -> String {
    let mut st = json!({"Effect": "Allow", "Principal": principal, "Action": "*", "Resource": "*"});
    if let Some(c) = condition {
        st["Condition"] = c;
    }
    json!({"Version": "2012-10-17", "Statement": [st]}).to_string()
}

/// (action, parameters with the document at `POLICY`), one per service with a
/// resource-policy call parapet has no rule of its own for.
fn calls(policy: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "dynamodb:PutResourcePolicy",
            json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/orders", "Policy": policy}),
        ),
        // CloudTrail's camelCase for the same call.
        (
            "dynamodb:PutResourcePolicy",
            json!({"resourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/orders", "policy": policy}),
        ),
        (
            "kinesis:PutResourcePolicy",
            json!({"ResourceARN": "arn:aws:kinesis:us-east-1:111122223333:stream/clicks", "Policy": policy}),
        ),
        (
            "codeartifact:PutDomainPermissionsPolicy",
            json!({"domain": "corp", "policyDocument": policy}),
        ),
        (
            "codeartifact:PutRepositoryPermissionsPolicy",
            json!({"domain": "corp", "repository": "npm", "policyDocument": policy}),
        ),
        (
            "s3tables:PutTableBucketPolicy",
            json!({"tableBucketARN": "arn:aws:s3tables:us-east-1:111122223333:bucket/analytics", "resourcePolicy": policy}),
        ),
        ("glue:PutResourcePolicy", json!({"PolicyInJson": policy})),
        (
            "backup:PutBackupVaultAccessPolicy",
            json!({"BackupVaultName": "vault", "Policy": policy}),
        ),
        (
            "elasticfilesystem:PutFileSystemPolicy",
            json!({"FileSystemId": "fs-1", "Policy": policy}),
        ),
        (
            "es:UpdateElasticsearchDomainConfig",
            json!({"DomainName": "logs", "AccessPolicies": policy}),
        ),
        // Nested a level down, as a document object rather than a string.
        (
            "logs:PutResourcePolicy",
            json!({"policyName": "p", "policyDocument": serde_json::from_str::<Value>(policy).unwrap_or_else(|_| policy.into())}),
        ),
    ]
}

#[test]
fn public_documents_are_public_on_every_service() {
    for (action, params) in calls(&doc(json!("*"), None)) {
        assert!(
            ids(action, params.clone()).contains(&"exposure.public-access"),
            "{action} {params}"
        );
    }
    for (action, params) in calls(&doc(json!({"AWS": "*"}), None)) {
        assert!(
            ids(action, params).contains(&"exposure.public-access"),
            "{action}"
        );
    }
}

#[test]
fn other_accounts_are_shares_and_the_own_account_is_not() {
    for (action, params) in calls(&doc(json!({"AWS": "arn:aws:iam::444455556666:root"}), None)) {
        assert!(
            ids(action, params).contains(&"share.external-account"),
            "{action}"
        );
    }
    for (action, params) in calls(&doc(
        json!({"AWS": format!("arn:aws:iam::{OWN}:role/app")}),
        None,
    )) {
        let got = ids(action, params);
        assert!(
            !got.contains(&"share.external-account") && !got.contains(&"exposure.public-access"),
            "{action}: {got:?}"
        );
    }
}

#[test]
fn a_pinning_condition_narrows_everyone_and_a_loose_one_does_not() {
    let org = json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}});
    for (action, params) in calls(&doc(json!("*"), Some(org))) {
        assert!(
            !ids(action, params).contains(&"exposure.public-access"),
            "{action}"
        );
    }
    // A negated operator admits everyone it does not name.
    let negated = json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}});
    for (action, params) in calls(&doc(json!("*"), Some(negated))) {
        assert!(
            ids(action, params).contains(&"exposure.public-access"),
            "{action}"
        );
    }
    // A condition on something else pins nobody.
    let unrelated = json!({"Bool": {"aws:SecureTransport": "true"}});
    for (action, params) in calls(&doc(json!("*"), Some(unrelated))) {
        assert!(
            ids(action, params).contains(&"exposure.public-access"),
            "{action}"
        );
    }
}

#[test]
fn an_unpinned_service_principal_is_any_accounts_deputy() {
    let p = doc(json!({"Service": "delivery.logs.amazonaws.com"}), None);
    let got = ids(
        "logs:PutResourcePolicy",
        json!({"policyName": "p", "policyDocument": p}),
    );
    assert!(got.contains(&"share.external-account"), "{got:?}");
    let pinned = doc(
        json!({"Service": "delivery.logs.amazonaws.com"}),
        Some(json!({"StringEquals": {"aws:SourceAccount": OWN}})),
    );
    let got = ids(
        "logs:PutResourcePolicy",
        json!({"policyName": "p", "policyDocument": pinned}),
    );
    assert!(!got.contains(&"share.external-account"), "{got:?}");
}

#[test]
fn a_document_that_cannot_be_read_is_unknown_not_harmless() {
    let broken = r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "#;
    for (action, params) in calls(broken)
        .into_iter()
        .filter(|(a, _)| *a != "logs:PutResourcePolicy")
    {
        let got = ids(action, params);
        assert!(
            got.iter().any(|i| i.starts_with("unknown.")),
            "{action}: {got:?}"
        );
    }
}

#[test]
fn identity_documents_and_reads_are_not_resource_policies() {
    // No principal: an identity or session policy, not who-may-call.
    let identity =
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string();
    let got = ids(
        "dynamodb:PutResourcePolicy",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/t", "Policy": identity}),
    );
    assert!(!got.contains(&"exposure.public-access"), "{got:?}");
    // A denial lets nobody in.
    let deny = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}).to_string();
    let got = ids(
        "dynamodb:PutResourcePolicy",
        json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/t", "Policy": deny}),
    );
    assert!(!got.contains(&"exposure.public-access"), "{got:?}");
}

#[test]
fn a_stack_template_that_makes_a_bucket_public_is_seen_before_it_runs() {
    let template = json!({"Resources": {"P": {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": "site", "PolicyDocument": serde_json::from_str::<Value>(&doc(json!("*"), None)).unwrap()}}}});
    let got = ids(
        "cloudformation:CreateStack",
        json!({"StackName": "s", "TemplateBody": template.to_string()}),
    );
    assert!(got.contains(&"exposure.public-access"), "{got:?}");
}
