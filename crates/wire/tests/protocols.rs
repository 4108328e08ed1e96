//! Edge cases of the query, ec2, json and rpc-v2-cbor protocols, routing, hostile input
//! and error replies, on hand-written requests.

mod common;

use common::{err, ok, query, run, Req, BASE};
use http::{HeaderMap, HeaderValue};
use parapet_wire::{
    error_reply, needs_body_to_route, route, Head, Protocol, Routing, ServiceModels, WireError,
};
use serde_json::json;

#[test]
fn query_protocol_nesting_and_types() {
    let (svc, op, p) = ok(query(
        "iam",
        "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D&MaxSessionDuration=3600&Tags.member.1.Key=a&Tags.member.1.Value=b+c&Tags.member.2.Key=d&Tags.member.2.Value=",
    ));
    assert_eq!((svc.as_str(), op.as_str()), ("iam", "CreateRole"));
    assert_eq!(
        p,
        json!({"RoleName": "r", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": 3600,
               "Tags": [{"Key": "a", "Value": "b c"}, {"Key": "d", "Value": ""}]})
    );
    // An empty list is `Name=`; maps are Name.entry.N.key/value.
    let (_, _, p) = ok(query(
        "sns",
        "Action=CreateTopic&Version=2010-03-31&Name=t&Tags=&Attributes.entry.1.key=Policy&Attributes.entry.1.value=x&Attributes.entry.2.key=DisplayName&Attributes.entry.2.value=y",
    ));
    assert_eq!(
        p,
        json!({"Name": "t", "Tags": [], "Attributes": {"Policy": "x", "DisplayName": "y"}})
    );
    // Booleans and integers are typed; bad ones name where they are.
    let e = err(query(
        "rds",
        "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=db&SkipFinalSnapshot=yes",
    ));
    assert!(
        e.contains("SkipFinalSnapshot") && e.contains("not a boolean"),
        "{e}"
    );
    let (_, _, p) = ok(query(
        "rds",
        "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=db&SkipFinalSnapshot=true",
    ));
    assert_eq!(
        p,
        json!({"DBInstanceIdentifier": "db", "SkipFinalSnapshot": true})
    );
}

#[test]
fn ec2_flat_lists_and_capitalised_names() {
    // The CLI's flat form of authorize-security-group-ingress, and the nested one.
    let (svc, op, p) = ok(query(
        "ec2",
        "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0%2F0&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&IpPermissions.1.IpRanges.2.CidrIp=10.0.0.0%2F8",
    ));
    assert_eq!(
        (svc.as_str(), op.as_str()),
        ("ec2", "AuthorizeSecurityGroupIngress")
    );
    assert_eq!(p["CidrIp"], "0.0.0.0/0");
    assert_eq!(p["FromPort"], 22);
    assert_eq!(
        p["IpPermissions"],
        json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}])
    );
    // ec2 lists have no `member`: InstanceId.N; the model's member is InstanceIds.
    let (_, _, p) = ok(query(
        "ec2",
        "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2",
    ));
    assert_eq!(p, json!({"InstanceIds": ["i-1", "i-2"]}));
}

#[test]
fn query_hostile_input() {
    let e = err(query(
        "ec2",
        "Action=TerminateInstances&Version=2016-11-15&InstanceId.99999999=i-1",
    ));
    assert!(
        e.contains("InstanceIds") && e.contains("indices must run 1..n"),
        "{e}"
    );
    let e = err(query(
        "ec2",
        "Action=TerminateInstances&Version=2016-11-15&InstanceId.01=i-1",
    ));
    assert!(e.contains("not a list index"), "{e}");
    let e = err(query(
        "ec2",
        "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=a&InstanceId.1=b",
    ));
    assert!(e.contains("more than once"), "{e}");
    let e = err(query(
        "ec2",
        "Action=TerminateInstances&Action=RunInstances&Version=2016-11-15",
    ));
    assert!(e.contains("more than once"), "{e}");
    // A name that differs from a member only in case could be read as it by the server.
    let e = err(query(
        "rds",
        "Action=DeleteDBInstance&Version=2014-10-31&DBInstanceIdentifier=db&skipfinalsnapshot=true",
    ));
    assert!(e.contains("only in case"), "{e}");
    let deep = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName{}=x",
        ".a".repeat(100)
    );
    let e = err(query("iam", &deep));
    assert!(e.contains("deeper"), "{e}");
    // Unknown action, wrong version, no Action at all: refused, never guessed.
    assert!(err(query("iam", "Action=DeleteEverything&Version=2010-05-08")).contains("no action"));
    assert!(err(query("iam", "Action=CreateRole&Version=1999-01-01")).contains("Version"));
    assert!(err(query("iam", "Version=2010-05-08")).contains("no Action"));
    let e = err(Req {
        sn: "iam",
        headers: &[("content-type", "text/plain")],
        body: b"Action=ListRoles",
        ..BASE
    });
    assert!(e.contains("no Action") || e.contains("form"), "{e}");
}

