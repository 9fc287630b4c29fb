"""The native road: a model whose provider serves Anthropic's Messages API itself (it relays "messages")
gets the client's body unchanged but for `model` — every block type, server tool, beta field and
cache marker keeps working — and its answer is relayed as it came, streamed or not.

Three edits keep that honest, each a no-op on a conversation that only ever saw Claude: the model's
configured parameters that Messages spells the same way apply (`max_tokens`, `temperature`, `top_p`,
`top_k`); state another provider minted and Claude would refuse is taken out (tool ids signed by
Gemini, see tool_ids.py, and thinking blocks without a signature, which the translated road
answers with); and the client's `anthropic-beta` header travels in the body as `betas`, the
SDK's own name for it, which the provider turns back into the header.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from babelgate import tool_ids
from babelgate.answer import Answer, streamed
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends.anthropic_messages.translate import encode_stream_error
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.providers.base import CallNotes, Relay
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    pass

# Configured model parameters (chat names) → the Messages field of the same meaning.
NATIVE_PARAMETERS: Final = {
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
}
_THINKING_MARK: Final = b'"thinking"'


async def relay(
    exchange: Exchange,
    body: JSON,
    deployment: Deployment,
    relay: Relay,
    notes: CallNotes,
    *,
    stream: bool,
    raw: bytes,
) -> Answer:
    prepare(body, deployment, raw=raw, beta=exchange.header(b"anthropic-beta"))
    if stream:
        frames = relay.relay_stream("messages", body, deployment.model, notes)
        return await streamed(frames, notes, on_error=encode_stream_error)
    return Answer(await relay.relay("messages", body, deployment.model, notes), notes)


async def count(
    body: JSON, deployment: Deployment, relay: Relay, notes: CallNotes, *, raw: bytes, beta: bytes | None
) -> bytes:
    """The upstream's own count (`{"input_tokens": n}`), relayed as it came."""
    prepare(body, deployment, raw=raw, beta=beta, parameters=False)
    return await relay.relay("messages.count_tokens", body, deployment.model, notes)


def prepare(body: JSON, deployment: Deployment, *, raw: bytes, beta: bytes | None, parameters: bool = True) -> None:
    """The edits the module docstring lists, in place."""
    if parameters:
        _apply_parameters(body, deployment)
    if raw.find(tool_ids.MARK_BYTES) >= 0 or raw.find(_THINKING_MARK) >= 0:
        strip_foreign_state(body)
    betas = body.get("betas")
    if betas is not None and (not isinstance(betas, list) or not all(isinstance(item, str) for item in betas)):
        raise InvalidRequest("wrong_type", param="betas", expected="an array of strings")
    if beta:
        header = [item.strip() for item in beta.decode("latin-1").split(",") if item.strip()]
        body["betas"] = list(dict.fromkeys([*header, *(betas or ())]))


def _apply_parameters(body: JSON, deployment: Deployment) -> None:
    def native(values: Mapping[str, Any]) -> dict[str, Any]:
        return {NATIVE_PARAMETERS[name]: value for name, value in values.items() if name in NATIVE_PARAMETERS}

    if deployment.defaults or deployment.overrides:
        dataclasses.replace(
            deployment, defaults=native(deployment.defaults), overrides=native(deployment.overrides)
        ).apply_to_body(body)


def strip_foreign_state(body: JSON) -> None:
    """Signed tool ids made plain; thinking blocks without a signature (never Claude's) removed, and an
    assistant turn left empty by that removed too (Anthropic refuses empty turns)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    kept = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            kept.append(message)
            continue
        blocks = []
        for block in content:
            if isinstance(block, dict):
                kind = block.get("type")
                if kind == "thinking" and not block.get("signature"):
                    continue
                if kind == "tool_use" and isinstance(block.get("id"), str):
                    block["id"] = tool_ids.plain(block["id"])
                elif kind == "tool_result" and isinstance(block.get("tool_use_id"), str):
                    block["tool_use_id"] = tool_ids.plain(block["tool_use_id"])
            blocks.append(block)
        if blocks or not content:
            kept.append({**message, "content": blocks})
    body["messages"] = kept
