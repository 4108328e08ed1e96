"""Starts the real AWS API MCP server (PyPI awslabs.aws-api-mcp-server, in target/mcp-aws)
offline. At start it downloads AWS's service reference index (for its own
READ_OPERATIONS_ONLY / REQUIRE_MUTATION_CONSENT checks) and refuses to start without
it; the tests have no internet, so the index starts empty: the server then knows only
the read-only operations its wheel ships, and treats every other one as a write (the
safe side). Nothing else of the server changes.

Run with target/mcp-aws/bin/python; settings come from the environment (AWS_REGION,
AWS_ENDPOINT_URL at moto, credentials, AWS_API_MCP_WORKING_DIR, ...).
"""

import awslabs.aws_api_mcp_server.core.metadata.read_only_operations_list as index


class OfflineServiceReference(dict):
    """No per-service reference documents: unknown services are not read-only."""


index.ServiceReferenceUrlsByService = OfflineServiceReference

from awslabs.aws_api_mcp_server.server import main  # noqa: E402  (after the patch)

if __name__ == "__main__":
    main()
