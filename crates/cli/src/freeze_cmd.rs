//! `parapet freeze` and `parapet unfreeze`: the per-agent kill switch, through a
//! running decision service (`--server`, `--token`), which records the token's actor
//! as who froze or cleared it.

use crate::ops_cmd::{direct_actor, Target};
use crate::remote::segment;
use crate::EXIT_ALLOW;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args)]
#[command(
    about = "Freeze an agent: every decision for it is denied until a person clears it",
    long_about = "Freeze an actor (the kill switch). From the next request on, on every replica \
(within about a second), every decision for the actor is denied before any policy runs, with \
the reason naming who froze it, since when, why and the incident. Its pending and cooling-off \
requests are rejected at once and can no longer be approved. The freeze lasts until an admin \
clears it with `parapet unfreeze`, or until --expires.\n\nACTOR is one actor (agent:kiro, \
pipeline:deploy, service:sync) or a whole kind (agent:*, every agent). Freezing needs an \
approver or admin token (freezing only takes freedom away); clearing needs an admin token, and \
the frozen actor can never clear its own freeze.\n\nExit codes: 0 done, 2 refused or bad input.",
    after_help = "Examples:\n  parapet freeze agent:kiro --reason 'lateral movement' --incident INC-7 --server https://parapet.example.com --token $TOKEN\n  parapet freeze 'agent:*' --reason 'credential leak' --expires 2h\n  parapet freeze --list\n  parapet freeze --list --history\n  parapet unfreeze agent:kiro"
)]
pub struct FreezeArgs {
    /// Who to freeze: agent:kiro, or a whole kind such as agent:*.
    #[arg(required_unless_present = "list")]
    actor: Option<String>,
    /// Why (required when freezing): shown in every denial and in the audit log.
    #[arg(long, required_unless_present = "list")]
    reason: Option<String>,
    /// The incident this belongs to, e.g. INC-7: named in every denial.
    #[arg(long)]
    incident: Option<String>,
    /// Lift the freeze by itself after this: 90m, 12h, 30d, or an RFC 3339 time.
    /// Without it the freeze lasts until an admin clears it.
    #[arg(long)]
    expires: Option<String>,
    /// List the freezes in force instead (actor, since, by, until, incident, reason).
    #[arg(long, conflicts_with_all = ["actor", "reason", "incident", "expires"])]
    list: bool,
    /// With --list: every freeze ever, cleared and expired ones too, newest first.
    #[arg(long, requires = "list")]
    history: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(Args)]
#[command(
    about = "Clear a freeze (admin token): the actor's decisions run normally again",
    long_about = "Clear the freeze of an actor, as it was frozen (agent:kiro, or agent:* for a \
kind freeze). Needs an admin token: only a person clears a freeze, never the frozen actor. The \
freeze stays in the history (--list --history) with who cleared it and when. Requests rejected \
by the freeze stay rejected: submit them again.\n\nExit codes: 0 cleared, 2 not frozen, refused \
or bad input.",
    after_help = "Example:\n  parapet unfreeze agent:kiro --server https://parapet.example.com --token $ADMIN_TOKEN"
)]
pub struct UnfreezeArgs {
    /// The frozen actor (or kind pattern such as agent:*), as `parapet freeze --list` shows it.
    actor: String,
    #[command(flatten)]
    target: Target,
}

pub fn freeze(a: FreezeArgs) -> Result<u8> {
    a.target.refuse_by()?;
    if a.list {
        return list(&a.target, a.history);
    }
    let (Some(actor), Some(reason)) = (a.actor, a.reason) else {
        bail!("give the actor to freeze and --reason, or --list");
    };
    let expires_at = a
        .expires
        .as_deref()
        .map(|e| crate::serve_cmd::parse_expiry(e, parapet_store::now()))
        .transpose()?;
    let done = match a.target.server.client()? {
        Some(c) => c.call(
            "POST",
            "/v1/freezes",
            Some(&json!({
                "actor": actor, "reason": reason, "incident": a.incident,
                "expires": expires_at.map(parapet_store::rfc3339),
            })),
        )?,
        None => {
            let store = a.target.direct_write("freezing an actor")?;
            json!(store.freeze(&parapet_store::NewFreeze {
                actor,
                reason,
                incident: a.incident,
                expires_at,
                by: direct_actor(),
            })?)
        }
    };
    let f = &done["freeze"];
    println!(
        "{} frozen by {} ({}){}",
        text(&f["actor"]),
        text(&f["frozen_by"]),
        text(&f["id"]),
        f["expires_at"]
            .as_i64()
            .map(|at| format!(" until {}", parapet_store::rfc3339(at)))
            .unwrap_or_default()
    );
    let rejected: Vec<String> = done["rejected"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !rejected.is_empty() {
        println!(
            "rejected {} waiting request(s): {}",
            rejected.len(),
            rejected.join(", ")
        );
    }
    Ok(EXIT_ALLOW)
}

pub fn unfreeze(a: UnfreezeArgs) -> Result<u8> {
    a.target.refuse_by()?;
    let Some(c) = a.target.server.client()? else {
        bail!(
            "clearing a freeze goes through the decision service: give --server URL and --token \
             (an admin token; PARAPET_SERVER and PARAPET_TOKEN work too), so the server records \
             which person cleared it"
        );
    };
    let f = c.call(
        "POST",
        &format!("/v1/freezes/{}/clear", segment(&a.actor)),
        None,
    )?;
    println!(
        "{} cleared by {}",
        text(&f["actor"]),
        text(&f["cleared_by"])
    );
    Ok(EXIT_ALLOW)
}

fn list(target: &Target, history: bool) -> Result<u8> {
    let freezes: Vec<Value> = match target.server.client()? {
        Some(c) => {
            let path = if history {
                "/v1/freezes?history=true"
            } else {
                "/v1/freezes"
            };
            match c.call("GET", path, None)? {
                Value::Array(a) => a,
                other => bail!("the decision service answered {other} where a list was expected"),
            }
        }
        None => target
            .database
            .open_existing()?
            .freezes(history)?
            .iter()
            .map(|f| json!(f))
            .collect(),
    };
    let time = |v: &Value| v.as_i64().map(parapet_store::rfc3339);
    for f in freezes {
        let state = match (time(&f["cleared_at"]), time(&f["expires_at"])) {
            (Some(at), _) => format!("cleared {at} by {}", text(&f["cleared_by"])),
            (None, Some(until)) => format!("until {until}"),
            (None, None) => "until cleared".into(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            text(&f["actor"]),
            time(&f["frozen_at"]).unwrap_or_default(),
            text(&f["frozen_by"]),
            state,
            f["incident"].as_str().unwrap_or("-"),
            text(&f["reason"])
        );
    }
    Ok(EXIT_ALLOW)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
