"""A fake Anthropic Messages API upstream on 127.0.0.1, scriptable per test like `FakeOpenAI`.

It answers in Anthropic's wire format (the shapes of `anthropic.types.Message`, the `Raw*Event`
stream events framed as `event: <type>` + `data: <json>`, `ModelInfo` pages and the error body of
`anthropic.types.shared.ErrorResponse`; `tests/fakes/test_anthropic_upstream.py` checks all of that
with the official SDK), records what it received, and can be told to fail the same ways as the
OpenAI fake (error status, slow first byte, stalled or dropped stream, raw bytes).

Unlike a plain mock it also refuses what the real API refuses: every `POST /v1/messages` is checked
against the SDK's own request types (strict, no unknown keys) and against the semantic rules the API
enforces (tool_use/tool_result pairing, non-empty text, thinking and sampling constraints, ...). A
refusal is answered with a 400 like the real API's and recorded in `violations`, so a test whose
gateway sends something Anthropic would reject fails even if it never looks at the answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

import orjson
from aiohttp import web
from anthropic.types.beta.message_create_params import (
    MessageCreateParamsNonStreaming as BetaMessageCreateParamsNonStreaming,
)
from anthropic.types.beta.message_create_params import (
    MessageCreateParamsStreaming as BetaMessageCreateParamsStreaming,
)
from anthropic.types.message_count_tokens_params import MessageCountTokensParams
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming, MessageCreateParamsStreaming
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.warnings import TypedDictExtraConfigWarning

from tests.fakes.anthropic_batches import MessageBatches
from tests.fakes.scripted import Received, Reply, ScriptedStreams

__all__ = [
    "ANTHROPIC_VERSIONS",
    "DEFAULT_MODEL",
    "REJECTS_PREFILL",
    "REJECTS_SAMPLING",
    "REJECTS_TEMPERATURE_AND_TOP_P",
    "FakeAnthropic",
    "Received",
    "Reply",
    "count_tokens_estimate",
    "count_tokens_violations",
    "error_body",
    "error_event",
    "header_violations",
    "message",
    "model_info",
    "ping_event",
    "redacted_thinking_block",
    "request_violations",
    "server_tool_use_block",
    "sse_frame",
    "text_block",
    "text_events",
    "thinking_block",
    "tool_events",
    "tool_use_block",
    "usage",
    "web_search_events",
    "web_search_result",
    "web_search_tool_result_block",
]

DEFAULT_MODEL = "claude-sonnet-4-5"

# Model-id globs (fnmatch, case-sensitive). Families are spelled out rather than "claude-*-5*",
# because such a glob would also match "claude-sonnet-4-5".
# Models that refuse `temperature` and `top_p` in the same request (4.1/4.5-era and later).
REJECTS_TEMPERATURE_AND_TOP_P: tuple[str, ...] = (
    "claude-opus-4-1*",
    "claude-*-4-5*",
    "claude-*-4-6*",
    "claude-opus-4-7*",
    "claude-opus-4-8*",
    "claude-sonnet-5*",
    "claude-opus-5*",
    "claude-haiku-5*",
    "claude-fable-5*",
    "claude-mythos-*",
)
# Models that refuse every sampling parameter (`temperature`, `top_p`, `top_k`).
REJECTS_SAMPLING: tuple[str, ...] = (
    "claude-opus-4-7*",
    "claude-opus-4-8*",
    "claude-sonnet-5*",
    "claude-opus-5*",
    "claude-haiku-5*",
    "claude-fable-5*",
    "claude-mythos-*",
)
# Models that refuse a conversation ending with an assistant turn (prefill).
REJECTS_PREFILL: tuple[str, ...] = REJECTS_SAMPLING

# `anthropic-version` values the API knows: the long-standing one and the one SDK 2.12 sends.
ANTHROPIC_VERSIONS = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})

# Sampling fields SDK >= 1.0 no longer types but the API still takes on older models.
_LEGACY_SAMPLING = ("temperature", "top_p", "top_k")
_TOP_LEVEL_KEYS = frozenset(
    MessageCreateParamsNonStreaming.__required_keys__ | MessageCreateParamsNonStreaming.__optional_keys__
) | frozenset(_LEGACY_SAMPLING)
# With an `anthropic-beta` header the API takes the beta surface (the SDK's `client.beta.messages`):
# `context_management`, system messages inside `messages`, newer thinking and output settings.
_BETA_TOP_LEVEL_KEYS = frozenset(
    BetaMessageCreateParamsNonStreaming.__required_keys__ | BetaMessageCreateParamsNonStreaming.__optional_keys__
) | frozenset(_LEGACY_SAMPLING)
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_-]+")
_CUSTOM_TOOL_TYPES = (None, "custom")
_THINKING_BLOCKS = ("thinking", "redacted_thinking")
_ASSISTANT_ONLY_BLOCKS = ("tool_use", "thinking", "redacted_thinking", "server_tool_use")


# ---------------------------------------------------------------------------------------------
# Builders: exact wire dicts for scripting replies.


def usage(
    input_tokens: int = 9,
    output_tokens: int = 3,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
) -> dict[str, Any]:
    """`Usage` as the API sends it: `input_tokens` excludes cache reads and writes."""
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_creation_input_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


_usage = usage  # `message()` takes a keyword argument of the same name


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(id: str, name: str, input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": input}


def thinking_block(thinking: str, signature: str = "EqFakeSignature==") -> dict[str, Any]:
    return {"type": "thinking", "thinking": thinking, "signature": signature}


def redacted_thinking_block(data: str) -> dict[str, Any]:
    return {"type": "redacted_thinking", "data": data}


# Web search, which Claude runs itself: its call (`server_tool_use`) and its result blocks sit in the
# answer beside the text, whose cited parts carry `web_search_result_location` citations.
def server_tool_use_block(id: str, query: str) -> dict[str, Any]:
    return {"type": "server_tool_use", "id": id, "name": "web_search", "input": {"query": query}}


def web_search_result(url: str, title: str, *, page_age: str | None = "April 30, 2025") -> dict[str, Any]:
    return {
        "type": "web_search_result",
        "url": url,
        "title": title,
        "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1",
        "page_age": page_age,
    }


def web_search_tool_result_block(
    tool_use_id: str, results: list[dict[str, Any]] | None = None, *, error_code: str | None = None
) -> dict[str, Any]:
    """The search's result: the pages found, or an error object (`max_uses_exceeded`, `unavailable`…)."""
    content: Any = (
        {"type": "web_search_tool_result_error", "error_code": error_code}
        if error_code is not None
        else list(results or ())
    )
    return {"type": "web_search_tool_result", "tool_use_id": tool_use_id, "content": content}


