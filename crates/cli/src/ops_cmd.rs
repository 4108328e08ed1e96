//! `parapet incident ...` and `parapet pin ...` on the decision service's database.

use crate::serve_cmd::Database;
use crate::EXIT_ALLOW;
use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Open an incident: automation may not write until it is resolved.
    Open {
        id: String,
        #[arg(long, default_value = "")]
        title: String,
        /// Who opens it (recorded in the audit log).
        #[arg(long, default_value = "human:cli", value_parser = parapet_model::Actor::parse)]
        by: parapet_model::Actor,
        #[command(flatten)]
        database: Database,
    },
    /// Resolve an open incident.
    Resolve {
        id: String,
        #[arg(long, default_value = "human:cli", value_parser = parapet_model::Actor::parse)]
        by: parapet_model::Actor,
        #[command(flatten)]
        database: Database,
    },
    /// List open incidents.
    List {
        #[command(flatten)]
        database: Database,
    },
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// Pin a manual emergency change so no decision may revert it (docs/pins.md).
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
        #[arg(long)]
        reason: String,
        #[arg(long)]
        incident: Option<String>,
        /// RFC 3339 time after which the pin no longer protects.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "human:cli", value_parser = parapet_model::Actor::parse)]
        by: parapet_model::Actor,
        #[command(flatten)]
        database: Database,
    },
    /// List live pins.
    List {
        #[command(flatten)]
        database: Database,
    },
    /// Remove a pin.
    Remove {
        id: String,
        #[arg(long, default_value = "human:cli", value_parser = parapet_model::Actor::parse)]
        by: parapet_model::Actor,
        #[command(flatten)]
        database: Database,
    },
}

pub fn incident(cmd: IncidentCommand) -> Result<u8> {
    match cmd {
        IncidentCommand::Open {
            id,
            title,
            by,
            database,
        } => {
            let i = database
                .open()?
                .open_incident(&id, "manual", &title, &by.to_string())?;
            println!(
                "incident {} open since {} (automation may not write)",
                i.id, i.opened_at
            );
        }
        IncidentCommand::Resolve { id, by, database } => {
            if !database.open()?.resolve_incident(&id, &by.to_string())? {
                bail!("no open incident {id}");
            }
            println!("incident {id} resolved");
        }
        IncidentCommand::List { database } => {
            for i in database.open()?.open_incidents()? {
                println!("{}\t{}\t{}\t{}", i.id, i.source, i.opened_at, i.title);
            }
        }
    }
    Ok(EXIT_ALLOW)
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
            by,
            database,
        } => {
            let value = value
                .map(|v| {
                    serde_json::from_str(&v).with_context(|| {
                        format!("--value {v:?} is not JSON (quote strings: '\"x\"')")
                    })
                })
                .transpose()?;
            let p = parapet_server::stored_pin(
                parapet_server::NewPin {
                    id,
                    resource,
                    attribute,
                    value,
                    mode,
                    reason,
                    incident,
                    expires,
                },
                &by.to_string(),
            )
            .map_err(anyhow::Error::msg)?;
            let p = database.open()?.add_pin(&p)?;
            println!("pinned {} ({}.{})", p.id, p.resource, p.attribute);
        }
        PinCommand::List { database } => {
            for p in database.open()?.pins()? {
                println!(
                    "{}\t{}.{}\t{}\t{}",
                    p.id,
                    p.resource,
                    p.attribute,
                    p.value.as_deref().unwrap_or("(current value)"),
                    p.reason
                );
            }
        }
        PinCommand::Remove { id, by, database } => {
            if !database.open()?.remove_pin(&id, &by.to_string())? {
                bail!("no pin {id}");
            }
            println!("removed pin {id}");
        }
    }
    Ok(EXIT_ALLOW)
}
