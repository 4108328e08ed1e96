use serde_json::json;

use super::*;

fn one(line: &str) -> CliCall {
    let mut calls =
        parse_command(ServiceModels::embedded(), line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(calls.len(), 1, "{line}: {calls:?}");
    calls.remove(0)
}

fn err(line: &str) -> CliError {
    match parse_command(ServiceModels::embedded(), line) {
        Ok(c) => panic!("{line}: parsed as {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn rds_delete() {
    let c = one("aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot");
    assert_eq!(c.iam_action, "rds:DeleteDBInstance");
    assert_eq!(
        c.params,
        json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": true})
    );
    let c = one("aws --region eu-west-1 rds delete-db-instance --db-instance-identifier=prod --no-skip-final-snapshot --profile p");
    assert_eq!(
        c.params,
        json!({"DBInstanceIdentifier": "prod", "SkipFinalSnapshot": false})
    );
    assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    assert_eq!(c.profile.as_deref(), Some("p"));
    // argparse abbreviations; the last of --x/--no-x wins.
    let c = one("aws rds delete-db-instance --db-instance-id prod --skip-final-snapshot --no-skip-final-snapshot");
    assert_eq!(c.params["SkipFinalSnapshot"], json!(false));
}

#[test]
fn types_lists_shorthand_json() {
    let c = one("aws ec2 describe-instances --instance-ids i-1 i-2 --filters Name=tag:Env,Values=prod,dev Name=instance-state-name,Values=running --max-results 10");
    assert_eq!(c.iam_action, "ec2:DescribeInstances");
    assert_eq!(
        c.params,
        json!({"InstanceIds": ["i-1", "i-2"], "MaxResults": 10, "Filters": [
            {"Name": "tag:Env", "Values": ["prod", "dev"]},
            {"Name": "instance-state-name", "Values": ["running"]}]})
    );
    let c = one(r#"aws ec2 create-tags --resources i-1 --tags '[{"Key":"a","Value":"b"}]'"#);
    assert_eq!(c.params["Tags"], json!([{"Key": "a", "Value": "b"}]));
    let c = one("aws ec2 authorize-security-group-ingress --group-id sg-1 --ip-permissions IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]");
    assert_eq!(
        c.params["IpPermissions"],
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    );
    let c = one(r#"aws dynamodb put-item --table-name t --item '{"id": {"S": "1"}}'"#);
    assert_eq!(c.params["Item"], json!({"id": {"S": "1"}}));
    let c = one(
        r#"aws iam put-role-policy --role-name r --policy-name p --policy-document '{"Version":"2012-10-17"}'"#,
    );
    assert_eq!(
        c.params["PolicyDocument"],
        json!(r#"{"Version":"2012-10-17"}"#)
    );
    let c = one(
        r#"aws s3api put-bucket-versioning --bucket b --versioning-configuration Status=Enabled"#,
    );
    assert_eq!(c.iam_action, "s3:PutBucketVersioning");
    assert_eq!(
        c.params["VersioningConfiguration"],
        json!({"Status": "Enabled"})
    );
    // A map in shorthand; a structure with one Value member from a bare word.
    let c = one("aws lambda update-function-configuration --function-name f --environment Variables={A=1,B=2}");
    assert_eq!(
        c.params["Environment"],
        json!({"Variables": {"A": "1", "B": "2"}})
    );
    let c = one("aws ec2 modify-instance-attribute --instance-id i-1 --instance-type t3.large");
    assert_eq!(c.params["InstanceType"], json!({"Value": "t3.large"}));
    // --cli-input-json, overridden by the line.
    let c = one(
        r#"aws rds delete-db-instance --cli-input-json '{"DBInstanceIdentifier":"a","SkipFinalSnapshot":true}' --db-instance-identifier b"#,
    );
    assert_eq!(
        c.params,
        json!({"DBInstanceIdentifier": "b", "SkipFinalSnapshot": true})
    );
    // Renamed and inverted flags from the exceptions table.
    let c = one("aws ec2 create-image --instance-id i-1 --name n --reboot");
    assert_eq!(c.params["NoReboot"], json!(false));
    let c = one("aws rds add-option-to-option-group --option-group-name g --options OptionName=x");
    assert_eq!(c.iam_action, "rds:ModifyOptionGroup");
    assert_eq!(c.params["OptionsToInclude"], json!([{"OptionName": "x"}]));
    // Blobs: their base64 text; a streaming body (a local file) is left out.
    let c = one("aws kms encrypt --key-id k --plaintext hello");
    assert_eq!(c.params["Plaintext"], json!("aGVsbG8="));
    let c = one("aws s3api put-object --bucket b --key k --body ./file.txt");
    assert_eq!(c.params, json!({"Bucket": "b", "Key": "k"}));
    // Paging arguments are the CLI's own.
    let c = one("aws iam list-users --max-items 5 --page-size 2");
    assert_eq!(c.params, json!({}));
}

#[test]
fn s3_high_level() {
    let m = ServiceModels::embedded();
    let calls = |l: &str| -> Vec<(String, Value, Option<String>)> {
        parse_command(m, l)
            .unwrap_or_else(|e| panic!("{l}: {e}"))
            .into_iter()
            .map(|c| (c.iam_action, c.params, c.resource))
            .collect()
    };
    assert_eq!(
        calls("aws s3 rm s3://b/logs/ --recursive"),
        [
            (
                "s3:ListObjectsV2".into(),
                json!({"Bucket": "b", "Prefix": "logs/"}),
                None
            ),
            (
                "s3:DeleteObject".into(),
                json!({"Bucket": "b", "Key": "logs/"}),
                Some("arn:aws:s3:::b/logs/*".into())
            ),
        ]
    );
    assert_eq!(
        calls("aws s3 rm s3://b/k")[0],
        (
            "s3:DeleteObject".into(),
            json!({"Bucket": "b", "Key": "k"}),
            None
        )
    );
    assert_eq!(
        calls("aws s3 cp ./a.txt s3://b/dir/")[0].1,
        json!({"Bucket": "b", "Key": "dir/a.txt"})
    );
    assert_eq!(calls("aws s3 cp s3://b/k .")[0].0, "s3:GetObject");
    let c = calls("aws s3 mv s3://a/k s3://b/ --acl public-read");
    assert_eq!(
        c[0],
        (
            "s3:CopyObject".into(),
            json!({"Bucket": "b", "Key": "k", "CopySource": "a/k", "ACL": "public-read"}),
            None
        )
    );
    assert_eq!(c[1].0, "s3:DeleteObject");
    let c = calls("aws s3 sync ./site s3://b/www --delete");
    let acts: Vec<&str> = c.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        acts,
        ["s3:ListObjectsV2", "s3:PutObject", "s3:DeleteObject"]
    );
    let c = calls("aws s3 rb s3://b --force");
    let acts: Vec<&str> = c.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        acts,
        ["s3:ListObjectsV2", "s3:DeleteObject", "s3:DeleteBucket"]
    );
    assert_eq!(calls("aws s3 ls")[0].0, "s3:ListBuckets");
    assert_eq!(
        calls("aws s3 ls s3://b/p --recursive")[0].1,
        json!({"Bucket": "b", "Prefix": "p"})
    );
    assert_eq!(
        calls("aws --region eu-west-1 s3 mb s3://b")[0].1["CreateBucketConfiguration"],
        json!({"LocationConstraint": "eu-west-1"})
    );
    assert!(matches!(err("aws s3 cp a b"), CliError::BadArgument { .. }));
    assert!(matches!(
        err("aws s3 rm s3://b/k --bogus"),
        CliError::BadArgument { .. }
    ));
    assert!(matches!(
        err("aws s3 frobnicate s3://b"),
        CliError::UnknownOperation { .. }
    ));
}

#[test]
fn refused() {
    assert!(matches!(err("aws s3 ls | sh"), CliError::Shell(_)));
    assert!(matches!(
        err("aws s3api list-buckets && aws s3 rb s3://x"),
        CliError::Shell(_)
    ));
    assert!(matches!(err("ls -la"), CliError::NotAws));
    assert!(matches!(err(""), CliError::NotAws));
    assert!(matches!(err("aws"), CliError::NoService));
    assert!(matches!(
        err("aws nosuchsvc do-it"),
        CliError::UnknownService(_)
    ));
    assert!(matches!(
        err("aws ec2 do-it"),
        CliError::UnknownOperation { .. }
    ));
    assert!(matches!(
        err("aws --endpoint-url http://x ec2 describe-instances"),
        CliError::EndpointOverride(_)
    ));
    assert!(matches!(
        err("aws ec2 describe-instances --endpoint http://x"),
        CliError::EndpointOverride(_)
    ));
    assert!(matches!(
        err("aws iam create-policy --policy-name p --policy-document file://p.json"),
        CliError::External { .. }
    ));
    assert!(matches!(
        err("aws iam create-policy --policy-name p --policy-document https://x/p.json"),
        CliError::External { .. }
    ));
    assert!(matches!(
        err("aws ec2 run-instances --image-id a --user-data fileb://x"),
        CliError::External { .. }
    ));
    assert!(matches!(
        err("aws ec2 describe-instances --bogus 1"),
        CliError::BadArgument { .. }
    ));
    assert!(matches!(
        err("aws ec2 describe-instances stray"),
        CliError::BadArgument { .. }
    ));
    assert!(matches!(
        err("aws ec2 describe-instances --max-results ten"),
        CliError::BadArgument { .. }
    ));
    assert!(matches!(
        err("aws rds delete-db-instance --db-instance-identifier"),
        CliError::BadArgument { .. }
    ));
    assert!(matches!(
        err("aws ec2 describe-instances help"),
        CliError::NoCall(_)
    ));
    assert!(matches!(
        err("aws ec2 describe-instances --generate-cli-skeleton"),
        CliError::NoCall(_)
    ));
    assert!(matches!(
        err("aws configure set aws_access_key_id x"),
        CliError::Unsupported { .. }
    ));
    assert!(matches!(
        err("aws ec2 run-instances --image-id a --count 2"),
        CliError::Unsupported { .. }
    ));
    assert!(matches!(
        err("aws cloudformation deploy --template-file t --stack-name s"),
        CliError::Unsupported { .. }
    ));
    assert!(matches!(
        err("aws ec2 describe-instances --filters '{bad json'"),
        CliError::BadArgument { .. }
    ));
    // template-url is exempt from URL fetching: read as the URL it is.
    let c = one("aws cloudformation create-stack --stack-name s --template-url https://b.s3.amazonaws.com/t.yaml");
    assert_eq!(
        c.params["TemplateURL"],
        json!("https://b.s3.amazonaws.com/t.yaml")
    );
}
