"""The guardrails of a tool call through `/mcp`: its arguments are the input (checked before the server is
called), its result the output (checked before the client reads it). The same guardrails as a model request's
of the same key, less the models' own (a tool call names no model): the server's, the team's and the key's.

A reversible mask hides a value from the tool server and puts it back in the result the client reads, as it
does between a model and its caller."""

from __future__ import annotations

from typing import Any, Final

from mcp import types

from babelgate.guardrails.check import Decisions, check, restore
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.paths import paths

ARGUMENTS: Final = paths("arguments.**")
RESULT: Final = paths("content.*.text", "structuredContent.**")
NO_MODEL: Final = ""  # what the guardrails' registry is asked for: no model's own guardrails apply


async def guarded_arguments(
    guards: tuple[Guardrail, ...], arguments: dict[str, Any], decisions: Decisions, key_id: str | None
) -> dict[str, Any]:
    """The arguments the server is sent: masked where a guardrail masks; raises GuardrailBlocked."""
    document = {"arguments": arguments}
    await check(guards, "input", document, ARGUMENTS, decisions, NO_MODEL, key_id)
    return document["arguments"]


async def guarded_result(
    guards: tuple[Guardrail, ...], result: types.CallToolResult, decisions: Decisions, key_id: str | None
) -> types.CallToolResult:
    """The result the client reads: masked where a guardrail masks, what reversible masks hid put back; raises
    GuardrailBlocked."""
    document = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    changed = await check(guards, "output", document, RESULT, decisions, NO_MODEL, key_id)
    changed = restore(document, RESULT, decisions) or changed
    return types.CallToolResult.model_validate(document) if changed else result
