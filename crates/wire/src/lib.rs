//! AWS wire protocols read from AWS's own service models.
//!
//! [`route`] names the service and operation of an incoming request the way the SDKs
//! address it (credential-scope service, `X-Amz-Target`, `Action`/`Version`, request URI
//! templates, S3 virtual-host and path style); [`parameters`] reads its parameters in the
//! API's own input shape (member names as the model spells them, lists as arrays, maps as
//! objects, numbers and booleans typed per the model; timestamps are kept as the string or
//! number the request carried, blobs as their base64 text). Every protocol botocore
//! speaks: query, ec2, json, rest-json, rest-xml and smithy rpc-v2-cbor.
//!
//! Fail closed: what cannot be routed or read is a [`WireError`] naming what and where,
//! never a guess. Duplicate keys (JSON objects, query parameters, scalar headers, XML
//! elements), a name that differs from a member's only in case, list indices that are not
//! 1..n, nesting deeper than [`MAX_DEPTH`] are errors.
//!
//! S3 addressing: a request to S3 is virtual-hosted when its Host is `<bucket>.<base>`
//! where `<base>` is an AWS S3 host (`s3.amazonaws.com`, `s3.<region>.amazonaws.com`,
//! `s3-<region>.amazonaws.com`...), `localhost` (what an SDK makes of
//! `AWS_ENDPOINT_URL=http://localhost:PORT`), or one of [`Routing::endpoint_hosts`] (the
//! proxy's own host names). Any other host, and an IP literal, is path style. The bucket
//! taken from the host is in [`Route::host_bucket`]: whoever forwards the request must
//! address the same bucket (path style `/{bucket}{path}` or `{bucket}.{upstream host}`).
//!
//! Requests that are byte for byte another operation's go to one of them, always the same:
//! docdb's and neptune's management APIs are rds's (same signing name, version, actions;
//! IAM actions `rds:*`), so they route to rds; S3's deprecated `PutBucketLifecycle`-style
//! names route to the current ones. Services sharing a signing name and a URI template
//! (wisdom and qconnect, chime and chime-sdk-voice...) are told apart by the Host when it
//! is an AWS endpoint; behind one custom endpoint host the first by service id wins.

mod answer;
mod cbor;
pub mod cli;
mod encode;
mod endpoint;
mod errors;
mod json;
mod models;
mod query;
mod rest;
mod route;
mod shape;
mod template;
mod text;
mod value;
mod xml;

pub use answer::{read_answer, Answer, Node};
pub use encode::{encode, Request};
pub use endpoint::{endpoint, Endpoint};
pub use errors::{error_reply, ErrorReply};
pub use models::{Service, ServiceModels};
pub use route::{needs_body_to_route, route, route_with, Routing};

/// How deep a request's parameters may nest (structures, lists, maps; JSON, XML and
/// query keys alike).
pub const MAX_DEPTH: usize = 64;

/// The wire protocols of AWS APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Query,
    Ec2,
    Json,
    RestJson,
    RestXml,
    /// Smithy RPC v2 CBOR (`/service/<Name>/operation/<Op>`, `smithy-protocol: rpc-v2-cbor`).
    RpcV2Cbor,
}

impl Protocol {
    /// The protocol's name in botocore's models.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Query => "query",
            Protocol::Ec2 => "ec2",
            Protocol::Json => "json",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
            Protocol::RpcV2Cbor => "smithy-rpc-v2-cbor",
        }
    }

    pub(crate) fn from_model(s: &str) -> Option<Protocol> {
        Some(match s {
            "query" => Protocol::Query,
            "ec2" => Protocol::Ec2,
            "json" => Protocol::Json,
            "rest-json" => Protocol::RestJson,
            "rest-xml" => Protocol::RestXml,
            "smithy-rpc-v2-cbor" => Protocol::RpcV2Cbor,
            _ => return None,
        })
    }
}

/// The head of an incoming request.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub method: &'a str,
    /// The Host header (`host[:port]`).
    pub host: Option<&'a str>,
    /// The raw (percent-encoded) path, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
}

