"""The `http` checker: any service that implements the gateway's JSON contract (docs/guardrails.md). For each
text the gateway POSTs `{"stage", "text", "model", "key_id"}` and the service answers `{"action": "allow" |
"block" | "mask", "text": <the masked text, for mask>, "reason": …}`. Texts are asked at once, each its own POST."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from babelgate.guardrails.external.posting import JsonPoster
from babelgate.guardrails.guardrail import Stage, Verdict

if TYPE_CHECKING:
    from babelgate.config.content import GuardrailConfig

_ACTIONS = ("allow", "block", "mask")


class HttpChecker:
    def __init__(self, config: GuardrailConfig) -> None:
        assert config.url is not None
        self.url = config.url
        self._poster = JsonPoster(config.headers)

    async def check(self, texts: Sequence[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
        answers = await asyncio.gather(*(self._ask(text, stage, model, key_id) for text in texts))
        if any(action == "block" for action, _, _ in answers):
            return Verdict("block", reason=next(reason for action, _, reason in answers if action == "block"))
        if all(action == "allow" for action, _, _ in answers):
            return Verdict("allow")
        masked = [
            text if action == "allow" else replacement
            for (action, replacement, _), text in zip(answers, texts, strict=True)
        ]
        return Verdict("mask", masked)

    async def _ask(self, text: str, stage: Stage, model: str, key_id: str | None) -> tuple[str, str, str]:
        payload: Any = await self._poster.post(
            self.url, {"stage": stage, "text": text, "model": model, "key_id": key_id}
        )
        action = payload.get("action") if isinstance(payload, dict) else None
        if action not in _ACTIONS:
            raise ValueError(f"the checker answered an unknown action {action!r}")
        replacement = payload.get("text")
        if action == "mask" and not isinstance(replacement, str):
            raise ValueError("the checker answered mask without a text")
        reason = payload.get("reason")
        return action, replacement if isinstance(replacement, str) else text, str(reason) if reason else ""

    async def aclose(self) -> None:
        await self._poster.aclose()
