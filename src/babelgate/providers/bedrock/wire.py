"""Bedrock Runtime wire constants and mappings (BRT = botocore's bedrock-runtime service model,
`botocore/data/bedrock-runtime/2023-09-30/service-2.json`).

Only what the translators and the I/O class read is named here; shapes are plain JSON dicts. Also here, and
compiled with it (buildtools/babelgate_build.py's HOT), the plain functions InvokeModel's Claude road runs on every
request and stream event: its body, and a stream chunk's bytes and event type (invoke.py keeps the generators).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.transport import event_object

# `https://bedrock-runtime.{region}.amazonaws.com` unless the provider's `base_url` says otherwise.
DEFAULT_BASE_URL: Final = "https://bedrock-runtime.{region}.amazonaws.com"
SIGNING_NAME: Final = "bedrock"  # BRT metadata.signingName
JSON_TYPE: Final = "application/json"
EVENT_STREAM_TYPE: Final = "application/vnd.amazon.eventstream"
# What InvokeModel's Claude bodies carry instead of a `model` (Anthropic's Bedrock docs).
ANTHROPIC_VERSION: Final = "bedrock-2023-05-31"
# The bearer key's environment variable (Bedrock API keys), as the AWS SDKs read it.
BEARER_ENV: Final = "AWS_BEARER_TOKEN_BEDROCK"


def guardrail_path(identifier: str, version: str) -> str:
    """ApplyGuardrail's `/guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply` (URI labels too)."""
    return f"/guardrail/{quote(identifier, safe='')}/version/{quote(version, safe='')}/apply"


def model_path(model: str, action: str) -> str:
    """`/model/{modelId}/{action}`: the id is one URI label, so an ARN's `:` and `/` are escaped
    (BRT: modelId is a `location: uri` member, percent-encoded like every label)."""
    return f"/model/{quote(model, safe='')}/{action}"


def is_claude(model: str) -> bool:
    """Claude model ids on Bedrock: `anthropic.claude-…`, or an inference profile over one
    (`us.anthropic.claude-…`, `global.anthropic.claude-…`), or an ARN naming one of those."""
    tail = model.rsplit("/", 1)[-1]
    return tail.startswith("anthropic.") or ".anthropic." in tail


def claude_name(model: str) -> str:
    """`us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5-20250929-v1:0`, the name the
    Anthropic profiles (per-model sampling, thinking, structured output rules) match on."""
    tail = model.rsplit("/", 1)[-1]
    return tail.split("anthropic.", 1)[-1]


# BRT StopReason -> OpenAI finish_reason.
FINISH_REASONS: Final[dict[str, str]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# BRT ImageFormat / DocumentFormat, by media type.
IMAGE_FORMATS: Final[dict[str, str]] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
DOCUMENT_FORMATS: Final[dict[str, str]] = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}

# The tool that carries structured output: Converse has no response-format field, so a JSON schema
# becomes one forced tool whose input is the answer (as the Anthropic provider does on older Claude).
JSON_TOOL_NAME: Final = "babelgate_json_output"

# The OpenAI-side field carrying signed reasoning across turns: the Anthropic provider's convention,
# so a conversation can move between Claude on Anthropic and Claude on Bedrock.
REASONING_DETAILS: Final = "reasoning_details"


# --- InvokeModel's Claude bodies and stream chunks ---


def invoke_body(body: dict[str, Any], beta: Iterable[str] = ()) -> dict[str, Any]:
    """A Messages body made the body InvokeModel takes for Claude, in place: the body is this request's own (the
    translator's, or the native road's parse of the client's bytes for this attempt), and a copy of its dozen
    keys was a third of the step's cost. The client's own `anthropic_version` wins, as it did in a copy."""
    client_beta = body.pop("betas", None)
    body.pop("model", None)
    body.pop("stream", None)
    if "anthropic_version" not in body:
        body["anthropic_version"] = ANTHROPIC_VERSION
    if client_beta:
        body["anthropic_beta"] = list(dict.fromkeys((*beta, *(str(item) for item in client_beta))))
    elif beta:
        body["anthropic_beta"] = list(dict.fromkeys(beta))
    return body


_BYTES_FIRST: Final = b'{"bytes":"'
_BYTES_AT: Final = len(_BYTES_FIRST)


def chunk_bytes(payload: bytes, provider: str) -> bytes:
    """A `chunk` event's `bytes`: sliced out where AWS writes it first (base64 holds no quote), else parsed."""
    if payload.startswith(_BYTES_FIRST):
        end = payload.find(b'"', _BYTES_AT)
        if end != -1:
            try:
                return binascii.a2b_base64(payload[_BYTES_AT:end], strict_mode=True)
            except binascii.Error:
                raise UpstreamProtocolError(provider=provider, detail="a stream chunk has no base64 bytes") from None
    try:
        part = orjson.loads(payload)
        return base64.b64decode(part["bytes"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error):
        raise UpstreamProtocolError(provider=provider, detail="a stream chunk has no base64 bytes") from None


_TYPE_FIRST: Final = b'{"type":"'


def event_type(data: bytes, provider: str) -> str:
    """The event's `type`, read off the front where Anthropic writes it (no parse: the reader parses the
    event itself), else from the parsed JSON."""
    if data.startswith(_TYPE_FIRST):
        end = data.find(b'"', len(_TYPE_FIRST))
        if end != -1 and data.endswith(b"}"):
            return data[len(_TYPE_FIRST) : end].decode()
    return str(event_object(data, provider).get("type", ""))
