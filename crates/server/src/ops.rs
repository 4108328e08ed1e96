//! Incident mode (PagerDuty, Opsgenie, manual) and pins, over HTTP.

use crate::api::{auth, blocking, claimed_actor, json_body, state_write, ApiError, ApiResult, App};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use parapet_gate::{parse_rfc3339, Pin, PinMode};
use parapet_store::{Role, StoredPin};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;

/// Webhook deliveries older than this are treated as replays.
const MAX_AGE_SECONDS: i64 = 15 * 60;

/// Where incidents come from and which ones put the service in incident mode.
#[derive(Clone)]
pub struct WebhookSecrets {
    /// PagerDuty v3 webhook subscription secret; `None` disables the endpoint.
    pub pagerduty: Option<String>,
    /// Opsgenie `X-Opsgenie-Secret`; `None` disables the endpoint.
    pub opsgenie: Option<String>,
    /// PagerDuty urgencies that open incident mode (default: high).
    pub pagerduty_urgencies: Vec<String>,
    /// Opsgenie priorities that open incident mode (default: P1, P2).
    pub opsgenie_priorities: Vec<String>,
}

impl Default for WebhookSecrets {
    fn default() -> Self {
        WebhookSecrets {
            pagerduty: None,
            opsgenie: None,
            pagerduty_urgencies: vec!["high".into()],
            opsgenie_priorities: vec!["P1".into(), "P2".into()],
        }
    }
}

/// Open incidents' ids, joined, for the decision's incident mode.
pub fn incident_mode(app: &App) -> Result<Option<String>, parapet_store::StoreError> {
    let open = app.store.open_incidents()?;
    Ok((!open.is_empty()).then(|| {
        open.iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

pub fn live_pins(app: &App) -> Result<Vec<Pin>, parapet_store::StoreError> {
    Ok(app.store.pins()?.into_iter().map(to_pin).collect())
}

fn to_pin(p: StoredPin) -> Pin {
    Pin {
        id: p.id,
        resource: p.resource,
        attribute: p.attribute,
        value: p.value.and_then(|v| serde_json::from_str(&v).ok()),
        mode: p.mode.as_deref().and_then(|m| match m {
            "equals" => Some(PinMode::Equals),
            "contains" => Some(PinMode::Contains),
            "excludes" => Some(PinMode::Excludes),
            _ => None,
        }),
        reason: p.reason,
        incident: p.incident,
        expires: p.expires,
        created_by: Some(p.created_by),
    }
}

fn payload(body: &[u8], source: &str) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{source} payload is not JSON: {e}"),
        )
    })
}

/// Constant-time equality for secrets.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn reject_webhook(
    app: &Arc<App>,
    source: &'static str,
    status: StatusCode,
    why: String,
) -> ApiError {
    tracing::warn!(source, %why, "webhook rejected");
    let a = app.clone();
    let w = why.clone();
    let _ = blocking(move || {
        a.store.audit_event(
            "webhook_rejected",
            &format!("webhook:{source}"),
            source,
            &json!({"why": w}).to_string(),
        )
    })
    .await;
    ApiError(status, why)
}

/// PagerDuty v3 webhooks: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`.
/// `incident.triggered` of a configured urgency (default high) opens incident mode; `incident.resolved` ends it.
pub async fn pagerduty(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let Some(secret) = app.webhooks.pagerduty.clone() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "PagerDuty webhooks are not configured (--pagerduty-secret or [server.pagerduty] secret)".into(),
        ));
    };
    let sigs = headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(&body);
    let expected = mac.finalize().into_bytes();
    let valid = sigs
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .filter_map(hex_decode)
        .any(|sig| ct_eq(&sig, &expected));
    if !valid {
        return Err(reject_webhook(
            &app,
            "pagerduty",
            StatusCode::UNAUTHORIZED,
            "invalid or missing X-PagerDuty-Signature".into(),
        )
        .await);
    }
    let event = pagerduty_event(&body, &app.webhooks.pagerduty_urgencies)?;
    apply_event(&app, "pagerduty", event).await
}

