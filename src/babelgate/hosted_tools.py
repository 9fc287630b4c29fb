"""Hosted tools — tools the model's provider runs itself (`web_search`, `file_search`,
`code_interpreter`, …, named by their Responses API type) — kept where the provider has an
equivalent, dropped and reported where it has none, or refused when the model says so.

The one place that decides, for every frontend's typed request (docs/api.md, "tolerant reader"):
a provider declares the hosted tools its translator maps (`Capabilities.hosted_tools`), and the
model's `unsupported_tools` setting chooses between dropping (`tools[i]=dropped`) and a 400.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from babelgate.errors import InvalidRequest
from babelgate.schema.chat import ChatRequest

CLIENT_TOOL_TYPES: Final = frozenset({"function", "custom"})  # tools the client runs


def keep_supported(request: ChatRequest, supported: frozenset[str], adjusted: list[str], *,
                   refuse: bool) -> ChatRequest:
    """`request` without the hosted tools its provider cannot run (the same object when it has none)."""
    tools = request.tools
    if not tools or all(tool.type in CLIENT_TOOL_TYPES or tool.type in supported for tool in tools):
        return request
    kept = []
    for index, tool in enumerate(tools):
        if tool.type in CLIENT_TOOL_TYPES or tool.type in supported:
            kept.append(tool)
        elif refuse:
            raise InvalidRequest("unsupported_hosted_tool", param=f"tools[{index}]", tool=tool.type)
        else:
            adjusted.append(f"tools[{index}]=dropped")
    if kept:
        return dataclasses.replace(request, tools=kept)
    # No tool left: a tool choice or parallel setting would be refused by every upstream.
    for name in ("tool_choice", "parallel_tool_calls"):
        if getattr(request, name) is not None:
            adjusted.append(f"{name}=dropped")
    return dataclasses.replace(request, tools=None, tool_choice=None, parallel_tool_calls=None)
