"""A small MCP server made with the Python `mcp` SDK, for what the AWS API MCP server
cannot show: a tool nobody mapped, a trivial tool to time, a server that crashes or
floods. Speaks stdio (default) or streamable HTTP (`--http PORT`, first stdout line
`listening on http://127.0.0.1:PORT/mcp`), on both the 2025-11-25 and the 2026-07-28
revisions (the SDK answers `initialize` and the per-request envelope alike).

Run with target/mcp/bin/python. Every tool call is appended as one JSON line to the
file named by MCP_TEST_CALLS (when set), so a test sees what really ran.
"""

import json
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("parapet-test-server")


def record(tool, args):
    path = os.environ.get("MCP_TEST_CALLS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool(description="Answers with its argument (a trivial call, for timing).")
def echo(text: str) -> str:
    record("echo", {"text": text})
    return text


@server.tool(description="Rolls out a service version to an environment.")
def deploy_service(service: str, environment: str, version: str) -> str:
    record("deploy_service", {"service": service, "environment": environment, "version": version})
    return f"deployed {service} {version} to {environment}"


@server.tool(description="Exits the server process in the middle of the call.")
def crash() -> str:
    record("crash", {})
    sys.stdout.flush()
    os._exit(3)


@server.tool(description="Answers with `size` bytes of text.")
def flood(size: int) -> str:
    record("flood", {"size": size})
    return "x" * size


# Resources pass through the gateway unjudged (they read, they do not act): the way to
# make the server misbehave in the middle of a session without a mapping.
@server.resource("test://crash", description="Exits the server process mid-read.")
def crash_on_read() -> str:
    sys.stdout.flush()
    os._exit(3)


@server.resource("test://hang", description="Never answers.")
async def hang() -> str:
    import anyio

    await anyio.sleep(3600)
    return "woke"


@server.resource("test://flood/{size}", description="`size` bytes of text.")
def flood_read(size: str) -> str:
    return "x" * int(size)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        port = int(sys.argv[2])
        print(f"listening on http://127.0.0.1:{port}/mcp", flush=True)
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
