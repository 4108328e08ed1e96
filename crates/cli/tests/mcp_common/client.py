"""The MCP client of the gateway tests and of bench/mcp.sh: the Python `mcp` SDK's
`Client`, talking to an MCP server it launches over stdio (the command after `--`) or to
a streamable-HTTP endpoint (`--url URL`, with `--token` as the bearer), on the revision
`--mode` names: `legacy` (the initialize handshake, 2025-11-25) or `2026-07-28` (no
initialize, the per-request envelope).

`--steps JSON` is a list of steps; each prints one JSON object on standard output:
  {"op": "list"}                        -> {"op", "protocol", "tools": [names]} or {"op", "error"}
  {"op": "call", "tool", "args"}        -> {"op", "tool", "is_error", "text",
                                            "progress": [..], "elicitations": [..]}
                                           or {"op", "tool", "error": {code, message}}
  {"op": "read", "uri"}                 -> {"op", "uri", "size"} or {"op", "uri", "error"}
  {"op": "bench", "tool", "args", "n", "warmup"}
                                        -> {"op", "n", "p50_us", "p99_us", "calls_per_s"}
                                           (n sequential calls timed after `warmup` untimed)
`--elicit accept|decline|cancel` makes the client support elicitation and answer every
request so (recording it); without it the client does not advertise elicitation.
`--events PATH` appends each elicitation and progress notification there as a JSON line
the moment it arrives, so a test can act (approve) while the call waits.

Run with target/mcp/bin/python.
"""

import argparse
import json
import os
import sys
import time

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def emit(obj):
    print(json.dumps(obj), flush=True)


def text_of(result):
    parts = []
    for c in result.content or []:
        if getattr(c, "type", None) == "text":
            parts.append(c.text)
        else:
            parts.append(json.dumps(c.model_dump(mode="json", by_alias=True)))
    return "\n".join(parts)


def transport(args):
    if args.url:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(300.0))
        return streamable_http_client(args.url, http_client=http)
    if not args.command:
        sys.exit("client.py: a command after -- or --url is required")
    # The whole environment: the gateway and the server behind it need their settings.
    return StdioServerParameters(
        command=args.command[0], args=args.command[1:], env=dict(os.environ)
    )


async def run(args):
    steps = json.loads(args.steps)
    elicitations = []

    def event(kind, body):
        if args.events:
            with open(args.events, "a", encoding="utf-8") as f:
                f.write(json.dumps({"event": kind, **body}) + "\n")

    async def on_elicit(_ctx, params):
        seen = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        elicitations.append(seen)
        event("elicitation", seen)
        return types.ElicitResult(action=args.elicit)

    kw = {"mode": args.mode, "read_timeout_seconds": args.timeout}
    if args.elicit:
        kw["elicitation_callback"] = on_elicit
    async with Client(transport(args), **kw) as client:
        for step in steps:
            op = step["op"]
            if op == "list":
                try:
                    listed = await client.list_tools()
                    emit(
                        {
                            "op": "list",
                            "protocol": client.protocol_version,
                            "tools": [t.name for t in listed.tools],
                        }
                    )
                except MCPError as e:
                    emit({"op": "list", "error": {"code": e.error.code, "message": e.error.message}})
            elif op == "call":
                progress = []
                elicitations.clear()

                async def on_progress(p, total, message):
                    seen = {"progress": p, "total": total, "message": message}
                    progress.append(seen)
                    event("progress", seen)

                try:
                    r = await client.call_tool(
                        step["tool"], step.get("args", {}), progress_callback=on_progress
                    )
                    emit(
                        {
                            "op": "call",
                            "tool": step["tool"],
                            "is_error": bool(r.is_error),
                            "text": text_of(r),
                            "structured": r.structured_content,
                            "progress": progress,
                            "elicitations": list(elicitations),
                        }
                    )
                except MCPError as e:
                    emit(
                        {
                            "op": "call",
                            "tool": step["tool"],
                            "error": {"code": e.error.code, "message": e.error.message},
                            "progress": progress,
                            "elicitations": list(elicitations),
                        }
                    )
            elif op == "read":
                try:
                    r = await client.read_resource(step["uri"])
                    text = "".join(getattr(c, "text", "") for c in r.contents)
                    emit({"op": "read", "uri": step["uri"], "size": len(text)})
                except MCPError as e:
                    emit(
                        {
                            "op": "read",
                            "uri": step["uri"],
                            "error": {"code": e.error.code, "message": e.error.message},
                        }
                    )
            elif op == "bench":
                n = int(step["n"])
                for _ in range(int(step.get("warmup", 0))):
                    await client.call_tool(step["tool"], step.get("args", {}))
                times = []
                start = time.perf_counter()
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = await client.call_tool(step["tool"], step.get("args", {}))
                    times.append(time.perf_counter() - t0)
                    if r.is_error:
                        sys.exit(f"client.py: bench call failed: {text_of(r)}")
                total = time.perf_counter() - start
                times.sort()
                emit(
                    {
                        "op": "bench",
                        "n": n,
                        "p50_us": round(times[n // 2] * 1e6, 1),
                        "p99_us": round(times[min(n - 1, (n * 99) // 100)] * 1e6, 1),
                        "calls_per_s": round(n / total, 1),
                    }
                )
            else:
                sys.exit(f"client.py: unknown step {op!r}")


def main():
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="legacy")
    p.add_argument("--steps", required=True)
    p.add_argument("--elicit", choices=["accept", "decline", "cancel"])
    p.add_argument("--events")
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args(argv)
    args.command = command
    anyio.run(run, args)


if __name__ == "__main__":
    main()
