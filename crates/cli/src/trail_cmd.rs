use crate::EXIT_ALLOW;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TrailCommand {
    /// Explain CloudTrail records with the same knowledge that gates plans and calls:
    /// what each successful call made possible or destroyed.
    ///
    /// Reads S3-delivered `{"Records": [...]}` files, JSON arrays and JSON lines.
    /// Detection of attack chains over time is `parapet trail scan`/`watch` (to come).
    Explain {
        /// CloudTrail files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list calls without effects.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
}

pub fn run(cmd: TrailCommand) -> Result<u8> {
    let TrailCommand::Explain { files, verbose } = cmd;
    let (mut events, mut with_effects, mut failed, mut skipped) = (0, 0, 0, 0);
    for f in &files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let parsed = parapet_trail::parse(&text).with_context(|| format!("{}", f.display()))?;
        for (_, why) in &parsed.skipped {
            eprintln!("{}: skipped {why}", f.display());
        }
        skipped += parsed.skipped.len();
        for r in &parsed.records {
            events += 1;
            let time = r.event_time.as_deref().unwrap_or("?");
            let action = format!("{}:{}", r.service(), r.event_name);
            if let Some(err) = &r.error_code {
                failed += 1;
                if verbose {
                    println!("{time}  {}  {action}  failed: {err}", r.actor());
                }
                continue;
            }
            let effects = r.analyze().map(|a| a.effects).unwrap_or_default();
            if effects.is_empty() {
                if verbose {
                    println!("{time}  {}  {action}", r.actor());
                }
                continue;
            }
            with_effects += 1;
            println!("{time}  {}  {action}", r.actor());
            for e in effects {
                println!("    {:<8} {}", e.severity().as_str(), e.summary());
            }
        }
    }
    eprintln!("{events} events: {with_effects} with effects, {failed} failed calls, {skipped} unreadable records skipped");
    Ok(EXIT_ALLOW)
}
