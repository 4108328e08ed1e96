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

/// Event ids remembered for alerts that come later (correlations); older ones are let go.
const REMEMBERED: usize = 100_000;

pub struct Freezer {
    client: Client,
    proxy: Vec<String>,
    agent_of: HashMap<String, String>,
    order: VecDeque<String>,
    frozen: HashSet<String>,
    failed: Vec<String>,
    /// Records that named an agent but were not of the proxy's identity.
    unbelieved: usize,
}

/// `arn:<partition>:iam::<12 digits>:role/...` or `:user/...`, nothing left to match.
fn iam_arn(s: &str) -> bool {
    let mut p = s.splitn(6, ':');
    let (Some("arn"), Some(part), Some("iam"), Some(""), Some(acct), Some(res)) =
        (p.next(), p.next(), p.next(), p.next(), p.next(), p.next())
    else {
        return false;
    };
    part.starts_with("aws")
        && acct.len() == 12
        && acct.bytes().all(|b| b.is_ascii_digit())
        && (res.starts_with("role/") || res.starts_with("user/"))
        && res.len() > 5
        && !res.contains('*')
        && res.chars().all(|c| c.is_ascii_graphic())
}

/// An actor name a marker may carry: `kind:name` of the characters IAM names use.
fn actor_name(s: &str) -> bool {
    let Some((kind, name)) = s.split_once(':') else {
        return false;
    };
    ["agent", "pipeline", "service"].contains(&kind)
        && !name.is_empty()
        && s.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@+=,".contains(c))
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
        if let Some(bad) = proxy.iter().find(|p| !iam_arn(p)) {
            bail!(
                "--proxy-identity {bad:?} is not an IAM role or user ARN \
                 (arn:aws:iam::111122223333:role/parapet-proxy)"
            );
        }
        Ok(Freezer {
            client,
            proxy: proxy.to_vec(),
            agent_of: HashMap::new(),
            order: VecDeque::new(),
            frozen: HashSet::new(),
            failed: Vec::new(),
            unbelieved: 0,
        })
    }

    /// The agent a record of the proxy's identity names, if any.
    fn agent(&mut self, e: &Event) -> Option<String> {
        let ua = e.user_agent.as_deref()?;
        // The proxy appends its token last; it removed any the agent sent.
        let actor = ua
            .rsplit(' ')
            .next()?
            .strip_prefix(parapet_proxy::AGENT_MARK)?;
        let id = &e.identity;
        let ours = [id.arn.as_deref(), id.issuer_arn.as_deref()]
            .into_iter()
            .flatten()
            .any(|a| self.proxy.iter().any(|p| p == a));
        if !ours {
            self.unbelieved += 1;
            return None;
        }
        actor_name(actor).then(|| actor.to_string())
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

    /// Freeze the agents behind an alert at high or above, once each: for an alert on
    /// many events (a correlation), only agents that made at least half of those the
    /// proxy forwarded, so one agent's burst does not freeze another's single call.
    pub fn alert(&mut self, a: &Alert) {
        if a.level < Level::High {
            return;
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for id in &a.event_ids {
            if let Some(agent) = self.agent_of.get(id) {
                *counts.entry(agent.clone()).or_default() += 1;
            }
        }
        let total: usize = counts.values().sum();
        let mut agents: Vec<String> = counts
            .into_iter()
            .filter(|(_, n)| n * 2 >= total)
            .map(|(a, _)| a)
            .collect();
        agents.sort();
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
                // Frozen already (by a person, or an earlier run): what matters holds.
                Err(e) if format!("{e:#}").contains("already frozen") => eprintln!(
                    "parapet: --freeze-agents: {agent} is frozen already; if that freeze expires, \
                     freeze it again by hand (detected: {})",
                    a.title
                ),
                Err(e) => self.failed.push(format!("{agent}: {e:#}")),
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        eprintln!(
            "parapet: --freeze-agents: {} agent(s) frozen",
            self.frozen.len() - self.failed.len()
        );
        if self.unbelieved > 0 {
            eprintln!(
                "parapet: --freeze-agents: {} record(s) named an agent but were not of --proxy-identity \
                 (not believed; check the proxy's identity if they are the proxy's)",
                self.unbelieved
            );
        }
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
