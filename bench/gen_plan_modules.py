#!/usr/bin/env python3
"""Generate a large `terraform show -json` plan (format 1.2) built from modules.

Usage: gen_plan_modules.py RESOURCES OUT.json [--seed N]

The shape follows what Terraform 1.x writes for a root module that calls a service
module many times (see the JSON output format, "Configuration Representation"):

* `configuration.root_module.module_calls` has CALLS calls (`svc_00`..), each with
  `for_each` over services, `expressions` for the module's input variables (one of
  them refers to a root resource: `aws_iam_policy.shared[N].arn`), and a `module`
  holding the child's own `resources`, `outputs` and a nested call (`logs`).
  Configuration addresses are relative to their module; each call's module is
  written once, not once per instance.
* `resource_changes` use absolute instance addresses:
  `module.svc_03["svc-0042"].aws_iam_role_policy_attachment.this`,
  `module.svc_03["svc-0042"].module.logs.aws_iam_policy.this`,
  `module.svc_03["svc-0042"].aws_instance.this[1]`, with `module_address` and `index`.
* Expressions carry `references` as Terraform writes them, every traversal step
  listed: `["aws_iam_policy.this.arn", "aws_iam_policy.this"]`,
  `["module.logs.policy_arn", "module.logs"]`, `["var.shared_policy_arn"]`,
  `["aws_instance.this[0].id", "aws_instance.this[0]", "aws_instance.this"]`.
* Policies are created in the same plan, so their ARNs are unknown
  (`after_unknown`) and the attachments can only be judged by following the
  references: through the same module, a child module's output, or an input
  variable set by the parent.

Values are repeated in planned_values and prior_state as Terraform writes them, so
30k resources make a ~108 MB file.
"""
import json, random, sys

CALLS = 40
# Resources one service instance contributes (instances of aws_instance: INSTANCES).
INSTANCES = 3


def tags(svc, rnd):
    return {"Name": svc, "Environment": rnd.choice(["dev", "staging", "prod"]), "Owner": f"team-{sum(map(ord, svc)) % 17}",
            "CostCenter": f"cc-{sum(map(ord, svc)) % 97:04d}", "Team": f"platform-{sum(map(ord, svc)) % 7}",
            "Runbook": f"https://wiki.acme.example/runbooks/{svc}", "Contact": f"{svc}-oncall@acme.example", "Service": svc, "DataClassification": rnd.choice(["internal", "confidential"]),
            "Compliance": "soc2", "Backup": rnd.choice(["daily", "weekly", "none"]), "ManagedBy": "terraform",
            "Repository": "github.com/acme/platform",
            "Terraform": "modules/service", "BusinessUnit": "digital-commerce", "Criticality": rnd.choice(["tier-1", "tier-2", "tier-3"]),
            "PatchGroup": rnd.choice(["mon-0200", "tue-0200", "wed-0200"]), "CreatedBy": "platform-pipeline"}


