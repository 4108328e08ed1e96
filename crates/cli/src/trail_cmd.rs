use crate::{EXIT_ALLOW, EXIT_HELD, EXIT_USAGE};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use parapet_detect::sigma::{self, Level};
use parapet_detect::{output, reorder::Reorder, ActorKinds, Config, Detector};
use parapet_trail::{Item, Limits};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

#[derive(Subcommand)]
pub enum TrailCommand {
    /// Explain CloudTrail records with the same knowledge that gates plans and calls:
    /// what each successful call made possible or destroyed.
    ///
    /// Reads what `trail scan` reads (gzip or plain `Records` files, arrays, JSON lines,
    /// EventBridge envelopes, LookupEvents output; directories; `-` for stdin).
    /// Detection of attack chains over time is `parapet trail scan`.
    ///
    /// Exit codes: 0 explained (whatever the calls did: this is a report, not a gate),
    /// 2 a file or directory could not be read or holds no readable records.
    Explain {
        /// CloudTrail files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list calls without effects.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    Scan(Box<ScanArgs>),
    Watch(Box<crate::watch_cmd::WatchArgs>),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Incidents as readable timelines (the default).
    Timeline,
    /// JSON lines (`parapet.trail/v1`): each alert as it is raised, then each incident.
    Jsonl,
    /// JSON lines of OCSF 1.3: Detection Findings (alerts), then Incident Findings.
    Ocsf,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum LevelArg {
    Informational,
    Low,
    Medium,
    High,
    Critical,
    /// Never fail (only with --fail-on).
    Never,
}

impl LevelArg {
    pub(crate) fn level(self) -> Option<Level> {
        Some(match self {
            LevelArg::Informational => Level::Informational,
            LevelArg::Low => Level::Low,
            LevelArg::Medium => Level::Medium,
            LevelArg::High => Level::High,
            LevelArg::Critical => Level::Critical,
            LevelArg::Never => return None,
        })
    }
}

/// Detect attack chains in CloudTrail: follow each actor across the keys, users and role
/// sessions it creates, match the behaviour pack and your Sigma rules (single events and
/// correlations over time), and group alerts of one lineage into one incident.
///
/// Inputs: S3-delivered files (`{"Records": [...]}`, gzip or plain), JSON arrays, JSON
/// lines, EventBridge envelopes ("AWS API Call via CloudTrail"), LookupEvents output;
/// files and directories (recursive), `-` for standard input. Files named as S3
/// delivers them (`..._CloudTrail_us-east-1_20240801T1355Z_...`) are read in the order of
/// that time, whatever their directories, others in name order, and events are put back
/// in time order within --lateness; an event later than that is processed at once, out
/// of order, and counted. Records that cannot be read are skipped, counted and (with -v)
/// named; the scan goes on.
///
/// Rules: the built-in behaviour pack (recon bursts, access-denied storms, keys used from
/// new places, Lambda hijack, admin creation and persistence, secrets harvesting, GPU
/// launches and open security groups, LLMjacking, sharing data out, defence evasion,
/// automation destroying data or reverting people) plus SigmaHQ-format rules given with
/// --rules, including correlation rules (event_count, value_count, temporal,
/// temporal_ordered). Rules can use parapet's fields (`parapet.actor`, `parapet.lineage`,
/// `parapet.effects`, ...; see docs/trail.md).
///
/// Exit status: 0 no incident at or above --fail-on, 1 at least one, 2 usage or I/O
/// error, or an incomplete scan that found no incident: an input named on the command
/// line that held no readable record, or any unreadable record (a truncated or corrupt
/// file is not "no incident": whoever damaged the log of their own activity would get a
/// clean exit). Everything readable is still scanned and reported; an incident found in
/// an incomplete scan still exits 1, saying the scan was incomplete. --allow-unreadable
/// accepts partial logs: unreadable records are then only counted.
///
/// Example: parapet trail scan demo/trail/takeover
#[derive(Args)]
pub struct ScanArgs {
    /// CloudTrail files or directories (gzip or plain); `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Events are replayed in time order: each is held until events --lateness newer
    /// have been read, so memory holds one lateness interval of events (about 2.5 KB
    /// each), not the input. This caps it: past this many held at once the oldest go
    /// on early, and the scan is incomplete (exit 2 unless an incident is found). Raise
    /// it for accounts with more calls than this per --lateness, or lower --lateness.
    #[arg(long, default_value = "250000", value_name = "EVENTS")]
    pub max_held: usize,
    /// Accept partial logs: unreadable records (truncated or corrupt files) are counted
    /// and named with -v but do not make the exit status 2. An input that holds no
    /// readable record at all still does.
    #[arg(long)]
    pub allow_unreadable: bool,
    #[command(flatten)]
    pub feed: crate::feed::FeedArgs,
    #[command(flatten)]
    pub detect: DetectArgs,
}

/// What `scan` and `watch` share: rules, output, state.
#[derive(Args)]
pub struct DetectArgs {
    /// More Sigma rules: YAML files or directories. A rule with a built-in rule's id replaces it.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Use only the rules given with --rules.
    #[arg(long)]
    pub no_builtin: bool,
    #[arg(long, value_enum, default_value = "timeline")]
    pub format: Format,
    /// Write results to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Actor table (TOML, see crates/detect/data/actors.toml) telling automation from people.
    /// It replaces the built-in one; an unknown key is an error, a list left out is empty.
    #[arg(long, value_name = "FILE")]
    pub actors: Option<PathBuf>,
    /// Resume from this state file if it exists, and save the state there (at the end, and
    /// while watching every --checkpoint-every), so an incident in progress survives restarts.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// How late an event may arrive and still join a correlation window (`90s`, `15m`, `1h`).
    #[arg(long, default_value = "15m")]
    pub lateness: String,
    /// Show alerts and incidents at or above this level.
    #[arg(long, value_enum, default_value = "low")]
    pub min_level: LevelArg,
    /// Exit 1 when an incident reaches this level.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: LevelArg,
    /// Name every skipped record and why.
    #[arg(long, short)]
    pub verbose: bool,
    /// Containment playbooks (TOML, see crates/respond/data/playbooks.toml) replacing the
    /// built-in ones. Every incident ends with its proposed next steps (dry run: nothing
    /// is changed), each judged by the gate.
    #[arg(long, value_name = "FILE")]
    pub playbooks: Option<PathBuf>,
    /// Cedar policies that judge the proposed steps, as for `plan check` (default: the
    /// built-in pack).
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

pub fn run(cmd: TrailCommand) -> Result<u8> {
    match cmd {
        TrailCommand::Explain { files, verbose } => explain(&files, verbose),
        TrailCommand::Scan(a) => scan(*a),
        TrailCommand::Watch(a) => crate::watch_cmd::watch(*a),
    }
}

/// What one input named on the command line gave.
#[derive(Default, Clone, Copy)]
struct Yield {
    files: u64,
    events: u64,
    skipped: u64,
}

impl Yield {
    fn add(&mut self, item: &Item) {
        match item {
            Item::Event(_) => self.events += 1,
            Item::Skipped { .. } => self.skipped += 1,
        }
    }
}

/// Inputs that held no readable record, each named with why; printed, and the exit
/// status becomes 2. An input whose files are all empty containers (`{"Records": []}`)
/// read fine.
fn unreadable_inputs(paths: &[PathBuf], yields: &[Yield]) -> bool {
    let mut any = false;
    for (p, y) in paths.iter().zip(yields) {
        let why = if y.events > 0 {
            continue;
        } else if y.files == 0 {
            "holds no CloudTrail file"
        } else if y.skipped > 0 {
            "holds no readable CloudTrail record"
        } else {
            continue;
        };
        let name = if p.as_os_str() == "-" {
            "stdin".to_string()
        } else {
            p.display().to_string()
        };
        eprintln!(
            "parapet: {name}: {why} ({} unreadable, see -v); the scan is incomplete",
            y.skipped
        );
        any = true;
    }
    any
}

/// A path named on the command line must exist (inside it, bad files are only skipped).
fn must_exist(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        if p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(())
}

fn explain(files: &[PathBuf], verbose: bool) -> Result<u8> {
    must_exist(files)?;
    let (mut events, mut with_effects, mut failed, mut skipped) = (0, 0, 0, 0);
    let mut yields = vec![Yield::default(); files.len()];
    for (f, y) in files.iter().zip(&mut yields) {
        let mut listed = Vec::new();
        parapet_trail::list(f, &mut listed, &mut |item| {
            y.add(&item);
            if let Item::Skipped { at, reason } = item {
                eprintln!("{at}: skipped {reason}");
                skipped += 1;
            }
        });
        y.files = listed.len() as u64;
        for (file, _) in &listed {
            parapet_trail::read_file(file, Limits::default(), &mut |item| {
                y.add(&item);
                let r = match item {
                    Item::Event(e) => e,
                    Item::Skipped { at, reason } => {
                        eprintln!("{at}: skipped {reason}");
                        skipped += 1;
                        return;
                    }
                };
                events += 1;
                let time = r.time_rfc3339();
                let action = format!("{}:{}", r.service, r.name);
                if let Some(err) = &r.error_code {
                    failed += 1;
                    if verbose {
                        println!("{time}  {}  {action}  failed: {err}", r.actor());
                    }
                    return;
                }
                let effects = r.analyze().map(|a| a.effects).unwrap_or_default();
                if effects.is_empty() {
                    if verbose {
                        println!("{time}  {}  {action}", r.actor());
                    }
                    return;
                }
                with_effects += 1;
                println!("{time}  {}  {action}", r.actor());
                for e in effects {
                    println!("    {:<8} {}", e.severity().as_str(), e.summary());
                }
            });
        }
    }
    eprintln!("{events} events: {with_effects} with effects, {failed} failed calls, {skipped} unreadable records skipped");
    if unreadable_inputs(files, &yields) {
        return Ok(EXIT_USAGE);
    }
    Ok(EXIT_ALLOW)
}

/// The actor table: `--actors`, else the built-in one. Read alone by what runs beside
/// the detector (`--auto-pin`), without loading the rules again.
pub(crate) fn actor_kinds(a: &DetectArgs) -> Result<ActorKinds> {
    let Some(f) = &a.actors else {
        return Ok(ActorKinds::builtin());
    };
    let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
    ActorKinds::parse(&text).with_context(|| format!("{}", f.display()))
}

pub(crate) fn load_config(a: &DetectArgs) -> Result<Config> {
    let mut config = Config::builtin();
    let mut extra = Vec::new();
    for p in &a.rules {
        extra.extend(sigma::load_dir(p)?);
    }
    config.rules = if a.no_builtin {
        if extra.is_empty() {
            bail!("--no-builtin needs rules from --rules");
        }
        extra
    } else {
        sigma::overlay(config.rules, extra)
    };
    config.actors = actor_kinds(a)?;
    config.min_alert_level = a.min_level.level().unwrap_or(Level::Critical);
    config.limits.lateness_ms = sigma::rule::parse_timespan(&a.lateness).context("--lateness")?;
    Ok(config)
}

/// The playbooks and the policies that judge their steps, loaded once.
struct Containment {
    playbooks: parapet_respond::Playbooks,
    engine: parapet_policy::PolicyEngine,
}

impl Containment {
    fn load(a: &DetectArgs) -> Result<Containment> {
        let playbooks = match &a.playbooks {
            Some(p) => parapet_respond::Playbooks::load(p)?,
            None => parapet_respond::Playbooks::embedded(),
        };
        let engine = parapet_policy::PolicyEngine::load(a.policies.as_deref())
            .context("loading policies for the containment steps")?;
        Ok(Containment { playbooks, engine })
    }

    /// The incident's proposed containment, when any step applies.
    fn propose(&self, i: &parapet_detect::Incident, now: &str) -> Option<parapet_respond::Plan> {
        let plan = parapet_respond::propose(
            i,
            &self.playbooks,
            &self.engine,
            &parapet_respond::Limits::default(),
            now,
        );
        (!plan.proposals.is_empty() || !plan.left_out.is_empty()).then_some(plan)
    }
}

impl DetectArgs {
    /// The detector (resumed from --checkpoint when it exists) and the output.
    pub(crate) fn start(&self) -> Result<(Detector, Box<dyn Write>)> {
        let mut det = Detector::new(load_config(self)?)?;
        if let Some(cp) = &self.checkpoint {
            if cp.exists() {
                det.restore(cp)?;
            }
        }
        let out: Box<dyn Write> = match &self.output {
            Some(p) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        Ok((det, out))
    }

    /// A skipped record: counted, and named with -v.
    pub(crate) fn skipped(&self, at: &str, reason: &str, count: &mut u64) {
        *count += 1;
        if self.verbose {
            eprintln!("parapet: skipped {at}: {reason}");
        }
    }

    /// End of a run: incidents written, checkpoint saved, summary printed, exit status.
    /// A reader that went away (broken pipe) is not an error.
    pub(crate) fn finish(&self, det: &Detector, out: &mut dyn Write, skipped: u64) -> Result<u8> {
        let min = self.min_level.level().unwrap_or(Level::Critical);
        let incidents: Vec<_> = det
            .incidents()
            .into_iter()
            .filter(|i| i.level >= min)
            .collect();
        let containment = Containment::load(self)?;
        // "Now" for the proposals is the newest event seen, so that the same log gives
        // the same output; whoever runs a step sets it to the time it runs. Never later
        // than the clock: one record dated 2099 must not deny every session until then.
        let clock = parapet_store::now().saturating_mul(1000);
        let now = parapet_model::time::rfc3339_ms(det.stats().max_time_ms.min(clock));
        let written = incidents
            .iter()
            .try_for_each(|i| {
                let plan = containment.propose(i, &now);
                match self.format {
                    Format::Timeline => {
                        writeln!(out, "{}", output::timeline(i))?;
                        match &plan {
                            Some(p) => writeln!(out, "{}", parapet_respond::text(p)),
                            None => Ok(()),
                        }
                    }
                    Format::Jsonl => {
                        writeln!(out, "{}", output::incident_json(i))?;
                        match &plan {
                            Some(p) => writeln!(out, "{}", parapet_respond::json(p)),
                            None => Ok(()),
                        }
                    }
                    Format::Ocsf => writeln!(out, "{}", output::incident_ocsf(i)),
                }
            })
            .and_then(|()| out.flush());
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(e).context("writing results")
            }
            _ => {}
        }
        if let Some(cp) = &self.checkpoint {
            det.save(cp)?;
        }
        eprintln!(
            "parapet: {}",
            output::summary(det.stats(), skipped, incidents.len())
        );
        let worst = det.incidents().iter().map(|i| i.level).max();
        Ok(match (self.fail_on.level(), worst) {
            (Some(t), Some(w)) if w >= t => EXIT_HELD,
            _ => EXIT_ALLOW,
        })
    }
}

/// One alert as a line of output; the timeline shows alerts as one-liners.
pub(crate) fn alert_line(a: &parapet_detect::Alert, format: Format) -> String {
    match format {
        Format::Jsonl => output::alert_json(a).to_string(),
        Format::Ocsf => output::alert_ocsf(a).to_string(),
        Format::Timeline => format!(
            "{}  {:<8} {}  {}  by {}  {}",
            a.last_time,
            a.level.as_str(),
            a.incident.as_deref().unwrap_or("-"),
            a.title,
            output::short(&a.actor),
            a.action
        ),
    }
}

fn scan(a: ScanArgs) -> Result<u8> {
    must_exist(&a.paths)?;
    let d = &a.detect;
    let mut feed = a.feed.start(|| actor_kinds(d))?;
    let (mut det, mut out) = d.start()?;
    let lateness_ms = sigma::rule::parse_timespan(&d.lateness).context("--lateness")?;
    let (mut late, mut early) = (0, 0);
    let mut files = Vec::new();
    let mut skipped = 0u64;
    let first_skip = std::cell::RefCell::new(None::<String>);
    let note_skip = |at: &str| {
        first_skip
            .borrow_mut()
            .get_or_insert_with(|| at.to_string());
    };
    // Which named input each file came from.
    let mut origin = Vec::new();
    let mut yields = vec![Yield::default(); a.paths.len()];
    for (k, p) in a.paths.iter().enumerate() {
        let before = files.len();
        parapet_trail::list(p, &mut files, &mut |i| {
            yields[k].add(&i);
            if let Item::Skipped { at, reason } = i {
                note_skip(&at);
                d.skipped(&at, &reason, &mut skipped);
            }
        });
        yields[k].files = (files.len() - before) as u64;
        origin.resize(files.len(), k);
    }
    let (files, origin) = by_delivery(files, origin);
    let progress = parapet_modelscan::Progress::default();
    progress.add_total(files.len() as u64, files.iter().map(|f| f.1).sum());
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut write_err = None;
    std::thread::scope(|s| {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| s.spawn(|| crate::model_cmd::draw_progress(&progress, &done)));
        // Events go on in time order, each held for --lateness of event time (up to
        // --max-held). The timeline shows incidents at the end; the line formats write
        // alerts as they are raised.
        let mut reorder = Reorder::new(lateness_ms, a.max_held);
        let mut emit = |e: Box<parapet_trail::Event>, out: &mut Box<dyn Write>| {
            let alerts = det.process(&e);
            if feed.active() {
                feed.event(&e, &det);
                alerts.iter().for_each(|a| feed.alert(a));
            }
            for alert in alerts {
                if matches!(d.format, Format::Timeline) {
                    continue;
                }
                if let Err(e) = writeln!(out, "{}", alert_line(&alert, d.format)) {
                    write_err.get_or_insert(e);
                }
            }
        };
        for ((f, size), &k) in files.iter().zip(&origin) {
            let y = &mut yields[k];
            parapet_trail::read_file(f, Limits::default(), &mut |i| {
                y.add(&i);
                match i {
                    Item::Event(e) => reorder.push(e, &mut |e| emit(e, &mut out)),
                    Item::Skipped { at, reason } => {
                        note_skip(&at);
                        d.skipped(&at, &reason, &mut skipped)
                    }
                }
            });
            progress.file_done(*size);
        }
        reorder.flush(&mut |e| emit(e, &mut out));
        (late, early) = (reorder.late(), reorder.early());
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
    });
    let code = match write_err {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing results")
        }
        _ => d.finish(&det, &mut out, skipped)?,
    };
    feed.finish()?;
    // Results for what was read are out; an input that gave nothing, or (unless
    // --allow-unreadable) any unreadable record, makes the scan incomplete: exit 2
    // unless an incident was found anyway.
    if late > 0 {
        eprintln!(
            "parapet: {late} event{} arrived more than --lateness ({}) after newer ones and \
             went on out of order (a larger --lateness puts them back in order)",
            if late == 1 { "" } else { "s" },
            d.lateness
        );
    }
    let mut incomplete = unreadable_inputs(&a.paths, &yields);
    if early > 0 {
        eprintln!(
            "parapet: the scan is incomplete: more than --max-held ({}) events within \
             --lateness ({}), so {early} went on before their time and order was not kept \
             (raise --max-held or lower --lateness)",
            a.max_held, d.lateness
        );
        incomplete = true;
    }
    if skipped > 0 && !a.allow_unreadable {
        let first = first_skip.borrow().clone().unwrap_or_default();
        eprintln!(
            "parapet: the scan is incomplete: {skipped} unreadable record{}, first at {first} \
             (see -v; --allow-unreadable accepts partial logs)",
            if skipped == 1 { "" } else { "s" }
        );
        incomplete = true;
    }
    if incomplete && code != EXIT_HELD {
        return Ok(EXIT_USAGE);
    }
    Ok(code)
}

