"""A fake Gemini API (Generative Language API) upstream on 127.0.0.1, scriptable per test like `FakeOpenAI`.

It answers in Gemini's REST wire format: camelCase `GenerateContentResponse` JSON, `alt=sse` streams of
partial responses framed `data: <json>\\r\\n\\r\\n` with no `[DONE]`, `BatchEmbedContentsResponse` JSON
(deterministic vectors, `fake_vector`), `ListModelsResponse` pages and Google's error body
`{"error": {"code", "message", "status", "details"?}}`. `tests/fakes/test_gemini_upstream.py`
checks all of it with the official `google-genai` SDK. It records what it received and can be told to
fail the same ways as the other fakes (error status, slow first byte, stalled or dropped stream, raw bytes).

Unlike a plain mock it also refuses what the real API refuses. Every `generateContent` /
`streamGenerateContent` body is checked against the SDK's own request types (`google.genai.types`, which
forbid unknown keys), restricted to what the Gemini API - not Vertex AI - takes (`google/genai/models.py`,
the `_*_to_mldev` converters), and against the semantic rules the API enforces (roles, one data field per
part, function call/response pairing, thought signatures on Gemini 3, the proto `Schema` subset,
model-dependent generation settings, ...). `batchEmbedContents` bodies likewise (`embed_violations`: at
most 100 requests, each naming the URL's model, text parts, known task types, outputDimensionality within
the model's size; an embedding call to a model that does not embed is a 404). A refusal is answered like
the real API (HTTP 400 `INVALID_ARGUMENT`, or 403/401 for missing credentials) and recorded in `violations`.

Like the real API, field names are accepted in lowerCamelCase or in the proto's snake_case: protobuf
JSON parsing takes both, and the SDK itself sends snake_case below the converters' reach
(`"inlineData": {"mime_type": ...}`, `"thinkingConfig": {"thinking_level": ...}`).
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
import types as pytypes
from collections import deque
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from aiohttp import web
from google.genai import _common
from google.genai import types as gt
from google.genai._transformers import t_is_multimodal_embedding_model
from pydantic import BaseModel, ValidationError

from tests.fakes import gemini_audio, images
from tests.fakes.gemini_batches import BatchMode
from tests.fakes.scripted import Received, Reply, ScriptedStreams

__all__ = [
    "COMBINES_BUILTIN_TOOLS",
    "DEFAULT_MODEL",
    "EMBEDDING_MODELS",
    "MAX_EMBED_BATCH",
    "REJECTS_CANDIDATE_COUNT",
    "REJECTS_PENALTIES",
    "REJECTS_THINKING_BUDGET_ZERO",
    "REQUIRES_THOUGHT_SIGNATURES",
    "SUPPORTS_THINKING_LEVEL",
    "TASK_TYPES",
    "FakeGemini",
    "Received",
    "Reply",
    "blocked_prompt",
    "candidate",
    "chunk",
    "embed_violations",
    "embedding_size",
    "embeddings_response",
    "error_body",
    "error_chunk",
    "fake_vector",
    "function_call_chunks",
    "function_call_part",
    "grounded",
    "grounding_metadata",
    "inline_image_part",
    "model_info",
    "query_violations",
    "raw_error",
    "request_violations",
    "response",
    "search_tool_parts",
    "sse_frame",
    "text_chunks",
    "text_part",
    "usage",
]

DEFAULT_MODEL = "gemini-2.5-flash"
RESPONSE_ID = "FakeRespIdAbC123xyz"

# Model-id globs (fnmatch, case-sensitive), matched against the `{model}` of the URL.
# Gemini 3 refuses a history whose function calls lost their thought signatures.
REQUIRES_THOUGHT_SIGNATURES: tuple[str, ...] = ("gemini-3*",)
# Non-zero presencePenalty / frequencyPenalty are refused ("Penalty is not enabled for models/...").
REJECTS_PENALTIES: tuple[str, ...] = ("gemini-2.5*", "gemini-3*")
# candidateCount > 1 is refused (docs/decisions.md, "Model profiles").
REJECTS_CANDIDATE_COUNT: tuple[str, ...] = ("gemini-3*",)
# thinkingConfig.thinkingLevel exists for these only; older models take thinkingBudget.
SUPPORTS_THINKING_LEVEL: tuple[str, ...] = ("gemini-3*",)
# Models that only work in thinking mode: thinkingBudget 0 is refused.
REJECTS_THINKING_BUDGET_ZERO: tuple[str, ...] = ("gemini-2.5-pro*",)
# Models that take a built-in tool (googleSearch…) beside function declarations, with
# toolConfig.includeServerSideToolInvocations; older ones refuse that setting outright.
COMBINES_BUILTIN_TOOLS: tuple[str, ...] = ("gemini-3*",)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Query parameters every Google REST method binds (system parameters); anything else is refused.
_SYSTEM_QUERY = frozenset(
    {
        "alt",
        "$alt",
        "key",
        "fields",
        "prettyPrint",
        "quotaUser",
        "callback",
        "$.xgafv",
        "access_token",
        "upload_protocol",
        "uploadType",
        "$callback",
    }
)
_FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}")  # types.FunctionDeclaration.name's docstring


# ---------------------------------------------------------------------------------------------
# Builders: exact wire dicts for scripting replies. The API omits zero numbers and unset fields
# (proto3 JSON), so the builders do too: a consumer must not expect `candidatesTokenCount: 0`.


def text_part(text: str, thought: bool = False, *, thought_signature: str | None = None) -> dict[str, Any]:
    """A text part; `thought=True` marks a thought summary (sent only with `includeThoughts`)."""
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    if thought_signature is not None:
        part["thoughtSignature"] = thought_signature
    return part


def function_call_part(
    name: str, args: dict[str, Any], *, id: str | None = None, thought_signature: str | None = None
) -> dict[str, Any]:
    """A whole function call (Gemini never fragments `args`). The signature sits on the part, beside
    `functionCall`, not inside it; Gemini 3 puts one on the first call of each step."""
    call: dict[str, Any] = {"name": name, "args": args}
    if id is not None:
        call["id"] = id
    part: dict[str, Any] = {"functionCall": call}
    if thought_signature is not None:
        part["thoughtSignature"] = thought_signature
    return part


def inline_image_part(mime: str, b64: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": b64}}


def grounding_metadata(
    queries: list[str], sources: list[tuple[str, str]], *, cited: tuple[str, int] | None = None
) -> dict[str, Any]:
    """What a Google-Search-grounded candidate carries beside its content: the queries run, the pages
    (`(uri, title)`), the search widget and, with `cited` (`(text, start)`), a support tying that text of
    the answer to the first page."""
    metadata: dict[str, Any] = {
        "searchEntryPoint": {"renderedContent": '<style>.container{}</style><div class="container"></div>'},
        "groundingChunks": [{"web": {"uri": uri, "title": title}} for uri, title in sources],
        "webSearchQueries": queries,
    }
    if cited is not None:
        text, start = cited
        metadata["groundingSupports"] = [
            {
                "segment": {"startIndex": start, "endIndex": start + len(text.encode()), "text": text},
                "groundingChunkIndices": [0],
            }
        ]
    return metadata


def grounded(payload: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """`payload` (a response or a stream chunk) with `metadata` on its first candidate, where Gemini puts
    it (in a stream: on the last chunks, with the finish reason)."""
    payload["candidates"][0]["groundingMetadata"] = metadata
    return payload


def search_tool_parts(
    call_id: str, queries: list[str], *, thought_signature: str | None = None
) -> list[dict[str, Any]]:
    """The server-side search a Gemini 3 answer shows with toolConfig.includeServerSideToolInvocations:
    a `toolCall` part and its `toolResponse`, which the client is not to run."""
    call: dict[str, Any] = {"toolCall": {"id": call_id, "toolType": "GOOGLE_SEARCH_WEB", "args": {"queries": queries}}}
    if thought_signature is not None:
        call["thoughtSignature"] = thought_signature
    return [
        call,
        {
            "toolResponse": {
                "id": call_id,
                "toolType": "GOOGLE_SEARCH_WEB",
                "response": {"search_suggestions": "<div></div>"},
            }
        },
    ]


def usage(
    prompt: int = 9, candidates: int = 3, *, thoughts: int = 0, cached: int = 0, tool_use_prompt: int = 0
) -> dict[str, Any]:
    """`usageMetadata`. `promptTokenCount` includes the cached tokens; thoughts are outside
    `candidatesTokenCount` but inside `totalTokenCount`. Zero counts are left out, as on the wire."""
    meta: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates:
        meta["candidatesTokenCount"] = candidates
    meta["totalTokenCount"] = prompt + candidates + thoughts + tool_use_prompt
    meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if cached:
        meta["cachedContentTokenCount"] = cached
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if tool_use_prompt:
        meta["toolUsePromptTokenCount"] = tool_use_prompt
    return meta


_usage = usage  # the response builders take a keyword argument of the same name


def _partial_usage(final: dict[str, Any]) -> dict[str, Any]:
    """What mid-stream chunks carry: the prompt count only (no candidates yet)."""
    prompt = final.get("promptTokenCount", 0)
    return {
        "promptTokenCount": prompt,
        "totalTokenCount": prompt,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }


def candidate(
    parts: list[dict[str, Any]] | None,
    *,
    finish_reason: str | None = "STOP",
    index: int = 0,
    finish_message: str | None = None,
) -> dict[str, Any]:
    """One candidate. `parts=None` leaves `content` out (a safety stop); `parts=[]` sends a content with a
    role and no parts, which Gemini 2.5 does when thinking used up `maxOutputTokens`."""
    item: dict[str, Any] = {}
    if parts is not None:
        item["content"] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    if finish_reason is not None:
        item["finishReason"] = finish_reason
    if finish_message is not None:
        item["finishMessage"] = finish_message
    item["index"] = index
    return item


def response(
    parts_or_text: str | list[dict[str, Any]] | None = "Hello!",
    *,
    finish_reason: str = "STOP",
    usage: dict[str, Any] | None = None,
    model_version: str = DEFAULT_MODEL,
    response_id: str = RESPONSE_ID,
) -> dict[str, Any]:
    """A non-streaming `GenerateContentResponse`. Gemini reports STOP for function-call turns too."""
    parts = [text_part(parts_or_text)] if isinstance(parts_or_text, str) else parts_or_text
    return {
        "candidates": [candidate(parts, finish_reason=finish_reason)],
        "usageMetadata": usage if usage is not None else _usage(),
        "modelVersion": model_version,
        "responseId": response_id,
    }


def blocked_prompt(
    reason: str = "SAFETY",
    *,
    prompt_tokens: int = 9,
    model_version: str = DEFAULT_MODEL,
    response_id: str = RESPONSE_ID,
) -> dict[str, Any]:
    """A prompt refused outright: HTTP 200, `promptFeedback.blockReason`, no `candidates` at all."""
    return {
        "promptFeedback": {"blockReason": reason},
        "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        "modelVersion": model_version,
        "responseId": response_id,
    }


def chunk(
    parts: list[dict[str, Any]],
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model_version: str = DEFAULT_MODEL,
    response_id: str = RESPONSE_ID,
) -> dict[str, Any]:
    """One streamed partial `GenerateContentResponse`: text parts are deltas, each function call whole."""
    payload: dict[str, Any] = {"candidates": [candidate(parts, finish_reason=finish_reason)]}
    if usage is not None:
        payload["usageMetadata"] = usage
    payload["modelVersion"] = model_version
    payload["responseId"] = response_id
    return payload


def text_chunks(
    pieces: list[str],
    *,
    finish_reason: str = "STOP",
    usage: dict[str, Any] | None = None,
    model_version: str = DEFAULT_MODEL,
    thought: str | None = None,
    thought_signature: str | None = None,
) -> list[dict[str, Any]]:
    """A streamed text answer: [a thought-summary chunk], one chunk per piece. Every chunk carries
    `usageMetadata` (the prompt count until the last, which has the full usage and `finishReason`);
    `thought_signature` goes on the last text part, where Gemini 3 puts it."""
    final = usage if usage is not None else _usage(9, max(len(pieces), 1))
    events: list[dict[str, Any]] = []
    if thought is not None:
        events.append(chunk([text_part(thought, True)], usage=_partial_usage(final), model_version=model_version))
    pieces = pieces or [""]
    for position, piece in enumerate(pieces):
        last = position == len(pieces) - 1
        part = text_part(piece, thought_signature=thought_signature if last else None)
        events.append(
            chunk(
                [part],
                finish_reason=finish_reason if last else None,
                usage=final if last else _partial_usage(final),
                model_version=model_version,
            )
        )
    return events


def function_call_chunks(
    calls: list[tuple[str, dict[str, Any], str | None, str | None]],
    *,
    leading_text: str | None = None,
    thought: str | None = None,
    finish_reason: str = "STOP",
    usage: dict[str, Any] | None = None,
    model_version: str = DEFAULT_MODEL,
    same_chunk: bool = False,
) -> list[dict[str, Any]]:
    """A streamed function-calling answer from `(name, args, id or None, signature or None)` tuples:
    [thought summary] [leading text] then each call whole, in a chunk of its own (parallel calls arrive
    that way, with no index) unless `same_chunk`. The last chunk has `finishReason` (STOP, as Gemini
    reports it for tool turns) and the full usage."""
    final = usage if usage is not None else _usage(9, 20)
    events: list[dict[str, Any]] = []
    if thought is not None:
        events.append(chunk([text_part(thought, True)], usage=_partial_usage(final), model_version=model_version))
    if leading_text is not None:
        events.append(chunk([text_part(leading_text)], usage=_partial_usage(final), model_version=model_version))
    parts = [
        function_call_part(name, args, id=call_id, thought_signature=signature)
        for name, args, call_id, signature in calls
    ]
    groups = [parts] if same_chunk or not parts else [[part] for part in parts]
    for position, group in enumerate(groups):
        last = position == len(groups) - 1
        events.append(
            chunk(
                group or [text_part("")],
                finish_reason=finish_reason if last else None,
                usage=final if last else _partial_usage(final),
                model_version=model_version,
            )
        )
    return events


def error_body(
    code: int, status: str, message: str, *, reason: str | None = None, retry_delay: str | None = None
) -> dict[str, Any]:
    """Google's error body (`google.rpc.Status` as JSON). `reason` adds an `ErrorInfo` detail (e.g.
    `API_KEY_INVALID`, which comes with HTTP 400); `retry_delay` ("30s") a `RetryInfo` detail."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    if details:
        error["details"] = details
    return {"error": error}