# Attributes the AWS provider writes for every object even when the configuration does
# not set them (null, empty or default), as in real plans.
PROVIDER_DEFAULTS = {
    "aws_instance": {"capacity_reservation_specification": [], "cpu_core_count": None, "cpu_threads_per_core": None,
                     "credit_specification": [], "disable_api_stop": False, "disable_api_termination": False,
                     "ebs_block_device": [], "enclave_options": [], "ephemeral_block_device": [],
                     "get_password_data": False, "hibernation": None, "host_id": None, "host_resource_group_arn": None,
                     "instance_initiated_shutdown_behavior": None, "instance_market_options": [], "ipv6_address_count": None,
                     "key_name": None, "launch_template": [], "maintenance_options": [], "network_interface": [],
                     "placement_group": None, "placement_partition_number": None, "private_dns_name_options": [],
                     "secondary_private_ips": [], "source_dest_check": True, "tenancy": None, "user_data": None,
                     "user_data_replace_on_change": False, "volume_tags": None},
    "aws_lambda_function": {"architectures": ["x86_64"], "code_signing_config_arn": None, "dead_letter_config": [],
                            "description": None, "ephemeral_storage": [{"size": 512}], "file_system_config": [],
                            "image_config": [], "image_uri": None, "kms_key_arn": None, "layers": None,
                            "logging_config": [], "package_type": "Zip", "publish": False, "replace_security_groups_on_destroy": None,
                            "reserved_concurrent_executions": -1, "skip_destroy": False, "snap_start": [],
                            "tracing_config": [{"mode": "PassThrough"}], "vpc_config": []},
    "aws_s3_bucket": {"acceleration_status": None, "acl": None, "bucket_prefix": None, "cors_rule": [], "grant": [],
                      "lifecycle_rule": [], "logging": [], "object_lock_configuration": [], "policy": None,
                      "replication_configuration": [], "request_payer": None, "server_side_encryption_configuration": [],
                      "versioning": [], "website": []},
    "aws_security_group": {"name_prefix": None},
    "aws_iam_role": {"permissions_boundary": None, "name_prefix": None},
    "aws_cloudwatch_metric_alarm": {"actions_enabled": True, "alarm_actions": None, "alarm_description": None,
                                    "datapoints_to_alarm": None, "evaluate_low_sample_count_percentiles": None,
                                    "extended_statistic": None, "insufficient_data_actions": None, "metric_query": [],
                                    "ok_actions": None, "threshold_metric_id": None, "treat_missing_data": "missing", "unit": None},
}


