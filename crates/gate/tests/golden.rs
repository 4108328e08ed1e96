//! Golden tests: the report for every real public plan and for the demo, in every
//! output format. `cargo insta review` after an intended change.

mod common;
use common::*;
use parapet_gate::load_pins;
use parapet_model::PlanReport;
use parapet_report::{render, Format, TextOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stable(mut r: PlanReport) -> PlanReport {
    r.tool.version = "test";
    r
}

fn plans() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("testdata/plans/checkov")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn public_plans_text() {
    let mut all = String::new();
    let mut checked = 0;
    for p in plans() {
        let rel = p.strip_prefix(root()).unwrap().display().to_string();
        let bytes = std::fs::read(&p).unwrap();
        let opts = parapet_gate::GateOptions {
            actor: parapet_model::Actor::parse("agent:kiro").unwrap(),
            incident: None,
            plan: parapet_plan::Options {
                now: Some(1_795_329_175),
                ..Default::default()
            },
            input_name: rel.clone(),
        };
        match parapet_gate::check_plan(&bytes, &opts, engine()) {
            Ok(r) => {
                all.push_str(&render(&stable(r), Format::Text, &TextOptions::default()));
                checked += 1;
            }
            Err(e) => all.push_str(&format!("{rel}: error: {e}\n")),
        }
        all.push_str("\n----\n");
    }
    assert!(checked >= 19, "only {checked} plans were read");
    insta::assert_snapshot!("public_plans", all);
}

fn demo() -> PlanReport {
    let pins = load_pins(&root().join("demo/pins.toml")).unwrap();
    let bytes = std::fs::read(root().join("demo/incident-plan.json")).unwrap();
    let opts = parapet_gate::GateOptions {
        actor: parapet_model::Actor::parse("agent:kiro").unwrap(),
        incident: None,
        plan: parapet_plan::Options {
            pins,
            now: Some(1_795_329_175),
            ..Default::default()
        },
        input_name: "demo/incident-plan.json".into(),
    };
    stable(parapet_gate::check_plan(&bytes, &opts, engine()).unwrap())
}

#[test]
fn demo_text() {
    insta::assert_snapshot!(render(
        &demo(),
        Format::Text,
        &TextOptions {
            color: false,
            verbose: true
        }
    ));
}

#[test]
fn demo_json() {
    let r = demo();
    let text = render(&r, Format::Json, &TextOptions::default());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], "parapet.plan-report/v1");
    assert_eq!(v["decision"]["outcome"], "deny");
    insta::assert_snapshot!(text);
}

#[test]
fn demo_sarif() {
    let text = render(&demo(), Format::Sarif, &TextOptions::default());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results
        .iter()
        .any(|r| r["level"] == "error" && r["ruleId"] == "exposure.admin-port"));
    // Every result's rule is declared.
    let rules: Vec<&str> = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(results
        .iter()
        .all(|r| rules.contains(&r["ruleId"].as_str().unwrap())));
    insta::assert_snapshot!(text);
}

#[test]
fn demo_junit() {
    let text = render(&demo(), Format::Junit, &TextOptions::default());
    assert!(text.contains("failures=\"4\""));
    insta::assert_snapshot!(text);
}

#[test]
fn demo_github() {
    insta::assert_snapshot!(render(&demo(), Format::Github, &TextOptions::default()));
}

#[test]
fn demo_never_shows_secrets() {
    let r = demo();
    for f in [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
    ] {
        let text = render(
            &r,
            f,
            &TextOptions {
                color: false,
                verbose: true,
            },
        );
        for secret in ["hunter2", "old-secret", "new-secret"] {
            assert!(!text.contains(secret), "{secret} in {f:?}");
        }
    }
}

#[test]
fn writing_a_report_gives_the_bytes_rendering_gives() {
    let r = demo();
    let opts = TextOptions::default();
    for f in [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
    ] {
        let mut out = Vec::new();
        parapet_report::render_to(&r, f, &opts, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            render(&r, f, &opts),
            "{f:?}"
        );
    }
}
