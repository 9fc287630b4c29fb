"""Canonical chat ↔ OpenAI Chat Completions wire JSON (pure functions, no I/O): the one codec of OpenAI's chat
wire, both sides of it. The upstream's side: `to_wire` writes fields in the spec's order and puts `extra` back
untouched; `from_wire` reads what OpenAI-compatible servers answer, including `reasoning_content` (DeepSeek,
vLLM, Ollama). The client's side, for the Chat Completions frontend (and every frontend that folds its request
onto a chat body): `request_from_wire` and `response_to_wire`, with `usage_to_wire`.
"""

from __future__ import annotations

from typing import Any, Literal, assert_never

import orjson

from babelgate.schema.chat import (
    JSON,
    AssistantMessage,
    AudioPart,
    ChatRequest,
    ChatResponse,
    Choice,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    RefusalPart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def to_wire(request: ChatRequest, model: str) -> JSON:
    body: JSON = {"model": model, "messages": [_message_to_wire(m) for m in request.messages]}
    if request.tools is not None:
        body["tools"] = [_tool_to_wire(tool) for tool in request.tools]
    if request.tool_choice is not None:
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": choice.type, choice.type: {"name": choice.name}} if isinstance(choice, NamedToolChoice) else choice
        )
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        rf = request.response_format
        fmt: JSON = {"type": rf.type}
        if rf.type == "json_schema":
            schema: JSON = {"name": rf.name}
            if rf.description is not None:
                schema["description"] = rf.description
            schema["schema"] = rf.schema
            if rf.strict is not None:
                schema["strict"] = rf.strict
            fmt["json_schema"] = schema
        body["response_format"] = fmt
    for name in (
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "seed",
        "reasoning_effort",
        "user",
        "metadata",
    ):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop is not None:
        body["stop"] = request.stop
    if request.max_tokens is not None:
        body[request.max_tokens_field] = request.max_tokens
    if request.stream:
        body["stream"] = True
        if request.include_usage:
            body["stream_options"] = {**request.extra.get("stream_options", {}), "include_usage": True}
    for key, value in request.extra.items():
        body.setdefault(key, value)
    return body


