//! One request through the proxy: limits, signature, caller, freeze, route, parameters,
//! judgement (and hold), forward. Every refusal is an AWS-shaped error in the caller's
//! protocol, and nothing reaches the upstream before the signature, the freeze and the
//! judgement passed.

use crate::auth::{self, Caller, Keys};
use crate::body::{read_all, FailureSlot};
use crate::config::{Mode, ProxyConfig};
use crate::forward::{strip_presign, ForwardError, OutBody, Outgoing, Upstream};
use crate::frame::HeadFacts;
use crate::intake::{body_refusal, read_checked, stream_body};
use crate::judge::{self, Incidents};
use crate::metrics::{Metrics, REFUSALS};
use crate::outcome::settle;
use crate::reply::{full, guess_protocol, request_id, ProxyBody, Refusal};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use parapet_server::App;
use parapet_sigv4::{PayloadHash, ReplayCache};
use parapet_wire::{BodyUse, Head, Protocol, Routing, ServiceModels};
use std::sync::Arc;
use std::time::Instant;

/// Everything requests share.
pub struct Shared {
    pub app: Arc<App>,
    pub config: ProxyConfig,
    pub credential_key: Vec<u8>,
    pub upstream: Upstream,
    pub replay: ReplayCache,
    pub keys: Keys,
    pub incidents: Incidents,
    pub metrics: Metrics,
    pub models: &'static ServiceModels,
    pub routing: Routing,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The PostgreSQL store closes its connections with a blocking call, which
        // panics on an async thread: the last reference to the decision service's
        // state is let go on a plain thread (bounded wait for the others to go).
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let app = self.app.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + std::time::Duration::from_secs(10);
            while Arc::strong_count(&app) > 1 && Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            drop(app);
        });
    }
}

/// What is known about a request so far, for its answer and its log line.
pub struct Cx {
    pub protocol: Protocol,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub decision: Option<String>,
    /// The verified signature, remembered by the replay cache until the request is
    /// refused (then forgotten: only a carried-out request must never run twice).
    pub signature: Option<String>,
}

/// Outcomes after which the request was carried out upstream (or may have been).
const CARRIED_OUT: &[&str] = &["read", "allow", "approved", "observed", "error"];

