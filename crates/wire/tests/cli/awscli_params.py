"""Reads AWS CLI commands (one JSON string per line on stdin) with awscli's own argument
processing and prints, per command, one JSON line: what awscli would call
("status": "ok", "service", "operation", "params"), or why not ("custom": a customization
command; "error": awscli refused it). Nothing is sent anywhere: the operation caller is
replaced, URLs are never fetched, and the config and credentials files are empty.

Run with target/moto/bin/python (the pinned awscli). Blobs are printed as the base64 of
their bytes and streaming bodies left out, as parapet's parser reports them.
"""
import base64
import contextlib
import io
import json
import os
import shlex
import sys

os.environ.update(
    AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY="x",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    AWS_PAGER="",
)

import awscli.clidriver as clidriver  # noqa: E402
import awscli.paramfile as paramfile  # noqa: E402
from awscli.clidriver import ServiceCommand, create_clidriver  # noqa: E402
from botocore.validate import ParamValidator  # noqa: E402

CAPTURED = []


def fake_invoke(self, service_name, operation_name, parameters, parsed_globals):
    # botocore's own parameter validation, as the real call would run it.
    model = self._session.get_service_model(service_name).operation_model(operation_name)
    report = ParamValidator().validate(parameters, model.input_shape)
    if report.has_errors():
        raise ValueError(report.generate_report())
    CAPTURED.append((service_name, operation_name, parameters))
    return 0


def no_uri(prefix, uri):
    raise paramfile.ResourceLoadingError("URLs are not fetched here")


clidriver.CLIOperationCaller.invoke = fake_invoke
paramfile.get_uri = no_uri
paramfile.REMOTE_PREFIX_MAP.update({p: (no_uri, {}) for p in ("http://", "https://")})


def shaped(value, shape):
    if shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            m = shape.members.get(k)
            if m is not None and m.type_name == "blob" and m.serialization.get("streaming"):
                continue
            out[k] = shaped(v, m)
        return out
    if t == "list" and isinstance(value, list):
        return [shaped(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: shaped(v, shape.value) for k, v in value.items()}
    if t == "blob":
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def run_one(driver, table, cmd):
    out = {"command": cmd}
    try:
        words = shlex.split(cmd)[1:]
        svc = table.get(words[0]) if words else None
        if isinstance(svc, ServiceCommand) and len(words) > 1:
            op = svc._get_command_table().get(words[1])
            if op is not None and not hasattr(op, "_operation_model"):
                svc = None
        if not isinstance(svc, ServiceCommand):
            out["status"] = "custom"
            return out
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = driver.main(words)
            except SystemExit as e:
                rc = e.code
        if rc == 0 and len(CAPTURED) == 1:
            _, op_name, params = CAPTURED[0]
            model = svc.service_model.operation_model(op_name)
            params = dict(params)
            params.pop("PaginationConfig", None)
            out.update(
                status="ok",
                service=svc.service_model.service_name,
                operation=op_name,
                params=shaped(params, model.input_shape),
            )
        else:
            out.update(status="error", error=err.getvalue()[-300:])
    except Exception as e:  # noqa: BLE001 (a refusal of any kind)
        out.update(status="error", error=repr(e)[:300])
    return out


def main():
    driver = create_clidriver()
    # Profiles named in examples do not exist here; credentials come from the environment.
    set_config = driver.session.set_config_variable
    driver.session.set_config_variable = lambda k, v: None if k == "profile" else set_config(k, v)
    table = driver._get_command_table()
    # Each command runs in a fork of this process: awscli keeps state between commands
    # run in one process. A service's commands are loaded here first, so forks share them.
    for line in sys.stdin:
        cmd = json.loads(line)
        words = cmd.split()
        svc = table.get(words[1]) if len(words) > 1 else None
        if isinstance(svc, ServiceCommand):
            svc._get_command_table()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            data = json.dumps(run_one(driver, table, cmd), default=str).encode()
            with os.fdopen(w, "wb") as f:
                f.write(data)
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        if not data:
            data = json.dumps({"command": cmd, "status": "error", "error": "crashed"}).encode()
        sys.stdout.write(data.decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