#[test]
fn query_version_picks_among_shared_signing_names() {
    // elb and elbv2 both sign as elasticloadbalancing.
    let (svc, _, _) = ok(query(
        "elasticloadbalancing",
        "Action=DescribeLoadBalancers&Version=2015-12-01",
    ));
    assert_eq!(svc, "elbv2");
    let (svc, _, _) = ok(query(
        "elasticloadbalancing",
        "Action=DescribeLoadBalancers&Version=2012-06-01",
    ));
    assert_eq!(svc, "elb");
    // GET with the query string only.
    let (svc, op, _) = ok(Req {
        sn: "sts",
        method: "GET",
        target: "/?Action=GetCallerIdentity&Version=2011-06-15",
        ..BASE
    });
    assert_eq!((svc.as_str(), op.as_str()), ("sts", "GetCallerIdentity"));
}

#[test]
fn body_is_needed_to_route_query() {
    let m = ServiceModels::embedded();
    assert!(needs_body_to_route(m, "ec2") && needs_body_to_route(m, "monitoring"));
    assert!(!needs_body_to_route(m, "dynamodb") && !needs_body_to_route(m, "s3"));
    let headers: HeaderMap = [(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    )]
    .into_iter()
    .collect();
    let head = Head {
        method: "POST",
        host: None,
        path: "/",
        query: "",
        headers: &headers,
    };
    assert!(matches!(
        route(m, &head, "ec2", None),
        Err(WireError::BodyRequired { .. })
    ));
}

