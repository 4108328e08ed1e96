//! `trail scan|watch --auto-pin`: while an incident is open in the decision service,
//! changes people make by hand that close something become pins there (issue 24).

use crate::remote::{Client, ServerArgs};
use anyhow::{bail, Result};
use parapet_detect::ActorKinds;
use parapet_respond::manual_pins;
use parapet_trail::Event;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the open incident, once read, is trusted before it is read again (a watch
/// runs for days; incidents open and close meanwhile).
const FRESH: Duration = Duration::from_secs(30);

/// Most pins one run writes; more is counted, not written (a flood of records must not
/// become a flood of pins).
const MAX_PINS: usize = 200;

/// Changes made this long before the incident was opened still count (the first
/// responder often acts before the page is acknowledged).
const BEFORE_OPEN_MS: i64 = 15 * 60 * 1000;

pub struct AutoPin {
    client: Client,
    kinds: ActorKinds,
    /// The newest open incident (id, opened at in ms) as last read, and when.
    open: Option<(Option<(String, i64)>, Instant)>,
    pinned: usize,
    /// Changes seen while no incident was open, or outside its time.
    unpinned: usize,
    /// Changes by identities of an incident at high or above: never pinned.
    suspect: usize,
    /// Pins the server does not let this token add, or over the cap.
    refused: usize,
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
            suspect: 0,
            refused: 0,
            failed: Vec::new(),
        };
        // Read once now, so a wrong URL or token shows at once; the scan goes on (its
        // findings matter more than the pins) and the run ends in error.
        if let Err(e) = p.incident() {
            let e = format!("reading the open incidents: {e:#}");
            eprintln!("parapet: --auto-pin: {e}");
            p.failed.push(e);
        }
        Ok(p)
    }

    /// The newest open incident (the one people respond to now), read again when stale.
    fn incident(&mut self) -> Result<Option<(String, i64)>> {
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
            .and_then(|i| {
                let at = i["opened_at"].as_i64()?.saturating_mul(1000);
                Some((i["id"].as_str()?.to_string(), at))
            });
        self.open = Some((newest.clone(), Instant::now()));
        Ok(newest)
    }

    /// Pin what a person changed by hand in `e`, if anything. `suspect`: the actor is
    /// in an incident at high or above (see [`parapet_respond::in_high_incident`]).
    pub fn observe(&mut self, e: &Event, suspect: bool) {
        // Most events are not such changes: decided without asking the server.
        if manual_pins(e, &self.kinds, "?").is_empty() {
            return;
        }
        if suspect {
            self.suspect += 1;
            eprintln!(
                "parapet: --auto-pin: not pinned: event {} is by an identity of an incident at high or above",
                e.id
            );
            return;
        }
        let (incident, opened_ms) = match self.incident() {
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
        // Only what happened while the incident is open (a replayed old log pins nothing).
        let now_ms = parapet_store::now().saturating_mul(1000);
        if e.time_ms < opened_ms - BEFORE_OPEN_MS || e.time_ms > now_ms + 5 * 60 * 1000 {
            self.unpinned += 1;
            return;
        }
        for pin in manual_pins(e, &self.kinds, &incident) {
            if self.pinned >= MAX_PINS {
                self.refused += 1;
                continue;
            }
            let body = serde_json::to_value(&pin).unwrap_or(Value::Null);
            match self.client.call("POST", "/v1/pins", Some(&body)) {
                Ok(_) => {
                    self.pinned += 1;
                    eprintln!("parapet: pinned {}: {}", pin.id, pin.reason);
                }
                // The same record read again (a re-run): pinned already.
                Err(err) if format!("{err:#}").contains("already exists") => {}
                Err(err) if format!("{err:#}").contains("answered 403") => {
                    self.refused += 1;
                    eprintln!("parapet: --auto-pin: not pinned {}: {err:#}", pin.id);
                }
                Err(err) => self.failed.push(format!("{}: {err:#}", pin.id)),
            }
        }
    }

    /// The summary, or an error naming every pin that could not be written (a protection
    /// lost is not a warning).
    pub fn finish(self) -> Result<()> {
        let mut line = format!("{} manual change(s) pinned", self.pinned);
        if self.unpinned > 0 {
            line.push_str(&format!(
                "; {} seen while no incident was open in the decision service (or outside its time), not pinned",
                self.unpinned
            ));
        }
        if self.suspect > 0 {
            line.push_str(&format!(
                "; {} by identities of an incident at high or above, not pinned",
                self.suspect
            ));
        }
        if self.refused > 0 {
            line.push_str(&format!(
                "; {} refused (the token's role, or over {MAX_PINS} per run)",
                self.refused
            ));
        }
        eprintln!("parapet: --auto-pin: {line}");
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
