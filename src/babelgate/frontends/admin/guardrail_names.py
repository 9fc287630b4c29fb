"""The guardrail names a key or a team is given must be configured ones: an unknown name would guard nothing,
silently."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babelgate.errors import InvalidRequest

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


def known_guardrails(runtime: Runtime, fields: dict[str, Any]) -> None:
    """Refuse (400, naming the first) a `guardrails` list that names a guardrail the configuration lacks."""
    names = fields.get("guardrails")
    if not isinstance(names, list):
        return  # absent, null, or not a list (the fields' own type check refuses that)
    known = {guardrail.name for guardrail in runtime.config.guardrails}
    unknown = [name for name in names if isinstance(name, str) and name not in known]
    if unknown:
        raise InvalidRequest(
            "invalid_value",
            param="guardrails",
            detail=f"unknown guardrail {unknown[0]!r} (configured: {', '.join(sorted(known)) or 'none'})",
        )
