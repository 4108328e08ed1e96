//! Issue 22: every documented way to express the risky part of a call is read, in the
//! API's (PascalCase) and CloudTrail's (camelCase, `items` wrappers) shapes alike, and
//! the techniques the behaviour pack detects afterwards are effects before the call.

use parapet_aws::api::{analyze_call, ApiCall};
use parapet_model::Effect;
use serde_json::{json, Value};

fn ids(action: &str, params: Value) -> Vec<&'static str> {
    let call = ApiCall::new(action, None, params).unwrap();
    analyze_call(&call, Some("111122223333"))
        .effects
        .iter()
        .map(Effect::id)
        .collect()
}

fn effects(action: &str, params: Value) -> Vec<Effect> {
    let call = ApiCall::new(action, None, params).unwrap();
    analyze_call(&call, Some("111122223333")).effects
}

#[test]
fn security_group_ingress_every_shape() {
    let shapes = [
        // The API's flat members (EC2 API reference, AuthorizeSecurityGroupIngress).
        json!({"GroupId": "sg-1", "CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}),
        // CloudTrail of `aws ec2 authorize-security-group-ingress --cidr 0.0.0.0/0 --port 22`:
        // the flat members beside an empty ipPermissions.
        json!({"groupId": "sg-1", "ipPermissions": {}, "cidrIp": "0.0.0.0/0", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"}),
        json!({"groupId": "sg-1", "ipPermissions": {"items": []}, "cidrIp": "0.0.0.0/0", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"}),
        // The structured forms.
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
        json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}),
    ];
    for p in shapes {
        assert_eq!(
            ids("ec2:AuthorizeSecurityGroupIngress", p.clone()),
            vec!["exposure.admin-port"],
            "{p}"
        );
    }
    // A private source stays quiet in the flat form too.
    assert!(ids(
        "ec2:AuthorizeSecurityGroupIngress",
        json!({"groupId": "sg-1", "ipPermissions": {}, "cidrIp": "10.0.0.0/16", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"})
    )
    .is_empty());
}

fn technique(action: &str, params: Value) -> Option<&'static str> {
    effects(action, params)
        .iter()
        .find(|e| matches!(e, Effect::Technique { .. } | Effect::DefenseEvasion { .. }))
        .map(Effect::id)
}

#[test]
fn leaving_the_organization_is_defense_evasion() {
    assert_eq!(
        technique("organizations:LeaveOrganization", json!({})),
        Some("defense-evasion")
    );
}

#[test]
fn commands_on_instances_every_shape() {
    let run = Some("execution.run-commands");
    for (action, p) in [
        (
            "ssm:SendCommand",
            json!({"DocumentName": "AWS-RunShellScript", "InstanceIds": ["i-1"], "Parameters": {"commands": ["id"]}}),
        ),
        (
            "ssm:SendCommand",
            json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-1"], "parameters": {"commands": ["id"]}}),
        ),
        (
            "ssm:send-command",
            json!({"DocumentName": "AWS-RunShellScript", "Targets": [{"Key": "tag:env", "Values": ["prod"]}]}),
        ),
        ("ssm:StartSession", json!({"target": "i-1"})),
        (
            "ec2-instance-connect:SendSSHPublicKey",
            json!({"instanceId": "i-1", "instanceOSUser": "ec2-user", "sSHPublicKey": "ssh-ed25519 AAAA"}),
        ),
        (
            "ecs:ExecuteCommand",
            json!({"cluster": "c", "task": "t", "command": "/bin/sh", "interactive": true}),
        ),
        // The API's attribute form and its UserData member, and CloudTrail's record.
        (
            "ec2:ModifyInstanceAttribute",
            json!({"InstanceId": "i-1", "Attribute": "userData", "Value": "IyEvYmluL3No"}),
        ),
        (
            "ec2:ModifyInstanceAttribute",
            json!({"InstanceId": "i-1", "UserData": {"Value": "IyEvYmluL3No"}}),
        ),
        (
            "ec2:ModifyInstanceAttribute",
            json!({"instanceId": "i-1", "userData": "<sensitiveDataRemoved>"}),
        ),
        (
            "codebuild:StartBuild",
            json!({"projectName": "p", "buildspecOverride": "version: 0.2"}),
        ),
    ] {
        assert_eq!(technique(action, p.clone()), run, "{action} {p}");
    }
    // Changing an instance's type or starting an ordinary build is not running commands.
    assert_eq!(
        technique(
            "ec2:ModifyInstanceAttribute",
            json!({"InstanceId": "i-1", "InstanceType": {"Value": "m5.large"}})
        ),
        None
    );
    assert_eq!(
        technique("codebuild:StartBuild", json!({"projectName": "p"})),
        None
    );
}

#[test]
fn short_lifecycle_expiry_every_shape() {
    let exp = Some("impact.data-expiry");
    for (action, p) in [
        // API: PutBucketLifecycleConfiguration, `Rules` list.
        (
            "s3:PutBucketLifecycleConfiguration",
            json!({"Bucket": "logs", "LifecycleConfiguration": {"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]}}),
        ),
        // IAM's action name for it.
        (
            "s3:PutLifecycleConfiguration",
            json!({"Bucket": "logs", "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "Expiration": {"Days": "3"}}]}}),
        ),
        // CloudTrail: PutBucketLifecycle with one `Rule` object, or a list of them.
        (
            "s3:PutBucketLifecycle",
            json!({"bucketName": "logs", "LifecycleConfiguration": {"Rule": {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}}}),
        ),
        (
            "s3:PutBucketLifecycle",
            json!({"bucketName": "logs", "LifecycleConfiguration": {"Rule": [{"Status": "Enabled", "Expiration": {"Days": 365}}, {"Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}}),
        ),
    ] {
        assert_eq!(technique(action, p.clone()), exp, "{action} {p}");
    }
    for p in [
        json!({"Bucket": "logs", "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "Expiration": {"Days": 365}}]}}),
        json!({"Bucket": "logs", "LifecycleConfiguration": {"Rules": [{"Status": "Disabled", "Expiration": {"Days": 1}}]}}),
    ] {
        assert_eq!(
            technique("s3:PutBucketLifecycleConfiguration", p.clone()),
            None,
            "{p}"
        );
    }
}

#[test]
fn delete_objects_counts_every_key() {
    let keys: Vec<Value> = (0..12).map(|k| json!({"Key": format!("k{k}")})).collect();
    // API: Delete.Objects[].Key; CloudTrail: delete.object (a list, or one object).
    for p in [
        json!({"Bucket": "b", "Delete": {"Objects": keys, "Quiet": true}}),
        json!({"bucketName": "b", "delete": {"object": keys}}),
    ] {
        let e = effects("s3:DeleteObjects", p.clone());
        assert!(e.iter().any(|e| e.id() == "impact.bulk-delete"), "{p}");
        assert!(e.iter().any(|e| e.id() == "destroy.data-bearing"), "{p}");
    }
    let one = effects(
        "s3:DeleteObjects",
        json!({"bucketName": "b", "delete": {"object": {"key": "k"}}}),
    );
    assert!(!one.iter().any(|e| e.id() == "impact.bulk-delete"));
    let Effect::Destroy { data, .. } = &one[0] else {
        panic!("{one:?}")
    };
    assert!(format!("{data:?}").contains("1 object"), "{data:?}");
}

#[test]
fn assuming_an_admin_like_role() {
    let hit = Some("identity.assume-privileged-role");
    for (action, p) in [
        (
            "sts:AssumeRole",
            json!({"RoleArn": "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole", "RoleSessionName": "s"}),
        ),
        (
            "sts:AssumeRole",
            json!({"roleArn": "arn:aws:iam::123456789012:role/prod-Admin", "roleSessionName": "s"}),
        ),
        (
            "sts:assume-role",
            json!({"RoleArn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123", "RoleSessionName": "s"}),
        ),
        (
            "sts:AssumeRoleWithWebIdentity",
            json!({"RoleArn": "arn:aws:iam::123456789012:role/break-glass", "RoleSessionName": "s"}),
        ),
    ] {
        assert_eq!(technique(action, p.clone()), hit, "{action} {p}");
    }
    let e = effects(
        "sts:AssumeRole",
        json!({"RoleArn": "arn:aws:iam::123456789012:role/Admin", "RoleSessionName": "s"}),
    );
    assert!(
        e[0].summary().contains("not known offline"),
        "{}",
        e[0].summary()
    );
    assert_eq!(
        technique(
            "sts:AssumeRole",
            json!({"roleArn": "arn:aws:iam::123456789012:role/orders-api-role", "roleSessionName": "s"})
        ),
        None
    );
}

#[test]
fn accelerated_compute_every_launch_shape() {
    let gpu = [
        // RunInstances, API and CloudTrail (`instancesSet.items[].maxCount`).
        (
            "ec2:RunInstances",
            json!({"ImageId": "ami-1", "InstanceType": "p5.48xlarge", "MinCount": 20, "MaxCount": 20}),
        ),
        (
            "ec2:RunInstances",
            json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": 8}]}, "instanceType": "g5.12xlarge"}),
        ),
        // The CLI's spelling of the same call.
        (
            "ec2:run-instances",
            json!({"InstanceType": "trn1.32xlarge", "MaxCount": 1, "MinCount": 1}),
        ),
        // Spot requests and fleets.
        (
            "ec2:RequestSpotInstances",
            json!({"InstanceCount": 4, "LaunchSpecification": {"InstanceType": "p4d.24xlarge", "ImageId": "ami-1"}}),
        ),
        (
            "ec2:CreateFleet",
            json!({"LaunchTemplateConfigs": [{"LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1"}, "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "g6.xlarge"}]}]}),
        ),
        (
            "ec2:CreateFleet",
            json!({"CreateFleetRequest": {"LaunchTemplateConfigs": {"tag": 1, "Overrides": {"tag": 1, "InstanceType": "inf2.48xlarge"}}}}),
        ),
        (
            "ec2:RequestSpotFleet",
            json!({"SpotFleetRequestConfig": {"TargetCapacity": 10, "LaunchSpecifications": [{"InstanceType": "p3.16xlarge"}]}}),
        ),
    ];
    for (action, p) in gpu {
        assert_eq!(
            technique(action, p.clone()),
            Some("impact.accelerated-compute"),
            "{action} {p}"
        );
    }
    let plain = [
        json!({"ImageId": "ami-1", "InstanceType": "t3.micro", "MaxCount": 1, "MinCount": 1}),
        json!({"instancesSet": {"items": [{"imageId": "ami-1"}]}, "instanceType": "m5.large"}),
        json!({"LaunchTemplate": {"LaunchTemplateId": "lt-1"}, "MaxCount": 1, "MinCount": 1}),
    ];
    for p in plain {
        assert_eq!(technique("ec2:RunInstances", p.clone()), None, "{p}");
    }
    let said = effects(
        "ec2:RunInstances",
        json!({"InstanceType": "p5.48xlarge", "MinCount": 20, "MaxCount": 20}),
    );
    let text = format!("{said:?}");
    assert!(
        text.contains("up to 20") && text.contains("p5.48xlarge"),
        "{text}"
    );
}

#[test]
fn eks_cluster_admin_every_access_entry_shape() {
    let admin = [
        // API (rest-json: clusterName in the path, the rest in the body).
        (
            "eks:AssociateAccessPolicy",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:role/x",
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "accessScope": {"type": "cluster"}}),
        ),
        (
            "eks:AssociateAccessPolicy",
            json!({"ClusterName": "prod", "PrincipalArn": "arn:aws:iam::111122223333:role/x",
                "PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
                "AccessScope": {"Type": "namespace", "Namespaces": ["a"]}}),
        ),
        // CloudTrail names the cluster `name`.
        (
            "eks:CreateAccessEntry",
            json!({"name": "prod", "principalArn": "arn:aws:iam::111122223333:user/u", "kubernetesGroups": ["dev", "system:masters"]}),
        ),
        (
            "eks:UpdateAccessEntry",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:user/u", "kubernetesGroups": ["System:Masters"]}),
        ),
    ];
    for (action, p) in admin {
        assert_eq!(
            technique(action, p.clone()),
            Some("identity.kubernetes-admin"),
            "{action} {p}"
        );
    }
    let ordinary = [
        (
            "eks:AssociateAccessPolicy",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:role/x",
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                "accessScope": {"type": "cluster"}}),
        ),
        (
            "eks:CreateAccessEntry",
            json!({"clusterName": "prod", "principalArn": "arn:aws:iam::111122223333:role/x", "kubernetesGroups": ["viewers"]}),
        ),
    ];
    for (action, p) in ordinary {
        assert_eq!(technique(action, p.clone()), None, "{action} {p}");
    }
    let said = format!(
        "{:?}",
        effects(
            "eks:CreateAccessEntry",
            json!({"name": "prod", "principalArn": "arn:aws:iam::1:user/u", "kubernetesGroups": ["system:masters"]})
        )
    );
    assert!(
        said.contains("arn:aws:iam::1:user/u") && said.contains("prod"),
        "{said}"
    );
}

#[test]
fn disabling_a_kms_key_makes_its_data_unreadable() {
    for p in [
        json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
        json!({"keyId": "alias/prod"}),
    ] {
        assert_eq!(
            technique("kms:DisableKey", p.clone()),
            Some("impact.disable-key"),
            "{p}"
        );
    }
    assert_eq!(technique("kms:EnableKey", json!({"KeyId": "k"})), None);
}
