//! Renderers for a plan report. Each takes the report and returns text, or writes it to
//! a writer it is given ([`render_to`]: a large JSON report is never held whole).

mod call;
mod github;
mod junit;
mod sarif;
mod text;

use parapet_model::PlanReport;

pub use call::render_call;
pub use text::TextOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Junit,
    Github,
}

pub fn render(report: &PlanReport, format: Format, text: &TextOptions) -> String {
    match format {
        Format::Text => text::render(report, text),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report).expect("report serialises");
            s.push('\n');
            s
        }
        Format::Sarif => sarif::render(report),
        Format::Junit => junit::render(report),
        Format::Github => github::render(report),
    }
}

/// [`render`] into `w`. JSON is written as it is serialised, so a report of hundreds
/// of megabytes (a 30k-resource plan) never exists as one string beside the report.
pub fn render_to(
    report: &PlanReport,
    format: Format,
    text: &TextOptions,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            use std::io::Write;
            let mut w = std::io::BufWriter::with_capacity(64 << 10, w);
            serde_json::to_writer_pretty(&mut w, report)?;
            w.write_all(b"\n")?;
            w.flush()
        }
        _ => {
            w.write_all(render(report, format, text).as_bytes())?;
            w.flush()
        }
    }
}
