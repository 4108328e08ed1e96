//! `trail scan --auto-pin`: while an incident is open in the decision service, changes
//! people make by hand that close something become pins there (issue 24).

use crate::remote::{Client, ServerArgs};
use anyhow::{bail, Context, Result};
use parapet_detect::ActorKinds;
use parapet_respond::manual_pins;
use parapet_trail::Event;
use serde_json::Value;

pub struct AutoPin {
    client: Client,
    incident: String,
    kinds: ActorKinds,
    pinned: usize,
    failed: Vec<String>,
}

impl AutoPin {
    /// `None` when no incident is open (said on standard error): nothing is pinned.
    pub fn start(server: &ServerArgs, kinds: ActorKinds) -> Result<Option<AutoPin>> {
        let Some(client) = server.client()? else {
            bail!("--auto-pin writes pins to the decision service: give --server and --token");
        };
        let open = client
            .call("GET", "/v1/incidents", None)
            .context("--auto-pin: reading the open incidents")?;
        // The newest open incident: the one people are responding to now.
        let newest = open
            .as_array()
            .into_iter()
            .flatten()
            .max_by_key(|i| i["opened_at"].as_i64().unwrap_or(0))
            .and_then(|i| i["id"].as_str())
            .map(String::from);
        let Some(incident) = newest else {
            eprintln!("parapet: --auto-pin: no incident is open in the decision service; nothing is pinned");
            return Ok(None);
        };
        Ok(Some(AutoPin {
            client,
            incident,
            kinds,
            pinned: 0,
            failed: Vec::new(),
        }))
    }

    /// Pin what a person changed by hand in `e`, if anything.
    pub fn observe(&mut self, e: &Event) {
        for pin in manual_pins(e, &self.kinds, &self.incident) {
            let body = serde_json::to_value(&pin).unwrap_or(Value::Null);
            match self.client.call("POST", "/v1/pins", Some(&body)) {
                Ok(_) => self.pinned += 1,
                // The same record read again (a re-run): pinned already.
                Err(err) if format!("{err:#}").contains("already exists") => {}
                Err(err) => self.failed.push(format!("{}: {err:#}", pin.id)),
            }
        }
    }

    /// The summary, or an error naming every pin that could not be written (a protection
    /// lost is not a warning).
    pub fn finish(self) -> Result<()> {
        eprintln!(
            "parapet: --auto-pin: {} manual change(s) pinned for incident {}",
            self.pinned, self.incident
        );
        if !self.failed.is_empty() {
            bail!(
                "--auto-pin: {} pin(s) could not be written: {}",
                self.failed.len(),
                self.failed.join("; ")
            );
        }
        Ok(())
    }
}