def _citation(result: dict[str, Any], cited_text: str) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "url": result["url"],
        "title": result["title"],
        "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0OWJmZi1",
        "cited_text": cited_text,
    }


def message(
    content: str | list[dict[str, Any]] = "Hello!",
    *,
    model: str = DEFAULT_MODEL,
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    usage: dict[str, Any] | None = None,
    message_id: str = "msg_01FakeMessage",
) -> dict[str, Any]:
    """A non-streaming `Message`. `stop_reason` defaults to `tool_use` when a tool_use block is present,
    else `end_turn`."""
    blocks = [text_block(content)] if isinstance(content, str) else content
    if stop_reason is None:
        stop_reason = "tool_use" if any(block.get("type") == "tool_use" for block in blocks) else "end_turn"
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage if usage is not None else _usage(),
    }


def error_body(error_type: str, message: str, *, request_id: str = "req_011FakeErrorRequest") -> dict[str, Any]:
    """The body of an HTTP error (`anthropic.types.shared.ErrorResponse`)."""
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_event(error_type: str, message: str) -> dict[str, Any]:
    """An `event: error` payload, which the API can send after a 200 and a few events."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


def ping_event() -> dict[str, Any]:
    return {"type": "ping"}


def _message_start(model: str, input_tokens: int) -> dict[str, Any]:
    # The API reports a token or so of output already in message_start; message_delta carries the total.
    start = message([], model=model, stop_reason="end_turn", usage=_usage(input_tokens, 1))
    start["stop_reason"] = None  # always null in message_start
    return {"type": "message_start", "message": start}


def _message_end(stop_reason: str, output_tokens: int, stop_sequence: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": {"output_tokens": output_tokens},
        },  # cumulative, not an increment
        {"type": "message_stop"},
    ]


def _block(index: int, start: dict[str, Any], deltas: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [{"type": "content_block_start", "index": index, "content_block": start}]
    events += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
    events.append({"type": "content_block_stop", "index": index})
    return events


def text_events(
    pieces: list[str],
    *,
    stop_reason: str = "end_turn",
    model: str = DEFAULT_MODEL,
    input_tokens: int = 9,
    output_tokens: int | None = None,
    stop_sequence: str | None = None,
) -> list[dict[str, Any]]:
    """A whole streamed text answer: message_start, one text block with a text_delta per piece,
    message_delta (stop_reason, cumulative output tokens: one per piece unless given), message_stop."""
    events = [_message_start(model, input_tokens)]
    events += _block(0, {"type": "text", "text": ""}, ({"type": "text_delta", "text": piece} for piece in pieces))
    events += _message_end(stop_reason, len(pieces) if output_tokens is None else output_tokens, stop_sequence)
    return events


def tool_events(
    calls: list[tuple[str, str, list[str]]],
    *,
    leading_text: str | None = None,
    thinking: str | None = None,
    signature: str = "EqFakeSignature==",
    model: str = DEFAULT_MODEL,
    input_tokens: int = 9,
    output_tokens: int = 20,
) -> list[dict[str, Any]]:
    """A streamed tool-use answer: [thinking block] [text block] then one tool_use block per
    `(id, name, partial_json pieces)`, the arguments arriving as input_json_delta fragments.
    Block indexes count every block, as on the wire."""
    events = [_message_start(model, input_tokens)]
    index = 0
    if thinking is not None:
        events += _block(
            index,
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": thinking}, {"type": "signature_delta", "signature": signature}],
        )  # signature comes last
        index += 1
    if leading_text is not None:
        events += _block(index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": leading_text}])
        index += 1
    for call_id, name, fragments in calls:
        events += _block(
            index,
            {"type": "tool_use", "id": call_id, "name": name, "input": {}},
            ({"type": "input_json_delta", "partial_json": fragment} for fragment in fragments),
        )
        index += 1
    events += _message_end("tool_use", output_tokens)
    return events


def web_search_events(
    query: str,
    results: list[dict[str, Any]],
    answer: list[str],
    *,
    tool_use_id: str = "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE",
    model: str = DEFAULT_MODEL,
    input_tokens: int = 9,
    output_tokens: int = 30,
) -> list[dict[str, Any]]:
    """A streamed answer after one web search: the server_tool_use block (its query arriving as
    input_json_delta fragments), the web_search_tool_result block (whole in its start event), then one
    text block per `answer` piece, the first citing the first result (a citations_delta) when there is
    one; message_delta counts the search in `usage.server_tool_use`."""
    events = [_message_start(model, input_tokens)]
    events += _block(
        0,
        {"type": "server_tool_use", "id": tool_use_id, "name": "web_search", "input": {}},
        [
            {"type": "input_json_delta", "partial_json": '{"query": "'},
            {"type": "input_json_delta", "partial_json": query + '"}'},
        ],
    )
    events += _block(1, web_search_tool_result_block(tool_use_id, results), [])
    for position, piece in enumerate(answer):
        deltas: list[dict[str, Any]] = [{"type": "text_delta", "text": piece}]
        if position == 0 and results:
            deltas.insert(0, {"type": "citations_delta", "citation": _citation(results[0], piece)})
        events += _block(2 + position, {"type": "text", "text": ""}, deltas)
    end = _message_end("end_turn", output_tokens)
    end[0]["usage"]["server_tool_use"] = {"web_search_requests": 1, "web_fetch_requests": 0}
    return events + end


def sse_frame(event: dict[str, Any]) -> bytes:
    """Anthropic's framing: the SSE event name repeats the JSON's `type` (the SDK dispatches on it)."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def model_info(model_id: str, display_name: str, created_at: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": created_at,
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }


