"""The native road: a model whose provider serves the Gemini API itself (it relays "generate_content")
gets the client's body unchanged — every part kind, tool, safety setting and cached content keeps
working — its model named by the URL the provider builds, and the answer relayed as it came.

Two edits keep that honest: the model's configured parameters that generationConfig spells otherwise
apply (`temperature`, `top_p`, `top_k`, `max_tokens`); and thought signatures the gateway sealed for
another provider (translate.py; Gemini would refuse them as forged) are taken out. A stream asked for
without `alt=sse` is the same SSE stream upstream, re-framed into the JSON array the client expects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from babelgate.answer import JSON_TYPE, Answer, streamed
from babelgate.frontends.gemini.stream import GeminiStreamEncoder
from babelgate.frontends.gemini.wire import JSON, SEALED_SIGNATURE_MARK
from babelgate.providers.base import CallNotes, Relay
from babelgate.routing.registry import Deployment

# Configured model parameters (chat names) → the generationConfig field of the same meaning.
NATIVE_PARAMETERS: Final = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
}
_SEALED: Final = SEALED_SIGNATURE_MARK.encode()


async def relay(
    body: JSON, deployment: Deployment, relay: Relay, notes: CallNotes, *, stream: bool, sse: bool, raw: bytes
) -> Answer:
    prepare(body, deployment, raw=raw)
    if not stream:
        return Answer(await relay.relay("generate_content", body, deployment.model, notes), notes)
    frames = relay.relay_stream("generate_content", body, deployment.model, notes)
    framing = GeminiStreamEncoder(deployment.public_name, sse=sse, seal=None)  # its error event and array framing
    if sse:
        return await streamed(frames, notes, on_error=framing.fail)
    return await streamed(_array(frames, framing), notes, on_error=framing.fail, content_type=JSON_TYPE)


async def count(body: JSON, deployment: Deployment, relay: Relay, notes: CallNotes, *, raw: bytes) -> bytes:
    """Gemini's own count (`{"totalTokens": n}`), relayed as it came."""
    strip_sealed(body, raw=raw)
    return await relay.relay("generate_content.count_tokens", body, deployment.model, notes)


def prepare(body: JSON, deployment: Deployment, *, raw: bytes) -> None:
    if deployment.defaults or deployment.overrides:
        config = body.get("generationConfig")
        if not isinstance(config, dict):
            config = body["generationConfig"] = {}
        for name, value in _native(deployment.defaults).items():
            config.setdefault(name, value)
        config.update(_native(deployment.overrides))
    strip_sealed(body, raw=raw)


def _native(values: Mapping[str, Any]) -> dict[str, Any]:
    return {NATIVE_PARAMETERS[name]: value for name, value in values.items() if name in NATIVE_PARAMETERS}


def strip_sealed(body: JSON, *, raw: bytes) -> None:
    """Signatures the gateway sealed (another provider's reasoning) out of the model turns."""
    if raw.find(_SEALED) < 0:
        return
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else ():
        for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
            signature = part.get("thoughtSignature") if isinstance(part, dict) else None
            if isinstance(signature, str) and signature.startswith(SEALED_SIGNATURE_MARK):
                del part["thoughtSignature"]


async def _array(frames: AsyncIterator[bytes], framing: GeminiStreamEncoder) -> AsyncIterator[bytes]:
    """SSE frames → the elements of one JSON array (`[`, elements separated by commas, `]`); Gemini writes
    each event's JSON on one `data:` line."""
    head = b"["
    async for batch in frames:
        elements = []
        for line in batch.split(b"\n"):
            if line.startswith(b"data:"):
                elements.append((b"\n,\r\n" if framing.sent else b"") + line[5:].strip())
                framing.sent += 1
        if elements:
            yield head + b"".join(elements)
            head = b""
    yield head + b"\n]"
