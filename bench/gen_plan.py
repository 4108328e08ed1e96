#!/usr/bin/env python3
"""Generate a realistic large Terraform plan (`terraform show -json` format 1.2).

Usage: gen_plan.py RESOURCES OUT.json [--seed N]

The mix follows real AWS estates: instances with block devices and tags, security
groups with rules (a few open to the internet), IAM roles and policies (a few wildcard
ones), buckets, databases, Lambda functions. About 10% of changes are updates, 3%
deletes, 2% replacements. Values are repeated in planned_values, prior_state and
configuration as Terraform writes them, so ~15k resources make a ~60 MB file.
"""
import json, random, sys

def tags(i, rnd):
    return {"Name": f"res-{i}", "Environment": rnd.choice(["dev", "staging", "prod"]), "Owner": f"team-{i % 17}",
            "CostCenter": f"cc-{i % 97:04d}", "Service": rnd.choice(["orders", "payments", "search", "auth", "ml"]),
            "Project": f"project-{i % 23}", "DataClassification": rnd.choice(["public", "internal", "confidential"]),
            "Compliance": "soc2", "Backup": rnd.choice(["daily", "weekly", "none"]), "ManagedBy": "terraform",
            "Repository": f"github.com/acme/infra-{i % 11}"}

def instance(i, rnd):
    return {"ami": f"ami-{rnd.getrandbits(64):016x}", "instance_type": rnd.choice(["t3.micro", "m5.large", "c6i.xlarge"]),
            "subnet_id": f"subnet-{i % 50:08x}", "vpc_security_group_ids": [f"sg-{(i + k) % 400:08x}" for k in range(3)],
            "associate_public_ip_address": False, "monitoring": True, "ebs_optimized": True,
            "root_block_device": [{"volume_size": 50, "volume_type": "gp3", "encrypted": True, "delete_on_termination": True, "iops": 3000, "throughput": 125}],
            "ebs_block_device": [{"device_name": f"/dev/sd{c}", "volume_size": 100, "volume_type": "gp3", "encrypted": True, "delete_on_termination": True} for c in "fgh"],
            "metadata_options": [{"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1}],
            "user_data_base64": None, "iam_instance_profile": f"profile-{i % 30}",
            "credit_specification": [], "tags": tags(i, rnd), "tags_all": tags(i, rnd), "timeouts": None}

def sg(i, rnd):
    rules = [{"from_port": p, "to_port": p, "protocol": "tcp", "cidr_blocks": [f"10.{i % 255}.0.0/16"], "ipv6_cidr_blocks": [],
              "prefix_list_ids": [], "security_groups": [], "self": False, "description": f"rule {p}"} for p in (443, 8080, 5432)]
    if rnd.random() < 0.02:
        rules.append({"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
                      "prefix_list_ids": [], "security_groups": [], "self": False, "description": "ssh"})
    return {"name": f"sg-{i}", "description": "managed", "vpc_id": f"vpc-{i % 5:08x}", "ingress": rules,
            "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
                        "prefix_list_ids": [], "security_groups": [], "self": False, "description": ""}],
            "revoke_rules_on_delete": False, "tags": tags(i, rnd), "tags_all": tags(i, rnd), "timeouts": None}

def role_policy(i, rnd):
    actions = rnd.sample(["s3:GetObject", "s3:PutObject", "sqs:SendMessage", "dynamodb:GetItem", "dynamodb:PutItem",
                          "logs:PutLogEvents", "kms:Decrypt", "secretsmanager:GetSecretValue", "ec2:Describe*"], 4)
    if rnd.random() < 0.02:
        actions.append(rnd.choice(["iam:*", "*", "iam:PassRole", "lambda:UpdateFunctionCode"]))
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    return {"name": f"policy-{i}", "role": f"role-{i % 300}", "policy": json.dumps(doc)}

def bucket(i, rnd):
    return {"bucket": f"bucket-{i}-{rnd.getrandbits(32):08x}", "force_destroy": False, "object_lock_enabled": False,
            "tags": tags(i, rnd), "tags_all": tags(i, rnd), "timeouts": None}

