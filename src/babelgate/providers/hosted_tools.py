"""Hosted tools — tools the model's provider runs itself (`web_search`, `file_search`,
`code_interpreter`, …, named by their Responses API type) — kept where the provider has an
equivalent, dropped and reported where it has none, or refused when the model says so.

The one place that decides, for every frontend's typed request (docs/api.md, "tolerant reader"):
a provider declares the hosted tools its translator maps (`Capabilities.hosted_tools`), and the
model's `unsupported_tools` setting chooses between dropping (`tools[i]=dropped`) and a 400.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Final

from babelgate.errors import InvalidRequest
from babelgate.schema.chat import ChatRequest

if TYPE_CHECKING:  # the provider translators import this module: no import of providers at run time
    from babelgate.providers.base import CallNotes

CLIENT_TOOL_TYPES: Final = frozenset({"function", "custom"})  # tools the client runs
_TYPE: Final = attrgetter("type")
# Dated and preview types of the same tool (OpenAI's WebSearchToolParam, WebSearchPreviewToolParam):
# a provider declares the plain name, and its translator sees only that.
ALIASES: Final[dict[str, str]] = {
    "web_search_2025_08_26": "web_search",
    "web_search_preview": "web_search",
    "web_search_preview_2025_03_11": "web_search",
}


def keep_supported(request: ChatRequest, supported: frozenset[str], notes: CallNotes, *, refuse: bool) -> ChatRequest:
    """`request` without the hosted tools its provider cannot run (the same object when it has none).
    What is dropped goes into `notes.adjusted`; when some tools stay, `notes.tool_positions` keeps
    their places in the client's list, so that what a translator reports later still names them
    as the client numbered them."""
    tools = request.tools
    if not tools:
        return request
    kinds = set(map(_TYPE, tools))  # in C: every request with tools asks
    if kinds <= CLIENT_TOOL_TYPES or not kinds.difference(CLIENT_TOOL_TYPES, supported):
        return request
    kept = []
    positions = []
    for index, tool in enumerate(tools):
        kind = ALIASES.get(tool.type, tool.type)
        if tool.type in CLIENT_TOOL_TYPES or kind in supported:
            kept.append(tool if kind == tool.type else dataclasses.replace(tool, name=kind, type=kind))
            positions.append(index)
        elif refuse:
            raise InvalidRequest("unsupported_hosted_tool", param=f"tools[{index}]", tool=tool.type)
        else:
            notes.adjusted.append(f"tools[{index}]=dropped")
    if len(kept) < len(tools) and kept:
        notes.tool_positions = tuple(positions)
    if kept:
        return dataclasses.replace(request, tools=kept)
    # No tool left: a tool choice or parallel setting would be refused by every upstream.
    for name in ("tool_choice", "parallel_tool_calls"):
        if getattr(request, name) is not None:
            notes.adjusted.append(f"{name}=dropped")
    return dataclasses.replace(request, tools=None, tool_choice=None, parallel_tool_calls=None)


def tool_path(index: int, positions: Sequence[int] | None) -> str:
    """`tools[i]` for the tool at `index` of the list a translator was given, numbered as in the
    client's chat request (`positions`: `CallNotes.tool_positions`)."""
    return f"tools[{positions[index] if positions else index}]"