def policy_doc(rnd, svc):
    actions = rnd.sample(["s3:GetObject", "s3:PutObject", "sqs:SendMessage", "dynamodb:GetItem", "dynamodb:PutItem",
                          "logs:PutLogEvents", "kms:Decrypt", "secretsmanager:GetSecretValue", "ec2:Describe*"], 4)
    if rnd.random() < 0.02:
        actions.append(rnd.choice(["iam:*", "*", "iam:PassRole", "lambda:UpdateFunctionCode"]))
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{svc}-data/*"}]})


def ref(*steps):
    """An expression referring to the given traversal steps, most specific first."""
    return {"references": list(steps)}


def const(v):
    return {"constant_value": v}


def service_resources(svc, rnd):
    """(relative address, type, name, index, after, after_unknown) for one service instance."""
    t = tags(svc, rnd)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    out = [
        ("aws_iam_role.this", "aws_iam_role", "this", None,
         {"name": f"{svc}-role", "assume_role_policy": trust, "path": "/", "max_session_duration": 3600,
          "force_detach_policies": False, "description": f"runtime role of {svc}", "tags": t, "tags_all": t},
         {"arn": True, "id": True, "unique_id": True, "managed_policy_arns": True, "inline_policy": True}),
        ("aws_iam_policy.this", "aws_iam_policy", "this", None,
         {"name": f"{svc}-access", "path": "/", "description": f"what {svc} may touch", "policy": policy_doc(rnd, svc),
          "tags": t, "tags_all": t},
         {"arn": True, "id": True, "policy_id": True}),
        ("aws_iam_role_policy_attachment.this", "aws_iam_role_policy_attachment", "this", None,
         {"role": f"{svc}-role"}, {"id": True, "policy_arn": True}),
        ("aws_iam_role_policy_attachment.shared", "aws_iam_role_policy_attachment", "shared", None,
         {"role": f"{svc}-role"}, {"id": True, "policy_arn": True}),
        ("aws_iam_role_policy_attachment.logs", "aws_iam_role_policy_attachment", "logs", None,
         {"role": f"{svc}-role"}, {"id": True, "policy_arn": True}),
        ("aws_security_group.this", "aws_security_group", "this", None,
         {"name": f"{svc}-sg", "description": "managed", "vpc_id": "vpc-0a1b2c3d",
          "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"],
                       "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False,
                       "description": "https"}],
          "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"],
                      "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False,
                      "description": ""}],
          "revoke_rules_on_delete": False, "tags": t, "tags_all": t},
         {"arn": True, "id": True, "owner_id": True}),
        ("aws_s3_bucket.this", "aws_s3_bucket", "this", None,
         {"bucket": f"{svc}-data", "force_destroy": False, "object_lock_enabled": False, "tags": t, "tags_all": t},
         {"arn": True, "id": True, "bucket_domain_name": True}),
        ("aws_s3_bucket_public_access_block.this", "aws_s3_bucket_public_access_block", "this", None,
         {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
          "restrict_public_buckets": True}, {"bucket": True, "id": True}),
        ("aws_lambda_function.this", "aws_lambda_function", "this", None,
         {"function_name": svc, "runtime": "python3.12", "handler": "main.handler", "memory_size": 256, "timeout": 30,
          "s3_bucket": "artifacts", "s3_key": f"{svc}/1.0.0.zip", "source_code_hash": f"{rnd.getrandbits(256):064x}",
          "environment": [{"variables": {"LOG_LEVEL": "info", "BUCKET": f"{svc}-data"}}], "tags": t, "tags_all": t},
         {"arn": True, "id": True, "role": True, "invoke_arn": True}),
        ("module.logs.aws_cloudwatch_log_group.this", "aws_cloudwatch_log_group", "this", None,
         {"name": f"/aws/lambda/{svc}", "retention_in_days": 30, "tags": t, "tags_all": t}, {"arn": True, "id": True}),
        ("module.logs.aws_iam_policy.this", "aws_iam_policy", "this", None,
         {"name": f"{svc}-logs", "path": "/", "description": "write own logs",
          "policy": json.dumps({"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
               "Resource": f"arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/{svc}:*"}]}),
          "tags": t, "tags_all": t},
         {"arn": True, "id": True, "policy_id": True}),
    ]
    for k in range(INSTANCES):
        out.append((f"aws_instance.this[{k}]", "aws_instance", "this", k,
                    {"ami": f"ami-{rnd.getrandbits(64):016x}", "instance_type": rnd.choice(["t3.micro", "m5.large"]),
                     "subnet_id": f"subnet-{k:08x}", "associate_public_ip_address": False, "monitoring": True,
                     "ebs_optimized": True,
                     "root_block_device": [{"volume_size": 50, "volume_type": "gp3", "encrypted": True,
                                            "delete_on_termination": True, "iops": 3000, "throughput": 125}],
                     "metadata_options": [{"http_endpoint": "enabled", "http_tokens": "required",
                                           "http_put_response_hop_limit": 1}],
                     "user_data_base64": None, "tags": t, "tags_all": t, "timeouts": None},
                    {"arn": True, "id": True, "vpc_security_group_ids": True, "private_ip": True}))
    out.append(("aws_cloudwatch_metric_alarm.cpu", "aws_cloudwatch_metric_alarm", "cpu", None,
                {"alarm_name": f"{svc}-cpu", "comparison_operator": "GreaterThanThreshold", "evaluation_periods": 2,
                 "metric_name": "CPUUtilization", "namespace": "AWS/EC2", "period": 300, "statistic": "Average",
                 "threshold": 80, "tags": t, "tags_all": t},
                {"arn": True, "id": True, "dimensions": True}))
    return out


def service_module_config():
    """The service module's configuration: resources, outputs and the nested logs call."""
    def res(ty, name, exprs, count=None):
        r = {"address": f"{ty}.{name}", "mode": "managed", "type": ty, "name": name,
             "provider_config_key": "aws", "expressions": exprs, "schema_version": 0}
        if count is not None:
            r["count_expression"] = count
        return r
    resources = [
        res("aws_iam_role", "this", {"name": ref("var.name"), "assume_role_policy": ref("data.aws_iam_policy_document.trust.json", "data.aws_iam_policy_document.trust"),
                                     "tags": ref("var.tags")}),
        res("aws_iam_policy", "this", {"name": ref("var.name"), "policy": ref("data.aws_iam_policy_document.access.json", "data.aws_iam_policy_document.access"),
                                       "tags": ref("var.tags")}),
        res("aws_iam_role_policy_attachment", "this", {"role": ref("aws_iam_role.this.name", "aws_iam_role.this"),
                                                       "policy_arn": ref("aws_iam_policy.this.arn", "aws_iam_policy.this")}),
        res("aws_iam_role_policy_attachment", "shared", {"role": ref("aws_iam_role.this.name", "aws_iam_role.this"),
                                                         "policy_arn": ref("var.shared_policy_arn")}),
        res("aws_iam_role_policy_attachment", "logs", {"role": ref("aws_iam_role.this.name", "aws_iam_role.this"),
                                                       "policy_arn": ref("module.logs.policy_arn", "module.logs")}),
        res("aws_security_group", "this", {"name": ref("var.name"), "vpc_id": ref("var.vpc_id"),
                                           "ingress": [{"from_port": const(443), "to_port": const(443), "protocol": const("tcp"),
                                                        "cidr_blocks": ref("var.internal_cidrs")}]}),
        res("aws_s3_bucket", "this", {"bucket": ref("var.name"), "tags": ref("var.tags")}),
        res("aws_s3_bucket_public_access_block", "this", {"bucket": ref("aws_s3_bucket.this.id", "aws_s3_bucket.this"),
                                                          "block_public_acls": const(True), "block_public_policy": const(True)}),
        res("aws_lambda_function", "this", {"function_name": ref("var.name"), "role": ref("aws_iam_role.this.arn", "aws_iam_role.this"),
                                            "runtime": const("python3.12"), "handler": const("main.handler")}),
        res("aws_instance", "this", {"ami": ref("var.ami"), "instance_type": ref("var.instance_type"),
                                     "vpc_security_group_ids": ref("aws_security_group.this.id", "aws_security_group.this"),
                                     "iam_instance_profile": ref("var.name")},
            count=const(INSTANCES)),
        res("aws_cloudwatch_metric_alarm", "cpu", {"alarm_name": ref("var.name"),
                                                  "dimensions": ref("aws_instance.this[0].id", "aws_instance.this[0]", "aws_instance.this")}),
    ]
    logs = {"resources": [
        res("aws_cloudwatch_log_group", "this", {"name": ref("var.name"), "retention_in_days": const(30)}),
        res("aws_iam_policy", "this", {"name": ref("var.name"), "policy": ref("aws_cloudwatch_log_group.this.arn", "aws_cloudwatch_log_group.this")}),
    ], "outputs": {"policy_arn": {"expression": ref("aws_iam_policy.this.arn", "aws_iam_policy.this")}},
        "variables": {"name": {}}}
    return {
        "outputs": {"role_arn": {"expression": ref("aws_iam_role.this.arn", "aws_iam_role.this")},
                    "bucket": {"expression": ref("aws_s3_bucket.this.id", "aws_s3_bucket.this")}},
        "resources": resources,
        "module_calls": {"logs": {"source": "./modules/logs", "expressions": {"name": ref("var.name")}, "module": logs}},
        "variables": {v: {} for v in ["name", "tags", "shared_policy_arn", "vpc_id", "internal_cidrs", "ami", "instance_type"]},
    }


def module_tree(entries):
    """Values representation: resources nested under `child_modules` by module instance."""
    root = {"resources": [], "child_modules": {}}
    for mod, r in entries:
        node = root
        if mod:
            parts = mod.split(".module.")
            path = ""
            for p in parts:
                path = p if not path else f"{path}.module.{p}"
                node = node["child_modules"].setdefault(path, {"address": path, "resources": [], "child_modules": {}})
        node["resources"].append(r)

    def finish(node):
        kids = [finish(k) for k in node.pop("child_modules").values()]
        if kids:
            node["child_modules"] = kids
        return node
    return finish(root)


def main():
    n = int(sys.argv[1]); out = sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 42
    rnd = random.Random(seed)
    per = len(service_resources("x", random.Random(0)))
    services = max(1, n // per)
    changes, planned, prior = [], [], []
    provider = "registry.terraform.io/hashicorp/aws"

    def add(addr, module_address, ty, name, index, after, unknown, mode="managed"):
        r = rnd.random()
        if r < 0.10 and after is not None:
            actions, before = ["update"], (dict(after, tags={**after["tags"], "Version": "1"}) if "tags" in after else dict(after))
        elif r < 0.12:
            actions, before, after = ["delete"], after, None
        else:
            actions, before = ["create"], None
        rc = {"address": addr, "mode": mode, "type": ty, "name": name, "provider_name": provider,
              "change": {"actions": actions, "before": before, "after": after,
                         "after_unknown": unknown if after is not None else {},
                         "before_sensitive": {} if before is not None else False,
                         "after_sensitive": {} if after is not None else False}}
        if module_address:
            rc["module_address"] = module_address
        if index is not None:
            rc["index"] = index
        changes.append(rc)
        entry = {"address": addr, "mode": mode, "type": ty, "name": name, "provider_name": provider, "schema_version": 0}
        if index is not None:
            entry["index"] = index
        if after is not None:
            planned.append((module_address, dict(entry, values=after, sensitive_values={})))
        if before is not None:
            prior.append((module_address, dict(entry, values=dict(before, id=f"id-{len(prior)}",
                                                 arn=f"arn:aws:iam::111122223333:thing/{len(prior)}"), sensitive_values={})))

    shared = max(1, services // 50)
    for s in range(shared):
        add(f"aws_iam_policy.shared[{s}]", None, "aws_iam_policy", "shared", s,
            {"name": f"shared-{s}", "path": "/", "description": "shared read access", "policy": policy_doc(rnd, f"shared-{s}"),
             "tags": {}, "tags_all": {}}, {"arn": True, "id": True, "policy_id": True})
    calls = {}
    for s in range(services):
        call = f"svc_{s % CALLS:02d}"
        svc = f"svc-{s:05d}"
        inst = f'module.{call}["{svc}"]'
        calls.setdefault(call, []).append(svc)
        for rel, ty, name, index, after, unknown in service_resources(svc, rnd):
            after = {**PROVIDER_DEFAULTS.get(ty, {}), **after}
            mod = inst + (".module.logs" if rel.startswith("module.logs.") else "")
            add(f"{inst}.{rel}", mod, ty, name, index, after, unknown)
    module_cfg = service_module_config()
    root_calls = {}
    for c, (call, svcs) in enumerate(sorted(calls.items())):
        root_calls[call] = {
            "source": "./modules/service",
            "expressions": {"name": ref("each.key"), "tags": ref("local.tags"),
                            "shared_policy_arn": ref(f"aws_iam_policy.shared[{c % shared}].arn",
                                                     f"aws_iam_policy.shared[{c % shared}]", "aws_iam_policy.shared"),
                            "vpc_id": ref("var.vpc_id"), "internal_cidrs": const(["10.0.0.0/8"]),
                            "ami": ref("data.aws_ami.base.id", "data.aws_ami.base"), "instance_type": const("m5.large")},
            "for_each_expression": ref("local.services"),
            "module": module_cfg,
        }
    plan = {"format_version": "1.2", "terraform_version": "1.9.8",
            "planned_values": {"root_module": module_tree(planned)},
            "resource_changes": changes,
            "prior_state": {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": module_tree(prior)}},
            "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": provider}},
                              "root_module": {
                                  "resources": [{"address": "aws_iam_policy.shared", "mode": "managed", "type": "aws_iam_policy",
                                                 "name": "shared", "provider_config_key": "aws", "schema_version": 0,
                                                 "expressions": {"name": ref("count.index"), "policy": const("{}")},
                                                 "count_expression": const(shared)}],
                                  "module_calls": root_calls,
                                  "variables": {"vpc_id": {"default": "vpc-0a1b2c3d"}}}},
            "timestamp": "2026-11-22T00:00:00Z", "applyable": True, "complete": True, "errored": False}
    with open(out, "w") as f:
        json.dump(plan, f)


if __name__ == "__main__":
    main()
