"""A cloud's Messages envelope → the Messages body the Anthropic Messages frontend serves.

Bedrock (InvokeModel) and Vertex AI (rawPredict) take Anthropic's Messages body with three differences, the
same on both (Anthropic's Bedrock and Vertex docs; the `anthropic` SDK's `AnthropicBedrock` and
`AnthropicVertex` clients build them so): the model is in the URL, not the body; the body names the API
version in `anthropic_version` (`bedrock-2023-05-31`, `vertex-2023-10-16`), which says nothing the gateway
needs; and on Bedrock the betas travel in the body as `anthropic_beta` (Claude Code sends them in the
`anthropic-beta` header too). Whether it streams is the URL's to say on Bedrock, and on Vertex the URL's
method (`:streamRawPredict`) says it as well as the body: the URL wins on both.
"""

from __future__ import annotations

from typing import Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages.routes import MESSAGES_BODY
from babelgate.frontends.body_schema import STRING, array
from babelgate.pipeline import parse_json_object

_VERSION: Final = "anthropic_version"
_BETA: Final = "anthropic_beta"


def messages_body(raw: bytes, model: str, *, stream: bool) -> bytes:
    """The request as the Messages frontend reads it: `model` from the path, `stream` from the route, the
    body's `anthropic_beta` as `betas` (the name the native road turns back into the header)."""
    body = parse_json_object(raw)
    version = body.pop(_VERSION, None)
    if version is not None and not isinstance(version, str):
        raise InvalidRequest("wrong_type", param=_VERSION, expected="a string")
    beta = body.pop(_BETA, None)
    if beta is not None:
        if not isinstance(beta, list) or not all(isinstance(item, str) for item in beta):
            raise InvalidRequest("wrong_type", param=_BETA, expected="an array of strings")
        betas = body.get("betas")
        body["betas"] = list(dict.fromkeys([*beta, *(betas if isinstance(betas, list) else ())]))
    body["model"] = model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    return orjson.dumps(body)


# The envelope's body, as /openapi.json publishes it: the Messages body without `model`, with the envelope's own.
ENVELOPE_BODY: Final = {
    **MESSAGES_BODY,
    "properties": {
        **{name: schema for name, schema in MESSAGES_BODY["properties"].items() if name != "model"},
        _VERSION: STRING,
        _BETA: array(STRING),
    },
    "required": [name for name in MESSAGES_BODY["required"] if name != "model"],
}
