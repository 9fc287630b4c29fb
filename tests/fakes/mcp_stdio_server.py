"""A fake MCP server over stdio (the gateway starts it as a process): the tools of mcp_servers.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.mcp_servers import tool_server

if __name__ == "__main__":
    tool_server(sys.argv[1] if len(sys.argv) > 1 else "stdio").run("stdio")
