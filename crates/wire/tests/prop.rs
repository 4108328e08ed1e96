//! No panic on arbitrary request heads and bodies: every input routes and reads to a
//! value or a WireError.

use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_wire::{error_reply, parameters, route, Head, Protocol, ServiceModels};
use proptest::prelude::*;

const SIGNING: &[&str] = &[
    "s3",
    "ec2",
    "iam",
    "dynamodb",
    "monitoring",
    "lambda",
    "rds",
    "sagemaker",
    "route53",
    "x",
];
const TARGETS: &[&str] = &[
    "",
    "DynamoDB_20120810.PutItem",
    "GraniteServiceVersion20100801.PutMetricData",
    "SageMaker.CreateEndpoint",
    "a.",
    ".",
];
const PATHS: &[&str] = &[
    "/",
    "/b/k",
    "/b",
    "/2015-03-31/functions/f/invocations",
    "/2013-04-01/hostedzone/Z/rrset/",
    "/service/GraniteServiceVersion20100801/operation/PutMetricData",
    "/endpoints/e/invocations",
];
const BODIES: &[&[u8]] = &[
    b"Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1&ImageId=a&BlockDeviceMapping.1.DeviceName=x",
    b"Action=CreateRole&Version=2010-05-08&Tags.member.1.Key=a",
    br#"{"TableName":"t","Item":{"k":{"S":"v"}}}"#,
    br#"<LifecycleConfiguration><Rule><ID>a</ID></Rule></LifecycleConfiguration>"#,
    b"\xa1\x61a\x81\x01",
];

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (
            0..BODIES.len(),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)
        )
            .prop_map(|(i, edits)| {
                let mut b = BODIES[i].to_vec();
                for (at, byte) in edits {
                    if !b.is_empty() {
                        let n = b.len();
                        b[at % n] = byte;
                    }
                }
                b
            }),
        "[A-Za-z0-9.=&%+]{0,120}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn route_and_parameters_never_panic(
        sn in 0..SIGNING.len(),
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("HEAD")],
        host in prop_oneof![Just("b.s3.amazonaws.com".to_string()), Just("x.localhost".to_string()), "[a-z0-9.\\-]{0,20}"],
        path in prop_oneof![(0..PATHS.len()).prop_map(|i| PATHS[i].to_string()), "/[a-zA-Z0-9%/+{}.\\-]{0,40}"],
        query in "[a-zA-Z0-9=&%.\\-+]{0,60}",
        target in 0..TARGETS.len(),
        form in any::<bool>(),
        cbor in any::<bool>(),
        extra in proptest::collection::vec(("x-amz-[a-z\\-]{1,12}", "[ -~]{0,20}"), 0..4),
        body in body_strategy(),
    ) {
        let mut headers = HeaderMap::new();
        if !TARGETS[target].is_empty() {
            headers.insert("x-amz-target", HeaderValue::from_static(TARGETS[target]));
        }
        if form {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        }
        if cbor {
            headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        }
        for (k, v) in &extra {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
                headers.append(k, v);
            }
        }
        let head = Head { method, host: Some(&host), path: &path, query: &query, headers: &headers };
        let models = ServiceModels::embedded();
        if let Ok(r) = route(models, &head, SIGNING[sn], Some(&body)) {
            match parameters(&r, &head, &body) {
                Ok(v) => prop_assert!(v.is_object()),
                Err(e) => {
                    let reply = error_reply(r.protocol, e.status(), e.aws_code(r.protocol), &e.to_string(), "id");
                    prop_assert!(reply.status >= 400);
                }
            }
        }
    }

    #[test]
    fn error_replies_never_panic(code in ".{0,40}", message in ".{0,80}", rid in ".{0,20}", status in any::<u16>()) {
        for p in [Protocol::Query, Protocol::Ec2, Protocol::Json, Protocol::RestJson, Protocol::RestXml, Protocol::RpcV2Cbor] {
            let r = error_reply(p, status, &code, &message, &rid);
            prop_assert!((400..=599).contains(&r.status));
            for (k, v) in &r.headers {
                prop_assert!(HeaderName::from_bytes(k.as_bytes()).is_ok());
                prop_assert!(HeaderValue::from_str(v).is_ok(), "{k}: {v:?}");
            }
        }
    }
}
