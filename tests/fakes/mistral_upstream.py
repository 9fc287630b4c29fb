"""A fake Mistral chat-completions upstream on 127.0.0.1, scriptable per test like `FakeOpenAI`.

It answers in Mistral's wire format: `ChatCompletionResponse` JSON (content a string or, on reasoning
models, a list of `thinking`/`text` chunks; tool-call arguments a string or an object), streams of
`CompletionChunk` frames (`data: <json>\\n\\n`, then `data: [DONE]`) whose last chunk carries `usage`
without being asked, the `ModelList` of `GET /v1/models`, `EmbeddingResponse` JSON of `POST /v1/embeddings`
(deterministic vectors, `fake_embedding`), and Mistral's error bodies.
`tests/fakes/test_mistral_upstream.py` checks all of that with the official `mistralai` SDK. It records
what it received and can be told to fail the same ways as the other fakes (error status, slow first
byte, stalled or dropped stream, raw bytes).

Unlike a plain mock it also refuses what the real API refuses. Every `POST /v1/chat/completions` body
is validated like the API's FastAPI layer does it - against the SDK's request model (strict types, no
unknown keys: the API answers `extra_forbidden` for OpenAI-only fields such as `stream_options`,
`user`, `seed`, `max_completion_tokens`) and against `ChatCompletionRequest` of the public OpenAPI spec
- and a failure is answered with a 422. Then come the conversation rules the API checks behind that
layer (tool-call ids of exactly 9 alphanumerics, role order, the last role, one tool message per tool
call), answered with a 400 like the real one. `POST /v1/embeddings` bodies are checked the same way against
`EmbeddingRequest`, then against the API's limits (inputs and tokens per request, known embedding models,
no `output_dimension` on the fixed-size `mistral-embed`). Every refusal is recorded in `violations`, so a test whose
gateway sends something Mistral would reject fails even if it never looks at the answer.

The 422 comes as the API sends it: FastAPI's `{"detail": [...]}` inside Mistral's error envelope
(`{"object": "error", "message": {"detail": [...]}, "type": "invalid_request_error", ...}`), not the bare
`HTTPValidationError` the spec documents (`error_422(..., envelope=False)` builds that one for scripting).
"""

from __future__ import annotations

import asyncio
import heapq
import random
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeGuard, get_args, get_origin

import orjson
from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import relevance
from mistralai.client.models import (
    AudioChunk,
    ChatCompletionRequest,
    ChatCompletionStreamRequest,
    DocumentURLChunk,
    EmbeddingRequest,
    FileChunk,
    ImageURLChunk,
    ReferenceChunk,
    TextChunk,
    ThinkChunk,
)
from mistralai.client.types import UNSET
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.fakes.mistral_batches import BatchJobs
from tests.fakes.openai_spec import schema_validator
from tests.fakes.scripted import Received, Reply, ScriptedStreams

__all__ = [
    "COMPLETION_ID",
    "CREATED",
    "DEFAULT_MODEL",
    "EMBEDDING_MODELS",
    "FIXED_SIZE_MODELS",
    "MAX_EMBEDDING_INPUTS",
    "SDK_ONLY_FIELDS",
    "SPEC_NAME",
    "FakeMistral",
    "Received",
    "Reply",
    "chunk",
    "completion",
    "embedding_violations",
    "embeddings_response",
    "error_422",
    "error_body",
    "fake_embedding",
    "fake_tokens",
    "model_card",
    "request_violations",
    "spec_validator",
    "sse_frame",
    "text_stream",
    "thinking_content",
    "thinking_stream",
    "tool_call",
    "tool_call_stream",
    "unauthorized_body",
    "usage",
]

DEFAULT_MODEL = "mistral-small-latest"
COMPLETION_ID = "3f1c9a7be2d54c0e9b8a6f4d2c1e0b9a"  # Mistral ids are 32 hex digits, no prefix
CREATED = 1_700_000_000
SPEC_NAME = "mistral-openapi.json"

# Request fields `mistralai` 3.7.0 types (`ChatCompletionRequest`) but the public spec snapshot lacks
# (its `additionalProperties: false` would refuse them; see tests/data/specs/README.md). The SDK is
# generated from Mistral's own API definition and also types the matching response fields
# (`ChatCompletionChoice.logprobs`), so the API takes them: they are left out of the spec check only.
SDK_ONLY_FIELDS = (
    "logprobs",
    "top_logprobs",
    "prompt_logprobs",
    "top_prompt_logprobs",
    "top_k",
    "min_tokens",
    "repetition_penalty",
)