#[test]
fn json_protocol() {
    let t = &[
        ("x-amz-target", "DynamoDB_20120810.DeleteTable"),
        ("content-type", "application/x-amz-json-1.0"),
    ];
    let (svc, op, p) = ok(Req {
        sn: "dynamodb",
        headers: t,
        body: br#"{"TableName":"t"}"#,
        ..BASE
    });
    assert_eq!(
        (svc.as_str(), op.as_str(), p),
        ("dynamodb", "DeleteTable", json!({"TableName": "t"}))
    );
    // An empty body is {}.
    let t = &[("x-amz-target", "AmazonSSM.DescribeParameters")];
    assert_eq!(
        ok(Req {
            sn: "ssm",
            headers: t,
            ..BASE
        })
        .2,
        json!({})
    );
    let t = &[("x-amz-target", "DynamoDB_20120810.DeleteTable")];
    let e = err(Req {
        sn: "dynamodb",
        headers: t,
        body: br#"{"TableName":"a","TableName":"b"}"#,
        ..BASE
    });
    assert!(e.contains("twice"), "{e}");
    let e = err(Req {
        sn: "dynamodb",
        headers: t,
        body: br#"{"TableName":5}"#,
        ..BASE
    });
    assert!(
        e.contains("TableName") && e.contains("expected a string"),
        "{e}"
    );
    let e = err(Req {
        sn: "dynamodb",
        headers: t,
        body: br#"{"tablename":"t"}"#,
        ..BASE
    });
    assert!(e.contains("only in case"), "{e}");
    let e = err(Req {
        sn: "dynamodb",
        headers: t,
        body: b"[1]",
        ..BASE
    });
    assert!(e.contains("not a JSON object"), "{e}");
    // Recursive shapes (AttributeValue maps) are bounded.
    let value = format!(
        r#"{}{{"S":"v"}}{}"#,
        r#"{"M":{"k":"#.repeat(40),
        "}}".repeat(40)
    );
    let deep = format!(r#"{{"TableName":"t","Item":{{"k":{value}}}}}"#);
    let t = &[("x-amz-target", "DynamoDB_20120810.PutItem")];
    let e = err(Req {
        sn: "dynamodb",
        headers: t,
        body: deep.as_bytes(),
        ..BASE
    });
    assert!(
        e.contains("deeper than 64") && e.contains("Item.k.M.k.M"),
        "{e}"
    );
    let t = &[("x-amz-target", "DynamoDB_20120810.DropEverything")];
    assert!(err(Req {
        sn: "dynamodb",
        headers: t,
        ..BASE
    })
    .contains("DropEverything"));
    // A target prefix that belongs to another signing name is not honoured.
    let t = &[("x-amz-target", "DynamoDB_20120810.DeleteTable")];
    assert!(err(Req {
        sn: "ssm",
        headers: t,
        ..BASE
    })
    .contains("X-Amz-Target"));
    // CloudWatch speaks json (botocore's choice) and query.
    let t = &[("x-amz-target", "GraniteServiceVersion20100801.DeleteAlarms")];
    let (svc, op, p) = ok(Req {
        sn: "monitoring",
        headers: t,
        body: br#"{"AlarmNames":["a"]}"#,
        ..BASE
    });
    assert_eq!(
        (svc.as_str(), op.as_str(), p),
        ("cloudwatch", "DeleteAlarms", json!({"AlarmNames": ["a"]}))
    );
    let (_, op, p) = ok(query(
        "monitoring",
        "Action=DeleteAlarms&Version=2010-08-01&AlarmNames.member.1=a",
    ));
    assert_eq!(
        (op.as_str(), p),
        ("DeleteAlarms", json!({"AlarmNames": ["a"]}))
    );
}

#[test]
fn cbor_protocol() {
    // {"AlarmNames": ["a"]} in CBOR.
    let body = [
        0xa1, 0x6a, b'A', b'l', b'a', b'r', b'm', b'N', b'a', b'm', b'e', b's', 0x81, 0x61, b'a',
    ];
    let (svc, op, p) = ok(Req {
        sn: "monitoring",
        target: "/service/GraniteServiceVersion20100801/operation/DeleteAlarms",
        headers: &[
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
        ],
        body: &body,
        ..BASE
    });
    assert_eq!(
        (svc.as_str(), op.as_str(), p),
        ("cloudwatch", "DeleteAlarms", json!({"AlarmNames": ["a"]}))
    );
    assert!(err(Req {
        sn: "monitoring",
        target: "/service/GraniteServiceVersion20100801/operation/Nope",
        headers: &[("smithy-protocol", "rpc-v2-cbor")],
        ..BASE
    })
    .contains("Nope"));
}

#[test]
fn unknown_services_and_operations_fail_closed() {
    assert!(matches!(
        run(
            Req {
                sn: "nosuchservice",
                ..BASE
            },
            &Routing::default()
        ),
        Err(WireError::UnknownService { .. })
    ));
    let e = run(
        Req {
            sn: "lambda",
            method: "GET",
            target: "/nothing/here",
            ..BASE
        },
        &Routing::default(),
    )
    .unwrap_err();
    assert!(matches!(e, WireError::UnknownOperation { .. }));
    assert_eq!(e.aws_code(Protocol::RestJson), "UnknownOperationException");
    assert_eq!(e.aws_code(Protocol::Query), "InvalidAction");
    assert_eq!(e.status(), 400);
    // Two X-Amz-Target headers: refused.
    let t = &[
        ("x-amz-target", "DynamoDB_20120810.DeleteTable"),
        ("x-amz-target", "DynamoDB_20120810.ListTables"),
    ];
    assert!(err(Req {
        sn: "dynamodb",
        headers: t,
        ..BASE
    })
    .contains("more than once"));
}

#[test]
fn error_replies_parse_as_botocore_does() {
    let r = error_reply(
        Protocol::RestXml,
        403,
        "AccessDenied",
        "denied by parapet: d-1",
        "req-1",
    );
    let body = String::from_utf8(r.body).unwrap();
    assert!(
        body.contains("<Error><Code>AccessDenied</Code><Message>denied by parapet: d-1</Message>"),
        "{body}"
    );
    let r = error_reply(Protocol::Ec2, 403, "UnauthorizedOperation", "m", "req-1");
    assert!(String::from_utf8(r.body)
        .unwrap()
        .contains("<Response><Errors><Error><Code>UnauthorizedOperation</Code>"));
    let r = error_reply(
        Protocol::RestJson,
        403,
        "AccessDeniedException",
        "m",
        "req-1",
    );
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "x-amzn-ErrorType" && v == "AccessDeniedException"));
}
