//! How long the embedded models take to decode, and how long routing and reading a typical
//! request takes. A measurement, not a test:
//!
//!   cargo run --release -p parapet-wire --example wire_timing

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use parapet_wire::{parameters, route, Head, ServiceModels};

struct Case {
    name: &'static str,
    sn: &'static str,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    query: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static [u8],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "iam AttachRolePolicy (query)",
            sn: "iam",
            method: "POST",
            host: "iam.amazonaws.com",
            path: "/",
            query: "",
            headers: vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: b"Action=AttachRolePolicy&Version=2010-05-08&RoleName=agent&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess",
        },
        Case {
            name: "ec2 AuthorizeSecurityGroupIngress (ec2)",
            sn: "ec2",
            method: "POST",
            host: "ec2.us-east-1.amazonaws.com",
            path: "/",
            query: "",
            headers: vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: b"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0",
        },
        Case {
            name: "dynamodb DeleteTable (json)",
            sn: "dynamodb",
            method: "POST",
            host: "dynamodb.us-east-1.amazonaws.com",
            path: "/",
            query: "",
            headers: vec![("x-amz-target", "DynamoDB_20120810.DeleteTable"), ("content-type", "application/x-amz-json-1.0")],
            body: br#"{"TableName":"orders"}"#,
        },
        Case {
            name: "lambda UpdateFunctionConfiguration (rest-json)",
            sn: "lambda",
            method: "PUT",
            host: "lambda.us-east-1.amazonaws.com",
            path: "/2015-03-31/functions/f/configuration",
            query: "",
            headers: vec![("content-type", "application/json")],
            body: br#"{"Role":"arn:aws:iam::123456789012:role/r","Environment":{"Variables":{"A":"b"}},"Timeout":30}"#,
        },
        Case {
            name: "s3 PutObject head (rest-xml, streamed)",
            sn: "s3",
            method: "PUT",
            host: "bucket.s3.us-east-1.amazonaws.com",
            path: "/dir/key.txt",
            query: "",
            headers: vec![("content-length", "1048576"), ("x-amz-acl", "private")],
            body: b"",
        },
        Case {
            name: "s3 PutBucketPolicy (rest-xml)",
            sn: "s3",
            method: "PUT",
            host: "bucket.s3.us-east-1.amazonaws.com",
            path: "/",
            query: "policy",
            headers: vec![],
            body: br#"{"Version":"2012-10-17","Statement":[]}"#,
        },
    ]
}

fn main() {
    let t = Instant::now();
    let models = ServiceModels::embedded();
    println!(
        "decode embedded models (gunzip + index of {} services): {:?}",
        models.services().count(),
        t.elapsed()
    );
    for id in ["ec2", "s3", "sagemaker"] {
        let t = Instant::now();
        let n = models
            .service(id)
            .map(|s| s.operations().map(|o| o.len()).unwrap_or(0))
            .unwrap_or(0);
        println!(
            "first use of {id} (compile {n} operations): {:?}",
            t.elapsed()
        );
    }
    for c in cases() {
        let mut headers = HeaderMap::new();
        for (k, v) in &c.headers {
            headers.insert(*k, HeaderValue::from_static(v));
        }
        let head = Head {
            method: c.method,
            host: Some(c.host),
            path: c.path,
            query: c.query,
            headers: &headers,
        };
        // Warm up (compiles the service), then time.
        let r = route(models, &head, c.sn, Some(c.body)).expect("routes");
        parameters(&r, &head, c.body).expect("reads");
        let n = 20_000u32;
        let t = Instant::now();
        for _ in 0..n {
            let r = route(models, &head, c.sn, Some(c.body)).unwrap();
            std::hint::black_box(parameters(&r, &head, c.body).unwrap());
        }
        let per: Duration = t.elapsed() / n;
        println!(
            "{:<48} {:>8.2?} per request (route + parameters)",
            c.name, per
        );
    }
}
