"""Clients of the proxy tests that the AWS CLI cannot play: boto3 calls, and raw signed
requests sent with http.client so the exact bytes can be replayed, forged or aged.

Run with target/moto/bin/python. The endpoint and the agent's keys come from the
environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Every command
prints one JSON object per line on standard output.
"""

import datetime
import hashlib
import http.client
import json
import os
import random
import sys
import time
import urllib.parse
import urllib.request

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "eu-west-1"


def endpoint():
    return os.environ["AWS_ENDPOINT_URL"]


def client(service):
    # No retries: a refused call must surface as it was answered.
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120)
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint(), config=cfg)


def blob(size, seed):
    return random.Random(seed).randbytes(size)


def put_get(bucket, key, size):
    """put_object `size` bytes (seeded), get_object them back: both digests."""
    body = blob(size, seed=size)
    s3 = client("s3")
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return {
        "sent": hashlib.sha256(body).hexdigest(),
        "got": hashlib.sha256(got).hexdigest(),
        "size": len(got),
        "etag": put["ETag"],
    }


def sign(service, body, secret=None, age_minutes=0):
    """A signed form POST to the endpoint's root (query protocol): url, headers, body."""
    url = endpoint().rstrip("/") + "/"
    creds = Credentials(
        os.environ["AWS_ACCESS_KEY_ID"],
        secret if secret is not None else os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    req = AWSRequest(
        method="POST",
        url=url,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    real_now = botocore.auth.get_current_datetime
    if age_minutes:
        botocore.auth.get_current_datetime = lambda: real_now() - datetime.timedelta(
            minutes=age_minutes
        )
    try:
        botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    finally:
        botocore.auth.get_current_datetime = real_now
    return url, dict(req.headers.items()), req.body


def send(url, headers, body):
    """One request on a fresh connection, exactly these bytes: (status, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", u.path or "/", body=body, headers=headers)
    r = conn.getresponse()
    out = {"status": r.status, "body": r.read().decode("utf-8", "replace")}
    conn.close()
    return out


def raw(mode, service, body):
    """fresh: sign and send once. forged: sign with a wrong secret. expired: sign with a
    clock 20 minutes slow (beyond SigV4's 15). replay: sign once, send the same bytes
    twice."""
    if mode == "forged":
        wrong = os.environ["AWS_SECRET_ACCESS_KEY"][:-4] + "XXXX"
        sends = [sign(service, body, secret=wrong)]
    elif mode == "expired":
        sends = [sign(service, body, age_minutes=20)]
    elif mode == "replay":
        signed = sign(service, body)
        sends = [signed, signed]
    elif mode == "fresh":
        sends = [sign(service, body)]
    else:
        raise SystemExit(f"unknown mode {mode}")
    for url, headers, data in sends:
        print(json.dumps(send(url, headers, data)), flush=True)


def presigned(bucket, key, expires, wait, version="s3v4"):
    """GET an object by a presigned URL that lives `expires` seconds, after `wait`.
    botocore presigns S3 with SigV2 for a custom endpoint unless told `s3v4`."""
    cfg = Config(signature_version=version)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint(), config=cfg)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
    )
    time.sleep(wait)
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            out = {"status": r.status, "body": hashlib.sha256(r.read()).hexdigest()}
    except urllib.error.HTTPError as e:
        out = {"status": e.code, "body": e.read().decode("utf-8", "replace")}
    print(json.dumps(out), flush=True)


def main(argv):
    cmd = argv[1]
    if cmd == "put-get":
        print(json.dumps(put_get(argv[2], argv[3], int(argv[4]))))
    elif cmd == "raw":
        raw(argv[2], argv[3], argv[4])
    elif cmd == "presigned":
        presigned(argv[2], argv[3], int(argv[4]), float(argv[5]), *argv[6:7])
    elif cmd == "reads":
        # The boto3 side of "reads pass": the same calls the CLI makes.
        out = {
            "account": client("sts").get_caller_identity()["Account"],
            "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
            "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
            "reservations": len(client("ec2").describe_instances()["Reservations"]),
        }
        print(json.dumps(out))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
