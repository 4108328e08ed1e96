//! Streaming detection over CloudTrail: follow each actor across the identities it
//! creates, match Sigma rules (single events and correlations over time) with parapet's
//! enrichment, and group alerts of one lineage into one incident.
//!
//! Data flows one way: [`parapet_trail::Event`] -> [`lineage`] + [`enrich`] ->
//! [`sigma`] engine -> [`Alert`]s -> [`incident`]s -> [`output`].

pub mod enrich;
pub mod incident;
mod kinds;
pub mod lineage;
pub mod output;
pub mod pack;
pub mod reorder;
pub mod sigma;

pub use enrich::{ActorKinds, Enricher};
pub use incident::{Activity, Incident, Incidents};
pub use kinds::ActorsError;
pub use lineage::Lineage;

use parapet_trail::Event;

/// Maps and sets touched per event: foldhash, seeded per process. SipHash was 3% of
/// detection; keys are identities and values read from logs, so the seed still
/// matters (an attacker cannot precompute colliding names).
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::quality::RandomState>;
use serde::{Deserialize, Serialize};
use sigma::{Doc, Engine, Level, StateLimits};

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rules")]
    Rules(#[from] sigma::EngineError),
    #[error("checkpoint {path}")]
    Checkpoint {
        path: String,
        #[source]
        source: CheckpointError,
    },
}

/// Why a checkpoint could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("version {0} is not 1")]
    Version(u32),
}

/// One rule match (a single event, or a correlation window).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    /// `event` or `correlation`.
    pub kind: String,
    pub phase: Option<String>,
    /// MITRE ATT&CK technique ids (`T1098.001`) and tactics (`persistence`).
    pub attack: Vec<String>,
    pub tactics: Vec<String>,
    /// MITRE ATLAS ids (`AML.T0040`).
    pub atlas: Vec<String>,
    pub actor: String,
    pub actor_type: String,
    /// The actor, its maker, and so on up to the lineage root.
    pub lineage: Vec<String>,
    pub first_time: String,
    pub last_time: String,
    /// The same times in Unix ms (kept in checkpoints: incidents order by them).
    pub first_ms: i64,
    pub last_ms: i64,
    pub event_ids: Vec<String>,
    /// `service:EventName` of the (last) event.
    pub action: String,
    /// What the call made possible, in the knowledge layer's words.
    pub explanation: Vec<String>,
    pub count: Option<u64>,
    pub group: Vec<(String, String)>,
    pub source_ip: Option<String>,
    /// The resource the call names (`bedrock:modelId=...`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Rule provenance (Sigma rules' authors are credited, as their licence asks).
    pub rule_file: String,
    pub rule_author: String,
    pub incident: Option<String>,
}

/// How a detector is built.
pub struct Config {
    pub rules: Vec<sigma::Rule>,
    pub limits: StateLimits,
    pub actors: ActorKinds,
    /// How long an identity's lineage is remembered after it was last seen.
    pub lineage_ttl_ms: i64,
    pub max_identities: usize,
    /// Matches below this level feed correlations but raise no alert or incident
    /// (informational rules are building blocks).
    pub min_alert_level: Level,
}

impl Config {
    /// The built-in behaviour pack and actor table.
    pub fn builtin() -> Config {
        Config {
            rules: pack::builtin(),
            limits: StateLimits::default(),
            actors: ActorKinds::builtin(),
            lineage_ttl_ms: 7 * 86_400_000,
            max_identities: 1_000_000,
            min_alert_level: Level::Low,
        }
    }
}

/// Counters a run reports.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub alerts: u64,
    pub late_events: u64,
    pub max_time_ms: i64,
}

/// What a checkpoint holds: enough to pick up an incident in progress.
#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    lineage: Lineage,
    enricher: Enricher,
    incidents: Incidents,
    stats: Stats,
    windows: Vec<sigma::engine::SavedGroup>,
}

pub struct Detector {
    engine: Engine,
    lineage: Lineage,
    enricher: Enricher,
    incidents: Incidents,
    stats: Stats,
    lineage_ttl_ms: i64,
    min_alert_level: Level,
    scratch: Vec<usize>,
}