# ---------------------------------------------------------------------------------------------
# Request validation.


class _StrictNonStreaming(MessageCreateParamsNonStreaming, total=False):
    pass


class _StrictStreaming(MessageCreateParamsStreaming):
    pass


class _StrictBetaNonStreaming(BetaMessageCreateParamsNonStreaming, total=False):
    pass


class _StrictBetaStreaming(BetaMessageCreateParamsStreaming):
    pass


# The SDK's TypedDicts are lax by default (coercing "5" to 5, ignoring unknown keys). Pydantic takes a
# TypedDict's config from the class itself and hands it down to nested TypedDicts that have none, so
# subclasses carrying a strict config make the whole tree strict.
class _StrictCountTokens(MessageCountTokensParams, total=False):
    pass


_StrictNonStreaming.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[attr-defined]
_StrictStreaming.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[attr-defined]
_StrictBetaNonStreaming.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[attr-defined]
_StrictBetaStreaming.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[attr-defined]
_StrictCountTokens.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[attr-defined]


@cache
def _adapter(streaming: bool, beta: bool = False) -> TypeAdapter[Any]:
    if beta:
        with warnings.catch_warnings():
            # One beta TypedDict (BetaFallbackParam) allows extra items; the strict config cannot apply there.
            warnings.simplefilter("ignore", TypedDictExtraConfigWarning)
            return TypeAdapter(_StrictBetaStreaming if streaming else _StrictBetaNonStreaming)
    return TypeAdapter(_StrictStreaming if streaming else _StrictNonStreaming)


@cache
def _count_tokens_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(_StrictCountTokens)


