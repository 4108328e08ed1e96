//! parapet-wire on arbitrary requests: routing and parameter reading for every protocol
//! (query, ec2, json, rest-json, rest-xml, rpc-v2-cbor) give a value or a WireError, never
//! a panic, and an error reply can always be written.
//!
//! Input (what scripts/gen-wire-corpus writes as seeds): the signing name, method, host,
//! path and query on one line each, then `name: value` header lines, a blank line, and the
//! body.
#![no_main]
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use parapet_wire::{error_reply, parameters, route, Head, ServiceModels};

fuzz_target!(|data: &[u8]| {
    let (head_bytes, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(head_bytes);
    let mut lines = text.split('\n');
    let mut next = || lines.next().unwrap_or("");
    let (sn, method, host, path, query) = (next(), next(), next(), next(), next());
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(": ") {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
                headers.append(k, v);
            }
        }
    }
    let head = Head {
        method,
        host: (!host.is_empty()).then_some(host),
        path,
        query,
        headers: &headers,
    };
    let models = ServiceModels::embedded();
    for with_body in [None, Some(body)] {
        let Ok(r) = route(models, &head, sn, with_body) else { continue };
        if let Err(e) = parameters(&r, &head, body) {
            let reply = error_reply(r.protocol, e.status(), e.aws_code(r.protocol), &e.to_string(), "fuzz");
            assert!(reply.status >= 400);
        }
    }
});
