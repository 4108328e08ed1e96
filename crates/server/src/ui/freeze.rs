//! The kill switch in the web UI: `/ui/freezes` lists who is frozen (and the recent
//! history), freezes an actor (approvers and admins: freezing only restricts) and
//! clears one (admins); a decision page says when its requester is frozen and offers
//! a freeze button for automation. Every form carries the session's CSRF token.

use super::{admin_form, session, session_for_post, show, UiResult};
use crate::api::{blocking, state_write, ApiError, App};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use parapet_store::{rfc3339, Freeze, NewFreeze, Request, Role};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use super::render::esc;

pub(super) async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> UiResult {
    let s = session(&app, &headers).await?;
    let a = app.clone();
    let history = blocking(move || a.store.freezes(true)).await?;
    let body = page(
        &history,
        s.token.role == Role::Admin,
        &s.csrf,
        parapet_store::now(),
    );
    show(&app, &s, "Freezes", body).await
}

pub(super) async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = session_for_post(&app, &headers, &f).await?;
    let field = |k: &str| {
        f.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let expires_at = match field("hours") {
        None => None,
        Some(h) => match h.parse::<u32>() {
            Ok(h) if (1..=24 * 365).contains(&h) => {
                Some(parapet_store::now() + i64::from(h) * 3600)
            }
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "hours {h:?} must be a whole number from 1 to 8760, or empty for no expiry"
                    ),
                )
                .into())
            }
        },
    };
    let n = NewFreeze {
        actor: field("actor").unwrap_or_default(),
        reason: field("reason").unwrap_or_default(),
        incident: field("incident"),
        expires_at,
        by: s.token.actor.clone(),
    };
    let a = app.clone();
    state_write(&app, move || a.store.freeze(&n)).await?;
    app.notify_changed();
    let back = field("back").filter(|b| {
        b.starts_with("/ui/decisions/")
            && !b.contains("//")
            && b.bytes().all(|c| c.is_ascii_graphic())
    });
    Ok(Redirect::to(back.as_deref().unwrap_or("/ui/freezes")).into_response())
}

pub(super) async fn clear(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> UiResult {
    let s = admin_form(&app, &headers, &f).await?;
    let actor = f.get("actor").cloned().unwrap_or_default();
    let a = app.clone();
    let who = actor.clone();
    if state_write(&app, move || a.store.clear_freeze(&who, &s.token.actor))
        .await?
        .is_none()
    {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("{actor} is not frozen")).into());
    }
    Ok(Redirect::to("/ui/freezes").into_response())
}

/// What a decision page adds: whether its requester is frozen now, and (for a person
/// looking at automation's request) a button to freeze it.
pub(super) async fn decision_panel(
    app: &Arc<App>,
    r: &Request,
    csrf: &str,
) -> Result<String, ApiError> {
    let a = app.clone();
    let active = blocking(move || a.store.freezes(false)).await?;
    let now = parapet_store::now();
    if let Some(f) = parapet_store::frozen(&active, &r.requester, now) {
        return Ok(format!(
            "<div class=banner id=frozen-banner>FROZEN: {}</div>",
            esc(&f.reason_for(&r.requester))
        ));
    }
    if !is_automation(&r.requester) {
        return Ok(String::new());
    }
    Ok(format!(
        "<div class=card><h2>Freeze {actor}</h2><p>Every decision for {actor} is then denied before any policy runs, and its pending requests are rejected, until an admin clears the freeze.</p>\
<form method=post action=/ui/freezes><input type=hidden name=csrf value=\"{csrf}\"><input type=hidden name=actor value=\"{actor}\"><input type=hidden name=back value=\"/ui/decisions/{id}\">\
<p><input name=reason size=50 placeholder=\"Why (required)\" required> <input name=incident placeholder=\"INC-123 (optional)\"> <input name=hours size=6 placeholder=\"hours (optional)\"> <button id=freeze-requester>Freeze</button></p></form></div>",
        actor = esc(&r.requester),
        csrf = esc(csrf),
        id = esc(&r.id),
    ))
}

fn is_automation(actor: &str) -> bool {
    matches!(
        actor.split_once(':').map(|(k, _)| k),
        Some("agent" | "pipeline" | "service")
    )
}

fn page(history: &[Freeze], admin: bool, csrf: &str, now: i64) -> String {
    let (active, past): (Vec<&Freeze>, Vec<&Freeze>) = history.iter().partition(|f| f.active(now));
    let mut o = String::from("<h1>Frozen actors</h1>");
    if active.is_empty() {
        o.push_str("<p id=no-freeze>Nobody is frozen: decisions run normally.</p>");
    } else {
        o.push_str("<table id=freezes><tr><th>Actor</th><th>Why</th><th>Frozen</th><th>Until</th><th></th></tr>");
        for f in active {
            let clear = if admin {
                format!(
                    "<form method=post action=/ui/freezes/clear style=margin:0><input type=hidden name=csrf value=\"{}\"><input type=hidden name=actor value=\"{}\"><button>Clear</button></form>",
                    esc(csrf),
                    esc(&f.actor)
                )
            } else {
                String::new()
            };
            let _ = write!(
                o,
                "<tr><td><b>{}</b></td><td>{}{}</td><td>{} by {}</td><td>{}</td><td>{clear}</td></tr>",
                esc(&f.actor),
                f.incident.as_deref().map(|i| format!("{} ", esc(i))).unwrap_or_default(),
                esc(&f.reason),
                rfc3339(f.frozen_at),
                esc(&f.frozen_by),
                f.expires_at.map(rfc3339).unwrap_or_else(|| "cleared by a person".into()),
            );
        }
        o.push_str("</table>");
    }
    let _ = write!(
        o,
        "<div class=card><h2>Freeze an actor</h2><form method=post action=/ui/freezes><input type=hidden name=csrf value=\"{}\"><p><input name=actor placeholder=\"agent:kiro or agent:*\" required> <input name=reason size=40 placeholder=\"Why (required)\" required> <input name=incident placeholder=\"INC-123 (optional)\"> <input name=hours size=6 placeholder=\"hours (optional)\"> <button id=freeze>Freeze</button></p></form></div>",
        esc(csrf)
    );
    if !past.is_empty() {
        o.push_str("<h2>History</h2><table id=freeze-history><tr><th>Actor</th><th>Why</th><th>Frozen</th><th>Ended</th></tr>");
        for f in past {
            let ended = match (&f.cleared_by, f.cleared_at) {
                (Some(by), Some(at)) => format!("cleared {} by {}", rfc3339(at), esc(by)),
                _ => format!("expired {}", f.expires_at.map(rfc3339).unwrap_or_default()),
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{} by {}</td><td>{ended}</td></tr>",
                esc(&f.actor),
                esc(&f.reason),
                rfc3339(f.frozen_at),
                esc(&f.frozen_by),
            );
        }
        o.push_str("</table>");
    }
    o
}