def _is_member_name(part: Any) -> bool:
    # Pydantic interleaves union-member names ("TextBlockParam", "str", "generator[...]") with field names.
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in {"str", "int", "bool"})


_Error = tuple[tuple[Any, ...], dict[str, Any]]


def _weight(errors: list[_Error]) -> tuple[int, int]:
    return len(errors), sum(len(item["msg"]) for _, item in errors)


def _pick(errors: list[_Error], start: int) -> list[_Error] | None:
    """Keep the errors a reader needs. A union reports every member's errors; per union, drop members
    whose `type` tag did not match (the sender did not mean them) and keep the member with the fewest
    remaining complaints, recursively for unions nested inside it. None: nothing here was meant."""
    kept: list[_Error] = []
    unions: dict[tuple[Any, ...], dict[Any, list[_Error]]] = {}
    for loc, item in errors:
        member = next((index for index in range(start, len(loc)) if _is_member_name(loc[index])), None)
        if member is None:
            kept.append((loc, item))
        else:
            unions.setdefault(loc[:member], {}).setdefault(loc[member], []).append((loc, item))
    for parent, branches in unions.items():
        depth = len(parent) + 1
        candidates: list[list[_Error]] = []
        for members in branches.values():
            if any(item["type"] == "literal_error" and loc[depth:] == ("type",) for loc, item in members):
                continue
            picked = _pick(members, depth)
            if picked is not None:
                candidates.append(picked)
        if candidates:
            best: list[_Error] = min(candidates, key=_weight)
            kept += best
        elif start == 0:
            kept.append((parent, {"type": "union", "msg": "matches no accepted shape (check its `type`)"}))
        else:
            return None
    return kept


def _format_errors(error: ValidationError, prefix: str = "") -> list[str]:
    lines = [
        f"{prefix}{'.'.join(str(part) for part in loc if not _is_member_name(part)) or '<body>'}: {item['msg']}"
        for loc, item in _pick([(tuple(item["loc"]), dict(item)) for item in error.errors()], 0) or []
    ]
    return list(dict.fromkeys(lines))[:5]


def _drain(value: Any, path: str, out: list[str]) -> None:
    """Consume what pydantic validated lazily: it turns `Iterable[...]` fields into iterators that only
    check their items when iterated. Also flags blocks that only matched a *response* model: the
    request unions include `ContentBlock` (which allows extra keys), so a block there had unknown keys
    or a shape that no request type takes."""
    if isinstance(value, BaseModel):
        extra = sorted((value.model_extra or {}).keys())
        out.append(f"{path}: not a valid request block" + (f" (unknown keys {extra})" if extra else ""))
    elif isinstance(value, dict):
        for key, item in value.items():
            _drain(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _drain(item, f"{path}.{index}", out)
    elif isinstance(value, Iterator):
        try:
            for index, item in enumerate(value):
                _drain(item, f"{path}.{index}", out)
        except ValidationError as error:
            out += _format_errors(error, f"{path}.")


def _schema_violations(body: dict[str, Any], adapter: TypeAdapter[Any] | None = None) -> list[str]:
    typed = {key: value for key, value in body.items() if key not in _LEGACY_SAMPLING}
    try:
        validated = (adapter or _adapter(body.get("stream") is True)).validate_python(typed)
    except ValidationError as error:
        return _format_errors(error)
    out: list[str] = []
    _drain(validated, "", out)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(model: Any, patterns: Iterable[str]) -> bool:
    return isinstance(model, str) and any(fnmatchcase(model, pattern) for pattern in patterns)


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def _check_text(block: dict[str, Any], where: str, out: list[str]) -> None:
    text = block.get("text")
    if not isinstance(text, str):
        return
    if text == "":
        out.append(f"{where}: text content blocks must be non-empty")
    elif not text.strip():
        out.append(f"{where}: text content blocks must contain non-whitespace text")


def _check_base64(source: dict[str, Any], where: str, out: list[str]) -> None:
    # The SDK's base64 source types carry their own (lax) pydantic config, so check them by hand.
    extra = sorted(set(source) - {"type", "media_type", "data"})
    if extra:
        out.append(f"{where}: unknown keys {extra}")
    data = source.get("data")
    if not isinstance(data, str) or not data:
        out.append(f"{where}.data: must be a non-empty base64 string")
        return
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        # Typically a whole `data:` URI passed through instead of its payload.
        out.append(f"{where}.data: invalid base64 data ({data[:30]!r}...)")


def _check_media(block: dict[str, Any], where: str, out: list[str]) -> None:
    source = block.get("source")
    if not isinstance(source, dict):
        return
    kind = source.get("type")
    if block.get("type") == "image":
        # media_type is the SDK types' business (a Literal); the payload is not.
        if kind == "base64":
            _check_base64(source, f"{where}.source", out)
        elif kind != "url":
            out.append(f"{where}.source.type: image sources must be base64 or url, not {kind!r}")
    elif block.get("type") == "document" and kind == "base64":
        _check_base64(source, f"{where}.source", out)


def _check_block(block: dict[str, Any], role: str, where: str, out: list[str]) -> None:
    kind = block.get("type")
    if kind == "text":
        _check_text(block, where, out)
    elif kind in ("image", "document"):
        _check_media(block, where, out)
    elif kind == "tool_use":
        block_id = block.get("id")
        if not isinstance(block_id, str) or not _TOOL_USE_ID.fullmatch(block_id):
            out.append(f"{where}.id: String should match pattern '^[a-zA-Z0-9_-]+$' (got {block_id!r})")
    elif kind == "tool_result":
        inner_blocks = block.get("content")
        # A string tool_result content may be empty; blocks inside it follow the usual rules.
        if isinstance(inner_blocks, list):
            for index, inner in enumerate(_blocks(inner_blocks)):
                _check_block(inner, "user", f"{where}.content.{index}", out)
    if role == "user" and kind in _ASSISTANT_ONLY_BLOCKS:
        out.append(f"{where}: `{kind}` blocks may only appear in assistant messages")
    if role == "assistant" and kind == "tool_result":
        out.append(f"{where}: `tool_result` blocks may only appear in user messages")


def _merge_turns(messages: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]], int]]:
    """The API merges consecutive same-role messages into one turn before checking tool pairing."""
    turns: list[tuple[str, list[dict[str, Any]], int]] = []
    for index, item in enumerate(messages):
        role = item.get("role")
        blocks = _blocks(item.get("content"))
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((str(role), list(blocks), index))
    return turns


