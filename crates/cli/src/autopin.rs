//! `trail scan|watch --auto-pin`: while an incident is open in the decision service,
//! changes people make by hand that close something become pins there (issue 24).

use crate::remote::{Client, ServerArgs};
use anyhow::{bail, Context, Result};
use parapet_detect::ActorKinds;
use parapet_respond::manual_pins;
use parapet_trail::Event;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the open incident, once read, is trusted before it is read again (a watch
/// runs for days; incidents open and close meanwhile).
const FRESH: Duration = Duration::from_secs(30);

pub struct AutoPin {
    client: Client,
    kinds: ActorKinds,
    /// The newest open incident as last read, and when.
    open: Option<(Option<String>, Instant)>,
    pinned: usize,
    /// Changes seen while no incident was open.
    unpinned: usize,
    failed: Vec<String>,
}

impl AutoPin {
    pub fn start(server: &ServerArgs, kinds: ActorKinds) -> Result<AutoPin> {
        let Some(client) = server.client()? else {
            bail!("--auto-pin writes pins to the decision service: give --server and --token");
        };
        let mut p = AutoPin {
            client,
            kinds,
            open: None,
            pinned: 0,
            unpinned: 0,
            failed: Vec::new(),
        };
        // Read once now, so a wrong URL or token fails at start.
        p.incident()
            .context("--auto-pin: reading the open incidents")?;
        Ok(p)
    }

    /// The newest open incident (the one people respond to now), read again when stale.
    fn incident(&mut self) -> Result<Option<String>> {
        if let Some((id, at)) = &self.open {
            if at.elapsed() < FRESH {
                return Ok(id.clone());
            }
        }
        let open = self.client.call("GET", "/v1/incidents", None)?;
        let newest = open
            .as_array()
            .into_iter()
            .flatten()
            .max_by_key(|i| i["opened_at"].as_i64().unwrap_or(0))
            .and_then(|i| i["id"].as_str())
            .map(String::from);
        self.open = Some((newest.clone(), Instant::now()));
        Ok(newest)
    }

    /// Pin what a person changed by hand in `e`, if anything.
    pub fn observe(&mut self, e: &Event) {
        // Most events are not such changes: decided without asking the server.
        if manual_pins(e, &self.kinds, "?").is_empty() {
            return;
        }
        let incident = match self.incident() {
            Ok(Some(i)) => i,
            Ok(None) => {
                self.unpinned += 1;
                return;
            }
            Err(err) => {
                self.failed.push(format!("event {}: {err:#}", e.id));
                return;
            }
        };
        for pin in manual_pins(e, &self.kinds, &incident) {
            let body = serde_json::to_value(&pin).unwrap_or(Value::Null);
            match self.client.call("POST", "/v1/pins", Some(&body)) {
                Ok(_) => {
                    self.pinned += 1;
                    eprintln!("parapet: pinned {}: {}", pin.id, pin.reason);
                }
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
            "parapet: --auto-pin: {} manual change(s) pinned{}",
            self.pinned,
            if self.unpinned > 0 {
                format!(
                    "; {} seen while no incident was open in the decision service, not pinned",
                    self.unpinned
                )
            } else {
                String::new()
            }
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
