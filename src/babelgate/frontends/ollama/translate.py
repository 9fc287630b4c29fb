"""Ollama ⇄ chat: Ollama chat and generate bodies become the canonical `ChatRequest` they mean, embed
bodies an OpenAI embeddings body, and canonical answers fold back into Ollama's JSON.

Bodies have passed validate.py; what it leaves to the chat request is checked here as it is read
(Ollama's tools are chat tool objects: the chat validation's own check, `tools[0].function.name`).
Each Ollama message becomes exactly one chat message. Pure functions, golden-tested.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.frontends.ollama import wire
from babelgate.frontends.ollama.wire import JSON, Durations
from babelgate.frontends.openai_validation import INTEGER_RANGES, expect_number, expect_object, validate_tool
from babelgate.providers.openai.translate import tool_from_client
from babelgate.schema.chat import (
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)
from babelgate.schema.embeddings import EmbeddingResponse

# Ollama option → chat field. `top_k`, `min_p` and `repetition_penalty` are not OpenAI's, but the
# names OpenAI-compatible servers (vLLM, llama.cpp, OpenRouter) and Mistral take: they travel as
# extra chat fields for the upstream to judge (docs/decisions.md, "What the gateway checks"), and Anthropic and Gemini
# report what they drop (`EXTRA_OPTIONS`). Every other option tunes a local runtime (num_ctx, num_gpu, use_mmap, …) or a
# sampler no API offers (mirostat, tfs_z, typical_p, …): dropped and reported.
OPTION_FIELDS: Final[dict[str, str]] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "num_predict": "max_tokens",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "top_k": "top_k",
    "min_p": "min_p",
    "repeat_penalty": "repetition_penalty",
}
EXTRA_OPTIONS: Final = frozenset({"top_k", "min_p", "repetition_penalty"})
# `think: true` asks for the model's default effort (OpenAI's default is medium); false turns it off.
THINK_EFFORT: Final[dict[bool, str]] = {True: "medium", False: "none"}
FORMAT_NAME: Final = "response"  # json_schema needs a name; Ollama's `format` has none
_IMAGE_TYPES: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


# -- requests ------------------------------------------------------------------------------------


def chat_request(body: JSON, adjusted: list[str]) -> ChatRequest:
    """The chat request for an `/api/chat` body; the parameters dropped on the way go into `adjusted`."""
    request = ChatRequest(body["model"], chat_messages(body.get("messages") or []))
    if body.get("tools"):
        request.tools = [_tool(tool, f"tools[{index}]") for index, tool in enumerate(body["tools"])]
    _common(body, request, adjusted)
    return request


def generate_request(body: JSON, adjusted: list[str]) -> ChatRequest:
    """`/api/generate` as a single-turn chat: `system`, then the prompt with its images. A raw prompt
    (already in the model's own template tokens) or a suffix (fill-in-the-middle) has no chat form:
    those go to a legacy completions endpoint (completions.py) or nowhere."""
    if body.get("raw"):
        raise InvalidRequest("ollama_raw_unsupported", param="raw", model=body["model"])
    if body.get("suffix"):
        raise InvalidRequest("ollama_suffix_unsupported", param="suffix", model=body["model"])
    if body.get("context"):
        raise InvalidRequest("ollama_context_unsupported", param="context")
    messages: list[Message] = []
    if body.get("system"):
        messages.append(Message("system", body["system"]))
    messages.append(_user_message(body.get("prompt") or "", body.get("images"), "images"))
    request = ChatRequest(body["model"], messages)
    if body.get("template"):
        # The upstream formats the conversation with its own template; Ollama's Go template cannot apply.
        adjusted.append("template=dropped")
    _common(body, request, adjusted)
    return request


def chat_messages(messages: list[JSON]) -> list[Message]:
    out: list[Message] = []
    pending: list[ToolCall] = []  # tool calls of the last assistant message not answered yet
    for index, message in enumerate(messages):
        role, path = message["role"], f"messages[{index}]"
        content = message.get("content") or ""
        if role == "user":
            out.append(_user_message(content, message.get("images"), f"{path}.images"))
            continue
        if message.get("images"):
            raise InvalidRequest("ollama_images_role", param=f"{path}.images")
        if role == "assistant":
            calls = message.get("tool_calls") or ()
            pending = [_tool_call(call, index, position) for position, call in enumerate(calls)]
            # `thinking` is not replayed: the providers that need reasoning back carry it in their
            # signed tool-call ids (tool_ids.py), like the Responses frontend.
            out.append(
                Message("assistant", content or None, tool_calls=list(pending))
                if pending
                else Message("assistant", content)
            )
        elif role == "tool":
            out.append(Message("tool", content, tool_call_id=_answered_call(message, pending, path)))
        else:
            out.append(Message(role, content))
    return out


def _answered_call(message: JSON, pending: list[ToolCall], path: str) -> str:
    """The id of the call a tool message answers. Ollama clients often drop call ids (the official
    Python client keeps only name and arguments), so: the given `tool_call_id` if it is one of the
    open calls, else the first open call of that `tool_name`, else a given id as it is, else the
    first open call (Ollama answers calls in order)."""
    call_id, name = message.get("tool_call_id"), message.get("tool_name")
    match = next((call for call in pending if call.id == call_id), None) if call_id else None
    if match is None and name:
        match = next((call for call in pending if call.name == name), None)
    if match is None and call_id:
        return str(call_id)
    if match is None and pending:
        match = pending[0]
    if match is None:
        raise InvalidRequest("ollama_unmatched_tool_message", param=path)
    pending.remove(match)
    return match.id


def _tool_call(call: JSON, message_index: int, position: int) -> ToolCall:
    function = call["function"]
    arguments = function.get("arguments")
    if arguments is None:
        text = "{}"
    elif isinstance(arguments, str):
        text = arguments
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise InvalidRequest(
                "wrong_type",
                param=f"messages[{message_index}].tool_calls[{position}].function.arguments",
                expected="a JSON object",
            )
    else:
        text = orjson.dumps(arguments).decode()
    # A stable id when the client kept none: the same conversation gets the same ids every turn.
    call_id = call.get("id") or f"call_{message_index}_{position}"
    return ToolCall(call_id, function["name"], text)


def _user_message(text: str, images: list[str] | None, path: str) -> Message:
    if not images:
        return Message("user", text)
    parts: list[ContentPart] = [_image_part(image, f"{path}[{index}]") for index, image in enumerate(images)]
    if text:
        parts.append(TextPart(text))
    return Message("user", parts)


def _image_part(data: str, path: str) -> ImagePart:
    """Ollama sends bare base64; chat wants a data URI, whose media type is read from the bytes."""
    if data.startswith("data:"):
        return ImagePart(data)
    if "\n" in data or "\r" in data:  # wrapped base64, which Go's decoder (Ollama's) accepts
        data = data.replace("\n", "").replace("\r", "")
    try:
        head = base64.b64decode(data[:24], validate=True)  # 18 bytes: enough for every signature
    except (binascii.Error, ValueError):
        raise InvalidRequest("ollama_image_format", param=path) from None
    media = next((kind for magic, kind in _IMAGE_TYPES if head.startswith(magic)), None)
    if media is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        media = "image/webp"
    if media is None:
        raise InvalidRequest("ollama_image_format", param=path)
    return ImagePart(f"data:{media};base64,{data}")


def _tool(tool: Any, path: str) -> Tool:
    """An Ollama tool: a chat tool object whose `type` may be left out (a function)."""
    tool = expect_object(tool, path)
    tool = {**tool, "type": tool.get("type") or "function"}
    validate_tool(tool, path)
    return tool_from_client(tool)


def _common(body: JSON, request: ChatRequest, adjusted: list[str]) -> None:
    """What /api/chat and /api/generate share: format, options, think, logprobs."""
    fmt = body.get("format")
    if fmt == "json":
        request.response_format = ResponseFormat("json_object")
    elif isinstance(fmt, dict):
        # Not strict: OpenAI's strict mode refuses most schemas Ollama clients write (it wants
        # additionalProperties false and every property required).
        request.response_format = ResponseFormat("json_schema", name=FORMAT_NAME, schema=fmt)
    for field, value in option_fields(body.get("options"), adjusted).items():
        if field in EXTRA_OPTIONS:
            request.extra[field] = value
        elif field == "stop":
            request.stop = [value] if isinstance(value, str) else value
        else:
            if field == "max_tokens":  # validate.py let through what Ollama takes; chat's bound is lower
                expect_number(value, "options.num_predict", *INTEGER_RANGES["max_tokens"], integer=True)
            setattr(request, field, value)
    think = body.get("think")
    if think is not None:
        request.reasoning_effort = THINK_EFFORT[think] if isinstance(think, bool) else think
    for name in ("logprobs", "top_logprobs"):  # not chat fields: extra fields, the OpenAI wire's names
        if body.get(name) is not None:
            request.extra[name] = body[name]


def option_fields(options: JSON | None, adjusted: list[str]) -> JSON:
    """Ollama's `options` as chat (or legacy completions) fields, by OPTION_FIELDS; the others are
    reported in `adjusted`."""
    fields: JSON = {}
    for name, value in (options or {}).items():
        if value is None:
            continue
        field = OPTION_FIELDS.get(name)
        if field is None:
            adjusted.append(f"options.{name}=dropped")
        elif not (name == "num_predict" and value < 0):  # -1 and -2 mean "no limit": the upstream's default
            fields[field] = value
    return fields


def embed_body(body: JSON, *, legacy: bool) -> tuple[JSON, list[str]]:
    """`/api/embed` (`input`) or the legacy `/api/embeddings` (`prompt`) as an OpenAI embeddings body,
    so that the model's defaults and the embeddings road's checks apply as on `/v1/embeddings`.
    Empty inputs are left out as Ollama leaves them out: `input` may end up empty (nothing to call).
    `truncate` and `keep_alive` have no upstream equivalent and change no vector: ignored."""
    value = body.get("prompt") if legacy else body.get("input")
    inputs = value if isinstance(value, list) else [value] if value else []
    embed: JSON = {"model": body["model"], "input": inputs}
    if body.get("dimensions") is not None:
        embed["dimensions"] = body["dimensions"]
    adjusted = [f"options.{name}=dropped" for name, v in (body.get("options") or {}).items() if v is not None]
    return embed, adjusted


# -- answers -------------------------------------------------------------------------------------


def encode_chat(response: ChatResponse, *, model: str, provider: str, at: str, durations: Durations) -> JSON:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else AssistantMessage()
    calls = [
        tool_call_to_wire(call.id, call.name, call.arguments, position, provider=provider)
        for position, call in enumerate(message.tool_calls or ())
    ]
    out = wire.chat_line(
        model,
        at,
        wire.assistant(
            _text(message), thinking=message.reasoning_content, tool_calls=calls, images=images_to_wire(message.images)
        ),
        done=True,
    )
    return _finished(out, response, choice.finish_reason if choice else None, durations)


def encode_generate(response: ChatResponse, *, model: str, at: str, durations: Durations) -> JSON:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else AssistantMessage()
    out = wire.generate_line(model, at, _text(message), thinking=message.reasoning_content, done=True)
    return _finished(out, response, choice.finish_reason if choice else None, durations)


def _finished(out: JSON, response: ChatResponse, finish_reason: str | None, durations: Durations) -> JSON:
    out["done_reason"] = wire.done_reason(finish_reason)
    out.update(wire.counters(response.usage, durations))
    logprobs = response.choices[0].logprobs if response.choices else None
    if logprobs and logprobs.get("content"):
        # OpenAI's entries have Ollama's shape already: token, logprob, bytes, top_logprobs.
        out["logprobs"] = logprobs["content"]
    return out


def _text(message: AssistantMessage) -> str:
    # Ollama has no refusal field: a refusal is the answer's text.
    return (message.content or "") + (message.refusal or "")


def tool_call_to_wire(call_id: str, name: str, arguments: str, position: int, *, provider: str) -> JSON:
    """Ollama's tool call: arguments as an object (never a string), `index` its place in the turn."""
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(
            provider=provider,
            detail=f"the arguments of tool call {name!r} are not a JSON object, which Ollama clients need",
        )
    return {"id": call_id, "function": {"index": position, "name": name, "arguments": parsed}}


def images_to_wire(images: list[JSON] | None) -> list[str] | None:
    """Generated images (`[{"type": "image_url", "image_url": {"url": "data:…"}}]`) as Ollama's
    bare base64; an image only given by URL has no base64 form and is left out."""
    out = []
    for image in images or ():
        url = str((image.get("image_url") or {}).get("url") or "")
        if url.startswith("data:") and "," in url:
            out.append(url.split(",", 1)[1])
    return out or None


def encode_embed(answer: EmbeddingResponse | None, *, model: str, durations: Durations) -> JSON:
    usage = answer.usage if answer is not None else None
    return {
        "model": model,
        "embeddings": answer.vectors if answer is not None else [],
        "total_duration": durations.total,
        "load_duration": durations.load,
        "prompt_eval_count": usage.prompt_tokens if usage else 0,
    }


def encode_embeddings(answer: EmbeddingResponse | None) -> JSON:
    return {"embedding": answer.vectors[0] if answer is not None and answer.vectors else []}
