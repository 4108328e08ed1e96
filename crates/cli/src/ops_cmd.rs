//! `parapet incident ...` and `parapet pin ...`: through a running decision service
//! (`--server`, `--token`), which records the token's actor as who did it. Reading
//! the database directly is allowed; writing to it directly skips authentication and
//! is refused unless forced with `--write-db-directly` (then recorded as
//! `direct-db:<OS user>`, never as a claimed person).

use crate::remote::{segment, ServerArgs};
use crate::serve_cmd::Database;
use crate::EXIT_ALLOW;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

/// Where a command acts: a decision service, or (reads, and forced writes) the database.
#[derive(Args)]
pub struct Target {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub database: Database,
    /// Without --server: write to the database directly, bypassing the server's
    /// authentication and roles (for when no server runs). Recorded in the audit log
    /// as direct-db:<OS user>.
    #[arg(long)]
    pub write_db_directly: bool,
    /// Removed: who did something comes from the token (or, with
    /// --write-db-directly, is recorded as direct-db:<OS user>).
    #[arg(long, hide = true)]
    pub by: Option<String>,
}

impl Target {
    /// The store for a direct write, if that was forced; an error says what to use.
    pub fn direct_write(&self, what: &str) -> Result<Box<dyn parapet_store::Store>> {
        if !self.write_db_directly {
            bail!(
                "{what} goes through the decision service: give --server URL and --token \
                 (or PARAPET_SERVER and PARAPET_TOKEN), so the server records who did it from \
                 the token. Writing to the database directly bypasses authentication; \
                 --write-db-directly forces it"
            );
        }
        self.database.open()
    }

    pub fn refuse_by(&self) -> Result<()> {
        if let Some(by) = &self.by {
            bail!(
                "--by {by} is not accepted: who did something comes from the token \
                 (--server with --token), not from a flag"
            );
        }
        Ok(())
    }
}

