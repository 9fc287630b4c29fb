"""MCP tools inside model requests, run by the gateway for providers that do not run them (loop.py),
on the MCP servers a request names or the operator configured (servers.py)."""