def _message_to_wire(message: Message) -> JSON:
    wire: JSON = {"role": message.role}
    content = message.content
    if isinstance(content, list):
        wire["content"] = [_part_to_wire(part) for part in content]
    elif content is not None or message.role == "assistant":
        wire["content"] = content
    if message.name is not None:
        wire["name"] = message.name
    if message.tool_calls:
        wire["tool_calls"] = [tool_call_to_wire(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.reasoning_content is not None:
        wire["reasoning_content"] = message.reasoning_content
    wire.update(message.extra)
    return wire


def _part_to_wire(part: ContentPart) -> JSON:
    match part:
        case TextPart(text=text):
            wire: JSON = {"type": "text", "text": text}
        case ImagePart(url=url, detail=detail):
            image: JSON = {"url": url}
            if detail is not None:
                image["detail"] = detail
            wire = {"type": "image_url", "image_url": image}
        case AudioPart(data=data, format=fmt):
            wire = {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
        case FilePart(file_data=file_data, file_id=file_id, filename=filename):
            file: JSON = {}
            for key, value in (("file_data", file_data), ("file_id", file_id), ("filename", filename)):
                if value is not None:
                    file[key] = value
            wire = {"type": "file", "file": file}
        case RefusalPart(refusal=refusal):
            wire = {"type": "refusal", "refusal": refusal}
        case _:
            assert_never(part)
    wire.update(part.extra)
    return wire


def tool_call_to_wire(call: ToolCall) -> JSON:
    wire: JSON = {"id": call.id, "type": call.type}
    if call.type == "custom":
        wire["custom"] = {"name": call.name, "input": call.arguments}
    else:
        wire["function"] = {"name": call.name, "arguments": call.arguments}
    wire.update(call.extra)
    return wire


def _tool_to_wire(tool: Tool) -> JSON:
    if tool.type not in ("function", "custom"):  # hosted: its options are the rest of the object, as read
        return {"type": tool.type, **tool.extra}
    spec: JSON = {"name": tool.name}
    if tool.description is not None:
        spec["description"] = tool.description
    if tool.parameters is not None:
        spec["parameters"] = tool.parameters
    if tool.strict is not None:
        spec["strict"] = tool.strict
    spec.update(tool.extra)
    return {"type": tool.type, tool.type: spec}


def from_wire(body: JSON) -> ChatResponse:
    choices = [_choice_from_wire(choice) for choice in body.get("choices") or ()]
    return ChatResponse(
        id=str(body.get("id", "")),
        created=int(body.get("created") or 0),
        model=str(body.get("model", "")),
        choices=choices,
        usage=usage_from_wire(body.get("usage")),
        system_fingerprint=body.get("system_fingerprint"),
        extra=_extra_fields(body),
    )


def _extra_fields(body: JSON) -> JSON:
    """The answer's fields the chat response does not model, in the answer's order: the body copied in C less
    the modelled ones it has (a comprehension over every field was a call and a turn per field)."""
    extra = dict(body)
    for name in _RESPONSE_FIELDS.intersection(body):
        del extra[name]
    return extra


def _choice_from_wire(choice: JSON) -> Choice:
    wire = choice.get("message") or {}
    message = AssistantMessage(
        content=wire.get("content"),
        tool_calls=[tool_call_from_wire(call) for call in wire["tool_calls"]] if wire.get("tool_calls") else None,
        reasoning_content=wire.get("reasoning_content") or wire.get("reasoning"),
        refusal=wire.get("refusal"),
        images=wire.get("images"),
        audio=wire.get("audio"),
        extra={k: v for k, v in wire.items() if k not in _MESSAGE_FIELDS},
    )
    return Choice(
        index=int(choice.get("index", 0)),
        message=message,
        finish_reason=finish_reason_from_wire(choice.get("finish_reason")),
        logprobs=choice.get("logprobs"),
    )


_RESPONSE_FIELDS = frozenset({"id", "object", "created", "model", "choices", "usage", "system_fingerprint"})
_MESSAGE_FIELDS = frozenset(
    {"role", "content", "tool_calls", "reasoning_content", "reasoning", "refusal", "images", "audio"}
)


def finish_reason_from_wire(value: Any) -> Any:
    """OpenAI's own values pass; compatible servers' extras (e.g. vLLM's "abort") become "stop"."""
    if value is None or value in _FINISH_REASONS:
        return value
    return "stop"


def tool_call_from_wire(call: JSON) -> ToolCall:
    kind = call.get("type") or "function"
    spec = call.get(kind) or {}
    arguments = spec.get("input" if kind == "custom" else "arguments", "")
    if not isinstance(arguments, str):
        # Some compatible servers send arguments as an object; OpenAI clients expect JSON text.
        arguments = orjson.dumps(arguments).decode() if arguments is not None else ""
    return ToolCall(id=str(call.get("id", "")), name=str(spec.get("name", "")), arguments=arguments, type=kind)


def usage_from_wire(usage: Any) -> Usage | None:
    """OpenAI's `usage`. Written out (every fast-path answer has one): a comprehension is a call of its own."""
    if not isinstance(usage, dict):
        return None
    get = usage.get
    prompt = int(get("prompt_tokens") or 0)
    completion = int(get("completion_tokens") or 0)
    # The detail objects travel whole, so fields we do not model (audio_tokens…) survive.
    extra: JSON = {}
    cached = written = reasoning = None
    details = get("prompt_tokens_details")
    if isinstance(details, dict):
        extra["prompt_tokens_details"] = details
        cached, written = details.get("cached_tokens"), details.get("cache_write_tokens")
    details = get("completion_tokens_details")
    if isinstance(details, dict):
        extra["completion_tokens_details"] = details
        reasoning = details.get("reasoning_tokens")
    return Usage(prompt, completion, int(get("total_tokens") or prompt + completion), cached, written, reasoning, extra)


def embedding_to_wire(request: EmbeddingRequest, model: str) -> JSON:
    """OpenAI's embeddings body. Floats are asked for explicitly: frontends encode base64 themselves."""
    body: JSON = {**request.extra, "model": model, "input": request.inputs, "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def embedding_from_wire(body: JSON, model: str) -> EmbeddingResponse:
    data = sorted(body["data"], key=lambda entry: int(entry.get("index", 0)))
    vectors = [[float(x) for x in entry["embedding"]] for entry in data]
    usage = body.get("usage")
    counted = None
    if isinstance(usage, dict):
        prompt = int(usage.get("prompt_tokens") or 0)
        counted = Usage(prompt_tokens=prompt, total_tokens=int(usage.get("total_tokens") or prompt))
    return EmbeddingResponse(model=str(body.get("model") or model), vectors=vectors, usage=counted)


# --- the client's side: what the Chat Completions frontend reads and answers (one codec for both) ---

_REQUEST_FIELDS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "n",
        "seed",
        "random_seed",  # Mistral's name for `seed` (read as it, above)
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "reasoning_effort",
        "user",
        "metadata",
    }
)
_CLIENT_MESSAGE_FIELDS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"})
_TOOL_FIELDS = frozenset({"name", "description", "parameters", "strict"})


def _unknown(wire: JSON, known: frozenset[str]) -> JSON:
    """The fields of `wire` outside `known`, in their order. Most objects have none, which
    `issuperset` (a loop in C, no allocation) says without a Python loop over every key."""
    if known.issuperset(wire):
        return {}
    return {k: v for k, v in wire.items() if k not in known}


def request_from_wire(body: JSON) -> ChatRequest:
    """A client's body (the Chat Completions frontend's, already checked by `validate_chat_body`) → the
    canonical request."""
    max_field: Literal["max_tokens", "max_completion_tokens"] = (
        "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    )
    stop = body.get("stop")
    stream_options = body.get("stream_options") or {}
    extra = _unknown(body, _REQUEST_FIELDS)
    if stream_options and set(stream_options) != {"include_usage"}:
        extra["stream_options"] = stream_options
    return ChatRequest(
        model=body["model"],
        messages=[_message_from_client(m) for m in body["messages"]],
        tools=[tool_from_client(t) for t in body["tools"]] if body.get("tools") is not None else None,
        tool_choice=_tool_choice_from_client(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=_response_format_from_client(body.get("response_format")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        presence_penalty=body.get("presence_penalty"),
        frequency_penalty=body.get("frequency_penalty"),
        stop=[stop] if isinstance(stop, str) else stop,
        n=body.get("n"),
        seed=body.get("seed", body.get("random_seed")),
        max_tokens=body.get(max_field),
        max_tokens_field=max_field,
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
        reasoning_effort=body.get("reasoning_effort"),
        user=body.get("user"),
        metadata=body.get("metadata"),
        extra=extra,
    )


def _message_from_client(wire: JSON) -> Message:
    content = wire.get("content")
    return Message(
        role=wire["role"],
        content=[_part_from_client(p) for p in content] if isinstance(content, list) else content,
        name=wire.get("name"),
        tool_calls=[_tool_call_from_client(c) for c in wire["tool_calls"]] if wire.get("tool_calls") else None,
        tool_call_id=wire.get("tool_call_id"),
        reasoning_content=wire.get("reasoning_content"),
        extra=_unknown(wire, _CLIENT_MESSAGE_FIELDS),
    )


def _part_from_client(wire: JSON) -> ContentPart:
    kind = wire["type"]
    # Validation made sure the part has its kind's key: two keys are exactly those two.
    rest = {} if len(wire) == 2 else {k: v for k, v in wire.items() if k not in ("type", kind)}
    if kind == "text":
        return TextPart(wire["text"], extra=rest)
    if kind == "image_url":
        image = wire["image_url"]
        return ImagePart(image["url"], image.get("detail"), extra=rest)
    if kind == "input_audio":
        audio = wire["input_audio"]
        return AudioPart(audio["data"], audio["format"], extra=rest)
    if kind == "file":
        file = wire["file"]
        return FilePart(file.get("file_data"), file.get("file_id"), file.get("filename"), extra=rest)
    if kind == "refusal":
        return RefusalPart(wire["refusal"], extra=rest)
    raise ValueError(f"unvalidated part type {kind!r}")


def _tool_call_from_client(wire: JSON) -> ToolCall:
    kind = wire.get("type", "function")
    spec = wire[kind]
    arguments = spec["input"] if kind == "custom" else spec["arguments"]
    return ToolCall(
        wire["id"],
        spec["name"],
        arguments,
        type=kind,
        extra={k: v for k, v in wire.items() if k not in ("id", "type", kind)},
    )


def tool_from_client(wire: JSON) -> Tool:
    """A client's chat tool object (checked by `validate_tool`), which the Ollama API shares."""
    kind = wire["type"]
    if kind not in ("function", "custom"):  # hosted: its options are the rest of the object
        return Tool(kind, type=kind, extra={key: value for key, value in wire.items() if key != "type"})
    spec = wire[kind]
    return Tool(
        spec["name"],
        type=kind,
        description=spec.get("description"),
        parameters=spec.get("parameters"),
        strict=spec.get("strict"),
        extra=_unknown(spec, _TOOL_FIELDS),
    )


def _tool_choice_from_client(wire: Any) -> ToolChoice | None:
    if isinstance(wire, dict) and wire.get("type") in ("function", "custom"):
        return NamedToolChoice(wire[wire["type"]]["name"], type=wire["type"])
    if wire == "any":
        return "required"  # Mistral's word for it (the mistralai SDK sends it), one meaning everywhere
    return wire  # type: ignore[no-any-return]


def _response_format_from_client(wire: Any) -> ResponseFormat | None:
    if wire is None:
        return None
    if wire["type"] != "json_schema":
        return ResponseFormat(wire["type"])
    spec = wire["json_schema"]
    return ResponseFormat(
        "json_schema",
        name=spec["name"],
        schema=spec["schema"],
        strict=spec.get("strict"),
        description=spec.get("description"),
    )


def response_to_wire(response: ChatResponse) -> JSON:
    """The canonical response as OpenAI's Chat Completions answer (the frontend's side of the codec)."""
    choices = []
    for choice in response.choices:
        message = choice.message
        wire: JSON = {"role": "assistant", "content": message.content}
        if message.refusal is not None:
            wire["refusal"] = message.refusal
        if message.tool_calls:
            wire["tool_calls"] = [tool_call_to_wire(call) for call in message.tool_calls]
        if message.reasoning_content is not None:
            wire["reasoning_content"] = message.reasoning_content
        if message.audio is not None:
            wire["audio"] = message.audio
        if message.images is not None:
            wire["images"] = message.images
        wire.update(message.extra)
        choices.append(
            {"index": choice.index, "message": wire, "finish_reason": choice.finish_reason, "logprobs": choice.logprobs}
        )
    body: JSON = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": choices,
    }
    if response.usage is not None:
        body["usage"] = usage_to_wire(response.usage)
    if response.system_fingerprint is not None:
        body["system_fingerprint"] = response.system_fingerprint
    for key, value in response.extra.items():
        body.setdefault(key, value)
    return body


def usage_to_wire(usage: Usage) -> JSON:
    prompt_details: JSON = dict(usage.extra.get("prompt_tokens_details") or {})
    completion_details: JSON = dict(usage.extra.get("completion_tokens_details") or {})
    if usage.cached_tokens is not None:
        prompt_details["cached_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens is not None:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens is not None:
        completion_details["reasoning_tokens"] = usage.reasoning_tokens
    wire: JSON = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if prompt_details:
        wire["prompt_tokens_details"] = prompt_details
    if completion_details:
        wire["completion_tokens_details"] = completion_details
    return wire
