//! Renderers for a plan report. Each takes the report and returns text; none does I/O.

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