pub async fn handle(
    s: Arc<Shared>,
    req: Request<Incoming>,
    facts: Option<HeadFacts>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let _busy = s.metrics.in_flight();
    let rid = request_id();
    let mut cx = Cx {
        protocol: Protocol::RestXml,
        actor: None,
        action: None,
        decision: None,
        signature: None,
    };
    let (resp, outcome) = match process(&s, req, facts, &mut cx).await {
        Ok(done) => done,
        Err(r) => {
            let mut resp = r.response(cx.protocol, &rid);
            if matches!(r.reason, "framing" | "limits") {
                // What follows on this connection cannot be trusted to be framed as
                // the client meant: close it.
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            tracing::info!(
                request_id = %rid,
                actor = cx.actor.as_deref().unwrap_or("-"),
                action = cx.action.as_deref().unwrap_or("-"),
                outcome = r.reason,
                decision = cx.decision.as_deref().unwrap_or("-"),
                status = r.status,
                code = %r.code,
                latency_ms = started.elapsed().as_secs_f64() * 1e3,
                message = %r.message,
                "refused"
            );
            (resp, r.reason)
        }
    };
    if let Some(sig) = cx.signature.take() {
        if outcome != "replay" && !CARRIED_OUT.contains(&outcome) {
            s.replay.forget(&sig);
        }
    }
    if outcome == OWN {
        // Scrapes and health checks are not calls.
        return resp;
    }
    if REFUSALS.contains(&outcome) {
        s.metrics.refused(outcome);
    } else {
        s.metrics.outcome(outcome);
    }
    s.metrics.answered(started.elapsed());
    resp
}

/// The outcome of the proxy's own endpoints (not counted).
const OWN: &str = "own";

/// `/_parapet/metrics` and `/_parapet/healthz`.
pub fn own_endpoint(s: &Shared, path: &str) -> Option<Response<ProxyBody>> {
    let (ctype, body) = match path {
        "/_parapet/metrics" | "/metrics" => ("text/plain; version=0.0.4", s.metrics.render()),
        "/_parapet/healthz" | "/healthz" => ("text/plain", "ok\n".to_string()),
        _ => return None,
    };
    Response::builder()
        .header("content-type", ctype)
        .body(full(body))
        .ok()
}

pub fn not_found() -> Response<ProxyBody> {
    let mut r = Response::new(full("not found\n"));
    *r.status_mut() = hyper::StatusCode::NOT_FOUND;
    r
}

fn limits(s: &Shared, facts: Option<&HeadFacts>) -> Result<(), Refusal> {
    let l = &s.config.limits;
    let Some(f) = facts else {
        return Err(Refusal::new(
            400,
            "InvalidRequest",
            "the request's framing on this connection could not be followed; open a new connection",
            "framing",
        ));
    };
    if f.conflicting_length {
        return Err(Refusal::new(
            400,
            "InvalidRequest",
            "the request has both Content-Length and Transfer-Encoding: give one",
            "framing",
        ));
    }
    if f.line_bytes > l.max_request_line {
        return Err(Refusal::new(
            400,
            "InvalidURI",
            format!(
                "the request line is {} bytes; at most {} are accepted",
                f.line_bytes, l.max_request_line
            ),
            "limits",
        ));
    }
    if f.head_bytes > l.max_header_bytes || f.headers > l.max_headers {
        return Err(Refusal::new(
            400,
            "RequestHeaderSectionTooLarge",
            format!("the request head is {} bytes in {} headers; at most {} bytes and {} headers are accepted", f.head_bytes, f.headers, l.max_header_bytes, l.max_headers),
            "limits",
        ));
    }
    Ok(())
}

async fn process(
    s: &Arc<Shared>,
    req: Request<Incoming>,
    facts: Option<HeadFacts>,
    cx: &mut Cx,
) -> Result<(Response<ProxyBody>, &'static str), Refusal> {
    let (mut parts, incoming) = req.into_parts();
    cx.protocol = guess_protocol(s.models, None, &parts.headers);
    limits(s, facts.as_ref())?;
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let unsigned = !parts.headers.contains_key(http::header::AUTHORIZATION)
        && !query.contains("X-Amz-Signature");
    if s.config.metrics_path && unsigned && path.starts_with("/_parapet/") {
        let resp = own_endpoint(s, &path).unwrap_or_else(not_found);
        return Ok((resp, OWN));
    }

    // Who: the signature's key, its token and secret.
    let mut signed = parapet_sigv4::parse(parts.method.as_str(), &path, &query, &parts.headers)
        .map_err(|e| Refusal::sig(&e))?;
    cx.protocol = guess_protocol(s.models, Some(&signed.service), &parts.headers);
    let caller: Caller = auth::caller(s, &signed).await?;
    let actor = caller.token.actor.clone();
    cx.actor = Some(actor.clone());
    // x-amz-* headers the agent did not sign could have been added on the way: they
    // are neither judged nor forwarded.
    for h in signed.unsigned_amz_headers(&parts.headers) {
        parts.headers.remove(h.as_str());
    }
    let mut incoming = Some(incoming);
    let mut body: Option<Bytes> = None;
    if signed.needs_body_hash() {
        // The signature covers the body's hash, which only the body gives.
        let limit = s.config.limits.max_body_bytes;
        let b = read_all(
            incoming.take().expect("unread"),
            limit,
            s.config.timeouts.idle_body,
            None,
        )
        .await
        .map_err(body_refusal)?;
        signed.set_body_hash(&parapet_sigv4::sha256_hex(&b));
        body = Some(b);
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    let verified = {
        let head = Head {
            method: parts.method.as_str(),
            host: host.as_deref(),
            path: &path,
            query: &query,
            headers: &parts.headers,
        };
        auth::verify(s, &signed, &caller, &head)?
    };
    cx.signature = Some(verified.seed_signature.clone());
    auth::check_freeze(s, &actor).await?;

    // What: service, operation, parameters.
    let head = Head {
        method: parts.method.as_str(),
        host: host.as_deref(),
        path: &path,
        query: &query,
        headers: &parts.headers,
    };
    let route = match parapet_wire::route_with(
        s.models,
        &head,
        &signed.service,
        body.as_deref(),
        &s.routing,
    ) {
        Err(parapet_wire::WireError::BodyRequired { .. }) if body.is_none() => {
            let b = read_checked(
                s,
                incoming.take().expect("unread"),
                &verified,
                &parts.headers,
            )
            .await?;
            let r =
                parapet_wire::route_with(s.models, &head, &signed.service, Some(&b), &s.routing);
            body = Some(b);
            r
        }
        r => r,
    }
    .map_err(|e| Refusal::wire(&e, cx.protocol))?;
    cx.protocol = route.protocol;
    let action = route.iam_action();
    cx.action = Some(action.clone());
    if let Some(only) = &s.config.region {
        // Global services (IAM, Route 53...) sign for their own region wherever the
        // caller is.
        let signing_region = parapet_wire::endpoint(route.service, only).signing_region;
        if signed.region != *only && signed.region != signing_region {
            return Err(Refusal::new(
                403,
                "AccessDenied",
                format!(
                    "parapet forwards calls for region {only} only; this one is signed for {}",
                    signed.region
                ),
                "region",
            ));
        }
    }
    if route.body == BodyUse::Parse && body.is_none() {
        body = Some(
            read_checked(
                s,
                incoming.take().expect("unread"),
                &verified,
                &parts.headers,
            )
            .await?,
        );
    }
    let params = match route.body {
        BodyUse::Parse => {
            parapet_wire::parameters(&route, &head, body.as_deref().unwrap_or_default())
        }
        BodyUse::Stream => parapet_wire::parameters(&route, &head, &[]),
    }
    .map_err(|e| Refusal::wire(&e, route.protocol))?;

    // Judge.
    let judged_at = Instant::now();
    let verdict = judge::judge(s, &actor, &action, params, s.config.mode == Mode::Enforce).await?;
    let (outcome, consumed) = settle(s, &actor, &action, verdict, cx).await?;
    s.metrics.judged(judged_at.elapsed());

    // Forward.
    let slot = FailureSlot::default();
    let out_body = match (body, incoming) {
        (Some(b), _) => {
            // A hash the signature covered (declared and checked, or computed) is the
            // body's; a decoded aws-chunked payload is hashed here.
            let sha = match &signed.payload {
                PayloadHash::Hex(h) => h.clone(),
                _ => parapet_sigv4::sha256_hex(&b),
            };
            OutBody::Full(b, sha)
        }
        (None, Some(incoming)) => {
            stream_body(s, incoming, &verified, &parts.headers, &slot).await?
        }
        (None, None) => OutBody::Full(Bytes::new(), parapet_sigv4::EMPTY_SHA256.into()),
    };
    let out = Outgoing {
        method: parts.method.clone(),
        path: path.clone(),
        query: strip_presign(&query),
        headers: crate::forward::mark_agent(&parts.headers, &actor.to_string()),
        service: route.service,
        signing_name: signed.service.clone(),
        region: signed.region.clone(),
        host_bucket: route.host_bucket.clone(),
        body: out_body,
    };
    match s.upstream.send(out).await {
        Ok(resp) => {
            s.metrics.upstream("ok");
            tracing::info!(
                actor = %actor,
                action = %action,
                outcome,
                decision = cx.decision.as_deref().unwrap_or("-"),
                status = resp.status().as_u16(),
                latency_ms = judged_at.elapsed().as_secs_f64() * 1e3,
                "forwarded"
            );
            Ok((resp, outcome))
        }
        Err(e) => {
            if let Some(id) = consumed {
                tracing::warn!(decision = %id, "the approved call failed upstream; its approval is spent");
            }
            if let Some(sig) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(Refusal::sig(&sig));
            }
            Err(forward_refusal(s, &e))
        }
    }
}

fn forward_refusal(s: &Shared, e: &ForwardError) -> Refusal {
    let (status, code, label) = match e {
        ForwardError::Connect { .. } => (503, "ServiceUnavailable", "connect_error"),
        ForwardError::Timeout { .. } => (504, "RequestTimeout", "timeout"),
        ForwardError::Upstream { .. } => (502, "InternalFailure", "error"),
        ForwardError::BadHeader { .. } => (400, "InvalidRequest", "error"),
        ForwardError::Credentials(_) | ForwardError::BadUpstream { .. } | ForwardError::Sign(_) => {
            (500, "InternalFailure", "error")
        }
    };
    if matches!(
        e,
        ForwardError::Connect { .. } | ForwardError::Timeout { .. } | ForwardError::Upstream { .. }
    ) {
        s.metrics.upstream(label);
    }
    Refusal::new(
        status,
        code,
        format!("parapet could not forward the call: {e}"),
        "error",
    )
}