def _id(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)  # malformed ids are reported by the schema check


def _check_tool_pairing(messages: list[dict[str, Any]], out: list[str]) -> None:
    turns = _merge_turns(messages)
    for position, (role, blocks, first) in enumerate(turns):
        where = f"messages.{first}"
        if role == "assistant":
            ids = [_id(block.get("id")) for block in blocks if block.get("type") == "tool_use"]
            if len(set(ids)) != len(ids):
                out.append(f"{where}: `tool_use` ids must be unique")
            if not ids:
                continue
            following = turns[position + 1] if position + 1 < len(turns) else None
            leading: set[str] = set()
            if following is not None:
                for block in following[1]:
                    if block.get("type") != "tool_result":
                        break
                    leading.add(_id(block.get("tool_use_id")))
            missing = [tool_id for tool_id in ids if tool_id not in leading]
            if missing:
                out.append(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block at the start of the next message."
                )
        elif role == "user":
            previous = turns[position - 1] if position > 0 else None
            expected = (
                {_id(block.get("id")) for block in previous[1] if block.get("type") == "tool_use"}
                if previous is not None and previous[0] == "assistant"
                else set()
            )
            results = [block for block in blocks if block.get("type") == "tool_result"]
            leading_count = 0
            for block in blocks:
                if block.get("type") != "tool_result":
                    break
                leading_count += 1
            if leading_count != len(results):
                out.append(
                    f"{where}: Did not find {len(results)} `tool_result` block(s) at the beginning of this "
                    "message; tool_result blocks must come before any other content"
                )
            result_ids = [_id(block.get("tool_use_id")) for block in results]
            if len(set(result_ids)) != len(result_ids):
                out.append(f"{where}: each `tool_use` may only have one `tool_result`")
            unexpected = [tool_id for tool_id in result_ids if tool_id not in expected]
            if unexpected:
                out.append(
                    f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )


def _check_messages(body: dict[str, Any], thinking_on: bool, rejects_prefill: Iterable[str], out: list[str]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(item, dict) for item in messages):
        return  # the schema check has reported it
    if not messages:
        out.append("messages: at least one message is required")
        return
    last = len(messages) - 1
    uses_tools = False
    for index, item in enumerate(messages):
        role = item.get("role")
        if role not in ("user", "assistant"):
            out.append(f"messages.{index}.role: must be 'user' or 'assistant' (system prompts go in `system`)")
            continue
        content = item.get("content")
        prefill = index == last and role == "assistant"
        if content in ("", []) and not prefill:
            out.append(
                f"messages.{index}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
            continue
        if isinstance(content, str):
            if content and not prefill:
                _check_text({"text": content}, f"messages.{index}.content", out)
        else:
            for position, block in enumerate(_blocks(content)):
                _check_block(block, role, f"messages.{index}.content.{position}", out)
                uses_tools = uses_tools or block.get("type") in ("tool_use", "tool_result")
        if prefill:
            blocks = _blocks(content)
            tail = blocks[-1].get("text") if blocks and blocks[-1].get("type") == "text" else None
            if isinstance(tail, str) and tail != tail.rstrip():
                out.append(f"messages.{index}: final assistant content cannot end with trailing whitespace")
    if messages[last].get("role") == "assistant" and _matches(body.get("model"), rejects_prefill):
        out.append(
            f"messages: this model does not support assistant message prefill ({body.get('model')}); "
            "the conversation must end with a user message"
        )
    if uses_tools and not body.get("tools"):
        out.append("tools: Requests which include `tool_use` or `tool_result` blocks must define tools.")
    _check_tool_pairing(messages, out)
    if thinking_on:
        turns = _merge_turns(messages)
        if (
            len(turns) >= 2
            and turns[-1][0] == "user"
            and turns[-1][1]
            and turns[-1][1][0].get("type") == "tool_result"
            and turns[-2][0] == "assistant"
        ):
            blocks = turns[-2][1]
            if not blocks or blocks[0].get("type") not in _THINKING_BLOCKS:
                out.append(
                    f"messages.{turns[-2][2]}: Expected `thinking` or `redacted_thinking`, but found "
                    f"`{blocks[0].get('type') if blocks else None}`. When `thinking` is enabled, a final "
                    "`assistant` message must start with a thinking block."
                )


def _check_tools(body: dict[str, Any], thinking_on: bool, out: list[str]) -> None:
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    names: list[str] = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            continue
        name = tool.get("name")
        if isinstance(name, str):
            names.append(name)
        if (
            isinstance(tool.get("type"), str)
            and tool["type"].startswith("web_search_")
            and tool.get("allowed_domains")
            and tool.get("blocked_domains")
        ):
            # ANT web_search_tool_20250305_param.py: allowed_domains "Cannot be used alongside `blocked_domains`".
            out.append(f"tools.{index}: allowed_domains and blocked_domains cannot both be set")
        if tool.get("type") not in _CUSTOM_TOOL_TYPES:
            continue  # server tools: their fixed shapes are the SDK types' business
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            out.append(f"tools.{index}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$' (got {name!r})")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            out.append(f"tools.{index}.input_schema.type: Input should be 'object'")
    if len(set(names)) != len(names):
        out.append("tools: Tool names must be unique")
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("any", "tool") and not tools:
            out.append("tool_choice: may only be specified while providing tools")
        if kind == "tool" and choice.get("name") not in names:
            out.append(f"tool_choice.name: no tool named {choice.get('name')!r} in `tools`")
        if kind in ("any", "tool") and thinking_on:
            out.append("tool_choice: Thinking may not be enabled when tool_choice forces tool use")


def _check_sampling(
    body: dict[str, Any], thinking_on: bool, patterns_both: Iterable[str], patterns_any: Iterable[str], out: list[str]
) -> None:
    model = body.get("model")
    sent = [key for key in _LEGACY_SAMPLING if key in body]
    for key in ("temperature", "top_p"):
        if key in body and not (_is_number(body[key]) and 0 <= body[key] <= 1):
            out.append(f"{key}: Input should be a number between 0 and 1 (got {body[key]!r})")
    if "top_k" in body and not (
        isinstance(body["top_k"], int) and not isinstance(body["top_k"], bool) and body["top_k"] >= 0
    ):
        out.append(f"top_k: Input should be an integer >= 0 (got {body['top_k']!r})")
    if sent and _matches(model, patterns_any):
        out.append(f"{', '.join(sent)}: deprecated for this model ({model}); sampling parameters are not accepted")
    elif "temperature" in body and "top_p" in body and _matches(model, patterns_both):
        out.append(f"temperature and top_p cannot both be specified for this model ({model}). Please use only one.")
    if thinking_on:
        if "temperature" in body and body["temperature"] != 1:
            out.append("temperature: may only be set to 1 when thinking is enabled")
        if "top_k" in body:
            out.append("top_k: may not be set when thinking is enabled")
        if "top_p" in body and _is_number(body["top_p"]) and body["top_p"] < 0.95:
            out.append("top_p: must be between 0.95 and 1 when thinking is enabled")


def request_violations(
    body: Any,
    *,
    rejects_temperature_and_top_p: Iterable[str] = REJECTS_TEMPERATURE_AND_TOP_P,
    rejects_sampling: Iterable[str] = REJECTS_SAMPLING,
    rejects_prefill: Iterable[str] = REJECTS_PREFILL,
    beta: bool = False,
) -> list[str]:
    """What the real API would refuse in this `POST /v1/messages` body; empty when it is acceptable.
    `beta`: the request carried `anthropic-beta`, so the beta surface applies."""
    if not isinstance(body, dict):
        return ["<body>: must be a JSON object"]
    known = _BETA_TOP_LEVEL_KEYS if beta else _TOP_LEVEL_KEYS
    out = [f"{key}: Extra inputs are not permitted" for key in body if key not in known]
    if out:
        return out  # the schema check would only repeat this
    out += _schema_violations(body, _adapter(body.get("stream") is True, beta))
    if beta:  # system messages inside the conversation are instructions, outside the turn rules below
        body = {
            **body,
            "messages": [
                item
                for item in body.get("messages") or ()
                if not (isinstance(item, dict) and item.get("role") == "system")
            ],
        }
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens < 0:
        out.append("max_tokens: Input should be greater than or equal to 0")
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and set(metadata) - {"user_id"}:
        out.append(f"metadata: only `user_id` is accepted (got {sorted(metadata)})")
    system = body.get("system")
    if isinstance(system, list):
        for index, block in enumerate(_blocks(system)):
            _check_text(block, f"system.{index}", out)
    thinking = body.get("thinking")
    thinking_on = isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and budget < 1024:
            out.append("thinking.budget_tokens: Input should be greater than or equal to 1024")
        if isinstance(budget, int) and isinstance(max_tokens, int) and budget >= max_tokens:
            out.append("max_tokens: must be greater than thinking.budget_tokens")
    _check_sampling(body, thinking_on, rejects_temperature_and_top_p, rejects_sampling, out)
    _check_tools(body, thinking_on, out)
    _check_messages(body, thinking_on, rejects_prefill, out)
    return out


def count_tokens_violations(body: Any) -> list[str]:
    """What the real API would refuse in this `POST /v1/messages/count_tokens` body: the SDK's
    `MessageCountTokensParams` (strict, no unknown keys, no `max_tokens`) and the message rules."""
    if not isinstance(body, dict):
        return ["<body>: must be a JSON object"]
    out = _schema_violations(body, _count_tokens_adapter())
    thinking = body.get("thinking")
    thinking_on = isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")
    _check_tools(body, thinking_on, out)
    _check_messages(body, thinking_on, (), out)
    return out


def count_tokens_estimate(body: dict[str, Any]) -> int:
    """The fake's count: a deterministic stand-in (a token per 4 bytes of the prompt's JSON, at least 1)."""
    prompt = {key: body.get(key) for key in ("system", "messages", "tools")}
    return max(1, len(orjson.dumps(prompt)) // 4)


def _auth_missing(headers: Mapping[str, str]) -> bool:
    lowered = {key.lower(): value for key, value in headers.items()}
    bearer = lowered.get("authorization", "")
    # SDK 2.12 sends `Authorization: Bearer`; raw-HTTP clients and older SDKs send `x-api-key`.
    return not lowered.get("x-api-key", "").strip() and not (bearer.startswith("Bearer ") and bearer[7:].strip())


def header_violations(headers: Mapping[str, str], *, has_body: bool = True) -> list[str]:
    lowered = {key.lower(): value for key, value in headers.items()}
    out: list[str] = []
    if _auth_missing(headers):
        out.append("headers: x-api-key header is required")
    version = lowered.get("anthropic-version")
    if version is None:
        out.append("headers: anthropic-version: header is required")
    elif version not in ANTHROPIC_VERSIONS:
        out.append(f"headers: anthropic-version: unknown version {version!r}")
    if has_body:
        media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            out.append(f"headers: content-type must be application/json (got {lowered.get('content-type')!r})")
    return out


# ---------------------------------------------------------------------------------------------
# The server.


def _request_id() -> str:
    return f"req_011Fake{uuid.uuid4().hex[:16]}"


class FakeAnthropic(ScriptedStreams):
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        # What the gateway sent that the real API would refuse; tests should assert it stays empty.
        self.violations: list[str] = []
        self.models: list[dict[str, Any]] = self._default_models()
        self.models_status = 200
        self.rejects_temperature_and_top_p: tuple[str, ...] = REJECTS_TEMPERATURE_AND_TOP_P
        self.rejects_sampling: tuple[str, ...] = REJECTS_SAMPLING
        self.rejects_prefill: tuple[str, ...] = REJECTS_PREFILL
        self.stream_closed_at: float | None = None
        self.message_batches = MessageBatches(self)  # /v1/messages/batches
        self._runner: web.AppRunner | None = None
        self.port = 0

    @staticmethod
    def _default_models() -> list[dict[str, Any]]:
        return [
            model_info("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
            model_info("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
        ]

    @property
    def spec_violations(self) -> list[str]:
        """Same name as on `FakeOpenAI`, so a fixture can check either fake alike."""
        return self.violations

    def reset(self) -> None:
        self.replies.clear()
        self.responder = None
        self.received.clear()
        self.violations.clear()
        self.stream_closed_at = None
        self.models_status = 200
        self.models = self._default_models()
        self.rejects_temperature_and_top_p = REJECTS_TEMPERATURE_AND_TOP_P
        self.rejects_sampling = REJECTS_SAMPLING
        self.rejects_prefill = REJECTS_PREFILL
        self.message_batches.reset()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model_id}", self._get_model)
        self.message_batches.mount(app)
        await self.serve(app)

    def _error(self, status: int, error_type: str, text: str) -> web.Response:
        request_id = _request_id()
        return web.Response(
            status=status,
            body=orjson.dumps(error_body(error_type, text, request_id=request_id)),
            content_type="application/json",
            headers={"request-id": request_id},
        )

    def _refuse(self, problems: list[str], headers: Mapping[str, str]) -> web.Response:
        self.violations += problems
        if _auth_missing(headers):
            return self._error(401, "authentication_error", "x-api-key header is required")
        return self._error(400, "invalid_request_error", "; ".join(problems))

    async def _list_models(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.method, request.path, dict(request.headers), None))
        problems = header_violations(request.headers, has_body=False)
        if problems:
            return self._refuse(problems, request.headers)
        if self.models_status != 200:
            return self._error(self.models_status, "api_error", "Internal server error")
        models = self.models
        if "after_id" in request.query:
            ids = [item["id"] for item in models]
            models = models[ids.index(request.query["after_id"]) + 1 :] if request.query["after_id"] in ids else []
        limit = int(request.query.get("limit", "20"))
        page = models[:limit]
        payload = {
            "data": page,
            "has_more": len(models) > limit,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }
        return web.Response(
            body=orjson.dumps(payload), content_type="application/json", headers={"request-id": _request_id()}
        )

    async def _get_model(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.method, request.path, dict(request.headers), None))
        problems = header_violations(request.headers, has_body=False)
        if problems:
            return self._refuse(problems, request.headers)
        for item in self.models:
            if item["id"] == request.match_info["model_id"]:
                return web.Response(
                    body=orjson.dumps(item), content_type="application/json", headers={"request-id": _request_id()}
                )
        return self._error(404, "not_found_error", f"model: {request.match_info['model_id']}")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        problems = header_violations(request.headers)
        problems += (
            ["<body>: There was an error parsing the body as JSON"]
            if body is None
            else request_violations(
                body,
                rejects_temperature_and_top_p=self.rejects_temperature_and_top_p,
                rejects_sampling=self.rejects_sampling,
                rejects_prefill=self.rejects_prefill,
                beta=bool(request.headers.get("anthropic-beta")),
            )
        )
        if problems:
            # Scripted replies stay queued: the refused request is not the one they were meant for.
            return self._refuse(problems, request.headers)
        reply = self.next_reply(body, request.path) or self._default(body)
        headers = {"request-id": _request_id(), **reply.headers}
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is None:
            data = reply.body if reply.body is not None else orjson.dumps(reply.json)
            return web.Response(
                status=reply.status,
                body=data,
                headers=headers,
                content_type="application/json" if reply.body is None else None,
            )
        return await self.write_stream(
            request,
            reply,
            frame=sse_frame,
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "request-id": headers["request-id"],
            },
        )

    async def _count_tokens(self, request: web.Request) -> web.Response:
        """Scripted replies first (errors); else `{"input_tokens": count_tokens_estimate(body)}`."""
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        problems = header_violations(request.headers)
        problems += (
            ["<body>: There was an error parsing the body as JSON"] if body is None else count_tokens_violations(body)
        )
        if problems:
            return self._refuse(problems, request.headers)
        headers = {"request-id": _request_id()}
        if self.replies:
            reply = self.replies.popleft()
            return web.Response(
                status=reply.status,
                body=orjson.dumps(reply.json),
                content_type="application/json",
                headers={**headers, **reply.headers},
            )
        return web.Response(
            body=orjson.dumps({"input_tokens": count_tokens_estimate(body)}),
            content_type="application/json",
            headers=headers,
        )

    def _default(self, body: dict[str, Any]) -> Reply:
        model = body.get("model", DEFAULT_MODEL)
        if body.get("stream"):
            events: list[dict[str, Any] | bytes] = list(text_events(["Hel", "lo", "!"], model=model))
            events.insert(2, ping_event())  # the API pings early in a stream; clients must skip it
            return Reply(stream=events)
        return Reply(json=message("Hello!", model=model))