/// A webhook body as the handlers read it once its signature or secret is checked:
/// the delivery, the incident it names and what it asks for.
pub struct WebhookEvent {
    delivery: Delivery,
    incident: String,
    title: String,
    transition: Transition,
}

/// A PagerDuty v3 body: `incident.triggered` of one of `urgencies` opens, `incident.resolved`
/// resolves, anything else is ignored; `event.id` and `event.event_type` are required.
pub fn pagerduty_event(body: &[u8], urgencies: &[String]) -> ApiResult<WebhookEvent> {
    let v = payload(body, "PagerDuty")?;
    let ev = &v["event"];
    let (Some(event_id), Some(event_type)) = (ev["id"].as_str(), ev["event_type"].as_str()) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "PagerDuty payload lacks event.id or event.event_type".into(),
        ));
    };
    let occurred = ev["occurred_at"].as_str().and_then(parse_rfc3339);
    let data = &ev["data"];
    let urgent = |u: &str| urgencies.iter().any(|x| x == u);
    let transition = match (event_type, data["urgency"].as_str()) {
        ("incident.triggered", Some(u)) if urgent(u) => Transition::Open,
        ("incident.resolved", _) => Transition::Resolve,
        _ => Transition::Ignore,
    };
    Ok(WebhookEvent {
        delivery: Delivery {
            id: event_id.to_string(),
            described: format!("event {event_id}"),
            at: occurred,
        },
        incident: format!("PD-{}", data["id"].as_str().unwrap_or(event_id)),
        title: data["title"]
            .as_str()
            .unwrap_or("PagerDuty incident")
            .to_string(),
        transition,
    })
}

/// Opsgenie outgoing webhooks with a shared secret in `X-Opsgenie-Secret`. A created
/// alert of a configured priority (default P1, P2) opens incident mode; a closed one ends it.
pub async fn opsgenie(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let Some(secret) = app.webhooks.opsgenie.clone() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "Opsgenie webhooks are not configured (--opsgenie-secret or [server.opsgenie] secret)"
                .into(),
        ));
    };
    let given = headers
        .get("x-opsgenie-secret")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !ct_eq(given, secret.as_bytes()) {
        return Err(reject_webhook(
            &app,
            "opsgenie",
            StatusCode::UNAUTHORIZED,
            "invalid or missing X-Opsgenie-Secret".into(),
        )
        .await);
    }
    let event = opsgenie_event(&body, &app.webhooks.opsgenie_priorities)?;
    apply_event(&app, "opsgenie", event).await
}

/// An Opsgenie body: a `Create` of one of `priorities` opens, a `Close` resolves,
/// anything else is ignored; `action` and `alert.alertId` are required.
pub fn opsgenie_event(body: &[u8], priorities: &[String]) -> ApiResult<WebhookEvent> {
    let v = payload(body, "Opsgenie")?;
    let (Some(action), Some(alert_id)) = (v["action"].as_str(), v["alert"]["alertId"].as_str())
    else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "Opsgenie payload lacks action or alert.alertId".into(),
        ));
    };
    let stamp = v["alert"]["updatedAt"]
        .as_i64()
        .or(v["alert"]["createdAt"].as_i64());
    let severe = |p: &str| priorities.iter().any(|x| x == p);
    let transition = match (action, v["alert"]["priority"].as_str()) {
        ("Create", Some(p)) if severe(p) => Transition::Open,
        ("Close", _) => Transition::Resolve,
        _ => Transition::Ignore,
    };
    Ok(WebhookEvent {
        delivery: Delivery {
            id: format!("{alert_id}:{action}:{}", stamp.unwrap_or_default()),
            described: format!("alert {alert_id} {action}"),
            at: stamp.map(|ms| ms / 1000),
        },
        incident: format!("OG-{}", v["alert"]["tinyId"].as_str().unwrap_or(alert_id)),
        title: v["alert"]["message"]
            .as_str()
            .unwrap_or("Opsgenie alert")
            .to_string(),
        transition,
    })
}