/// Who a direct database write is recorded as: the OS user, marked as unverified by
/// any token.
pub fn direct_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("direct-db:{user}")
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Open an incident: automation may not write until it is resolved
    /// (approver or admin token).
    ///
    /// Exit codes: 0 done, 2 bad input, refused (role, missing token or
    /// --write-db-directly) or the server unreachable.
    Open {
        /// The incident's id, e.g. INC-4711 (1-200 characters).
        id: String,
        /// A one-line description shown in `incident list` and the web UI (e.g.
        /// "payments DB down"). Optional: without it the incident is listed by its
        /// id alone.
        #[arg(long, default_value = "", hide_default_value = true)]
        title: String,
        #[command(flatten)]
        target: Target,
    },
    /// Resolve an open incident (admin token).
    ///
    /// Exit codes: 0 done, 2 bad input, refused (role, missing token or
    /// --write-db-directly) or the server unreachable.
    Resolve {
        /// The open incident's id.
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// List open incidents.
    ///
    /// Exit codes: 0 listed, 2 bad input, no such database or the server refused.
    List {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// Pin a manual emergency change so no decision may revert it (docs/pins.md;
    /// approver or admin token).
    ///
    /// Exit codes: 0 done, 2 bad input, refused (role, missing token or
    /// --write-db-directly) or the server unreachable.
    Add {
        /// Terraform address, ARN or id of the resource.
        #[arg(long)]
        resource: String,
        /// Dotted attribute path, e.g. ingress or vpc_config[0].endpoint_public_access.
        #[arg(long)]
        attribute: String,
        /// The protected value as JSON; without it the current value is protected.
        #[arg(long)]
        value: Option<String>,
        /// equals, contains or excludes.
        #[arg(long)]
        mode: Option<String>,
        /// Why the change was made and must not be reverted, recorded with the pin
        /// and shown whenever it holds a change (e.g. "closed SSH during INC-4711").
        #[arg(long)]
        reason: String,
        /// The incident the pin belongs to (its id, e.g. INC-4711), for the record.
        #[arg(long, value_name = "ID")]
        incident: Option<String>,
        /// RFC 3339 time after which the pin no longer protects.
        #[arg(long)]
        expires: Option<String>,
        /// The pin's id (default RESOURCE/ATTRIBUTE).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// List live pins.
    ///
    /// Exit codes: 0 listed, 2 bad input, no such database or the server refused.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Remove a pin (admin token).
    ///
    /// Exit codes: 0 done, 2 bad input, refused (role, missing token or
    /// --write-db-directly) or the server unreachable.
    Remove {
        /// The pin's id (from `parapet pin list`).
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

pub fn incident(cmd: IncidentCommand) -> Result<u8> {
    match cmd {
        IncidentCommand::Open { id, title, target } => {
            target.refuse_by()?;
            let (id, opened_at) = match target.server.client()? {
                Some(c) => {
                    let v = c.call(
                        "POST",
                        "/v1/incidents",
                        Some(&json!({"id": id, "title": title})),
                    )?;
                    (text(&v["id"]), v["opened_at"].as_i64().unwrap_or_default())
                }
                None => {
                    let i = target.direct_write("opening an incident")?.open_incident(
                        &id,
                        "manual",
                        &title,
                        &direct_actor(),
                    )?;
                    (i.id, i.opened_at)
                }
            };
            println!(
                "incident {id} open since {} (automation may not write)",
                parapet_store::rfc3339(opened_at)
            );
        }
        IncidentCommand::Resolve { id, target } => {
            target.refuse_by()?;
            match target.server.client()? {
                Some(c) => {
                    c.call(
                        "POST",
                        &format!("/v1/incidents/{}/resolve", segment(&id)),
                        None,
                    )?;
                }
                None => {
                    let store = target.direct_write("resolving an incident")?;
                    if !store.resolve_incident(&id, &direct_actor())? {
                        bail!("no open incident {id}");
                    }
                }
            }
            println!("incident {id} resolved");
        }
        IncidentCommand::List { target } => {
            target.refuse_by()?;
            let open: Vec<Value> = match target.server.client()? {
                Some(c) => list(c.call("GET", "/v1/incidents", None)?)?,
                None => target
                    .database
                    .open_existing()?
                    .open_incidents()?
                    .iter()
                    .map(|i| json!(i))
                    .collect(),
            };
            for i in open {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    text(&i["id"]),
                    text(&i["source"]),
                    parapet_store::rfc3339(i["opened_at"].as_i64().unwrap_or_default()),
                    text(&i["opened_by"]),
                    text(&i["title"])
                );
            }
        }
    }
    Ok(EXIT_ALLOW)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn list(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        other => bail!("the decision service answered {other} where a list was expected"),
    }
}

pub fn pin(cmd: PinCommand) -> Result<u8> {
    match cmd {
        PinCommand::Add {
            resource,
            attribute,
            value,
            mode,
            reason,
            incident,
            expires,
            id,
            target,
        } => {
            target.refuse_by()?;
            let value: Option<Value> = value
                .map(|v| {
                    serde_json::from_str(&v).with_context(|| {
                        format!("--value {v:?} is not JSON (quote strings: '\"x\"')")
                    })
                })
                .transpose()?;
            let new = parapet_server::NewPin {
                id,
                resource,
                attribute,
                value,
                mode,
                reason,
                incident,
                expires,
                actor: None,
            };
            let (id, resource, attribute) = match target.server.client()? {
                Some(c) => {
                    let body = json!({
                        "id": new.id, "resource": new.resource, "attribute": new.attribute,
                        "value": new.value, "mode": new.mode, "reason": new.reason,
                        "incident": new.incident, "expires": new.expires,
                    });
                    let p = c.call("POST", "/v1/pins", Some(&body))?;
                    (text(&p["id"]), text(&p["resource"]), text(&p["attribute"]))
                }
                None => {
                    let store = target.direct_write("adding a pin")?;
                    let p = parapet_server::stored_pin(new, &direct_actor())
                        .map_err(anyhow::Error::msg)?;
                    let p = store.add_pin(&p)?;
                    (p.id, p.resource, p.attribute)
                }
            };
            println!("pinned {id} ({resource}.{attribute})");
        }
        PinCommand::List { target } => {
            target.refuse_by()?;
            let pins: Vec<Value> = match target.server.client()? {
                Some(c) => list(c.call("GET", "/v1/pins", None)?)?,
                None => target
                    .database
                    .open_existing()?
                    .pins()?
                    .iter()
                    .map(|p| json!(p))
                    .collect(),
            };
            for p in pins {
                println!(
                    "{}\t{}.{}\t{}\t{}\t{}",
                    text(&p["id"]),
                    text(&p["resource"]),
                    text(&p["attribute"]),
                    p["value"].as_str().unwrap_or("(current value)"),
                    text(&p["created_by"]),
                    text(&p["reason"])
                );
            }
        }
        PinCommand::Remove { id, target } => {
            target.refuse_by()?;
            match target.server.client()? {
                Some(c) => {
                    c.call("DELETE", &format!("/v1/pins/{}", segment(&id)), None)?;
                }
                None => {
                    let store = target.direct_write("removing a pin")?;
                    if !store.remove_pin(&id, &direct_actor())? {
                        bail!("no pin {id}");
                    }
                }
            }
            println!("removed pin {id}");
        }
    }
    Ok(EXIT_ALLOW)
}
