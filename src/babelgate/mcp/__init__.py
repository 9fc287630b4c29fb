"""The MCP gateway: upstream MCP servers (`mcp_servers:`) behind one governed endpoint, `/mcp`.

`servers.py` is the registry by name (`runtime.mcp_servers`), `upstreams.py` one server's connection,
`aggregate.py` the one namespace and who may see what, `endpoint.py` the `/mcp` server clients talk to.
"""
