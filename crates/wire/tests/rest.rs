//! Edge cases of rest-json and rest-xml: S3 addressing and operation choice, labels, query
//! strings, headers, payloads and XML bodies.

mod common;

use common::{err, ok, run, Req, BASE};
use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_wire::{parameters, route, BodyUse, Head, Protocol, Routing, ServiceModels};
use serde_json::json;

fn s3(method: &'static str, host: &'static str, target: &'static str) -> Req<'static> {
    Req {
        sn: "s3",
        method,
        host,
        target,
        ..BASE
    }
}

#[test]
fn s3_addressing_and_routing() {
    for (host, target) in [
        ("b1.s3.us-east-1.amazonaws.com", "/dir/a%20b.txt"),
        ("b1.s3.amazonaws.com", "/dir/a%20b.txt"),
        ("b1.s3-us-west-2.amazonaws.com", "/dir/a%20b.txt"),
        ("s3.us-east-1.amazonaws.com", "/b1/dir/a%20b.txt"),
        ("b1.localhost:4566", "/dir/a%20b.txt"),
        ("localhost:4566", "/b1/dir/a%20b.txt"),
        ("127.0.0.1:4566", "/b1/dir/a%20b.txt"),
    ] {
        let (_, op, p) = ok(s3("DELETE", host, target));
        assert_eq!(
            (op.as_str(), &p),
            (
                "DeleteObject",
                &json!({"Bucket": "b1", "Key": "dir/a b.txt"})
            ),
            "{host}"
        );
    }
    // The proxy's own host names: path style on the host, virtual under it.
    let opts = Routing {
        endpoint_hosts: vec!["proxy.corp:8080".into()],
    };
    let r = run(s3("DELETE", "b2.proxy.corp:8080", "/"), &opts).unwrap();
    assert_eq!(
        (r.1.as_str(), &r.2),
        ("DeleteBucket", &json!({"Bucket": "b2"}))
    );
    let r = run(s3("DELETE", "proxy.corp:8080", "/b2"), &opts).unwrap();
    assert_eq!(r.2, json!({"Bucket": "b2"}));
    // Literal query parts, required members and headers tell shared URIs apart.
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b?list-type=2&prefix=x")).1,
        "ListObjectsV2"
    );
    assert_eq!(ok(s3("GET", "s3.amazonaws.com", "/b")).1, "ListObjects");
    assert_eq!(ok(s3("GET", "s3.amazonaws.com", "/b/")).1, "ListObjects");
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b?acl")).1,
        "GetBucketAcl"
    );
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b/k?uploadId=u")).1,
        "ListParts"
    );
    assert_eq!(ok(s3("GET", "s3.amazonaws.com", "/b/k")).1, "GetObject");
    assert_eq!(
        ok(s3("DELETE", "s3.amazonaws.com", "/b/k?uploadId=u")).1,
        "AbortMultipartUpload"
    );
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b?analytics&id=i")).1,
        "GetBucketAnalyticsConfiguration"
    );
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b?analytics")).1,
        "ListBucketAnalyticsConfigurations"
    );
    let copy = Req {
        headers: &[("x-amz-copy-source", "src/k")],
        ..s3("PUT", "s3.amazonaws.com", "/b/k")
    };
    assert_eq!(ok(copy).1, "CopyObject");
    let part_copy = Req {
        headers: &[("x-amz-copy-source", "src/k")],
        ..s3("PUT", "s3.amazonaws.com", "/b/k?partNumber=1&uploadId=u")
    };
    assert_eq!(ok(part_copy).1, "UploadPartCopy");
    // Smithy SDKs name the operation in x-id.
    assert_eq!(
        ok(s3("GET", "s3.amazonaws.com", "/b/k?x-id=GetObject")).1,
        "GetObject"
    );
    assert!(err(s3("GET", "s3.amazonaws.com", "/b/k?x-id=DeleteObject")).contains("no operation"));
    assert!(err(s3("PATCH", "s3.amazonaws.com", "/b")).contains("no operation"));
}

