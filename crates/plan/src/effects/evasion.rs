//! Defence evasion: turning off or narrowing logging and detection.

use super::Ctx;
use parapet_model::{ChangeKind, DefenseEvasion, Effect};

fn push(ctx: &Ctx, out: &mut Vec<Effect>, control: &str, what: &str) {
    out.push(Effect::DefenseEvasion {
        resource: ctx.label(),
        evasion: DefenseEvasion {
            control: control.into(),
            what: what.into(),
        },
    });
}

/// Types whose destruction removes a detection or logging control.
const CONTROLS: &[(&str, &str, &str)] = &[
    (
        "aws_cloudtrail",
        "CloudTrail",
        "stops recording API activity (trail deleted)",
    ),
    (
        "aws_guardduty_detector",
        "GuardDuty",
        "turns off threat detection (detector deleted)",
    ),
    (
        "aws_guardduty_publishing_destination",
        "GuardDuty",
        "stops exporting findings",
    ),
    (
        "aws_config_configuration_recorder",
        "AWS Config",
        "stops recording configuration changes",
    ),
    (
        "aws_config_delivery_channel",
        "AWS Config",
        "stops delivering configuration history",
    ),
    (
        "aws_flow_log",
        "VPC Flow Logs",
        "stops recording network flows",
    ),
    (
        "aws_securityhub_account",
        "Security Hub",
        "turns off Security Hub",
    ),
    (
        "aws_securityhub_standards_subscription",
        "Security Hub",
        "stops checking a security standard",
    ),
    (
        "aws_s3_bucket_logging",
        "S3 server access logging",
        "stops logging access to the bucket",
    ),
    (
        "aws_bedrock_model_invocation_logging_configuration",
        "Bedrock invocation logging",
        "stops logging model invocations, so LLMjacking goes unrecorded",
    ),
    (
        "aws_route53_resolver_query_log_config",
        "Route 53 Resolver query logging",
        "stops logging DNS queries",
    ),
    (
        "aws_route53_resolver_query_log_config_association",
        "Route 53 Resolver query logging",
        "stops logging DNS queries for a VPC",
    ),
    (
        "aws_accessanalyzer_analyzer",
        "IAM Access Analyzer",
        "stops analysing external access",
    ),
    (
        "aws_inspector2_enabler",
        "Amazon Inspector",
        "stops vulnerability scanning",
    ),
    (
        "aws_macie2_account",
        "Amazon Macie",
        "stops sensitive-data discovery",
    ),
    (
        "aws_detective_graph",
        "Amazon Detective",
        "deletes the investigation graph",
    ),
    (
        "aws_cloudwatch_log_metric_filter",
        "CloudWatch alarms",
        "removes a metric filter that alarms may depend on",
    ),
    (
        "aws_bedrock_guardrail",
        "Bedrock Guardrails",
        "removes a guardrail that filters model input and output",
    ),
];

pub fn effects(ctx: &Ctx, out: &mut Vec<Effect>) {
    status_effects(ctx, out);
    let Some((_, control, what)) = CONTROLS.iter().find(|(t, _, _)| *t == ctx.rtype) else {
        return;
    };
    if ctx.kind == ChangeKind::Delete {
        push(ctx, out, control, what);
        return;
    }
    let new = ctx.after;
    let old = ctx.old_side();
    let turned_off = |k: &str| new.get(k).bool() == Some(false) && old.get(k).bool() != Some(false);
    match ctx.rtype {
        "aws_cloudtrail" => {
            if turned_off("enable_logging") {
                push(ctx, out, control, "stops logging (enable_logging = false)");
            }
            if turned_off("is_multi_region_trail") {
                push(
                    ctx,
                    out,
                    control,
                    "stops recording other regions (is_multi_region_trail = false)",
                );
            }
            if turned_off("include_global_service_events") {
                push(ctx, out, control, "stops recording global services such as IAM (include_global_service_events = false)");
            }
            if ctx.kind == ChangeKind::Update {
                let sel = |s: crate::side::Side| {
                    (
                        s.get("event_selector").v.clone(),
                        s.get("advanced_event_selector").v.clone(),
                    )
                };
                let (ne, na) = sel(new);
                let (oe, oa) = sel(old);
                let mgmt_off = ne
                    .to_string()
                    .contains("\"include_management_events\":false")
                    && !oe
                        .to_string()
                        .contains("\"include_management_events\":false");
                if mgmt_off {
                    push(
                        ctx,
                        out,
                        control,
                        "stops recording management events (include_management_events = false)",
                    );
                } else if ne != oe || na != oa {
                    push(
                        ctx,
                        out,
                        control,
                        "changes which events the trail records (event selectors)",
                    );
                }
            }
        }
        "aws_guardduty_detector" if turned_off("enable") => {
            push(
                ctx,
                out,
                control,
                "suspends threat detection (enable = false)",
            );
        }
        "aws_config_configuration_recorder" => {
            let all = |s: crate::side::Side| s.block("recording_group").get("all_supported").bool();
            if all(new) == Some(false) && all(old) != Some(false) {
                push(
                    ctx,
                    out,
                    control,
                    "narrows what is recorded (all_supported = false)",
                );
            }
        }
        _ => {}
    }
}

/// Controls switched off through their own status resources.
pub fn status_effects(ctx: &Ctx, out: &mut Vec<Effect>) {
    let new = ctx.after;
    let old = ctx.old_side();
    let off = |k: &str, v: &str| new.get(k).str() == Some(v) && old.get(k).str() != Some(v);
    match ctx.rtype {
        "aws_config_configuration_recorder_status"
            if (ctx.kind == ChangeKind::Delete
                || (new.get("is_enabled").bool() == Some(false)
                    && old.get("is_enabled").bool() != Some(false))) =>
        {
            push(ctx, out, "AWS Config", "stops the configuration recorder");
        }
        "aws_guardduty_detector_feature" | "aws_guardduty_organization_configuration_feature"
            if (off("status", "DISABLED") || ctx.kind == ChangeKind::Delete) =>
        {
            push(
                ctx,
                out,
                "GuardDuty",
                &format!(
                    "disables GuardDuty feature {}",
                    new.get("name")
                        .str()
                        .or(ctx.before.get("name").str())
                        .unwrap_or("?")
                ),
            );
        }
        "aws_guardduty_filter" if off("action", "ARCHIVE") => {
            push(
                ctx,
                out,
                "GuardDuty",
                "auto-archives matching findings, so nobody sees them",
            );
        }
        "aws_securityhub_automation_rule" => {
            let text = new.get("actions").v.to_string();
            if text.contains("SUPPRESSED") || text.contains("RESOLVED") {
                push(
                    ctx,
                    out,
                    "Security Hub",
                    "automatically suppresses or resolves matching findings",
                );
            }
        }
        _ => {}
    }
}