impl Detector {
    pub fn new(config: Config) -> Result<Detector, DetectError> {
        let engine = Engine::new(config.rules, config.limits)?;
        Ok(Detector {
            engine,
            lineage: Lineage::new(config.lineage_ttl_ms, config.max_identities),
            enricher: Enricher::new(config.actors),
            incidents: Incidents::default(),
            stats: Stats::default(),
            lineage_ttl_ms: config.lineage_ttl_ms,
            min_alert_level: config.min_alert_level,
            scratch: Vec::new(),
        })
    }

    pub fn rules(&self) -> &[sigma::Rule] {
        self.engine.rules()
    }

    /// One event in; the alerts it raised out (already joined to incidents).
    pub fn process(&mut self, e: &Event) -> Vec<Alert> {
        self.stats.events += 1;
        self.stats.max_time_ms = self.stats.max_time_ms.max(e.time_ms);
        let actor = self.lineage.observe(e);
        // Reads and failed calls change nothing: only writes go to the knowledge layer.
        let analysis = (!e.read_only && e.error_code.is_none())
            .then(|| e.analyze())
            .flatten();
        let effect_ids: Vec<&str> = analysis
            .as_ref()
            .map(|a| a.effects.iter().map(|x| x.id()).collect())
            .unwrap_or_default();
        let path = self.lineage.path(&actor);
        let extra = self.enricher.enrich(e, &self.lineage, &path, &effect_ids);
        let doc = Doc {
            raw: e,
            extra: Some(extra),
        };
        let mut matched = std::mem::take(&mut self.scratch);
        self.engine.evaluate(&doc, &mut matched);
        let mut hits = self.engine.correlate(&doc, e.time_ms, &e.id, &matched);
        let min = self.min_alert_level;
        let rules = self.engine.rules();
        hits.retain(|h| rules[h.rule].meta.level >= min);
        matched.retain(|&r| self.engine.emits(r) && rules[r].meta.level >= min);
        let mut alerts = Vec::new();
        let root = path.last().map_or(actor.as_str(), String::as_str);
        if hits.is_empty() && matched.is_empty() {
            self.incidents.witness(root, &actor, e);
            self.scratch = matched;
            self.after_event();
            return alerts;
        }
        // Where the attacker works from: an address new to the identity, or any address
        // of an identity the lineage made or took over within the day.
        let attacker_place =
            extra.from_new_place() || self.lineage.made_recently(&actor, e.time_ms, 86_400_000);
        let resource = extra.resource().map(String::from);
        let explanation: Vec<String> = analysis
            .map(|a| a.effects.iter().map(|x| x.summary()).collect())
            .unwrap_or_default();
        let actor_type = extra.actor_type().to_string();
        // An administrator role working from where it usually works: reported, at most
        // at medium. From somewhere unfamiliar, its rules keep their levels.
        let cap = extra.capped().then_some(Level::Medium);
        let base = |rule: &sigma::Rule| {
            let (attack, tactics, atlas) = tags(&rule.meta.tags);
            Alert {
                rule_id: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                level: cap.map_or(rule.meta.level, |c| rule.meta.level.min(c)),
                kind: "event".into(),
                phase: rule.meta.phase.clone(),
                attack,
                tactics,
                atlas,
                actor: actor.clone(),
                actor_type: actor_type.clone(),
                lineage: path.clone(),
                first_time: e.time_rfc3339(),
                last_time: e.time_rfc3339(),
                first_ms: e.time_ms,
                last_ms: e.time_ms,
                event_ids: vec![e.id.clone()],
                action: format!("{}:{}", e.service, e.name),
                explanation: explanation.clone(),
                count: None,
                group: Vec::new(),
                source_ip: e.source_ip.clone(),
                resource: resource.clone(),
                rule_file: rule.meta.file.clone(),
                rule_author: rule.meta.author.clone(),
                incident: None,
            }
        };
        for &r in &matched {
            alerts.push(base(&self.engine.rules()[r]));
        }
        for h in hits {
            let rule = &self.engine.rules()[h.rule];
            let mut a = base(rule);
            a.kind = "correlation".into();
            a.first_ms = h.first_ms;
            a.last_ms = h.last_ms;
            a.first_time = parapet_model::time::rfc3339_ms(h.first_ms);
            a.last_time = parapet_model::time::rfc3339_ms(h.last_ms);
            a.event_ids = h.event_ids;
            a.count = Some(h.count);
            a.group = h.group;
            alerts.push(a);
        }
        self.scratch = matched;
        let anchor = path.last().and_then(|r| self.lineage.anchor(r));
        for a in &mut alerts {
            a.incident = Some(self.incidents.add(a, anchor));
        }
        for node in &path {
            if let Some(user) = self.lineage.key_user(node) {
                self.incidents.name_key(root, node, user);
            }
        }
        let address = e
            .source_ip
            .as_deref()
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok());
        if let Some(ip) = address.filter(|_| attacker_place) {
            if alerts.iter().any(|a| a.level >= Level::High) {
                self.incidents.add_source(root, ip);
            }
        }
        self.stats.alerts += alerts.len() as u64;
        self.after_event();
        alerts
    }

    fn after_event(&mut self) {
        self.stats.late_events = self.engine.late_events;
        if self.stats.events % 65_536 == 0 {
            self.evict();
        }
    }

    fn evict(&mut self) {
        let now = self.stats.max_time_ms;
        self.lineage.evict(now);
        self.enricher.evict(now, self.lineage_ttl_ms);
        self.incidents.evict(now, self.lineage_ttl_ms);
        self.engine.sweep();
    }

    pub fn incidents(&self) -> Vec<&Incident> {
        self.incidents.all()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// How much state is held (identities, open windows, incidents), for tests and logs.
    pub fn state_size(&self) -> (usize, usize, usize) {
        (
            self.lineage.len(),
            self.engine.open_groups(),
            self.incidents.len(),
        )
    }

    /// Write the state to `path` (atomically: a temporary file, then a rename).
    pub fn save(&self, path: &std::path::Path) -> Result<(), DetectError> {
        let err = |e: CheckpointError| DetectError::Checkpoint {
            path: path.display().to_string(),
            source: e,
        };
        let saved = Saved {
            version: 1,
            lineage: self.lineage.clone(),
            enricher: self.enricher.clone(),
            incidents: self.incidents.clone(),
            stats: self.stats.clone(),
            windows: self.engine.save(),
        };
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(&saved).map_err(|e| err(e.into()))?;
        std::fs::write(&tmp, bytes).map_err(|e| err(e.into()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.into()))
    }

    /// Pick up from a checkpoint written by [`Detector::save`] with the same rules.
    pub fn restore(&mut self, path: &std::path::Path) -> Result<(), DetectError> {
        let err = |e: CheckpointError| DetectError::Checkpoint {
            path: path.display().to_string(),
            source: e,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.into()))?;
        let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| err(e.into()))?;
        if saved.version != 1 {
            return Err(err(CheckpointError::Version(saved.version)));
        }
        let kinds = std::mem::replace(&mut self.enricher, saved.enricher);
        self.enricher.take_kinds_from(kinds);
        self.lineage = saved.lineage;
        self.incidents = saved.incidents;
        self.stats = saved.stats;
        self.engine.restore(saved.windows, self.stats.max_time_ms);
        Ok(())
    }
}

/// Sigma tags to ATT&CK techniques, tactics and ATLAS ids.
pub fn tags(tags: &[String]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut attack, mut tactics, mut atlas) = (Vec::new(), Vec::new(), Vec::new());
    for t in tags {
        let t = t.to_ascii_lowercase();
        if let Some(x) = t.strip_prefix("attack.") {
            if x.starts_with('t') && x[1..].starts_with(|c: char| c.is_ascii_digit()) {
                attack.push(x.to_ascii_uppercase());
            } else if !(x.len() == 5
                && x.starts_with(['g', 's'])
                && x[1..].bytes().all(|b| b.is_ascii_digit()))
            {
                // Not a group or software id (`g0016`, `s0002`): a tactic.
                tactics.push(x.to_string());
            }
        } else if let Some(x) = t.strip_prefix("atlas.") {
            atlas.push(x.to_ascii_uppercase());
        }
    }
    (attack, tactics, atlas)
}