# What the API's validator says about tool calls; ids are minted by Mistral that way.
_TOOL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
# Pydantic bounds of `ChatCompletionRequest` (the spec's minimum/maximum/exclusiveMinimum), checked here too
# so that they hold where the spec file is absent: (field, kind, limit).
_BOUNDS: tuple[tuple[str, str, float], ...] = (
    ("temperature", "ge", 0),
    ("temperature", "le", 1.5),
    ("top_p", "gt", 0),
    ("top_p", "le", 1),
    ("max_tokens", "ge", 0),
    ("random_seed", "ge", 0),
    ("n", "ge", 1),
    ("presence_penalty", "ge", -2),
    ("presence_penalty", "le", 2),
    ("frequency_penalty", "ge", -2),
    ("frequency_penalty", "le", 2),
)
_BOUND_TEXT = {
    "ge": ("greater_than_equal", "greater than or equal to"),
    "gt": ("greater_than", "greater than"),
    "le": ("less_than_equal", "less than or equal to"),
}
# The content chunk kinds of the spec's `ContentChunk` (the SDK's open union would also take
# `resource`/`resource_link`, which the public API does not list).
_CONTENT_CHUNKS: dict[str, type[BaseModel]] = {
    "text": TextChunk,
    "image_url": ImageURLChunk,
    "document_url": DocumentURLChunk,
    "reference": ReferenceChunk,
    "file": FileChunk,
    "thinking": ThinkChunk,
    "input_audio": AudioChunk,
}
_CHUNK_TYPES = frozenset(_CONTENT_CHUNKS.values())
# Error `type`/`code` pairs the API answers with (observed bodies).
_MESSAGE_ORDER = ("invalid_request_message_order", "3230")
_FUNCTION_CALL = ("invalid_function_call", "3280")


# ---------------------------------------------------------------------------------------------
# Builders: exact wire dicts for scripting replies.


def usage(prompt_tokens: int = 9, completion_tokens: int = 3) -> dict[str, Any]:
    """`UsageInfo`: three counts and nothing else (no *_details, unlike OpenAI)."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


_usage = usage  # the builders take a keyword argument of the same name


def tool_call(call_id: str, name: str, arguments: str | dict[str, Any], index: int | None = None) -> dict[str, Any]:
    """A `ToolCall`. Mistral may send `arguments` as a JSON object instead of a string (`FunctionCall.arguments`
    is `Dict[str, Any] | str` in the SDK and the spec)."""
    call: dict[str, Any] = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    if index is not None:
        call["index"] = index
    return call


def thinking_content(thinking_text: str, answer_text: str, *, signature: str | None = None) -> list[dict[str, Any]]:
    """The content reasoning (Magistral) models answer with: a `ThinkChunk`, whose `thinking` is itself a
    list of `TextChunk`s, then the answer as a `TextChunk`."""
    think: dict[str, Any] = {"type": "thinking", "thinking": [{"type": "text", "text": thinking_text}]}
    if signature is not None:
        think["signature"] = signature
    return [think, {"type": "text", "text": answer_text}]


def completion(
    content: str | list[dict[str, Any]] | None = "Hello!",
    *,
    model: str = DEFAULT_MODEL,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    completion_id: str = COMPLETION_ID,
) -> dict[str, Any]:
    """A non-streaming `ChatCompletionResponse`. The message always has `tool_calls` (null without calls),
    as the API sends it; `finish_reason` defaults to `tool_calls` when there are calls, else `stop`."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "tool_calls": tool_calls or None},
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": usage if usage is not None else _usage(),
    }


def chunk(
    delta: dict[str, Any],
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    completion_id: str = COMPLETION_ID,
) -> dict[str, Any]:
    """One streamed `CompletionChunk`; `usage` only where given (the API puts it on the last chunk)."""
    payload: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        payload["usage"] = usage
    return payload


def text_stream(
    pieces: list[str], *, finish_reason: str = "stop", usage: dict[str, Any] | None = None, model: str = DEFAULT_MODEL
) -> list[dict[str, Any]]:
    """A streamed text answer: a role chunk (`content: ""`), then one chunk per piece. The last piece's
    chunk also carries `finish_reason` and `usage` - Mistral attaches usage there without
    `stream_options` (which it refuses) and sends no separate `choices: []` usage chunk."""
    final = usage if usage is not None else _usage(9, max(len(pieces), 1))
    events = [chunk({"role": "assistant", "content": ""}, model=model)]
    pieces = pieces or [""]
    for position, piece in enumerate(pieces):
        last = position == len(pieces) - 1
        events.append(
            chunk(
                {"content": piece},
                finish_reason=finish_reason if last else None,
                usage=final if last else None,
                model=model,
            )
        )
    return events


def tool_call_stream(
    calls: list[tuple[str, str, str]],
    *,
    leading_text: str | None = None,
    finish_reason: str = "tool_calls",
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
) -> list[dict[str, Any]]:
    """A streamed tool-calling answer from `(id, name, arguments JSON)` tuples: a role chunk, [a text chunk],
    then each call complete in one delta with its `index` and `id` (Mistral does not fragment arguments).
    The last call's chunk carries `finish_reason` and `usage`."""
    final = usage if usage is not None else _usage(9, 20)
    events = [chunk({"role": "assistant", "content": ""}, model=model)]
    if leading_text is not None:
        events.append(chunk({"content": leading_text}, model=model))
    for index, (call_id, name, arguments) in enumerate(calls):
        last = index == len(calls) - 1
        delta = {"tool_calls": [{"id": call_id, "function": {"name": name, "arguments": arguments}, "index": index}]}
        events.append(
            chunk(delta, finish_reason=finish_reason if last else None, usage=final if last else None, model=model)
        )
    if not calls:
        events.append(chunk({"content": ""}, finish_reason=finish_reason, usage=final, model=model))
    return events