/// What to do with the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyUse {
    /// The body holds parameters: buffer it (bounded) and pass it to [`parameters`].
    Parse,
    /// The body is a blob, streaming or event-stream payload (S3 PutObject, UploadPart):
    /// never buffered, never read for parameters; stream it through.
    Stream,
}

/// A request's service and operation.
pub struct Route<'m> {
    pub service: &'m Service,
    /// The operation name as the model spells it ("DeleteDBInstance").
    pub operation: &'m str,
    pub body: BodyUse,
    /// The protocol this request is written in (a service may accept several: CloudWatch
    /// takes json, rpc-v2-cbor and query). Errors go back in this protocol.
    pub protocol: Protocol,
    /// S3 virtual-hosted style: the bucket the Host header names (see the crate docs).
    pub host_bucket: Option<String>,
    pub(crate) op: &'m shape::Operation,
}

impl std::fmt::Debug for Route<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("service", &self.service.id)
            .field("operation", &self.operation)
            .field("body", &self.body)
            .field("protocol", &self.protocol)
            .field("host_bucket", &self.host_bucket)
            .finish()
    }
}

impl Route<'_> {
    /// `<iam prefix>:<Operation>`, e.g. `rds:DeleteDBInstance`, `cloudwatch:PutMetricData`.
    pub fn iam_action(&self) -> String {
        format!("{}:{}", self.service.iam_prefix, self.operation)
    }
}

/// Reads the parameters of a routed request in the operation's input shape (an object;
/// `{}` for an operation without input). `body` is ignored for [`BodyUse::Stream`].
pub fn parameters(route: &Route, head: &Head, body: &[u8]) -> Result<serde_json::Value, WireError> {
    let compiled = route.service.compiled()?;
    let Some(input) = &route.op.input else {
        return Ok(serde_json::Value::Object(Default::default()));
    };
    let ctx = value::Ctx::new(route, compiled);
    match route.protocol {
        Protocol::Query | Protocol::Ec2 => {
            let pairs = query::pairs(head, Some(body)).map_err(|e| ctx.bad("request", e))?;
            query::read(&ctx, input, &pairs, route.protocol == Protocol::Ec2)
        }
        Protocol::Json => json::read_body(&ctx, input, body),
        Protocol::RpcV2Cbor => cbor::read_body(&ctx, input, body),
        Protocol::RestJson | Protocol::RestXml => rest::read(&ctx, input, head, body),
    }
}

/// Why a request could not be routed or read. Every variant names what and where.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("unknown service: no AWS service signs as {signing_name:?}")]
    UnknownService { signing_name: String },
    #[error("unknown operation of {service}: {detail}")]
    UnknownOperation { service: String, detail: String },
    #[error("{service}:{operation}: bad parameter at {at}: {reason}")]
    BadParameter {
        service: String,
        operation: String,
        at: String,
        reason: String,
    },
    #[error("bad {service} request: {reason}")]
    BadRequest { service: String, reason: String },
    #[error("the {service} request is routed by its form body: pass the body to route")]
    BodyRequired { service: String },
    #[error("service model of {service} unreadable: {reason}")]
    Model { service: String, reason: String },
}

impl WireError {
    /// The error code to answer with, in the protocol's own spelling.
    pub fn aws_code(&self, protocol: Protocol) -> &'static str {
        let query = matches!(protocol, Protocol::Query | Protocol::Ec2);
        match self {
            WireError::UnknownService { .. } | WireError::UnknownOperation { .. } => {
                if query {
                    "InvalidAction"
                } else {
                    "UnknownOperationException"
                }
            }
            WireError::BadParameter { .. }
            | WireError::BadRequest { .. }
            | WireError::BodyRequired { .. } => match protocol {
                Protocol::Query => "ValidationError",
                Protocol::Ec2 => "InvalidParameterValue",
                Protocol::RestXml => "InvalidRequest",
                _ => "ValidationException",
            },
            WireError::Model { .. } => "InternalFailure",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            WireError::Model { .. } => 500,
            _ => 400,
        }
    }
}