def db(i, rnd):
    return {"identifier": f"db-{i}", "engine": "postgres", "engine_version": "15.4", "instance_class": "db.r6g.large",
            "allocated_storage": 100, "storage_encrypted": True, "skip_final_snapshot": rnd.random() < 0.5,
            "deletion_protection": rnd.random() < 0.5, "backup_retention_period": 7, "publicly_accessible": False,
            "username": "admin", "password": "generated-secret", "multi_az": True, "tags": tags(i, rnd), "tags_all": tags(i, rnd)}

def lam(i, rnd):
    return {"function_name": f"fn-{i}", "role": f"arn:aws:iam::111122223333:role/fn-{i}", "runtime": "python3.12",
            "handler": "main.handler", "memory_size": 256, "timeout": 30, "s3_bucket": "artifacts", "s3_key": f"fn-{i}/1.0.0.zip",
            "source_code_hash": f"{rnd.getrandbits(256):064x}", "environment": [{"variables": {"LOG_LEVEL": "info", "TABLE": f"t-{i}"}}],
            "tags": tags(i, rnd), "tags_all": tags(i, rnd)}

KINDS = [("aws_instance", instance, 30), ("aws_security_group", sg, 20), ("aws_iam_role_policy", role_policy, 15),
         ("aws_s3_bucket", bucket, 15), ("aws_db_instance", db, 5), ("aws_lambda_function", lam, 15)]

def main():
    n = int(sys.argv[1]); out = sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 42
    rnd = random.Random(seed)
    weights = [k[2] for k in KINDS]
    changes, planned, prior, config = [], [], [], []
    for i in range(n):
        ty, make, _ = rnd.choices(KINDS, weights)[0]
        addr = f"module.m{i % 40}.{ty}.r{i}"
        after = make(i, rnd)
        r = rnd.random()
        if r < 0.10:
            actions, before = ["update"], dict(after, tags={**after.get("tags", {}), "Version": "1"}) if "tags" in after else dict(after)
        elif r < 0.13:
            actions, before, after = ["delete"], after, None
        elif r < 0.15:
            actions, before = ["delete", "create"], dict(after)
        else:
            actions, before = ["create"], None
        sens = {"password": True} if ty == "aws_db_instance" else {}
        changes.append({"address": addr, "module_address": f"module.m{i % 40}", "mode": "managed", "type": ty, "name": f"r{i}",
                        "provider_name": "registry.terraform.io/hashicorp/aws",
                        "change": {"actions": actions, "before": before, "after": after,
                                   "after_unknown": {"id": True, "arn": True} if after is not None else {},
                                   "before_sensitive": sens if before is not None else False,
                                   "after_sensitive": sens if after is not None else False}})
        if after is not None:
            planned.append({"address": addr, "mode": "managed", "type": ty, "name": f"r{i}", "provider_name": "registry.terraform.io/hashicorp/aws",
                            "schema_version": 0, "values": after, "sensitive_values": {}})
        if before is not None:
            prior.append({"address": addr, "mode": "managed", "type": ty, "name": f"r{i}", "provider_name": "registry.terraform.io/hashicorp/aws",
                          "schema_version": 0, "values": dict(before, id=f"id-{i}", arn=f"arn:aws:x::111122223333:{i}"), "sensitive_values": {}})
        config.append({"address": f"{ty}.r{i}", "mode": "managed", "type": ty, "name": f"r{i}", "provider_config_key": "aws",
                       "expressions": {k: {"constant_value": v} for k, v in (after or before).items() if not isinstance(v, (list, dict))},
                       "schema_version": 0})
    plan = {"format_version": "1.2", "terraform_version": "1.9.8",
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "prior_state": {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": {"resources": prior}}},
            "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"}},
                              "root_module": {"resources": config}},
            "timestamp": "2026-11-22T00:00:00Z", "applyable": True, "complete": True, "errored": False}
    with open(out, "w") as f:
        json.dump(plan, f)

if __name__ == "__main__":
    main()
