//! What the AWS CLI names differently from the service models (`data/aws-cli.json.gz`,
//! made by `scripts/gen-cli-table` from the pinned awscli), and botocore's `xform_name`.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

static CLI_GZ: &[u8] = include_bytes!("../../data/aws-cli.json.gz");

#[derive(Debug, Deserialize)]
pub(crate) struct CliTable {
    pub awscli: String,
    /// CLI service command -> its botocore id and exceptions.
    pub services: HashMap<String, CliService>,
    /// Top-level commands that are no service (`s3`, `configure`, `history`).
    pub custom_commands: Vec<String>,
    /// `<service>.<operation>.<argument>` whose values are never read from files or URLs.
    pub paramfile_disabled: HashSet<String>,
    /// The high-level `aws s3` commands: option -> how many values it takes.
    pub s3_commands: HashMap<String, HashMap<String, Nargs>>,
    pub xform_special: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CliService {
    pub id: String,
    #[serde(default)]
    pub ops: HashMap<String, OpSpec>,
    #[serde(default)]
    pub custom_ops: Vec<String>,
    #[serde(default)]
    pub removed_ops: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct OpSpec {
    /// The operation, when its CLI name is not `xform_name` of it.
    pub name: Option<String>,
    /// Member -> its argument names, where they are not `xform_name` of the member
    /// (and `no-` of it for a boolean); `!name` sets a boolean false.
    #[serde(default)]
    pub args: HashMap<String, Vec<String>>,
    /// Arguments a customization adds (not members): their values are not readable here.
    #[serde(default)]
    pub custom_args: Vec<String>,
    /// Members the CLI offers no argument for.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// The CLI pages through results: `--max-items`, `--starting-token`, `--page-size`.
    #[serde(default)]
    pub paginated: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum Nargs {
    Count(usize),
    Kind(String),
}

impl CliTable {
    pub fn embedded() -> &'static CliTable {
        static TABLE: OnceLock<CliTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // Generated and checked by this crate's tests: unreadable is a build defect.
            let mut text = String::new();
            flate2::read::GzDecoder::new(CLI_GZ)
                .read_to_string(&mut text)
                .expect("embedded aws-cli table gunzips");
            serde_json::from_str(&text).expect("embedded aws-cli table decodes")
        })
    }

    /// botocore's `xform_name(name, '-')`: `DeleteDBInstance` -> `delete-db-instance`.
    pub fn xform(&self, name: &str) -> String {
        if let Some(s) = self.xform_special.get(name) {
            return s.clone();
        }
        xform_name(name)
    }
}

/// botocore's `xform_name` with `-`, without its table of special cases.
pub(crate) fn xform_name(name: &str) -> String {
    static RES: OnceLock<[Regex; 3]> = OnceLock::new();
    let [special, first_cap, end_cap] = RES.get_or_init(|| {
        [
            Regex::new("[A-Z]{2,}s$").expect("regex"),
            Regex::new("(.)([A-Z][a-z]+)").expect("regex"),
            Regex::new("([a-z0-9])([A-Z])").expect("regex"),
        ]
    });
    if name.contains('-') {
        return name.to_string();
    }
    let mut name = name.to_string();
    if let Some(m) = special.find(&name) {
        let matched = m.as_str().to_lowercase();
        name = format!("{}-{matched}", &name[..m.start()]);
    }
    let s1 = first_cap.replace_all(&name, "$1-$2");
    end_cap.replace_all(&s1, "$1-$2").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xform() {
        for (a, b) in [
            ("DeleteDBInstance", "delete-db-instance"),
            ("ListWebACLs", "list-web-acls"),
            ("DescribeInstances", "describe-instances"),
            ("GetBucketAcl", "get-bucket-acl"),
            ("CreateCachediSCSIVolume", "create-cachedi-scsi-volume"),
            ("PutObjectLegalHold", "put-object-legal-hold"),
            (
                "AssociateVPCWithHostedZone",
                "associate-vpc-with-hosted-zone",
            ),
            ("Ipv6CidrBlock", "ipv6-cidr-block"),
            ("SSEKMSKeyId", "ssekms-key-id"),
        ] {
            assert_eq!(xform_name(a), b, "{a}");
        }
        let t = CliTable::embedded();
        assert_eq!(
            t.xform("CreateCachediSCSIVolume"),
            "create-cached-iscsi-volume"
        );
        assert_eq!(t.services["s3api"].id, "s3");
        assert!(t.custom_commands.iter().any(|c| c == "s3"));
    }
}
