"""Reasoning state the client carries: sealed into a reasoning item's `encrypted_content`, opened
when the item comes back (stateless reasoning across turns).

Agents such as Codex call with `store: false` and `include: ["reasoning.encrypted_content"]` and
replay every item on the next turn, so a provider's own reasoning state (Anthropic's signed
thinking blocks, a reasoning model's text that DeepSeek-style servers want back in tool loops)
can live in the client instead of the gateway: any instance can continue the loop, and nothing is
stored. The state is sealed (authenticated encryption, sealing.py): a client can neither read nor
forge it. It is opened only for the provider that made it — nothing provider-specific travels to
another provider — and a token that does not open is dropped and reported, since reasoning state
improves an answer but never decides what the answer is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from babelgate.frontends.responses.wire import JSON
from babelgate.schema.chat import Message

ENCRYPTED_CONTENT: Final = "reasoning.encrypted_content"  # the `include` value that asks for it
REASONING_DETAILS: Final = "reasoning_details"  # chat's carrier of provider reasoning state


class Sealer(Protocol):
    def seal(self, payload: dict[str, Any]) -> str: ...

    def open(self, token: str) -> dict[str, Any] | None: ...


@dataclass(slots=True)
class ReasoningState:
    """One model step's reasoning: its text and the provider's opaque details."""

    text: str | None = None
    details: list[JSON] = field(default_factory=list)

    def attach(self, message: JSON) -> None:
        """Onto the chat assistant message of the same step."""
        if self.text and not message.get("reasoning_content"):
            message["reasoning_content"] = self.text
        if self.details:
            message[REASONING_DETAILS] = self.details

    def attach_to(self, message: Message) -> None:
        """Onto the canonical assistant message of the same step (`attach`, for a frontend that decodes
        straight into a `ChatRequest`)."""
        if self.text and not message.reasoning_content:
            message.reasoning_content = self.text
        if self.details:
            message.extra[REASONING_DETAILS] = self.details


@dataclass(frozen=True, slots=True)
class ReasoningSeal:
    """Seals and opens reasoning state for one provider."""

    sealer: Sealer
    provider: str

    def seal(self, text: str | None, details: list[JSON]) -> str:
        return self.sealer.seal({"provider": self.provider, "text": text, "details": details})

    def open(self, token: str) -> ReasoningState | None:
        payload = self.sealer.open(token)
        if payload is None or payload.get("provider") != self.provider:
            return None
        text, details = payload.get("text"), payload.get("details")
        return ReasoningState(text if isinstance(text, str) else None, details if isinstance(details, list) else [])


def open_items(
    items: Iterable[JSON], seal: ReasoningSeal, adjusted: list[str], *, first_reported: int
) -> dict[int, ReasoningState]:
    """The opened state of every reasoning item with `encrypted_content`, by position. Items from
    `first_reported` on are the request's own input (`input[i]`): a token of theirs that does not
    open is reported as dropped."""
    opened: dict[int, ReasoningState] = {}
    for position, item in enumerate(items):
        token = item.get("encrypted_content") if item.get("type") == "reasoning" else None
        if not isinstance(token, str):
            continue
        state = seal.open(token)
        if state is not None:
            opened[position] = state
        elif position >= first_reported:
            adjusted.append(f"input[{position - first_reported}].encrypted_content=dropped")
    return opened
