"""The native road: a model whose provider serves Converse itself (Bedrock: it relays "converse") gets the
client's body as it came, every block, tool and field Bedrock knows kept, its model named by the URL the
provider builds; the answer is relayed as it came (a stream as SSE frames of its events, which the door writes
back into the event stream after the output guardrails read them).

One edit keeps that honest: the model's configured parameters that `inferenceConfig` spells otherwise apply
(`max_tokens`, `temperature`, `top_p`, `stop`), as they do on every road.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from babelgate.answer import Answer, streamed
from babelgate.frontends.bedrock_converse.stream import encode_stream_error
from babelgate.providers.base import CallNotes, Relay
from babelgate.routing.registry import Deployment

JSON = dict[str, Any]
# Configured model parameters (chat names) → the inferenceConfig field of the same meaning.
NATIVE_PARAMETERS: Final = {
    "max_tokens": "maxTokens",
    "max_completion_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}


async def relay(body: JSON, deployment: Deployment, relay: Relay, notes: CallNotes, *, stream: bool) -> Answer:
    prepare(body, deployment)
    if not stream:
        return Answer(await relay.relay("converse", body, deployment.model, notes), notes)
    frames = relay.relay_stream("converse", body, deployment.model, notes)
    return await streamed(frames, notes, on_error=encode_stream_error)


def prepare(body: JSON, deployment: Deployment) -> None:
    if deployment.defaults or deployment.overrides:
        config = body.get("inferenceConfig")
        if not isinstance(config, dict):
            config = body["inferenceConfig"] = {}
        for name, value in _native(deployment.defaults).items():
            config.setdefault(name, value)
        config.update(_native(deployment.overrides))


def _native(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {NATIVE_PARAMETERS[name]: value for name, value in values.items() if name in NATIVE_PARAMETERS}
    stop = out.get("stopSequences")
    if isinstance(stop, str):
        out["stopSequences"] = [stop]
    return out