#[test]
fn s3_streams_uploads_and_reads_headers() {
    let headers = &[
        ("x-amz-meta-owner", "alice"),
        ("x-amz-meta-Team", "blue"),
        ("x-amz-acl", "public-read"),
        ("content-length", "5"),
        (
            "x-amz-object-lock-retain-until-date",
            "Tue, 02 Jan 2024 03:04:05 GMT",
        ),
    ];
    let mut hm = HeaderMap::new();
    for (k, v) in headers {
        hm.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let head = Head {
        method: "PUT",
        host: Some("b.s3.amazonaws.com"),
        path: "/k",
        query: "",
        headers: &hm,
    };
    let m = ServiceModels::embedded();
    let r = route(m, &head, "s3", None).unwrap();
    assert_eq!(
        (r.operation, r.body, r.protocol),
        ("PutObject", BodyUse::Stream, Protocol::RestXml)
    );
    assert_eq!(r.host_bucket.as_deref(), Some("b"));
    assert_eq!(r.iam_action(), "s3:PutObject");
    // The body is never read: garbage is fine.
    let p = parameters(&r, &head, b"\xff\x00not xml").unwrap();
    assert_eq!(
        p,
        json!({"Bucket": "b", "Key": "k", "ACL": "public-read", "ContentLength": 5,
               "Metadata": {"owner": "alice", "team": "blue"},
               "ObjectLockRetainUntilDate": "Tue, 02 Jan 2024 03:04:05 GMT"})
    );
}

#[test]
fn rest_xml_bodies() {
    let body = br#"<?xml version="1.0"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList><Owner><ID>o</ID></Owner></AccessControlPolicy>"#;
    let (_, op, p) = ok(Req {
        body,
        ..s3("PUT", "b.s3.amazonaws.com", "/?acl")
    });
    assert_eq!(op, "PutBucketAcl");
    assert_eq!(
        p["AccessControlPolicy"],
        json!({"Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                           "Permission": "READ"}], "Owner": {"ID": "o"}})
    );
    // Flattened lists: lifecycle <Rule> elements repeat directly.
    let body = br#"<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>b</ID><Status>Disabled</Status></Rule></LifecycleConfiguration>"#;
    let (_, _, p) = ok(Req {
        body,
        ..s3("PUT", "b.s3.amazonaws.com", "/?lifecycle")
    });
    assert_eq!(
        p["LifecycleConfiguration"]["Rules"],
        json!([{"ID": "a", "Status": "Enabled", "Expiration": {"Days": 1}}, {"ID": "b", "Status": "Disabled"}])
    );
    for (bad, why) in [
        (&br#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><LifecycleConfiguration/>"#[..], "DOCTYPE"),
        (br#"<LifecycleConfiguration><Rule><ID>a</ID><ID>b</ID><Status>Enabled</Status></Rule></LifecycleConfiguration>"#, "2 times"),
        (br#"<LifecycleConfiguration><Rule><Expiration><Days>x</Days></Expiration></Rule></LifecycleConfiguration>"#, "not an integer"),
        (br#"<LifecycleConfiguration><rule/></LifecycleConfiguration>"#, "only in case"),
    ] {
        let e = err(Req { body: bad, ..s3("PUT", "b.s3.amazonaws.com", "/?lifecycle") });
        assert!(e.contains(why), "{why}: {e}");
    }
    // route53: the body's structure is the input (no payload member).
    let body = br#"<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>a.example.</Name><Type>A</Type></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"#;
    let (_, op, p) = ok(Req {
        sn: "route53",
        body,
        target: "/2013-04-01/hostedzone/Z1/rrset/",
        host: "route53.amazonaws.com",
        ..BASE
    });
    assert_eq!(op, "ChangeResourceRecordSets");
    assert_eq!(p["HostedZoneId"], "Z1");
    assert_eq!(
        p["ChangeBatch"]["Changes"][0]["ResourceRecordSet"]["Name"],
        "a.example."
    );
}

#[test]
fn rest_json_labels_query_headers_body() {
    let (svc, op, p) = ok(Req {
        sn: "lambda",
        method: "DELETE",
        host: "lambda.us-east-1.amazonaws.com",
        target: "/2015-03-31/functions/my%3Afn/policy/s1?RevisionId=r",
        ..BASE
    });
    assert_eq!((svc.as_str(), op.as_str()), ("lambda", "RemovePermission"));
    assert_eq!(
        p,
        json!({"FunctionName": "my:fn", "StatementId": "s1", "RevisionId": "r"})
    );
    // Lambda Invoke's payload is a blob: streamed, never parsed.
    let (_, op, p) = ok(Req {
        sn: "lambda",
        host: "lambda.us-east-1.amazonaws.com",
        target: "/2015-03-31/functions/f/invocations",
        headers: &[("x-amz-invocation-type", "Event")],
        body: b"not json",
        ..BASE
    });
    assert_eq!(
        (op.as_str(), p),
        (
            "Invoke",
            json!({"FunctionName": "f", "InvocationType": "Event"})
        )
    );
    // A JSON body fills the body members; a uri-bound name in the body is not read.
    let (_, op, p) = ok(Req {
        sn: "eks",
        host: "eks.us-east-1.amazonaws.com",
        target: "/clusters/c/node-groups",
        body: br#"{"nodegroupName":"n","subnets":["s"],"nodeRole":"r","name":"other","scalingConfig":{"desiredSize":2}}"#,
        ..BASE
    });
    assert_eq!(op, "CreateNodegroup");
    assert_eq!(p["clusterName"], "c");
    assert_eq!(p["scalingConfig"], json!({"desiredSize": 2}));
    let e = err(Req {
        sn: "eks",
        host: "eks.us-east-1.amazonaws.com",
        target: "/clusters/c/node-groups",
        body: br#"{"nodegroupName":"n","nodegroupName":"m"}"#,
        ..BASE
    });
    assert!(e.contains("twice"), "{e}");
    // A scalar query parameter given twice is refused.
    let e = err(Req {
        sn: "lambda",
        method: "GET",
        host: "lambda.us-east-1.amazonaws.com",
        target: "/2015-03-31/functions/f?Qualifier=a&Qualifier=b",
        ..BASE
    });
    assert!(
        e.contains("Qualifier") && e.contains("more than once"),
        "{e}"
    );
    // The host picks among services that share a signing name and a URI.
    let (svc, op, _) = ok(Req {
        sn: "sagemaker",
        host: "runtime.sagemaker.us-east-1.amazonaws.com",
        target: "/endpoints/e/invocations",
        ..BASE
    });
    assert_eq!(
        (svc.as_str(), op.as_str()),
        ("sagemaker-runtime", "InvokeEndpoint")
    );
}
