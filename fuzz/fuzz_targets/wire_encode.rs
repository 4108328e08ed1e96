//! parapet-wire writing requests from parameters (a containment plan's calls come from a
//! file anyone may have edited): any JSON gives a request or an error naming what and
//! where, never a panic; and what it writes, the proxy's reader reads.
//!
//! Input: one byte choosing the operation, then the parameters as JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use parapet_wire::{encode, parameters, route, Head, ServiceModels};

const OPS: [(&str, &str); 8] = [
    ("iam", "UpdateAccessKey"),
    ("iam", "PutUserPolicy"),
    ("iam", "TagUser"),
    ("ec2", "AuthorizeSecurityGroupIngress"),
    ("ec2", "ModifySnapshotAttribute"),
    ("rds", "ModifyDBSnapshotAttribute"),
    ("sqs", "TagQueue"),
    ("kms", "ScheduleKeyDeletion"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(params) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let (service, op) = OPS[first as usize % OPS.len()];
    let models = ServiceModels::embedded();
    let s = models.service(service).unwrap();
    let Ok(req) = encode(s, op, &params) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    for (k, v) in &req.headers {
        headers.insert(*k, v.parse().unwrap());
    }
    let head = Head {
        method: req.method,
        host: None,
        path: &req.path,
        query: "",
        headers: &headers,
    };
    let r = route(models, &head, &s.signing_name, Some(&req.body)).expect("routes what it wrote");
    assert_eq!(r.operation, op);
    parameters(&r, &head, &req.body).expect("reads what it wrote");
});
