//! The decision service (`parapet serve`): every proposed change from every agent and
//! pipeline gets its decision here, waits for humans when the policy says so, and
//! leaves a hash-chained audit record.
//!
//! HTTP API (JSON; `Authorization: Bearer <token>`):
//! - `POST /v1/decisions` (agent, admin): `{"plan": <terraform show -json>}` or
//!   `{"call": {"action": "iam:PutRolePolicy", "resource": "...", "params": {...}}}`.
//!   201 with the decision; the requester is the token's actor, never the body's.
//! - `GET /v1/decisions?state=pending` (approver, admin): the review queue.
//! - `GET /v1/decisions/{id}?wait=N` (any role): the request; waits up to N seconds
//!   (max 60) for a pending or cooling-off request to change.
//! - `POST /v1/decisions/{id}/approve|reject` (approver, admin):
//!   `{"content_hash": "...", "reason": "..."}`; bound to the content the approver saw.
//! - MCP tool calls: `POST /v1/decisions` `{"tool": {...}}`, `POST
//!   /v1/decisions/{id}/execute` (the requester uses an approval once), `POST
//!   /v1/tools/visible`, `GET /v1/whoami` (see `tool_api`).
//! - `GET /v1/audit/verify` (admin), `GET /healthz`, `GET /readyz`, `GET /metrics`
//!   (Prometheus text).
//! - Incident mode: `POST /v1/incidents` `{"id", "title"}` (approver, admin) and
//!   `POST /v1/incidents/{id}/resolve` (admin), `GET /v1/incidents`;
//!   `POST /v1/webhooks/pagerduty` (v3, HMAC-SHA256 `X-PagerDuty-Signature`) and
//!   `POST /v1/webhooks/opsgenie` (`X-Opsgenie-Secret`). While any incident is open,
//!   every decision runs in incident mode.
//! - Pins: `POST /v1/pins` (approver, admin), `DELETE /v1/pins/{id}` (admin),
//!   `GET /v1/pins`; live pins protect every plan decision.
//! - Freezes (the per-actor kill switch): `POST /v1/freezes`
//!   `{"actor": "agent:kiro" | "agent:*", "reason", "incident", "expires"}` (approver,
//!   admin), `POST /v1/freezes/{actor}/clear` or `DELETE /v1/freezes/{actor}` (admin),
//!   `GET /v1/freezes[?history=true]`. A frozen actor's decisions are denied before any
//!   policy runs, and freezing rejects its pending requests.
//! - Tokens (admin): `POST /v1/tokens` `{"name", "role", "actor", "expires"}`,
//!   `GET /v1/tokens` (never a secret), `POST /v1/tokens/{id}/revoke`. With
//!   `"aws": true` (and a server started with a credential key) an AWS key for
//!   `parapet proxy aws`: its access key id and derived secret, shown once.
//!
//! In process, [`decide_call`] is the call half of `POST /v1/decisions` (the proxy's
//! decide path) and [`App::frozen_now`] the fresh freeze check.
//!
//! Who did something is always the token's actor; a body naming another is refused.
//! Token and session lookups are cached at most `TOKEN_TTL` (1 s) per replica.
//!
//! Errors never allow: a decision that cannot be recorded is answered 503 with
//! outcome deny.

mod api;
mod auth;
mod bind;
mod call;
mod decide;
mod freeze;
mod metrics;
mod notify;
mod ops;
mod tokens;
mod tool;
mod tool_api;
mod tool_report;
mod ui;

pub use api::{router, App, ServerConfig};
pub use bind::{call_binding, canonical_json, is_binding, mints_credentials, tool_binding};
pub use call::{decide_call, CallInput, DecideError};
pub use ops::{opsgenie_event, pagerduty_event, WebhookEvent};
pub use ops::{stored_pin, NewPin, WebhookSecrets};
pub use parapet_store::aws_secret as credential_secret;
pub use tokens::shown as shown_token;
pub use tool::{
    consume, decide_tool, tool_address, tool_visible, ToolAccess, ToolAction, ToolDecision,
    ToolInput, ToolMapping, MAX_ACTIONS,
};
pub use tool_api::{tool_caller, CallerError};
pub use tool_report::{masked_arguments, reasons};

/// Run until Ctrl-C / SIGTERM.
pub async fn serve(app: std::sync::Arc<App>, listen: &str) -> std::io::Result<()> {
    serve_on(app, tokio::net::TcpListener::bind(listen).await?).await
}

/// [`serve`] on a listener already bound.
pub async fn serve_on(
    app: std::sync::Arc<App>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    // The first line on stdout says where we listen (tests and scripts read it).
    println!("parapet serve listening on http://{addr}");
    tracing::info!(%addr, "listening");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