enum Transition {
    Open,
    Resolve,
    Ignore,
}

/// One webhook delivery: its unique id, how to name it in errors, when it happened.
struct Delivery {
    id: String,
    described: String,
    at: Option<i64>,
}

/// What every authenticated incident webhook does: refuse stale and replayed
/// deliveries (audited), then open, resolve or ignore the incident.
async fn apply_event(
    app: &Arc<App>,
    source: &'static str,
    event: WebhookEvent,
) -> ApiResult<Json<Value>> {
    let WebhookEvent {
        delivery,
        incident,
        title,
        transition,
    } = event;
    let described = &delivery.described;
    match delivery.at {
        Some(t) if parapet_store::now() - t <= MAX_AGE_SECONDS => {}
        _ => {
            let why =
                format!("{described} is older than 15 minutes or undated: treated as a replay");
            return Err(reject_webhook(app, source, StatusCode::CONFLICT, why).await);
        }
    }
    let a = app.clone();
    let id = delivery.id.clone();
    if !blocking(move || a.store.first_delivery(source, &id)).await? {
        let why = format!("{described} was already delivered: replay");
        return Err(reject_webhook(app, source, StatusCode::CONFLICT, why).await);
    }
    let a = app.clone();
    let inc = incident.clone();
    let by = format!("webhook:{source}");
    let action = match transition {
        Transition::Open => {
            state_write(app, move || {
                a.store.open_incident(&inc, source, &title, &by).map(|_| ())
            })
            .await?;
            "opened"
        }
        Transition::Resolve => {
            state_write(app, move || a.store.resolve_incident(&inc, &by).map(|_| ())).await?;
            "resolved"
        }
        Transition::Ignore => "ignored",
    };
    app.metrics
        .webhooks_accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(source, %incident, action, "incident webhook");
    Ok(Json(json!({"incident": incident, "action": action})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenIncident {
    id: String,
    #[serde(default)]
    title: String,
    /// Optional: must be the token's actor if given (who opened it is the token's).
    actor: Option<String>,
}

/// Who may make decisions stricter: opening an incident and adding a pin only take
/// automation's freedom away, so approvers (people on call) may do them as well as
/// admins. Resolving and removing give it back: admins only.
const TIGHTEN: &[Role] = &[Role::Approver, Role::Admin];
const LOOSEN: &[Role] = &[Role::Admin];

pub async fn open_incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, TIGHTEN).await?;
    let b: OpenIncident = json_body(&body, "an incident is {\"id\", \"title\"}")?;
    claimed_actor(&token, b.actor.as_deref())?;
    let id = incident_id(&b.id)?;
    let a = app.clone();
    let inc = state_write(&app, move || {
        a.store.open_incident(&id, "manual", &b.title, &token.actor)
    })
    .await?;
    Ok(Json(json!(inc)))
}

/// A manually opened incident's id, trimmed: 1 to 200 characters.
pub(crate) fn incident_id(id: &str) -> ApiResult<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "incident id must be 1-200 characters".into(),
        ));
    }
    Ok(id.to_string())
}

pub async fn resolve_incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, LOOSEN).await?;
    let a = app.clone();
    let was_open = state_write(&app, move || a.store.resolve_incident(&id, &token.actor)).await?;
    if !was_open {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no such open incident".into(),
        ));
    }
    Ok(Json(json!({"resolved": true})))
}

