"""Canonical chat ↔ Mistral chat completions, and embeddings (pure).

Mistral's wire is OpenAI's with differences, so the OpenAI translators do the common part and the
functions here make the differences: field renames, forbidden fields, 9-character tool-call ids,
content parts, role order; and on the way back, content given as chunks, arguments given as
objects, `model_length`, and the `error` finish reason. Embeddings differ in `output_dimension`
and in the fixed size of `mistral-embed` (docs/decisions.md, "Embedding sizes").
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest, UnsupportedCapability, UpstreamError
from babelgate.providers.mistral.wire import (
    BRIDGE_TEXT,
    EMBEDDING_PASSTHROUGH,
    FINISH_REASONS,
    FIXED_EMBEDDING_SIZES,
    MESSAGE_FIELDS,
    REQUEST_FIELDS,
    TOOL_CALL_ID,
)
from babelgate.providers.openai import translate as openai_translate
from babelgate.providers.system_messages import place_system_messages
from babelgate.schema.chat import JSON, ChatRequest, ChatResponse
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

PROVIDER = "mistral"
_BASE62: Final = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Fields whose name differs, and OpenAI's value names Mistral spells otherwise.
_RENAMES: Final = {"seed": "random_seed", "max_completion_tokens": "max_tokens"}
_SYSTEM_MAY_FOLLOW: Final = frozenset({"system", "developer", "user"})
EMPTY_PARAMETERS: Final = {"type": "object", "properties": {}}


def mistral_tool_id(call_id: str) -> str:
    """Mistral's own ids pass unchanged; any other id becomes 9 base62 characters from its hash,
    the same on the assistant's call and on the tool result, so no state is kept (docs/decisions.md, "Mistral's
    tool-call ids")."""
    if TOOL_CALL_ID.fullmatch(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    digits = []
    for _ in range(9):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


def to_wire(request: ChatRequest, model: str, adjusted: list[str]) -> JSON:
    # Mistral refuses a system message after an assistant or tool turn ("Unexpected role 'system'
    # after role 'tool'"); after the user's or another system message it takes one.
    messages = place_system_messages(request.messages, adjusted, accepted_after=_SYSTEM_MAY_FOLLOW)
    if messages is not request.messages:
        request = dataclasses.replace(request, messages=messages)
    body = openai_translate.to_wire(request, model)
    if request.temperature is not None and request.temperature > 1.5:
        raise InvalidRequest("out_of_range", param="temperature", expected="a value from 0 to 1.5 for Mistral")
    for old, new in _RENAMES.items():
        if old in body:
            body[new] = body.pop(old)
    if body.get("tool_choice") == "required":
        body["tool_choice"] = "any"
    for tool in body.get("tools") or ():
        function = tool.get("function") if tool.get("type") == "function" else None
        if isinstance(function, dict) and function.get("parameters") is None:
            # Optional in OpenAI's API (Qwen Code sends such tools); Mistral refuses a function without it.
            function["parameters"] = dict(EMPTY_PARAMETERS)
    body["messages"] = _messages(body["messages"], adjusted)
    if body.keys() <= REQUEST_FIELDS:  # in C: the usual body has nothing Mistral refuses
        return body
    for name in [name for name in body if name not in REQUEST_FIELDS]:
        del body[name]
        if name != "stream_options":  # usage always comes on Mistral's last chunk
            adjusted.append(f"{name}=dropped")
    return body


def _messages(messages: list[JSON], adjusted: list[str]) -> list[JSON]:
    shaped: list[JSON] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "user" and shaped and shaped[-1]["role"] == "tool":
            shaped.append({"role": "assistant", "content": BRIDGE_TEXT})
            if "messages=bridged" not in adjusted:
                adjusted.append("messages=bridged")
        shaped.append(_message(message, index, adjusted))
    if shaped and shaped[-1]["role"] == "assistant":
        # An assistant turn last is a continuation; Mistral wants it marked as a prefix.
        shaped[-1]["prefix"] = True
    return shaped


def _message(message: JSON, index: int, adjusted: list[str]) -> JSON:
    out = dict(message)  # a copy in C, then what Mistral refuses
    out.pop("reasoning_content", None)  # the gateway's own field for the reasoning: the model's, not sent back
    if out["role"] == "developer":
        out["role"] = "system"  # Mistral has no developer role; OpenAI defines it as the system prompt's successor
    fields = MESSAGE_FIELDS.get(out["role"])
    if fields is not None and not fields.issuperset(out):  # its schemas refuse any other field
        for name in [name for name in out if name not in fields]:
            if out.pop(name) is not None:
                adjusted.append(f"messages[{index}].{name}=dropped")
    if isinstance(out.get("content"), list):
        out["content"] = [_part(part) for part in out["content"]]
    if out.get("tool_calls"):
        out["tool_calls"] = [{**call, "id": mistral_tool_id(call["id"])} for call in out["tool_calls"]]
    if out.get("tool_call_id"):
        out["tool_call_id"] = mistral_tool_id(out["tool_call_id"])
    return out


def _part(part: JSON) -> JSON:
    kind = part.get("type")
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part["input_audio"]["data"]}
    if kind == "file":
        file = part["file"]
        if file.get("file_data"):
            data = file["file_data"]
            url = data if data.startswith("data:") else f"data:application/pdf;base64,{data}"
            return {"type": "document_url", "document_url": url}
        return {"type": "file", "file_id": file["file_id"]}
    return part  # text, refusal-as-text and image_url ({url, detail}) are spelled the same