/// S3 names each CloudTrail file after its delivery (`<account>_CloudTrail_<region>_
/// 20240801T1355Z_<unique>.json.gz`), a few minutes after its events. A tree lists regions
/// and days in name order, an account's whole day before the next region's; read in
/// delivery order, files are at most CloudTrail's delivery delay apart, which the
/// lateness covers. Files without such a name come first, in name order.
fn by_delivery(
    files: Vec<(PathBuf, u64)>,
    origin: Vec<usize>,
) -> (Vec<(PathBuf, u64)>, Vec<usize>) {
    let mut both: Vec<_> = files.into_iter().zip(origin).collect();
    both.sort_by_cached_key(|((p, _), _)| delivery_stamp(p));
    both.into_iter().unzip()
}

/// The `20240801T1355Z` part of a CloudTrail file name.
fn delivery_stamp(p: &std::path::Path) -> Option<String> {
    let name = p.file_name()?.to_str()?;
    let mut parts = name.split('_');
    parts.nth(1).filter(|&c| c == "CloudTrail")?;
    parts.find_map(|x| {
        let b = x.as_bytes();
        let ok = b.len() == 14
            && b[8] == b'T'
            && b[13] == b'Z'
            && b[..8].iter().chain(&b[9..13]).all(u8::is_ascii_digit);
        ok.then(|| x.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_in_delivery_order() {
        let files: Vec<(PathBuf, u64)> = [
            "notes.jsonl",
            "t/us-east-1/2024/08/02/1_CloudTrail_us-east-1_20240802T0005Z_b.json.gz",
            "t/us-west-2/2024/08/01/1_CloudTrail_us-west-2_20240801T2355Z_c.json.gz",
            "t/us-east-1/2024/08/01/1_CloudTrail_us-east-1_20240801T2350Z_a.json.gz",
            "export_20240801T2350Z.json",
            "1_CloudTrail_us-east-1_2024080T2350Z_short.json",
        ]
        .iter()
        .map(|p| (PathBuf::from(p), 0))
        .collect();
        let (sorted, origin) = by_delivery(files, (0..6).collect());
        assert_eq!(origin, vec![0, 4, 5, 3, 2, 1]);
        assert_eq!(sorted.len(), 6);
    }
}