def error_chunk(
    code: int = 500,
    status: str = "INTERNAL",
    message: str = "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
) -> dict[str, Any]:
    """An error sent inside a 200 stream as a `data:` event. The SDK raises on it only because the JSON
    starts with `{"error":` (`_api_client.py`, `request_streamed`)."""
    return error_body(code, status, message)


def raw_error(code: int = 500, status: str = "INTERNAL", message: str = "Internal error") -> bytes:
    """The other mid-stream error form: pretty-printed JSON lines without `data:` (the SDK reassembles
    them by balancing braces, `_api_client.py` `_RawJsonLineBuffer`)."""
    return orjson.dumps(error_body(code, status, message), option=orjson.OPT_INDENT_2) + b"\n"


def sse_frame(event: dict[str, Any]) -> bytes:
    """Google's framing for `alt=sse`: data-only events ended by CRLF CRLF (the SDK splits lines at CR, LF
    and CRLF, `_api_client.py` `_SseLineDecoder`; a client splitting only on "\\n\\n" breaks on it)."""
    return b"data: " + orjson.dumps(event) + b"\r\n\r\n"


def model_info(
    model_id: str,
    display_name: str,
    *,
    input_token_limit: int = 1_048_576,
    output_token_limit: int = 65_536,
    methods: Iterable[str] = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent"),
    thinking: bool | None = True,
    version: str = "001",
) -> dict[str, Any]:
    """One entry of `ListModelsResponse.models`; `name` carries the `models/` prefix."""
    info: dict[str, Any] = {
        "name": f"models/{model_id}",
        "version": version,
        "displayName": display_name,
        "description": f"{display_name} (fake)",
        "inputTokenLimit": input_token_limit,
        "outputTokenLimit": output_token_limit,
        "supportedGenerationMethods": list(methods),
    }
    if "generateContent" in info["supportedGenerationMethods"]:
        info.update({"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2})
    if thinking is not None:
        info["thinking"] = thinking
    return info


# ---------------------------------------------------------------------------------------------
# Request validation, part 1: shape. The request is modelled with the SDK's own types; only the two
# objects the SDK never sends as such (the request and its `generationConfig`) are declared here,
# with the keys `_GenerateContentConfig_to_mldev` puts there.


class _GenerationConfig(_common.BaseModel):
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    candidate_count: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: list[str] | None = None
    response_logprobs: bool | None = None
    logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    response_mime_type: str | None = None
    response_schema: gt.Schema | None = None
    response_json_schema: Any | None = None
    response_modalities: list[gt.Modality] | None = None
    media_resolution: gt.MediaResolution | None = None
    speech_config: gt.SpeechConfig | None = None
    thinking_config: gt.ThinkingConfig | None = None
    image_config: gt.ImageConfig | None = None
    enable_enhanced_civic_answers: bool | None = None
    audio_transcription_config: gt.AudioTranscriptionConfig | None = None


class _Request(_common.BaseModel):
    contents: list[gt.Content] | None = None
    system_instruction: gt.Content | None = None
    tools: list[gt.Tool] | None = None
    tool_config: gt.ToolConfig | None = None
    safety_settings: list[gt.SafetySetting] | None = None
    generation_config: _GenerationConfig | None = None
    cached_content: str | None = None
    labels: dict[str, str] | None = None
    service_tier: gt.ServiceTier | None = None
    continuation_token: bytes | None = None
    store: bool | None = None


def _vertex_only(model: type[BaseModel], *fields: str) -> dict[tuple[type[BaseModel], str], str]:
    where = f"_{model.__name__}_to_mldev"
    return {
        (model, field): f"only supported on Vertex AI, not in the Gemini API (google/genai/models.py {where})"
        for field in fields
    }


# Fields the SDK types have but the Gemini API refuses: the `_*_to_mldev` converters raise on them.
_NOT_IN_GEMINI_API: dict[tuple[type[BaseModel], str], str] = {
    **_vertex_only(gt.FunctionCall, "partial_args", "will_continue"),
    **_vertex_only(gt.FunctionCallingConfig, "stream_function_call_arguments"),
    **_vertex_only(gt.SafetySetting, "method"),
    **_vertex_only(gt.Tool, "retrieval", "enterprise_web_search", "parallel_ai_search", "exa_ai_search"),
    **_vertex_only(gt.GoogleSearch, "blocking_confidence", "exclude_domains"),
    **_vertex_only(gt.GoogleMaps, "grounding_types"),
    **_vertex_only(
        gt.ImageConfig,
        "person_generation",
        "prominent_people",
        "output_mime_type",
        "output_compression_quality",
        "image_output_options",
    ),
    # `_transformers.py` `_raise_for_unsupported_mldev_properties`: the Gemini API's proto Schema has no
    # additionalProperties; full JSON Schema belongs in responseJsonSchema / parametersJsonSchema.
    (gt.Schema, "additional_properties"): "additionalProperties is not supported in the Gemini API's proto Schema; "
    "send JSON Schema in responseJsonSchema / parametersJsonSchema instead",
}


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@cache
def _wire_fields(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """Wire key -> (field name, annotation); both the camelCase alias and the snake_case name."""
    table: dict[str, tuple[str, Any]] = {}
    for name, info in model.model_fields.items():
        table[name] = (name, info.annotation)
        if info.alias:
            table[info.alias] = (name, info.annotation)
    return table


def _enum_accepts(kind: type[enum.Enum], value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value in {member.value for member in kind}:
        return True
    # The SDK's CaseInSensitiveEnum takes member names in either case (and warns on anything else).
    return issubclass(kind, _common.CaseInSensitiveEnum) and (
        value.upper() in kind.__members__ or value.lower() in kind.__members__
    )


def _walk(annotation: Any, value: Any, path: str, out: list[str]) -> None:
    """Check keys and enum values where pydantic would not: unknown keys in camel or snake case, the
    same field sent under both names, Vertex-only fields, and enum values (the SDK's enums only warn on
    an unknown value, which would turn into a 500 here under `-W error`). Scalars are pydantic's job."""
    if value is None:
        return  # JSON null means "unset" in proto JSON
    origin = get_origin(annotation)
    if origin is Annotated:
        _walk(get_args(annotation)[0], value, path, out)
    elif origin is Union or origin is pytypes.UnionType:
        members = [member for member in get_args(annotation) if member is not type(None)]
        models = [member for member in members if _is_model(member)]
        if len(members) == 1:
            _walk(members[0], value, path, out)
        elif isinstance(value, dict) and len(models) == 1:
            _walk(models[0], value, path, out)
    elif origin is list:
        if isinstance(value, list):
            item_type = (get_args(annotation) or (Any,))[0]
            for index, item in enumerate(value):
                _walk(item_type, item, f"{path}[{index}]", out)
        else:
            out.append(f"{path}: Proto field is repeated, expected a JSON array (got {type(value).__name__})")
    elif origin is dict:
        if isinstance(value, dict):
            item_type = (get_args(annotation) or (Any, Any))[1]
            for key, item in value.items():
                _walk(item_type, item, f"{path}.{key}", out)
    elif _is_model(annotation):
        if isinstance(value, dict):
            _walk_model(annotation, value, path, out)
        else:
            out.append(f"{path}: expected a JSON object for {annotation.__name__} (got {type(value).__name__})")
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, list):
            out.append(f"{path}: Proto field is not repeating, cannot start list.")
        elif not _enum_accepts(annotation, value):
            out.append(
                f"{path}: Invalid value {value!r} (TYPE_ENUM {annotation.__name__}); "
                f"expected one of {[member.value for member in annotation]}"
            )


def _walk_model(model: type[BaseModel], value: dict[str, Any], path: str, out: list[str]) -> None:
    fields = _wire_fields(model)
    seen: dict[str, str] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        entry = fields.get(key)
        if entry is None:
            at = f" at '{path}'" if path else ""
            out.append(f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.')
            continue
        name, annotation = entry
        if name in seen:
            out.append(f"{where}: field set twice (also as {seen[name]!r})")
            continue
        seen[name] = key
        unsupported = _NOT_IN_GEMINI_API.get((model, name))
        if unsupported is not None:
            out.append(f"{where}: {unsupported}")
            continue
        _walk(annotation, item, where, out)


def _format_errors(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(".")
        lines.append(f"{where or '<body>'}: {item['msg']}")
    return list(dict.fromkeys(lines))[:8]


# ---------------------------------------------------------------------------------------------
# Request validation, part 2: what the API checks beyond the shape.


def _matches(model: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in patterns)


_DATA_FIELDS = (
    "text",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
    "tool_call",
    "tool_response",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _check_part(part: gt.Part, role: str | None, where: str, out: list[str]) -> None:
    data = [field for field in _DATA_FIELDS if getattr(part, field) is not None]
    if not data:
        out.append(f"{where}.data: required oneof field 'data' must have one initialized field")
    elif len(data) > 1:
        out.append(
            f"{where}: Invalid JSON payload received. Oneof field 'data' is already set. "
            f"Cannot set '{_camel(data[1])}' (the part has {[_camel(field) for field in data]})"
        )
    if part.inline_data is not None:
        if not part.inline_data.mime_type:
            out.append(f"{where}.inlineData.mimeType: required field is not set")
        if not part.inline_data.data:
            out.append(f"{where}.inlineData.data: required field is not set")
    if part.file_data is not None and not part.file_data.file_uri:
        out.append(f"{where}.fileData.fileUri: required field is not set")
    if part.function_call is not None:
        if not part.function_call.name:
            out.append(f"{where}.functionCall.name: Name cannot be empty.")
        if role != "model":
            out.append(f"{where}: functionCall parts may only appear in `model` turns")
    if part.function_response is not None:
        if not part.function_response.name:
            out.append(f"{where}.functionResponse.name: Name cannot be empty.")
        if part.function_response.response is None:
            out.append(f"{where}.functionResponse.response: required field is not set (a JSON object)")
        if role == "model":
            out.append(f"{where}: functionResponse parts belong in `user` turns")


def _parts(content: gt.Content) -> list[gt.Part]:
    return content.parts or []


def _calls(content: gt.Content) -> list[gt.FunctionCall]:
    return [part.function_call for part in _parts(content) if part.function_call is not None]


def _responses(content: gt.Content) -> list[gt.FunctionResponse]:
    return [part.function_response for part in _parts(content) if part.function_response is not None]


def _check_pairing(contents: list[gt.Content], out: list[str]) -> None:
    """Each function-call turn is answered by the very next content, with as many function responses,
    for the same functions (and, where both sides carry ids, the same ids)."""
    for index, content in enumerate(contents):
        calls = _calls(content)
        if calls and content.role == "model":
            following = contents[index + 1] if index + 1 < len(contents) else None
            responses = _responses(following) if following is not None and following.role != "model" else []
            if not responses:
                out.append(
                    f"contents[{index}]: Please ensure that function response turn comes immediately after a "
                    "function call turn (the function calls here are not answered by the next content)."
                )
            elif len(responses) != len(calls):
                out.append(
                    f"contents[{index + 1}]: Please ensure that the number of function response parts is "
                    f"equal to the number of function call parts of the function call turn "
                    f"({len(responses)} responses for {len(calls)} calls)."
                )
            elif sorted(str(call.name) for call in calls) != sorted(str(item.name) for item in responses):
                out.append(
                    f"contents[{index + 1}]: function response names "
                    f"{sorted(str(item.name) for item in responses)} do not match the function calls "
                    f"{sorted(str(call.name) for call in calls)} of contents[{index}]"
                )
            else:
                call_ids = {call.id for call in calls if call.id}
                response_ids = {item.id for item in responses if item.id}
                if call_ids and response_ids and not response_ids <= call_ids:
                    out.append(
                        f"contents[{index + 1}]: functionResponse ids {sorted(response_ids - call_ids)} "
                        f"match no functionCall id of contents[{index}] ({sorted(call_ids)})"
                    )
        if _responses(content) and content.role != "model":
            previous = contents[index - 1] if index > 0 else None
            if previous is None or previous.role != "model" or not _calls(previous):
                out.append(
                    f"contents[{index}]: Please ensure that function response turn comes immediately after "
                    "a function call turn (no function calls in the previous content)."
                )


def _check_signatures(contents: list[gt.Content], all_signatures: bool, out: list[str]) -> None:
    """Gemini 3 validates thought signatures in the current turn - the contents after the last user
    content that is not only function responses - on the first function call of each model step
    (parallel calls carry one signature, on the first). `all_signatures` asks for one on every call of
    every model turn instead."""
    start = 0
    if not all_signatures:
        for index, content in enumerate(contents):
            if content.role != "model" and any(part.function_response is None for part in _parts(content)):
                start = index + 1
    for index in range(start, len(contents)):
        content = contents[index]
        if content.role != "model":
            continue
        calls = [(position, part) for position, part in enumerate(_parts(content)) if part.function_call is not None]
        for position, part in calls if all_signatures else calls[:1]:
            if not part.thought_signature:
                name = part.function_call.name if part.function_call else None
                out.append(
                    f"contents[{index}].parts[{position}]: Function call `{name}` in the {index + 1}. content "
                    "block is missing a `thought_signature`."
                )


def _check_contents(request: _Request, model: str, patterns: _Patterns, out: list[str]) -> None:
    contents = request.contents or []
    if not contents:
        out.append("contents: contents is not specified")
        return
    for index, content in enumerate(contents):
        where = f"contents[{index}]"
        if content.role not in (None, "user", "model"):
            out.append(f"{where}.role: Please use a valid role: user, model. (got {content.role!r})")
        if not content.parts:
            out.append(f"{where}.parts: contents.parts must not be empty.")
        for position, part in enumerate(_parts(content)):
            _check_part(part, content.role, f"{where}.parts[{position}]", out)
    _check_pairing(contents, out)
    if _matches(model, patterns.requires_thought_signatures):
        _check_signatures(contents, patterns.all_signatures, out)


def _check_proto_schema(schema: gt.Schema, where: str, out: list[str]) -> None:
    """The proto `Schema` subset (responseSchema, parameters): unknown JSON Schema keywords were already
    refused by the shape check; these are the rules on its values."""
    if schema.type == gt.Type.OBJECT and not schema.properties:
        out.append(f"{where}.properties: should be non-empty for OBJECT type")
    for name in schema.required or []:
        if name not in (schema.properties or {}):
            out.append(f"{where}.required: property {name!r} is not defined")
    for key, child in (schema.properties or {}).items():
        _check_proto_schema(child, f"{where}.properties.{key}", out)
    if schema.items is not None:
        _check_proto_schema(schema.items, f"{where}.items", out)
    for index, child in enumerate(schema.any_of or []):
        _check_proto_schema(child, f"{where}.anyOf[{index}]", out)
    for key, child in (schema.defs or {}).items():
        _check_proto_schema(child, f"{where}.defs.{key}", out)


def _check_tools(request: _Request, out: list[str]) -> None:
    names: list[str] = []
    for index, tool in enumerate(request.tools or []):
        for position, declaration in enumerate(tool.function_declarations or []):
            where = f"tools[{index}].functionDeclarations[{position}]"
            name = declaration.name or ""
            names.append(name)
            if not _FUNCTION_NAME.fullmatch(name):
                out.append(
                    f"{where}.name: Invalid function name {name!r}. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) "
                    "or dashes (-), with a maximum length of 128."
                )
            if declaration.parameters is not None and declaration.parameters_json_schema is not None:
                out.append(f"{where}: parameters and parametersJsonSchema are mutually exclusive")
            if declaration.response is not None and declaration.response_json_schema is not None:
                out.append(f"{where}: response and responseJsonSchema are mutually exclusive")
            if declaration.parameters is not None:
                _check_proto_schema(declaration.parameters, f"{where}.parameters", out)
            if declaration.response is not None:
                _check_proto_schema(declaration.response, f"{where}.response", out)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        out.append(f"tools: Duplicate function declaration found: {', '.join(duplicates)}")
    config = request.tool_config.function_calling_config if request.tool_config else None
    if config is not None and config.allowed_function_names:
        if config.mode not in (gt.FunctionCallingConfigMode.ANY, gt.FunctionCallingConfigMode.VALIDATED):
            out.append(
                "toolConfig.functionCallingConfig.allowedFunctionNames: may only be set when the mode is ANY "
                f"(mode is {config.mode.value if config.mode else 'unset'})"
            )
        unknown = [name for name in config.allowed_function_names if name not in names]
        if unknown:
            out.append(
                f"toolConfig.functionCallingConfig.allowedFunctionNames: {unknown} match no function declaration"
            )


_BUILTIN_TOOLS = (
    "google_search",
    "google_search_retrieval",
    "code_execution",
    "url_context",
    "google_maps",
    "file_search",
    "computer_use",
)


def _check_builtin_tools(request: _Request, model: str, combines: Iterable[str], out: list[str]) -> None:
    """Built-in tools beside function declarations (ai.google.dev/gemini-api/docs/tool-combination): only
    with includeServerSideToolInvocations, which models before Gemini 3 refuse outright; and no
    function-calling mode without a function to call."""
    tools = request.tools or []
    functions = any(tool.function_declarations for tool in tools)
    builtin = any(getattr(tool, name) is not None for tool in tools for name in _BUILTIN_TOOLS)
    config = request.tool_config
    circulation = bool(config is not None and config.include_server_side_tool_invocations)
    if circulation and not _matches(model, combines):
        out.append(
            f"toolConfig.includeServerSideToolInvocations: Tool call context circulation is not enabled for "
            f"models/{model}"
        )
    elif functions and builtin and not circulation:
        out.append(
            "tools: Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with "
            "Function calling."
        )
    if tools and not functions and config is not None and config.function_calling_config is not None:
        out.append("toolConfig.functionCallingConfig: Function calling config is set without function_declarations.")


def _check_generation(config: _GenerationConfig, model: str, patterns: _Patterns, out: list[str]) -> None:
    where = "generationConfig"
    for field, value in (("presencePenalty", config.presence_penalty), ("frequencyPenalty", config.frequency_penalty)):
        if value and _matches(model, patterns.rejects_penalties):
            out.append(f"{where}.{field}: Penalty is not enabled for models/{model}")
    if config.candidate_count is not None:
        if config.candidate_count < 1 or config.candidate_count > 8:
            out.append(f"{where}.candidateCount: must be between 1 and 8 (got {config.candidate_count})")
        elif config.candidate_count > 1 and _matches(model, patterns.rejects_candidate_count):
            out.append(f"{where}.candidateCount: Multiple candidates is not enabled for models/{model}")
    if config.temperature is not None and not 0 <= config.temperature <= 2:
        out.append(f"{where}.temperature: must be in the range [0.0, 2.0] (got {config.temperature})")
    if config.top_p is not None and not 0 <= config.top_p <= 1:
        out.append(f"{where}.topP: must be in the range [0.0, 1.0] (got {config.top_p})")
    if config.max_output_tokens is not None and config.max_output_tokens < 1:
        out.append(f"{where}.maxOutputTokens: must be positive (got {config.max_output_tokens})")
    if config.stop_sequences is not None and len(config.stop_sequences) > 5:
        out.append(f"{where}.stopSequences: at most 5 stop sequences are allowed (got {len(config.stop_sequences)})")
    if config.logprobs is not None and not config.response_logprobs:
        out.append(f"{where}.logprobs: may only be set when responseLogprobs is true")
    if config.response_schema is not None and config.response_json_schema is not None:
        out.append(f"{where}: responseSchema and responseJsonSchema are mutually exclusive; set only one")
    if config.response_schema is not None:
        if config.response_mime_type not in ("application/json", "text/x.enum"):
            out.append(
                f"{where}.responseMimeType: must be application/json or text/x.enum when responseSchema is set "
                f"(got {config.response_mime_type!r})"
            )
        _check_proto_schema(config.response_schema, f"{where}.responseSchema", out)
    if config.response_json_schema is not None and config.response_mime_type != "application/json":
        out.append(
            f"{where}.responseMimeType: must be application/json when responseJsonSchema is set "
            f"(got {config.response_mime_type!r})"
        )
    thinking = config.thinking_config
    if thinking is not None:
        if thinking.thinking_budget is not None and thinking.thinking_level is not None:
            out.append(f"{where}.thinkingConfig: You can only set only one of thinking budget and thinking level.")
        if thinking.thinking_level is not None and not _matches(model, patterns.supports_thinking_level):
            out.append(
                f"{where}.thinkingConfig.thinkingLevel: Thinking level is not supported for models/{model}; "
                "use thinkingBudget"
            )
        if thinking.thinking_budget == 0 and _matches(model, patterns.rejects_thinking_budget_zero):
            out.append(
                f"{where}.thinkingConfig.thinkingBudget: Budget 0 is invalid. This model only works in thinking mode."
            )


class _Patterns:
    """The model-dependent rule sets, so a `FakeGemini` can override them per instance."""

    def __init__(
        self,
        *,
        requires_thought_signatures: Iterable[str] = REQUIRES_THOUGHT_SIGNATURES,
        rejects_penalties: Iterable[str] = REJECTS_PENALTIES,
        rejects_candidate_count: Iterable[str] = REJECTS_CANDIDATE_COUNT,
        supports_thinking_level: Iterable[str] = SUPPORTS_THINKING_LEVEL,
        rejects_thinking_budget_zero: Iterable[str] = REJECTS_THINKING_BUDGET_ZERO,
        all_signatures: bool = False,
    ) -> None:
        self.requires_thought_signatures = tuple(requires_thought_signatures)
        self.rejects_penalties = tuple(rejects_penalties)
        self.rejects_candidate_count = tuple(rejects_candidate_count)
        self.supports_thinking_level = tuple(supports_thinking_level)
        self.rejects_thinking_budget_zero = tuple(rejects_thinking_budget_zero)
        self.all_signatures = all_signatures


def request_violations(
    body: Any,
    model: str = DEFAULT_MODEL,
    *,
    requires_thought_signatures: Iterable[str] = REQUIRES_THOUGHT_SIGNATURES,
    rejects_penalties: Iterable[str] = REJECTS_PENALTIES,
    rejects_candidate_count: Iterable[str] = REJECTS_CANDIDATE_COUNT,
    supports_thinking_level: Iterable[str] = SUPPORTS_THINKING_LEVEL,
    rejects_thinking_budget_zero: Iterable[str] = REJECTS_THINKING_BUDGET_ZERO,
    all_signatures: bool = False,
    combines_builtin_tools: Iterable[str] = COMBINES_BUILTIN_TOOLS,
) -> list[str]:
    """What the Gemini API would refuse in this `generateContent` body for `model` (the URL's model id,
    without `models/`); empty when it is acceptable. Shape errors are reported alone."""
    if not isinstance(body, dict):
        return ["<body>: Invalid JSON payload received. Expected an object."]
    out: list[str] = []
    _walk_model(_Request, body, "", out)
    if out:
        return out
    try:
        request = _Request.model_validate(body)
    except ValidationError as error:
        return _format_errors(error)
    patterns = _Patterns(
        requires_thought_signatures=requires_thought_signatures,
        rejects_penalties=rejects_penalties,
        rejects_candidate_count=rejects_candidate_count,
        supports_thinking_level=supports_thinking_level,
        rejects_thinking_budget_zero=rejects_thinking_budget_zero,
        all_signatures=all_signatures,
    )
    _check_contents(request, model, patterns, out)
    if request.system_instruction is not None:
        for position, part in enumerate(_parts(request.system_instruction)):
            _check_part(part, "user", f"systemInstruction.parts[{position}]", out)
    _check_tools(request, out)
    _check_builtin_tools(request, model, combines_builtin_tools, out)
    out += gemini_audio.audio_violations(request, model)  # TTS models: text in, AUDIO out, known voices
    if request.generation_config is not None:
        _check_generation(request.generation_config, model, patterns, out)
    if request.cached_content is not None and (
        request.system_instruction is not None or request.tools is not None or request.tool_config is not None
    ):
        out.append(
            "cachedContent: CachedContent can not be used with GenerateContent request setting "
            "system_instruction, tools or tool_config. Move them into the cached content."
        )
    return out


def query_violations(query: Mapping[str, str], *, streaming: bool = False, allowed: Iterable[str] = ()) -> list[str]:
    """Google binds every query parameter to a request field; an unknown one is a 400."""
    out = [
        f'Invalid JSON payload received. Unknown name "{key}": Cannot bind query parameter.'
        for key in query
        if key not in _SYSTEM_QUERY and key not in allowed
    ]
    if streaming and query.get("alt") != "sse":
        # Without alt=sse the stream is one JSON array, which no SSE reader can use.
        out.append(f"alt: streamGenerateContent must be called with alt=sse (got {query.get('alt')!r})")
    return out


# ---------------------------------------------------------------------------------------------
# Embeddings: `batchEmbedContents` (what the SDK's `embed_content` calls on the Gemini API).

# Model-id globs of embedding models and their full vector size; `outputDimensionality` keeps a prefix
# ("excessive values in the output embedding are truncated from the end", GEM EmbedContentConfig).
EMBEDDING_MODELS: dict[str, int] = {"gemini-embedding-*": 3072, "text-embedding-004": 768}
# "BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch" (the API's 400).
MAX_EMBED_BATCH = 100
# The Gemini API's TaskType (ai.google.dev/api/embeddings); GEM types `task_type` as a plain string.
TASK_TYPES = (
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)


def fake_vector(model: str, text: str, size: int) -> list[float]:
    """The fake's embedding of `text`: deterministic, and a shorter one is a prefix of a longer one."""
    rng = random.Random(f"{model}|{text}")
    return [round(rng.uniform(-1, 1), 6) for _ in range(size)]


def embeddings_response(vectors: list[list[float]], *, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `BatchEmbedContentsResponse`: `embeddings[].values` in request order and, as the REST reference
    documents it, no usage; `usage` adds a `usageMetadata` (which GEM `EmbedContentResponse` can parse)."""
    payload: dict[str, Any] = {"embeddings": [{"values": vector} for vector in vectors]}
    if usage is not None:
        payload["usageMetadata"] = usage
    return payload


class _EmbedContentRequest(_common.BaseModel):
    """REST `EmbedContentRequest`, with the keys `_EmbedContentConfig_to_mldev` puts there (its
    Vertex-only `mimeType`, `autoTruncate`, ... are not fields, so they are refused as unknown)."""

    model: str | None = None
    content: gt.Content | None = None
    task_type: str | None = None
    title: str | None = None
    output_dimensionality: int | None = None


class _BatchEmbedRequest(_common.BaseModel):
    requests: list[_EmbedContentRequest] | None = None


def embedding_size(model: str, models: Mapping[str, int] = EMBEDDING_MODELS) -> int | None:
    """The full vector size of an embedding model (the URL's id, without `models/`); None for others."""
    return next((size for pattern, size in models.items() if fnmatchcase(model, pattern)), None)


def embed_violations(
    body: Any, model: str, *, models: Mapping[str, int] = EMBEDDING_MODELS, max_batch: int = MAX_EMBED_BATCH
) -> list[str]:
    """What the Gemini API would refuse in this `batchEmbedContents` body for `model`; empty when it is
    acceptable. Shape errors are reported alone."""
    if not isinstance(body, dict):
        return ["<body>: Invalid JSON payload received. Expected an object."]
    out: list[str] = []
    _walk_model(_BatchEmbedRequest, body, "", out)
    if out:
        return out
    try:
        batch = _BatchEmbedRequest.model_validate(body)
    except ValidationError as error:
        return _format_errors(error)
    requests = batch.requests or []
    # The limit's message is the API's; the other wordings are the fake's own.
    if not requests:
        return ["BatchEmbedContentsRequest.requests: at least one request is required"]
    if len(requests) > max_batch:
        return [f"BatchEmbedContentsRequest.requests: at most {max_batch} requests can be in one batch"]
    full = embedding_size(model, models) or 0
    for index, item in enumerate(requests):
        where = f"requests[{index}]"
        if item.model != f"models/{model}":
            out.append(
                f"{where}.model: the model of each request ({item.model!r}) must match the batch's 'models/{model}'"
            )
        if item.content is None or not item.content.parts:
            out.append(f"{where}.content: content is not specified (it needs parts)")
        else:
            for position, part in enumerate(item.content.parts):
                _check_part(part, item.content.role, f"{where}.content.parts[{position}]", out)
                if part.text is None and not t_is_multimodal_embedding_model(model):
                    out.append(f"{where}.content.parts[{position}]: only text parts can be embedded by models/{model}")
        if item.task_type is not None and item.task_type not in TASK_TYPES:
            out.append(
                f"{where}.taskType: Invalid value {item.task_type!r} (TYPE_ENUM TaskType); "
                f"expected one of {list(TASK_TYPES)}"
            )
        dimensions = item.output_dimensionality
        if dimensions is not None and not 1 <= dimensions <= full:
            out.append(
                f"{where}.outputDimensionality: must be between 1 and {full} for models/{model} (got {dimensions})"
            )
    return out


# ---------------------------------------------------------------------------------------------
# The server.


def _error_response(
    code: int, message: str, *, status: str | None = None, reason: str | None = None, retry_delay: str | None = None
) -> web.Response:
    payload = error_body(
        code, status or _STATUS_NAMES.get(code, "UNKNOWN"), message, reason=reason, retry_delay=retry_delay
    )
    return web.Response(status=code, body=orjson.dumps(payload), content_type="application/json", charset="UTF-8")


class FakeGemini(ScriptedStreams):
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        # What the gateway sent that the real API would refuse; tests should assert it stays empty.
        self.violations: list[str] = []
        self.models: list[dict[str, Any]] = self._default_models()
        self.models_status = 200
        # None: any non-empty key is accepted. A set: other keys get the API_KEY_INVALID answer.
        self.api_keys: frozenset[str] | None = None
        self.requires_thought_signatures = REQUIRES_THOUGHT_SIGNATURES
        self.rejects_penalties = REJECTS_PENALTIES
        self.rejects_candidate_count = REJECTS_CANDIDATE_COUNT
        self.supports_thinking_level = SUPPORTS_THINKING_LEVEL
        self.rejects_thinking_budget_zero = REJECTS_THINKING_BUDGET_ZERO
        self.all_signatures = False  # True: a signature on every historical function call, not just the API's rule
        self.embedding_models: dict[str, int] = dict(EMBEDDING_MODELS)
        self.max_embed_batch = MAX_EMBED_BATCH
        self.stream_closed_at: float | None = None
        self.batch_mode = BatchMode(self)  # batchGenerateContent, /v1beta/batches/…
        self._runner: web.AppRunner | None = None
        self.port = 0

    @staticmethod
    def _default_models() -> list[dict[str, Any]]:
        return [
            model_info("gemini-2.5-flash", "Gemini 2.5 Flash"),
            model_info("gemini-2.5-pro", "Gemini 2.5 Pro"),
            model_info("gemini-3-pro-preview", "Gemini 3 Pro Preview"),
            model_info(
                "gemini-embedding-001",
                "Gemini Embedding 001",
                input_token_limit=2048,
                output_token_limit=1,
                methods=("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"),
                thinking=None,
            ),
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
        self.batch_mode.reset()
        self.requires_thought_signatures = REQUIRES_THOUGHT_SIGNATURES
        self.rejects_penalties = REJECTS_PENALTIES
        self.rejects_candidate_count = REJECTS_CANDIDATE_COUNT
        self.supports_thinking_level = SUPPORTS_THINKING_LEVEL
        self.rejects_thinking_budget_zero = REJECTS_THINKING_BUDGET_ZERO
        self.all_signatures = False
        self.embedding_models = dict(EMBEDDING_MODELS)
        self.max_embed_batch = MAX_EMBED_BATCH

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        # Both versions: the gateway uses v1beta, google-genai 3.4 defaults to v1 for API-key clients.
        app.router.add_post(r"/{version:v1beta|v1}/models/{model:[^/:]+}:{method}", self._generate)
        app.router.add_get(r"/{version:v1beta|v1}/models", self._list_models)
        app.router.add_get(r"/{version:v1beta|v1}/models/{model:[^/:]+}", self._get_model)
        self.batch_mode.mount(app)
        await self.serve(app)

    def _refuse(self, problems: list[str], code: int = 400, **error: Any) -> web.Response:
        self.violations += problems
        # Google lists several field errors as "* ..." lines; a single one is the bare message.
        message = problems[0] if len(problems) == 1 else "\n".join(f"* {problem}" for problem in problems)
        return _error_response(code, message, **error)

    def _auth(self, request: web.Request) -> web.Response | None:
        """The key goes in `x-goog-api-key` (or `?key=`). What Google answers without one: 403
        PERMISSION_DENIED; with a bearer token instead: 401; with a wrong key: 400 + API_KEY_INVALID."""
        key = (request.headers.get("x-goog-api-key") or request.query.get("key") or "").strip()
        if not key:
            if request.headers.get("Authorization"):
                return self._refuse(
                    [
                        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                        "login cookie or other valid authentication credential (send the API key in "
                        "x-goog-api-key)."
                    ],
                    401,
                )
            return self._refuse(
                [
                    "Method doesn't allow unregistered callers (callers without established identity). "
                    "Please use API Key or other form of API consumer identity to call this API."
                ],
                403,
            )
        if self.api_keys is not None and key not in self.api_keys:
            return self._refuse(["API key not valid. Please pass a valid API key."], 400, reason="API_KEY_INVALID")
        return None

    def _record(self, request: web.Request, body: Any) -> None:
        self.received.append(Received(request.method, request.path_qs, dict(request.headers), body))

    async def _list_models(self, request: web.Request) -> web.Response:
        self._record(request, None)
        refused = self._auth(request)
        if refused is not None:
            return refused
        problems = query_violations(request.query, allowed=("pageSize", "pageToken"))
        if problems:
            return self._refuse(problems)
        if self.models_status != 200:
            return _error_response(self.models_status, "An internal error has occurred.")
        size = int(request.query.get("pageSize") or 50)
        size = 50 if size <= 0 else min(size, 1000)  # the API's default page and its cap
        token = request.query.get("pageToken", "")
        start = int(token.removeprefix("fake-page-")) if token.startswith("fake-page-") else 0
        if token and not token.startswith("fake-page-"):
            return self._refuse([f"pageToken: invalid page token {token!r}"])
        payload: dict[str, Any] = {"models": self.models[start : start + size]}
        if start + size < len(self.models):
            payload["nextPageToken"] = f"fake-page-{start + size}"
        return web.Response(body=orjson.dumps(payload), content_type="application/json", charset="UTF-8")

    async def _get_model(self, request: web.Request) -> web.Response:
        self._record(request, None)
        refused = self._auth(request)
        if refused is not None:
            return refused
        name = f"models/{request.match_info['model']}"
        for item in self.models:
            if item["name"] == name:
                return web.Response(body=orjson.dumps(item), content_type="application/json", charset="UTF-8")
        return _error_response(404, f"{name} is not found for API version {request.match_info['version']}")

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self._record(request, body)
        refused = self._auth(request)
        if refused is not None:
            return refused
        model, method = request.match_info["model"], request.match_info["method"]
        if method == "batchEmbedContents":
            return await self._batch_embed(request, body, model)
        if method == "batchGenerateContent":
            return await self.batch_mode.create(request, body, model)
        if method == "predict":  # Imagen (tests/fakes/images.py)
            return await images.gemini_predict(self, request, body, model)
        if method == "countTokens":
            return self._count_tokens(request, body, model)
        if method not in ("generateContent", "streamGenerateContent"):
            self.violations.append(
                f"{request.path}: no method {method!r} on models (this fake serves generateContent, "
                "streamGenerateContent, countTokens and batchEmbedContents)"
            )
            return _error_response(404, f"Method not found: {method}")
        streaming = method == "streamGenerateContent"
        problems = query_violations(request.query, streaming=streaming)
        if body is None:
            problems.append("<body>: Invalid JSON payload received. Unexpected token.")
        else:
            problems += request_violations(
                body,
                model,
                requires_thought_signatures=self.requires_thought_signatures,
                rejects_penalties=self.rejects_penalties,
                rejects_candidate_count=self.rejects_candidate_count,
                supports_thinking_level=self.supports_thinking_level,
                rejects_thinking_budget_zero=self.rejects_thinking_budget_zero,
                all_signatures=self.all_signatures,
            )
            problems += [] if problems else images.content_violations(body, model)
        if problems:
            # Scripted replies stay queued: the refused request is not the one they were meant for.
            return self._refuse(problems)
        reply = (
            self.next_reply(body, request.path)
            or images.content_reply(body, model, streaming)
            or gemini_audio.default_reply(body, model, streaming)
            or self._default(model, streaming)
        )
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is None:
            return self._plain(reply)
        return await self._stream(request, reply)

    def _count_tokens(self, request: web.Request, body: Any, model: str) -> web.Response:
        """`{"contents"}` (what GEM `count_tokens` sends for the Gemini API), checked as a generateContent
        body is; the count is the words of its texts, so a test can predict it."""
        problems = query_violations(request.query)
        if not isinstance(body, dict) or set(body) - {"contents", "generateContentRequest"}:
            problems.append("<body>: Invalid JSON payload received. Unknown name in CountTokensRequest.")
        else:
            inner = body.get("generateContentRequest")
            if isinstance(inner, dict):
                # GEM: a wrapped GenerateContentRequest may name its model (`models/{model}`), the URL's.
                inner = dict(inner)
                if inner.pop("model", f"models/{model}") != f"models/{model}":
                    problems.append("generateContentRequest.model: not models/{model} of the URL")
            problems += request_violations(inner or body, model)
        if problems:
            return self._refuse(problems)
        contents = (body.get("generateContentRequest") or body).get("contents") or []
        words = sum(len(str(part.get("text", "")).split()) for content in contents for part in content.get("parts", ()))
        return self._plain(Reply(json={"totalTokens": words}))

    @staticmethod
    def _plain(reply: Reply) -> web.Response:
        if reply.body is not None:
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        return web.Response(
            status=reply.status,
            body=orjson.dumps(reply.json),
            headers=reply.headers,
            content_type="application/json",
            charset="UTF-8",
        )

    async def _batch_embed(self, request: web.Request, body: Any, model: str) -> web.Response:
        """Deterministic vectors (`fake_vector`) of each request's text, `outputDimensionality` long, or
        the reply scripted next (which may be an error)."""
        size = embedding_size(model, self.embedding_models)
        if size is None:
            self.violations.append(f"{request.path}: models/{model} is not an embedding model")
            return _error_response(
                404,
                f"models/{model} is not found for API version {request.match_info['version']}, "
                "or is not supported for batchEmbedContents. Call ListModels to see the list "
                "of available models and their supported methods.",
            )
        problems = query_violations(request.query)
        if body is None:
            problems.append("<body>: Invalid JSON payload received. Unexpected token.")
        else:
            problems += embed_violations(body, model, models=self.embedding_models, max_batch=self.max_embed_batch)
        if problems:
            return self._refuse(problems)
        reply = self.replies.popleft() if self.replies else None
        if reply is not None:
            if reply.first_byte_delay:
                await asyncio.sleep(reply.first_byte_delay)
            return self._plain(reply)
        vectors = []
        for item in body["requests"]:
            text = " ".join(part.get("text", "") for part in item["content"]["parts"])
            vectors.append(fake_vector(model, text, item.get("outputDimensionality") or size))
        return self._plain(Reply(json=embeddings_response(vectors)))

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        # `reply.done` is ignored: Gemini streams end when the connection does, never with [DONE].
        return await self.write_stream(request, reply, frame=sse_frame, headers={"Content-Type": "text/event-stream"})

    def _default(self, model: str, streaming: bool) -> Reply:
        if streaming:
            events: list[dict[str, Any] | bytes] = [*text_chunks(["Hel", "lo", "!"], model_version=model)]
            return Reply(stream=events)
        return Reply(json=response("Hello!", model_version=model))
