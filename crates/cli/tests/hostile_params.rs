//! `parapet call check` against hostile parameters: duplicate keys and security-group
//! sources that are not plain CIDRs never come back allowed.

mod common;
use common::bin;

fn check(params: &str) -> (i32, String, String) {
    let o = bin()
        .args([
            "call",
            "check",
            "--actor",
            "agent:kiro",
            "--action",
            "ec2:AuthorizeSecurityGroupIngress",
            "--params",
            params,
            "-f",
            "json",
        ])
        .env_remove("PARAPET_ACTOR")
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn duplicate_keys_at_any_depth_are_refused_naming_the_key() {
    for params in [
        r#"{"GroupId":"sg-1","IpPermissions":[{"IpProtocol":"-1","IpRanges":[{"CidrIp":"0.0.0.0/0"}]}],"IpPermissions":[]}"#,
        r#"{"GroupId":"sg-1","IpPermissions":[{"IpProtocol":"-1","IpRanges":[{"CidrIp":"0.0.0.0/0","CidrIp":"10.0.0.0/8"}]}]}"#,
    ] {
        let (code, out, err) = check(params);
        assert_eq!(code, 2, "{params}: {out}{err}");
        assert!(err.contains("duplicate key"), "{err}");
        assert!(
            err.contains("IpPermissions") || err.contains("CidrIp"),
            "{err}"
        );
    }
}

#[test]
fn sources_that_are_not_plain_cidrs_are_never_allowed() {
    for cidr in [
        r#""CidrIp":"0.0.0.0/0.0.0.0""#,
        r#""CidrIp":"0.0.0.0""#,
        r#""CidrIp":"0.0.0.0/ 0""#,
        r#""CidrIp":"0.0.0.0/0x0""#,
        r#""CidrIp":"0.0.0.0/00""#,
    ] {
        let params = format!(
            r#"{{"GroupId":"sg-1","IpPermissions":[{{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{{{cidr}}}]}}]}}"#
        );
        let (code, out, err) = check(&params);
        assert_eq!(code, 1, "{cidr}: {out}{err}");
        assert!(!out.contains("\"allow\""), "{cidr}: {out}");
    }
    for cidr in ["::/0%eth0", "::ffff:0.0.0.0/96", "::/00"] {
        let params = format!(
            r#"{{"GroupId":"sg-1","IpPermissions":[{{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"Ipv6Ranges":[{{"CidrIpv6":"{cidr}"}}]}}]}}"#
        );
        let (code, out, err) = check(&params);
        assert_eq!(code, 1, "{cidr}: {out}{err}");
    }
}