def thinking_stream(
    thinking_pieces: list[str],
    answer_pieces: list[str],
    *,
    usage: dict[str, Any] | None = None,
    model: str = "magistral-medium-latest",
) -> list[dict[str, Any]]:
    """A streamed reasoning answer: `delta.content` is a list of chunks - a `thinking` chunk per thinking
    piece, then a `text` chunk per answer piece; the last carries `finish_reason` and `usage`."""
    final = usage if usage is not None else _usage(9, len(thinking_pieces) + len(answer_pieces))
    deltas: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": piece}]} for piece in thinking_pieces
    ]
    deltas += [{"type": "text", "text": piece} for piece in answer_pieces]
    events = [chunk({"role": "assistant", "content": ""}, model=model)]
    for position, item in enumerate(deltas):
        last = position == len(deltas) - 1
        events.append(
            chunk(
                {"content": [item]}, finish_reason="stop" if last else None, usage=final if last else None, model=model
            )
        )
    return events


def sse_frame(event: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


def error_body(
    message: Any,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    raw_status_code: int | None = None,
) -> dict[str, Any]:
    """Mistral's error envelope. `message` is usually a string, but for validation errors it is the
    FastAPI body (`{"detail": [...]}`); newer answers add `raw_status_code`."""
    body: dict[str, Any] = {"object": "error", "message": message, "type": type, "param": param, "code": code}
    if raw_status_code is not None:
        body["raw_status_code"] = raw_status_code
    return body


def _validation_body(details: list[dict[str, Any]], envelope: bool) -> dict[str, Any]:
    fastapi = {"detail": details}
    return error_body(fastapi) if envelope else fastapi


def error_422(
    loc: Sequence[str | int], msg: str, *, error_type: str = "value_error", input: Any = None, envelope: bool = True
) -> dict[str, Any]:
    """A 422 body for one validation error at `loc` (a path in the request body; "body" is prepended).
    The API wraps FastAPI's `HTTPValidationError` in its error envelope (`envelope=True`, what it sends:
    `{"object": "error", "message": {"detail": [...]}, ...}`); `envelope=False` gives the bare
    `{"detail": [...]}` the spec documents."""
    item = {"type": error_type, "loc": ["body", *loc], "msg": msg, "input": input}
    return _validation_body([item], envelope)


def unauthorized_body(request_id: str | None = None) -> dict[str, Any]:
    """What the API's gateway answers (401) to a missing or unknown key: not the error envelope."""
    return {"message": "Unauthorized", "request_id": request_id or uuid.uuid4().hex}


def model_card(
    model_id: str,
    *,
    name: str | None = None,
    vision: bool = False,
    reasoning: bool = False,
    function_calling: bool = True,
    completion_fim: bool = False,
    max_context_length: int = 131_072,
    aliases: Iterable[str] = (),
    default_model_temperature: float | None = 0.3,
) -> dict[str, Any]:
    """One `BaseModelCard` of `GET /v1/models`."""
    return {
        "id": model_id,
        "object": "model",
        "created": CREATED,
        "owned_by": "mistralai",
        "capabilities": {
            "completion_chat": True,
            "function_calling": function_calling,
            "reasoning": reasoning,
            "completion_fim": completion_fim,
            "fine_tuning": False,
            "vision": vision,
            "ocr": False,
            "classification": False,
            "moderation": False,
            "audio": False,
            "audio_transcription": False,
        },
        "name": name or model_id,
        "description": f"{model_id} (fake)",
        "max_context_length": max_context_length,
        "aliases": list(aliases),
        "deprecation": None,
        "deprecation_replacement_model": None,
        "default_model_temperature": default_model_temperature,
        "type": "base",
    }


# ---------------------------------------------------------------------------------------------
# Request validation, part 1: the schema (answered with 422).


@dataclass(frozen=True)
class _Problem:
    where: str
    message: str
    detail: dict[str, Any] | None = None  # a FastAPI error item: a 422; None: a 400 from the conversation rules
    error_type: str = "invalid_request_error"
    code: str | None = None

    def line(self) -> str:
        return f"{self.where or '<body>'}: {self.message}"


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _schema_problem(
    loc: Sequence[Any], error_type: str, msg: str, value: Any, ctx: dict[str, Any] | None = None
) -> _Problem:
    item: dict[str, Any] = {"type": error_type, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return _Problem(_dotted(loc), msg, item)


def _is_member_name(part: Any) -> bool:
    # Pydantic names union members in locs ("str", "list[...]", "function-after[...]", model classes such as
    # "ImageURL"); FastAPI passes them through, but a reader of `violations` does not need them. Mistral's
    # field names are all snake_case, so a capital letter marks a member.
    return isinstance(part, str) and (
        "[" in part or part[:1].isupper() or part in {"str", "int", "float", "bool", "dict", "list", "none"}
    )


def _member_at(loc: Sequence[Any]) -> int | None:
    return next((index for index, part in enumerate(loc) if isinstance(part, str) and part[:1].isupper()), None)


def _prune_members(items: list[Any]) -> list[Any]:
    """A union of models without a discriminator (`tools`: Tool | ImageGenerationTool | ...) reports every
    member's complaints. Keep those of the member the sender meant - whose `type` literal matched - or
    say that the `type` matches none."""
    kept: list[Any] = []
    unions: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
    for item in items:
        member = _member_at(item["loc"])
        if member is None:
            kept.append(item)
        else:
            unions.setdefault(tuple(item["loc"][:member]), {}).setdefault(item["loc"][member], []).append(item)
    for prefix, members in unions.items():

        def type_refused(errors: list[Any], depth: int = len(prefix) + 1) -> bool:
            return any(
                item["type"] == "literal_error"
                and [part for part in item["loc"][depth:] if not _is_member_name(part)] == ["type"]
                for item in errors
            )

        meant: list[list[Any]] = [errors for errors in members.values() if not type_refused(errors)]
        if meant:
            fewest: list[Any] = min(meant, key=len)
            kept += fewest
            continue
        literals = [item for errors in members.values() for item in errors if item["type"] == "literal_error"]
        expected = ", ".join(str(item.get("ctx", {}).get("expected")) for item in literals)
        tag = literals[0].get("input") if literals else None
        message = f"Input tag {tag!r} found using 'type' does not match any of the expected tags: {expected}"
        kept.append({"type": "union_tag_invalid", "loc": prefix, "input": tag, "msg": message})
    return kept


def _pydantic_problems(error: ValidationError, prefix: Sequence[Any] = ()) -> list[_Problem]:
    items = error.errors(include_url=False)
    # The SDK's `OptionalNullable` unions add an `Unset` member (its "not sent" marker, never on the wire) and
    # a `None` member; their complaints only repeat that the value is wrong, unless nothing else is said.
    meaningful = [item for item in items if "Unset" not in item["loc"] and item["type"] != "none_required"]
    problems: list[_Problem] = []
    seen: set[str] = set()
    for item in _prune_members(meaningful or list(items)):
        # The locs name the fields only (like the API's, whose own model classes differ from the SDK's).
        loc = [part for part in (*prefix, *item["loc"]) if not _is_member_name(part)]
        where = _dotted(loc)
        if f"{where}: {item['msg']}" in seen:
            continue
        seen.add(f"{where}: {item['msg']}")
        detail: dict[str, Any] = {
            "type": item["type"],
            "loc": ["body", *loc],
            "msg": item["msg"],
            "input": item.get("input"),
        }
        if item.get("ctx"):
            detail["ctx"] = {
                key: value if isinstance(value, int | float | str) else str(value) for key, value in item["ctx"].items()
            }
        problems.append(_Problem(where, item["msg"], detail))
    return problems[:8]


@cache
def _wire_names(model: type[BaseModel]) -> dict[str, str]:
    """Wire key -> field name. Only the alias where there is one: the SDK's `populate_by_name` would
    take `schema_definition` for `schema`, the API does not."""
    return {info.alias or name: name for name, info in model.model_fields.items()}


def _unknown_chunk(raw: dict[str, Any], loc: tuple[Any, ...], out: list[_Problem]) -> None:
    """The SDK's open unions turn a chunk no variant accepts into `Unknown*` instead of failing; the API
    refuses it. Say why, from the variant its `type` names."""
    kind = raw.get("type")
    variant = _CONTENT_CHUNKS.get(kind) if isinstance(kind, str) else None
    if variant is None:
        expected = ", ".join(repr(name) for name in _CONTENT_CHUNKS)
        out.append(
            _schema_problem(
                loc,
                "union_tag_invalid",
                f"Input tag {kind!r} found using 'type' does not match any of the expected tags: {expected}",
                raw,
            )
        )
        return
    _revalidate(variant, raw, loc, out, tag=kind)


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _revalidate(annotation: Any, raw: Any, loc: tuple[Any, ...], out: list[_Problem], tag: str | None = None) -> None:
    """Validate `raw` against the type the sender meant, strictly, and report what is wrong with it."""
    try:
        validated = _adapter(annotation).validate_json(orjson.dumps(raw), strict=True, by_alias=True, by_name=False)
    except ValidationError as error:
        out.extend(_pydantic_problems(error, loc if tag is None else (*loc, tag)))
        return
    _extra_keys(validated, raw, loc, out, strictly_validated=True)


def _meant_type(annotation: Any) -> Any:
    """`OptionalNullable[X]` (possibly inside `Annotated`) -> X."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    args = get_args(annotation)
    return args[0] if args else annotation


def _extra_keys(
    value: Any, raw: Any, loc: tuple[Any, ...], out: list[_Problem], *, strictly_validated: bool = False
) -> None:
    """Walk the validated request beside its JSON: the SDK's models ignore unknown keys (and accept
    unknown chunks), the API's forbid them. Pydantic has already resolved every union, so each JSON
    object meets the model it became."""
    if isinstance(value, BaseModel):
        if not isinstance(raw, dict):
            return
        if getattr(value, "is_unknown", False) is True:
            _unknown_chunk(raw, loc, out)
            return
        if not strictly_validated and type(value) in _CHUNK_TYPES:
            # The open union validated the chunk on its own, laxly (`"closed": "no"` became False): again,
            # strictly, as the API would.
            _revalidate(type(value), raw, loc, out, tag=raw.get("type"))
            return
        names = _wire_names(type(value))
        for key, item in raw.items():
            name = names.get(key)
            if name is None:
                out.append(_schema_problem((*loc, key), "extra_forbidden", "Extra inputs are not permitted", item))
            elif isinstance(getattr(value, name), type(UNSET)) and isinstance(item, dict):
                # `OptionalNullable[Model]` has an `Unset` member (a model without fields) that takes any
                # object the real model refuses: find out what the sender got wrong.
                _revalidate(_meant_type(type(value).model_fields[name].annotation), item, (*loc, key), out)
            else:
                _extra_keys(getattr(value, name), item, (*loc, key), out)
    elif isinstance(value, list) and isinstance(raw, list):
        for index, (item, raw_item) in enumerate(zip(value, raw, strict=False)):
            _extra_keys(item, raw_item, (*loc, index), out)


def _sdk_problems(body: dict[str, Any], raw: bytes, model: type[BaseModel] | None = None) -> list[_Problem]:
    if model is None:
        model = ChatCompletionStreamRequest if body.get("stream") is True else ChatCompletionRequest
    try:
        # Strict: the API's models take `5` for a float but not `"5"`, and no enum value the SDK's open
        # enums (`UnrecognizedStr`) would let through.
        validated = model.model_validate_json(raw, strict=True, by_alias=True, by_name=False)
    except ValidationError as error:
        problems = _pydantic_problems(error)
        names = _wire_names(model)
        return [
            *problems,
            *(
                _schema_problem((key,), "extra_forbidden", "Extra inputs are not permitted", body[key])
                for key in body
                if key not in names
            ),
        ]
    out: list[_Problem] = []
    _extra_keys(validated, body, (), out)
    return out


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound_problems(body: dict[str, Any]) -> list[_Problem]:
    out: list[_Problem] = []
    for field, kind, limit in _BOUNDS:
        value = body.get(field)
        if not _is_number(value):
            continue
        if (kind == "ge" and value < limit) or (kind == "gt" and value <= limit) or (kind == "le" and value > limit):
            error_type, text = _BOUND_TEXT[kind]
            out.append(_schema_problem((field,), error_type, f"Input should be {text} {limit:g}", value, {kind: limit}))
    return out


def spec_validator(schema_name: str = "ChatCompletionRequest") -> Draft202012Validator:
    """A Draft 2020-12 validator for one of the public spec's component schemas (kept in `tests/data/specs/`)."""
    return schema_validator(schema_name, SPEC_NAME)


def _meant_branch(error: SchemaError) -> int | None:
    """The `oneOf` branch the instance's discriminator (`role`, `type`) names, if the schema has one."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    discriminator = schema.get("discriminator")
    if not isinstance(discriminator, dict) or not isinstance(error.instance, dict):
        return None
    target = discriminator.get("mapping", {}).get(error.instance.get(discriminator.get("propertyName")))
    branches = schema.get(str(error.validator), [])
    return next((index for index, branch in enumerate(branches) if branch.get("$ref") == target), None)


def _explain(error: SchemaError) -> SchemaError:
    """A failed `oneOf`/`anyOf` (messages, chunks, tools, nullable fields) only says "not valid under any of
    the given schemas". Descend to what is wrong: into the branch the discriminator names, else the most
    relevant one (as `jsonschema.exceptions.best_match` does), never into the `null` branch of a nullable
    field, which would only say "is not of type 'null'"."""
    while error.context:
        meant = _meant_branch(error)
        branches = [
            item
            for item in error.context
            if (meant is None or item.relative_schema_path[0] == meant)
            and not (item.validator == "type" and item.validator_value == "null")
        ]
        if not branches:
            break
        best = heapq.nsmallest(2, branches, key=relevance)
        if meant is None and len(best) == 2 and relevance(best[0]) == relevance(best[1]):
            break  # no branch stands out: the `oneOf` error itself is the clearest
        error = best[0]
    return error


def _spec_problems(body: dict[str, Any], schema_name: str = "ChatCompletionRequest") -> list[_Problem]:
    validator = spec_validator(schema_name)
    checked = {key: value for key, value in body.items() if key not in SDK_ONLY_FIELDS}
    out: list[_Problem] = []
    for error in validator.iter_errors(checked):
        specific = _explain(error)
        loc = list(specific.absolute_path)
        out.append(
            _schema_problem(
                loc, f"spec_{specific.validator}", f"{specific.message[:300]} (public spec)", specific.instance
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Request validation, part 2: the conversation rules behind the schema (answered with 400).


def _refusal(where: str, message: str, kind: tuple[str, str | None]) -> _Problem:
    return _Problem(where, message, None, kind[0], kind[1])


def _check_tool_call_id(call_id: Any, where: str, out: list[_Problem]) -> None:
    if call_id is None:
        out.append(_refusal(where, "Tool call id has to be defined in serving mode.", _FUNCTION_CALL))
    elif not isinstance(call_id, str) or not _TOOL_CALL_ID.fullmatch(call_id):
        out.append(
            _refusal(
                where, f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9.", _FUNCTION_CALL
            )
        )


def _check_function_name(name: Any, where: str, out: list[_Problem]) -> None:
    if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
        out.append(
            _refusal(
                where,
                f"Function name was {name} but must be a-z, A-Z, 0-9, or contain underscores "
                "and dashes, with a maximum length of 64.",
                _FUNCTION_CALL,
            )
        )


# Which role may follow which (the API's message-order check; `Unexpected role 'user' after role 'tool'`).
_NEXT_ROLES = {
    "system": {"system", "user", "assistant"},
    "user": {"user", "assistant", "system"},
    "assistant": {"assistant", "user", "tool"},
    "tool": {"tool", "assistant"},
}


def _check_messages(messages: list[dict[str, Any]], out: list[_Problem]) -> None:
    if not messages:
        out.append(_refusal("messages", "Conversation must have at least one message", _MESSAGE_ORDER))
        return
    previous: str | None = None
    pending: list[str] = []  # ids of the last assistant's tool calls that no tool message answered yet
    answered_run = False  # inside the run of tool messages that answers the last assistant's calls
    for index, message in enumerate(messages):
        role = message.get("role", "user")
        where = f"messages.{index}"
        if previous is not None and role not in _NEXT_ROLES.get(previous, set()):
            out.append(_refusal(where, f"Unexpected role '{role}' after role '{previous}'", _MESSAGE_ORDER))
        if role == "assistant":
            if pending:
                out.append(_refusal(where, "Not the same number of function calls and responses", _MESSAGE_ORDER))
            calls = message.get("tool_calls") or []
            if message.get("content") is None and not calls:
                out.append(_refusal(where, "Assistant message must have either content or tool_calls", _MESSAGE_ORDER))
            pending = []
            for position, call in enumerate(calls):
                call_where = f"{where}.tool_calls.{position}"
                _check_tool_call_id(call.get("id", "null"), f"{call_where}.id", out)  # absent: the default "null"
                _check_function_name(call.get("function", {}).get("name"), f"{call_where}.function.name", out)
                pending.append(call.get("id", "null"))
            answered_run = bool(calls)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            _check_tool_call_id(call_id, f"{where}.tool_call_id", out)
            if not answered_run:
                out.append(_refusal(where, "Not the same number of function calls and responses", _MESSAGE_ORDER))
            elif call_id not in pending:
                out.append(
                    _refusal(
                        f"{where}.tool_call_id",
                        f"Tool call id {call_id} answers no tool call of the "
                        "assistant message before it (or answers one twice)",
                        _MESSAGE_ORDER,
                    )
                )
            else:
                pending.remove(call_id)
            if message.get("name") is not None:
                _check_function_name(message["name"], f"{where}.name", out)
        else:
            if pending:
                out.append(_refusal(where, "Not the same number of function calls and responses", _MESSAGE_ORDER))
            pending, answered_run = [], False
        previous = role
    last = messages[-1]
    last_role = last.get("role")
    if last_role == "assistant" and not last.get("prefix"):
        out.append(
            _refusal(
                f"messages.{len(messages) - 1}",
                "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant",
                _MESSAGE_ORDER,
            )
        )
    elif last_role not in ("user", "tool", "assistant"):
        out.append(
            _refusal(
                f"messages.{len(messages) - 1}",
                f"Expected last role User or Tool (or Assistant with prefix True) for serving but got {last_role}",
                _MESSAGE_ORDER,
            )
        )
    elif pending and last_role == "tool":
        out.append(_refusal("messages", "Not the same number of function calls and responses", _MESSAGE_ORDER))


def _conversation_problems(body: dict[str, Any]) -> list[_Problem]:
    out: list[_Problem] = []
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("type", "function") == "function":
            _check_function_name(tool.get("function", {}).get("name"), f"tools.{index}.function.name", out)
    _check_messages(body["messages"], out)
    return out


def _problems(body: Any, raw: bytes) -> list[_Problem]:
    if not isinstance(body, dict):
        return [
            _schema_problem(
                (), "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", body
            )
        ]
    # FastAPI validates the whole body before the endpoint runs: schema problems come alone, as a 422.
    schema = _sdk_problems(body, raw) + _bound_problems(body)
    if not schema:
        schema = _spec_problems(body)  # it would repeat what the SDK's model already said
    return schema or _conversation_problems(body)


def request_violations(body: Any) -> list[str]:
    """What the real API would refuse in this `POST /v1/chat/completions` body; empty when it is acceptable.
    Schema problems (422) come alone; the conversation rules (400) are checked on a well-formed body."""
    return [problem.line() for problem in _problems(body, orjson.dumps(body))]


def _auth_problem(headers: Mapping[str, str], api_keys: frozenset[str] | None) -> str | None:
    value = next((item for key, item in headers.items() if key.lower() == "authorization"), "")
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return "headers: Authorization: Bearer <key> is required"
    if api_keys is not None and key.strip() not in api_keys:
        return "headers: Authorization: unknown API key"
    return None


# ---------------------------------------------------------------------------------------------
# Embeddings: `POST /v1/embeddings`.

# Embedding models and the size of their vectors when `output_dimension` is not sent.
EMBEDDING_MODELS: dict[str, int] = {
    "mistral-embed": 1024,
    "mistral-embed-2312": 1024,
    "codestral-embed": 1536,
    "codestral-embed-2505": 1536,
}
# Of those, the ones whose size is fixed (docs/decisions.md, "Embedding sizes"): `output_dimension` is refused.
FIXED_SIZE_MODELS: frozenset[str] = frozenset({"mistral-embed", "mistral-embed-2312"})
MAX_OUTPUT_DIMENSION = 3072  # codestral-embed's largest
# What the API refuses with 400 code 3210 "Too many inputs in request, split into more batches." (seen
# at 257 inputs) and "Too many tokens overall, split into more batches." (about 16k tokens a request).
MAX_EMBEDDING_INPUTS = 256
MAX_EMBEDDING_TOKENS = 16_384
_TOO_MANY = ("invalid_request_prompt", "3210")
_INVALID_MODEL = ("invalid_model", "1500")


def fake_tokens(text: str) -> int:
    """The fake's token count of `text` (about four characters a token, as Mistral's tokenizers go)."""
    return max(1, -(-len(text) // 4))


def fake_embedding(model: str, text: str, size: int, dtype: str = "float") -> list[float] | list[int]:
    """The fake's embedding of `text`: deterministic, and a shorter one is a prefix of a longer one.
    `dtype` as `output_dtype`: int8/uint8 quantise each value, (u)binary packs their signs 8 to a byte."""
    rng = random.Random(f"{model}|{text}")
    values = [round(rng.uniform(-1, 1), 6) for _ in range(size)]
    if dtype == "float":
        return values
    if dtype in ("int8", "uint8"):
        return [round(value * 127) + (128 if dtype == "uint8" else 0) for value in values]
    packed = [
        int("".join("1" if value > 0 else "0" for value in values[start : start + 8]).ljust(8, "0"), 2)
        for start in range(0, size, 8)
    ]
    return packed if dtype == "ubinary" else [byte - 256 if byte > 127 else byte for byte in packed]


def embeddings_response(
    vectors: Sequence[Sequence[float]], *, model: str = "mistral-embed", prompt_tokens: int = 9
) -> dict[str, Any]:
    """An `EmbeddingResponse`: `data[].embedding` with `index`, and the three-count `usage`."""
    return {
        "id": uuid.uuid4().hex,
        "object": "list",
        "data": [
            {"object": "embedding", "embedding": list(vector), "index": index} for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 0, "total_tokens": prompt_tokens},
    }


def _embedding_problems(body: Any, raw: bytes, models: Mapping[str, int]) -> list[_Problem]:
    if not isinstance(body, dict):
        return [
            _schema_problem(
                (), "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", body
            )
        ]
    schema = _sdk_problems(body, raw, EmbeddingRequest) or _spec_problems(body, "EmbeddingRequest")
    if schema:
        return schema
    model = body["model"]
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    if model not in models:
        return [_refusal("model", f"Invalid model: {model}", _INVALID_MODEL)]
    if len(texts) > MAX_EMBEDDING_INPUTS:
        return [_refusal("input", "Too many inputs in request, split into more batches.", _TOO_MANY)]
    if sum(fake_tokens(text) for text in texts) > MAX_EMBEDDING_TOKENS:
        return [_refusal("input", "Too many tokens overall, split into more batches.", _TOO_MANY)]
    # The 3210 and 1500 answers are the API's; the wording of the two below is the fake's own.
    dimension = body.get("output_dimension")
    if dimension is not None and model in FIXED_SIZE_MODELS:
        return [
            _refusal(
                "output_dimension",
                f"output_dimension is not supported for model {model}",
                ("invalid_request_error", None),
            )
        ]
    if dimension is not None and dimension > MAX_OUTPUT_DIMENSION:
        return [
            _refusal(
                "output_dimension",
                f"output_dimension must be at most {MAX_OUTPUT_DIMENSION}",
                ("invalid_request_error", None),
            )
        ]
    return []


def embedding_violations(body: Any, models: Mapping[str, int] = EMBEDDING_MODELS) -> list[str]:
    """What the real API would refuse in this `POST /v1/embeddings` body; empty when it is acceptable."""
    return [problem.line() for problem in _embedding_problems(body, orjson.dumps(body), models)]


# ---------------------------------------------------------------------------------------------
# The server.


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(payload),
        content_type="application/json",
        headers={"mistral-correlation-id": str(uuid.uuid4()), **(headers or {})},
    )


class FakeMistral(ScriptedStreams):
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        # What the gateway sent that the real API would refuse; tests should assert it stays empty.
        self.violations: list[str] = []
        self.models: list[dict[str, Any]] = self._default_models()
        self.models_status = 200
        # None: any non-empty bearer key is accepted. A set: other keys get the 401.
        self.api_keys: frozenset[str] | None = None
        self.embedding_models: dict[str, int] = dict(EMBEDDING_MODELS)
        self.stream_closed_at: float | None = None
        self.batch_jobs = BatchJobs(self)  # /v1/files, /v1/batch/jobs
        self._runner: web.AppRunner | None = None
        self.port = 0

    @staticmethod
    def _default_models() -> list[dict[str, Any]]:
        return [
            model_card("mistral-small-latest", vision=True, aliases=["mistral-small-2506"]),
            model_card("mistral-large-latest", vision=True, aliases=["mistral-large-2512"]),
            model_card("magistral-medium-latest", reasoning=True, default_model_temperature=0.7),
            model_card("codestral-latest", completion_fim=True, max_context_length=256_000),
        ]

    @property
    def spec_violations(self) -> list[str]:
        """Same name as on `FakeOpenAI`, so a fixture can check any fake alike."""
        return self.violations

    def reset(self) -> None:
        self.replies.clear()
        self.responder = None
        self.received.clear()
        self.violations.clear()
        self.stream_closed_at = None
        self.models_status = 200
        self.models = self._default_models()
        self.api_keys = None
        self.embedding_models = dict(EMBEDDING_MODELS)
        self.batch_jobs.reset()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._list_models)
        self.batch_jobs.mount(app)
        await self.serve(app)

    def _unauthorized(self, problem: str) -> web.Response:
        self.violations.append(problem)
        return _json(401, unauthorized_body())

    def _refuse(self, problems: list[_Problem]) -> web.Response:
        self.violations += [problem.line() for problem in problems]
        details = [problem.detail for problem in problems if problem.detail is not None]
        if details:
            return _json(422, _validation_body(details, envelope=True))
        first = problems[0]  # the API stops at the first broken rule
        return _json(400, error_body(first.message, type=first.error_type, code=first.code))

    async def _list_models(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.method, request.path, dict(request.headers), None))
        problem = _auth_problem(request.headers, self.api_keys)
        if problem is not None:
            return self._unauthorized(problem)
        if self.models_status != 200:
            return _json(
                self.models_status, error_body("Internal server error", type="internal_server_error", code="1000")
            )
        return _json(200, {"object": "list", "data": self.models})

    async def _received(
        self, request: web.Request, validate: Callable[[Any, bytes], list[_Problem]]
    ) -> tuple[Any, web.Response | None]:
        """Record, authenticate and validate a POST: its body, and the refusal when there is one."""
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            self.received.append(Received(request.method, request.path, dict(request.headers), None))
            if (problem := _auth_problem(request.headers, self.api_keys)) is not None:
                return None, self._unauthorized(problem)
            return None, self._refuse(
                [_schema_problem((0,), "json_invalid", "JSON decode error", {}, {"error": str(error)})]
            )
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        # The API gateway checks the key before anything looks at the body.
        if (problem := _auth_problem(request.headers, self.api_keys)) is not None:
            return body, self._unauthorized(problem)
        problems = validate(body, raw)
        # Scripted replies stay queued: the refused request is not the one they were meant for.
        return body, self._refuse(problems) if problems else None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._received(request, _problems)
        if refused is not None:
            return refused
        reply = self.next_reply(body, request.path) or self._default(body)
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is None:
            return self._plain(reply)
        return await self._stream(request, reply)

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        """Deterministic vectors (`fake_embedding`) of each input, or the reply scripted next."""
        body, refused = await self._received(
            request, lambda body, raw: _embedding_problems(body, raw, self.embedding_models)
        )
        if refused is not None:
            return refused
        if self.replies:
            reply = self.replies.popleft()
            if reply.first_byte_delay:
                await asyncio.sleep(reply.first_byte_delay)
            return self._plain(reply)
        model = body["model"]
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        size = body.get("output_dimension") or self.embedding_models[model]
        vectors = [fake_embedding(model, text, size, body.get("output_dtype", "float")) for text in texts]
        return self._plain(
            Reply(
                json=embeddings_response(vectors, model=model, prompt_tokens=sum(fake_tokens(text) for text in texts))
            )
        )

    @staticmethod
    def _plain(reply: Reply) -> web.Response:
        headers = {"mistral-correlation-id": str(uuid.uuid4()), **reply.headers}
        if reply.body is not None:
            return web.Response(status=reply.status, body=reply.body, headers=headers)
        return web.Response(
            status=reply.status, body=orjson.dumps(reply.json), headers=headers, content_type="application/json"
        )

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        return await self.write_stream(
            request,
            reply,
            frame=sse_frame,
            done_frame=b"data: [DONE]\n\n",
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "mistral-correlation-id": str(uuid.uuid4()),
            },
        )

    def _default(self, body: dict[str, Any]) -> Reply:
        model = body.get("model", DEFAULT_MODEL)
        if body.get("stream"):
            events: list[dict[str, Any] | bytes] = [*text_stream(["Hel", "lo", "!"], model=model)]
            return Reply(stream=events)
        return Reply(json=completion("Hello!", model=model))
