//! Prints one error reply per protocol as JSON lines (status, headers, base64 body, the
//! message), which `scripts/check-wire-errors` reads back with botocore's own parsers.

use base64::Engine;
use parapet_wire::{error_reply, Protocol};

fn main() {
    for p in [
        Protocol::Query,
        Protocol::Ec2,
        Protocol::Json,
        Protocol::RestJson,
        Protocol::RestXml,
        Protocol::RpcV2Cbor,
    ] {
        let message = "denied by parapet <policy> & \"reason\" (decision d-1)";
        let r = error_reply(p, 403, "AccessDenied", message, "req-1");
        let line = serde_json::json!({
            "protocol": p.as_str(),
            "status": r.status,
            "message": message,
            "headers": r.headers,
            "body": base64::engine::general_purpose::STANDARD.encode(&r.body),
        });
        println!("{line}");
    }
}
