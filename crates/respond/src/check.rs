//! Whether a check call's answer shows what a step's check expects.

use crate::Expect;
use parapet_wire::Answer;
use std::collections::BTreeMap;

/// Whether the answer shows what `expect` asks, and what it showed otherwise.
pub(crate) fn shows(a: &Answer, expect: &Expect) -> Result<(), String> {
    match expect {
        Expect::Error(code) => match &a.code {
            Some(c) if c == code => Ok(()),
            Some(_) => Err(format!("answered {} (expected {code})", a.failure())),
            None => Err(format!("the call succeeded (expected {code})")),
        },
        _ if !a.ok() => Err(format!("the check call failed: {}", a.failure())),
        Expect::Has(want) if a.tree.find(want).is_some() => Ok(()),
        Expect::Has(want) => Err(format!("the answer holds no element with {}", pairs(want))),
        Expect::Lacks(any) => match any.iter().find_map(|w| Some((a.tree.find(w)?, w))) {
            Some((n, w)) => Err(format!("the answer still holds {}", n.shown(w))),
            None => Ok(()),
        },
    }
}

fn pairs(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use parapet_wire::read_answer;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn iam_answers_and_errors_are_read() {
        // As IAM answers ListAccessKeys and GetLoginProfile (IAM API reference examples).
        let ok = br#"<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListAccessKeysResult><AccessKeyMetadata>
    <member><UserName>Bob</UserName><AccessKeyId>AKIA1</AccessKeyId><Status>Inactive</Status></member>
    <member><UserName>Bob</UserName><AccessKeyId>AKIA2</AccessKeyId><Status>Active</Status></member>
  </AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</ListAccessKeysResponse>"#;
        let a = read_answer(200, ok, false).unwrap();
        assert!(a.ok());
        assert_eq!(
            a.request_id.as_deref(),
            Some("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        );
        assert!(shows(
            &a,
            &Expect::Has(m(&[("AccessKeyId", "AKIA1"), ("Status", "Inactive")]))
        )
        .is_ok());
        let e = shows(
            &a,
            &Expect::Has(m(&[("AccessKeyId", "AKIA2"), ("Status", "Inactive")])),
        )
        .unwrap_err();
        assert!(e.contains("AccessKeyId=AKIA2"), "{e}");
        let err = br#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>Login Profile for User x &amp; y cannot be found.</Message></Error><RequestId>r1</RequestId></ErrorResponse>"#;
        let a = read_answer(404, err, false).unwrap();
        assert!(!a.ok());
        assert!(shows(&a, &Expect::Error("NoSuchEntity".into())).is_ok());
        assert_eq!(
            a.failure(),
            "NoSuchEntity: Login Profile for User x & y cannot be found."
        );
    }

    #[test]
    fn ec2_lacks_and_json_errors() {
        let empty = br#"<DescribeSnapshotAttributeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><snapshotId>snap-1</snapshotId><createVolumePermission/></DescribeSnapshotAttributeResponse>"#;
        let lacks = Expect::Lacks(vec![m(&[("group", "*")]), m(&[("userId", "*")])]);
        assert!(shows(&read_answer(200, empty, false).unwrap(), &lacks).is_ok());
        let shared = br#"<DescribeSnapshotAttributeResponse><requestId>r</requestId><createVolumePermission><item><group>all</group></item></createVolumePermission></DescribeSnapshotAttributeResponse>"#;
        let e = shows(&read_answer(200, shared, false).unwrap(), &lacks).unwrap_err();
        assert!(e.contains("group=all"), "{e}");
        let j = br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'x' does not exist"}"#;
        let a = read_answer(400, j, true).unwrap();
        assert_eq!(a.code.as_deref(), Some("NotFoundException"));
    }
}