def normalize(payload: JSON, *, stream: bool) -> JSON:
    """A Mistral response or chunk in OpenAI's shape, so the OpenAI translators can read it."""
    for choice in payload.get("choices") or ():
        message = choice.get("delta" if stream else "message") or {}
        message.pop("prefix", None)  # Mistral's continuation flag means nothing to OpenAI clients
        content = message.get("content")
        if isinstance(content, list):
            text, reasoning = _split_chunks(content)
            message["content"] = text
            if reasoning:
                message["reasoning_content"] = reasoning
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            if function.get("arguments") is not None and not isinstance(function["arguments"], str):
                function["arguments"] = orjson.dumps(function["arguments"]).decode()
            if call.get("id") in (None, "", "null"):
                call.pop("id", None)
        reason = choice.get("finish_reason")
        if reason == "error":
            raise UpstreamError(
                provider=PROVIDER,
                upstream_status=200,
                raw_message="Mistral ended the answer with finish_reason 'error'.",
            )
        if reason is not None:
            choice["finish_reason"] = FINISH_REASONS.get(reason, "stop")
    return payload


def _split_chunks(chunks: list[Any]) -> tuple[str | None, str | None]:
    """Reasoning models send content as chunks: text, and thinking holding text chunks of its own."""
    text: list[str] = []
    thinking: list[str] = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("type") == "text":
            text.append(str(chunk.get("text", "")))
        elif chunk.get("type") == "thinking":
            thinking += [str(inner.get("text", "")) for inner in chunk.get("thinking") or () if isinstance(inner, dict)]
    return ("".join(text) if text else None), ("".join(thinking) if thinking else None)


def from_wire(body: JSON) -> ChatResponse:
    response = openai_translate.from_wire(normalize(body, stream=False))
    for index, choice in enumerate(response.choices):
        for position, call in enumerate(choice.message.tool_calls or ()):
            if not call.id:  # the schema's default id is the string "null": mint a valid one
                call.id = mistral_tool_id(f"{response.id}:{index}:{position}")
    return response


def embedding_to_wire(request: EmbeddingRequest, model: str, adjusted: list[str]) -> JSON:
    """MIS EmbeddingRequest, in the spec's field order. `input` is text only (a string or strings),
    and unknown fields are refused (`additionalProperties: false`), so the rest is dropped and listed."""
    texts = [item for item in request.inputs if isinstance(item, str)]
    if len(texts) != len(request.inputs):
        raise UnsupportedCapability(provider=PROVIDER, capability="token-id inputs (send text)", param="input")
    body: JSON = {"model": model}
    if request.extra.get("metadata") is not None:
        body["metadata"] = request.extra["metadata"]
    body["input"] = texts
    if request.dimensions is not None:
        fixed = FIXED_EMBEDDING_SIZES.get(model)
        if fixed is None:
            body["output_dimension"] = request.dimensions
        elif request.dimensions != fixed:
            raise InvalidRequest(
                "invalid_value", param="dimensions", detail=f"{model} makes vectors of {fixed} dimensions only"
            )
        # A fixed-size model asked for its own size: the answer is that size, nothing to send.
    if request.extra.get("output_dtype") is not None:
        body["output_dtype"] = request.extra["output_dtype"]
    for name, value in request.extra.items():
        if name not in EMBEDDING_PASSTHROUGH and value is not None:
            adjusted.append(f"{name}=dropped")
    if request.user:
        adjusted.append("user=dropped")
    return body


def embedding_from_wire(body: JSON, model: str) -> EmbeddingResponse:
    """MIS EmbeddingResponse is OpenAI's: `data[].embedding` by `index`, `usage.prompt_tokens`."""
    return openai_translate.embedding_from_wire(body, model)
