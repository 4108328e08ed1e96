//! `trail scan|watch --freeze-agents`: detection feeds enforcement (issue 24). A call the
//! AWS proxy forwarded carries `parapet-agent/<actor>` in its CloudTrail `userAgent`;
//! when an alert at high or above is raised on such a call, that agent is frozen in the
//! decision service (the kill switch every enforcement point reads: the AWS proxy, the
//! MCP gateway, `POST /v1/decisions`) until a person clears it, the incident named in the
//! reason. The token is trusted only on records of the proxy's own identity
//! (`--proxy-identity`): anyone else can write any user agent.

use crate::remote::{Client, ServerArgs};
use anyhow::{bail, Result};
use parapet_detect::sigma::Level;
use parapet_detect::Alert;
use parapet_trail::Event;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};

/// What `parapet proxy aws` appends to the agent's user agent.
const MARK: &str = "parapet-agent/";

/// Event ids remembered for alerts that come later (correlations); older ones are let go.
const REMEMBERED: usize = 100_000;

pub struct Freezer {
    client: Client,
    proxy: Vec<String>,
    agent_of: HashMap<String, String>,
    order: VecDeque<String>,
    frozen: HashSet<String>,
    failed: Vec<String>,
}

impl Freezer {
    pub fn start(server: &ServerArgs, proxy: &[String]) -> Result<Freezer> {
        let Some(client) = server.client()? else {
            bail!("--freeze-agents freezes in the decision service: give --server and --token");
        };
        if proxy.is_empty() {
            bail!(
                "--freeze-agents needs --proxy-identity ARN (the AWS proxy's role or user): \
                 only its records' user agents are trusted"
            );
        }
        Ok(Freezer {
            client,
            proxy: proxy.to_vec(),
            agent_of: HashMap::new(),
            order: VecDeque::new(),
            frozen: HashSet::new(),
            failed: Vec::new(),
        })
    }

    /// The agent a record of the proxy's identity names, if any.
    fn agent(&self, e: &Event) -> Option<String> {
        let id = &e.identity;
        let ours = [id.arn.as_deref(), id.issuer_arn.as_deref()]
            .into_iter()
            .flatten()
            .any(|a| self.proxy.iter().any(|p| p == a));
        if !ours {
            return None;
        }
        let ua = e.user_agent.as_deref()?;
        // The proxy appends its token last; it removed any the agent sent.
        let actor = ua.rsplit(' ').next()?.strip_prefix(MARK)?;
        let plain = actor.contains(':')
            && !actor.contains('*')
            && actor.len() <= 200
            && actor.chars().all(|c| c.is_ascii_graphic());
        plain.then(|| actor.to_string())
    }

    /// Remember which agent made `e` (before its alerts are seen).
    pub fn event(&mut self, e: &Event) {
        if let Some(agent) = self.agent(e) {
            if self.order.len() >= REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.agent_of.remove(&old);
                }
            }
            self.order.push_back(e.id.clone());
            self.agent_of.insert(e.id.clone(), agent);
        }
    }

    /// Freeze the agents behind an alert at high or above, once each.
    pub fn alert(&mut self, a: &Alert) {
        if a.level < Level::High {
            return;
        }
        let agents: Vec<String> = a
            .event_ids
            .iter()
            .filter_map(|id| self.agent_of.get(id).cloned())
            .collect();
        for agent in agents {
            if !self.frozen.insert(agent.clone()) {
                continue;
            }
            let incident = a
                .incident
                .clone()
                .unwrap_or_else(|| format!("alert {}", a.rule_id));
            let body = json!({
                "actor": agent,
                "reason": format!(
                    "parapet detected \"{}\" ({}, rule {}) on a call it made through the AWS proxy; frozen until a person clears it",
                    a.title, a.level.as_str(), a.rule_id
                ),
                "incident": incident,
            });
            match self.client.call("POST", "/v1/freezes", Some(&body)) {
                Ok(_) => eprintln!("parapet: froze {agent} (incident {incident}): {}", a.title),
                Err(e) => self.failed.push(format!("{agent}: {e:#}")),
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        eprintln!(
            "parapet: --freeze-agents: {} agent(s) frozen",
            self.frozen.len() - self.failed.len()
        );
        if !self.failed.is_empty() {
            bail!(
                "--freeze-agents: {} freeze(s) could not be written: {}",
                self.failed.len(),
                self.failed.join("; ")
            );
        }
        Ok(())
    }
}