pub async fn list_incidents(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    let a = app.clone();
    Ok(Json(json!(
        blocking(move || a.store.open_incidents()).await?
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    pub id: Option<String>,
    pub resource: String,
    pub attribute: String,
    pub value: Option<Value>,
    pub mode: Option<String>,
    pub reason: String,
    pub incident: Option<String>,
    /// RFC 3339.
    pub expires: Option<String>,
    /// Optional: must be the token's actor if given (who pinned it is the token's).
    #[serde(default)]
    pub actor: Option<String>,
}

pub async fn add_pin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    let b: NewPin = json_body(
        &body,
        "a pin is {\"resource\", \"attribute\", \"reason\", \"value\", \"mode\", \"incident\", \"expires\", \"id\"}",
    )?;
    claimed_actor(&token, b.actor.as_deref())?;
    // Automation (the detection pipeline's `trail scan --auto-pin`) may pin only for an
    // incident open now: what people changed by hand during it. Any other pin is a
    // person's (approver or admin).
    if token.role == Role::Agent {
        let a = app.clone();
        let open = blocking(move || a.store.open_incidents()).await?;
        let for_open = b
            .incident
            .as_deref()
            .is_some_and(|i| open.iter().any(|o| o.id == i));
        if !for_open {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "an agent token may add a pin only for an incident open now (auto-pins); other pins need an approver or admin".into(),
            ));
        }
        if !keeps_closed(&b) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "an agent token may add only pins that keep something closed (mode excludes, a key's status Inactive, AWSDenyAll attached); other pins need an approver or admin".into(),
            ));
        }
    }
    let pin = stored_pin(b, &token.actor).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let a = app.clone();
    Ok(Json(json!(
        state_write(&app, move || a.store.add_pin(&pin)).await?
    )))
}

/// Whether a pin can only keep something closed: that is all automation may pin (a pin
/// that keeps a rule open or a key active would shield an attacker's change).
fn keeps_closed(b: &NewPin) -> bool {
    let value = b.value.as_ref();
    match (b.mode.as_deref(), b.attribute.as_str()) {
        (Some("excludes"), _) => value.is_some(),
        (Some("equals"), "status") => value.and_then(Value::as_str) == Some("Inactive"),
        (Some("contains"), "managed_policy_arns") => {
            value.and_then(Value::as_str) == Some("arn:aws:iam::aws:policy/AWSDenyAll")
        }
        _ => false,
    }
}

/// Validate a pin given over the API or the CLI.
pub fn stored_pin(b: NewPin, by: &str) -> Result<StoredPin, String> {
    if b.resource.trim().is_empty() || b.attribute.trim().is_empty() || b.reason.trim().is_empty() {
        return Err("resource, attribute and reason are required".into());
    }
    if let Some(m) = &b.mode {
        if !matches!(m.as_str(), "equals" | "contains" | "excludes") {
            return Err(format!("mode {m:?} must be equals, contains or excludes"));
        }
    }
    let expires = match &b.expires {
        None => None,
        Some(s) => {
            Some(parse_rfc3339(s).ok_or_else(|| format!("expires {s:?} is not an RFC 3339 time"))?)
        }
    };
    Ok(StoredPin {
        id: b
            .id
            .unwrap_or_else(|| format!("{}/{}", b.resource, b.attribute)),
        resource: b.resource,
        attribute: b.attribute,
        value: b.value.map(|v| v.to_string()),
        mode: b.mode,
        reason: b.reason,
        incident: b.incident,
        expires,
        created_by: by.into(),
        created_at: parapet_store::now(),
    })
}

pub async fn list_pins(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    auth(&app, &headers, &[Role::Agent, Role::Approver, Role::Admin]).await?;
    let a = app.clone();
    Ok(Json(json!(blocking(move || a.store.pins()).await?)))
}

pub async fn remove_pin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = auth(&app, &headers, LOOSEN).await?;
    let a = app.clone();
    if !state_write(&app, move || a.store.remove_pin(&id, &token.actor)).await? {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such pin".into()));
    }
    Ok(Json(json!({"removed": true})))
}
