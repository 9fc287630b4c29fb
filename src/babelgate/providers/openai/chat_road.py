"""The fast path's road: a chat completion relayed whole, as the upstream's bytes, read only for its usage and to
check that it is one.

A function apart from the provider's class so that it is compiled (buildtools/babelgate_build.py's HOT): every
fast-path request runs it, where the class, whose streams are async generators, stays Python.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse, read_body
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.profiles import Profile
from babelgate.providers.openai.relay import COMPLETION
from babelgate.providers.openai.stream import stream_error
from babelgate.providers.openai.translate import usage_from_wire
from babelgate.providers.transport import Upstream, json_object, skim


def post_body(
    upstream: Upstream, url: str, profile: Profile | None, body: dict[str, Any], model: str, notes: CallNotes
) -> Coroutine[Any, Any, UpstreamResponse]:
    """The upstream's answer to `body` for `model` at `url`, the quirk profile applied first where one is given (a
    plain call handing back the request's coroutine: no frame of its own per request). Every JSON road of the
    provider posts through it."""
    body["model"] = model
    if profile is not None:
        profile.apply(body, model, notes.adjusted)
    return upstream.post(url, orjson.dumps(body))


async def relay_chat(
    upstream: Upstream,
    url: str,
    profile: Profile,
    body: dict[str, Any],
    model: str,
    notes: CallNotes,
) -> bytes:
    """`body` sent to `model` at `url`, the quirk profile applied as on the typed road; the answer's bytes as the
    upstream wrote them, its usage in `notes`."""
    response = await post_body(upstream, url, profile, body, model, notes)
    raw: bytes | None = response.read_now()
    if raw is None:
        raw = await read_body(response)
    completion = skim(raw, COMPLETION)
    if completion is not None:
        notes.usage = usage_from_wire(completion.usage)
        return raw
    # Not a chat completion: parsed whole, to say what it is.
    name = upstream.provider
    parsed = json_object(raw, name)
    if "error" in parsed and "choices" not in parsed:
        raise stream_error(parsed, name, upstream.scrub)
    if not isinstance(parsed.get("choices"), list):
        raise UpstreamProtocolError(provider=name, detail="the body has no choices")
    notes.usage = usage_from_wire(parsed.get("usage"))  # JSON msgspec refused and orjson took
    return raw
