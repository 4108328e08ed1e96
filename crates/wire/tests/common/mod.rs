//! Shared by the protocol tests: a request from parts, routed and read.
#![allow(dead_code)]

use http::{HeaderMap, HeaderName, HeaderValue};
use parapet_wire::{parameters, route_with, Head, Routing, ServiceModels, WireError};
use serde_json::Value;

pub struct Req<'a> {
    pub sn: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

pub const BASE: Req = Req {
    sn: "",
    method: "POST",
    host: "example.amazonaws.com",
    target: "/",
    headers: &[],
    body: b"",
};

/// (service id, operation, parameters) or the error.
pub fn run(r: Req, opts: &Routing) -> Result<(String, String, Value), WireError> {
    let mut headers = HeaderMap::new();
    for (k, v) in r.headers {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (path, query) = r.target.split_once('?').unwrap_or((r.target, ""));
    let head = Head {
        method: r.method,
        host: Some(r.host),
        path,
        query,
        headers: &headers,
    };
    let models = ServiceModels::embedded();
    let rt = route_with(models, &head, r.sn, Some(r.body), opts)?;
    let params = parameters(&rt, &head, r.body)?;
    Ok((rt.service.id.clone(), rt.operation.to_string(), params))
}

pub fn ok(r: Req) -> (String, String, Value) {
    run(r, &Routing::default()).unwrap_or_else(|e| panic!("{e}"))
}

pub fn err(r: Req) -> String {
    match run(r, &Routing::default()) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

pub const FORM: &[(&str, &str)] = &[(
    "content-type",
    "application/x-www-form-urlencoded; charset=utf-8",
)];

pub fn query(sn: &str, body: &str) -> Req<'static> {
    let body: &'static str = Box::leak(body.to_string().into_boxed_str());
    let sn: &'static str = Box::leak(sn.to_string().into_boxed_str());
    Req {
        sn,
        headers: FORM,
        body: body.as_bytes(),
        ..BASE
    }
}
