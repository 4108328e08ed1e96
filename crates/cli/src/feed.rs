//! Detection feeding the decision service, for `trail scan` and `trail watch` alike:
//! `--auto-pin` (people's emergency changes become pins) and `--freeze-agents` (an agent
//! behind a high alert is frozen).

use crate::autopin::AutoPin;
use crate::freezer::Freezer;
use crate::remote::ServerArgs;
use anyhow::Result;
use clap::Args;
use parapet_detect::{Alert, Detector};
use parapet_trail::Event;

#[derive(Args)]
pub struct FeedArgs {
    /// While an incident is open in the decision service (--server), changes people
    /// made by hand that close something (an ingress rule revoked, an access key
    /// deactivated, a Deny policy put on or AWSDenyAll attached to a role, user or
    /// group) become pins of that incident there, so a plan or agent that would put them
    /// back is held. Never for identities of an incident at high or above (an
    /// attacker's lock-out of the responders), never for records outside the incident's
    /// time. An agent token (the detection pipeline's) may add only pins that keep
    /// something closed; an approver's or admin's any.
    #[arg(long)]
    pub auto_pin: bool,
    /// When an alert at high or above is raised on a call `parapet proxy aws` forwarded
    /// (its CloudTrail user agent ends in `parapet-agent/<actor>`), freeze that agent in
    /// the decision service (--server): the AWS proxy, the MCP gateway and the decision
    /// service refuse it until a person clears it (`parapet unfreeze`), the incident
    /// named in the reason. Needs --proxy-identity.
    #[arg(long)]
    pub freeze_agents: bool,
    /// The AWS proxy's own identity (its role ARN, or its user's): only records of it
    /// are read for the agent's name (anyone can write any user agent). Repeatable.
    #[arg(long = "proxy-identity", value_name = "ARN")]
    pub proxy_identity: Vec<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What runs beside the detector.
pub struct Feed {
    pins: Option<AutoPin>,
    freezer: Option<Freezer>,
}

impl FeedArgs {
    pub fn start(
        &self,
        actors: impl FnOnce() -> Result<parapet_detect::ActorKinds>,
    ) -> Result<Feed> {
        if !self.freeze_agents && !self.proxy_identity.is_empty() {
            anyhow::bail!("--proxy-identity is read by --freeze-agents: give both");
        }
        Ok(Feed {
            pins: match self.auto_pin {
                true => Some(AutoPin::start(&self.server, actors()?)?),
                false => None,
            },
            freezer: match self.freeze_agents {
                true => Some(Freezer::start(&self.server, &self.proxy_identity)?),
                false => None,
            },
        })
    }
}

impl Feed {
    /// Nothing beside the detector.
    pub fn none() -> Feed {
        Feed {
            pins: None,
            freezer: None,
        }
    }

    pub fn active(&self) -> bool {
        self.pins.is_some() || self.freezer.is_some()
    }

    /// An event, after the detector saw it and before its alerts are handed on.
    pub fn event(&mut self, e: &Event, det: &Detector) {
        if let Some(f) = self.freezer.as_mut() {
            f.event(e);
        }
        if let Some(p) = self.pins.as_mut() {
            p.observe(e, parapet_respond::in_high_incident(det, e));
        }
    }

    pub fn alert(&mut self, a: &Alert) {
        if let Some(f) = self.freezer.as_mut() {
            f.alert(a);
        }
    }

    pub fn finish(self) -> Result<()> {
        let pins = self.pins.map(AutoPin::finish).transpose();
        let frozen = self.freezer.map(Freezer::finish).transpose();
        pins?;
        frozen?;
        Ok(())
    }
}
