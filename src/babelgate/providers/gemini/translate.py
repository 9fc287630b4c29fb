"""Canonical chat ↔ Gemini generateContent, and embeddings ↔ batchEmbedContents (pure
functions).

`to_wire` reports every parameter it dropped in `adjusted`; what cannot be sent without changing
the answer is a GatewayError. `from_wire` turns a GenerateContentResponse into the canonical one.
`embedding_to_wire` / `embedding_from_wire` do the same for embeddings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from babelgate import tool_ids
from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.gemini.chat_audio import audio_entry, requested_format, speech_config
from babelgate.providers.gemini.profiles import THINKING_BUDGETS, THINKING_LEVELS, ModelProfile
from babelgate.providers.gemini.translate_parts import InlineMedia, system_and_contents
from babelgate.providers.gemini.wire import FINISH_REASONS, MINTED_ID_PREFIX, NATIVE_FIELDS, TASK_TYPES
from babelgate.providers.hosted_tools import tool_path
from babelgate.providers.message_fields import report_unsent_fields
from babelgate.schema.chat import (
    JSON,
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    Choice,
    NamedToolChoice,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

PROVIDER = "gemini"
WEB_SEARCH: Final = "web_search"


def to_wire(
    request: ChatRequest,
    profile: ModelProfile,
    adjusted: list[str],
    *,
    inline: Mapping[str, InlineMedia],
    tool_positions: Sequence[int] | None = None,
) -> JSON:
    """`tool_positions`: where each tool stood in the client's request (`CallNotes.tool_positions`)."""
    report_unsent_fields(request.messages, adjusted)
    system, contents = system_and_contents(
        request.messages, adjusted, inline=inline, placeholder_signatures=profile.signatures_required
    )
    body: JSON = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    tools = _tools(request.tools, profile, adjusted, tool_positions) if request.tools else []
    if tools:
        body["tools"] = tools
    tool_config = _tool_config(request.tool_choice, tools, adjusted)
    if tool_config:
        body["toolConfig"] = tool_config
    if request.parallel_tool_calls is not None:
        adjusted.append("parallel_tool_calls=dropped")
    if profile.safety_settings:
        body["safetySettings"] = [dict(setting) for setting in profile.safety_settings]
    config = _generation_config(request, profile, adjusted)
    if config:
        body["generationConfig"] = config
    for name, value in request.extra.items():
        if name in NATIVE_FIELDS:
            body[name] = value
        elif value is not None and name not in (
            "stream_options",
            "logprobs",
            "top_logprobs",
            "top_k",
            "modalities",
            "audio",
        ):
            adjusted.append(f"{name}=dropped")
    for name in ("user", "metadata"):
        if getattr(request, name):
            adjusted.append(f"{name}=dropped")
    return body


def _tools(
    tools: list[Tool], profile: ModelProfile, adjusted: list[str], positions: Sequence[int] | None
) -> list[JSON]:
    """Function declarations, and Google Search grounding for a hosted `web_search` (hosted_tools.py)."""
    declarations = []
    searches = []
    for index, tool in enumerate(tools):  # a loop, not two comprehensions: each is a call of its own
        if tool.type == WEB_SEARCH:
            searches.append(index)
        else:
            declarations.append(_declaration(tool, index, positions))
    # The declarations come first (`_tool_config` reads them there), Google Search after them.
    wire: list[JSON] = [{"functionDeclarations": declarations}] if declarations else []
    for index in searches:
        tool = tools[index]
        path = tool_path(index, positions)
        if declarations and not profile.search_with_functions:
            adjusted.append(f"{path}=dropped")  # this model refuses search beside functions
            continue
        if not any("googleSearch" in entry for entry in wire):
            wire.append({"googleSearch": {}})
        # Google Search takes no options: domain filters, locations and context sizes are reported.
        adjusted += [f"{path}.{name}=dropped" for name, value in tool.extra.items() if value is not None]
    return wire


def _declaration(tool: Any, index: int, positions: Sequence[int] | None) -> JSON:
    if tool.type != "function":
        raise UnsupportedCapability(
            provider=PROVIDER, capability=f"{tool.type} tools", param=tool_path(index, positions)
        )
    declaration: JSON = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    if tool.parameters:
        # Full JSON Schema, which Gemini takes as is here (not the proto `parameters` subset).
        declaration["parametersJsonSchema"] = tool.parameters
    return declaration


def _tool_config(choice: ToolChoice | None, tools: list[JSON], adjusted: list[str]) -> JSON:
    config: JSON = {}
    calling = _function_calling(choice) if choice is not None else None
    # `_tools` puts the declarations first, Google Search after them: what is there is said by the first.
    functions = bool(tools) and "functionDeclarations" in tools[0]
    if calling is not None:
        if functions or not tools:
            config["functionCallingConfig"] = calling
        else:
            # Only Google Search is left: a function-calling mode has no function to choose among,
            # and Gemini refuses the setting without function declarations.
            adjusted.append("tool_choice=dropped")
    if functions and len(tools) > 1:  # Google Search beside the declarations
        # Gemini 3 takes a built-in tool beside function declarations only with this set ("Please
        # enable tool_config.include_server_side_tool_invocations to use Built-in tools with
        # Function calling"); its search calls then come back as toolCall/toolResponse parts.
        config["includeServerSideToolInvocations"] = True
    return config


def _function_calling(choice: ToolChoice | None) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        if choice.type != "function":
            raise UnsupportedCapability(provider=PROVIDER, capability="custom tools", param="tool_choice")
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if not isinstance(choice, str) or choice not in modes:
        raise UnsupportedCapability(provider=PROVIDER, capability="this tool_choice", param="tool_choice")
    return {"mode": modes[choice]}


def _generation_config(request: ChatRequest, profile: ModelProfile, adjusted: list[str]) -> JSON:
    config: JSON = {}
    for name, wire_name in (("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed")):
        value = getattr(request, name)
        if value is not None:
            config[wire_name] = value
    if isinstance(request.extra.get("top_k"), int):  # not a chat field; Anthropic and Ollama clients send it
        config["topK"] = request.extra["top_k"]
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        config["stopSequences"] = request.stop
    if request.n is not None and request.n != 1:
        if not profile.multiple_candidates:
            raise UnsupportedCapability(provider=PROVIDER, capability="n > 1 on this model", param="n")
        config["candidateCount"] = request.n
    for name, wire_name in (("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        value = getattr(request, name)
        if value is None:
            continue
        if profile.penalties:
            config[wire_name] = value
        elif value != 0:
            adjusted.append(f"{name}=dropped")  # Gemini 2.5+ refuses them (docs/decisions.md, "Model profiles")
    if request.extra.get("logprobs") is True:
        config["responseLogprobs"] = True
        if isinstance(request.extra.get("top_logprobs"), int):
            config["logprobs"] = request.extra["top_logprobs"]
    rf = request.response_format
    if rf is not None and rf.type in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema is not None:
            config["responseJsonSchema"] = rf.schema
    if requested_format(request) is not None:
        config["responseModalities"] = ["AUDIO"]
        config["speechConfig"] = speech_config(request)
    thinking = _thinking(request.reasoning_effort, profile, adjusted)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _thinking(effort: str | None, profile: ModelProfile, adjusted: list[str]) -> JSON | None:
    if effort is None:
        return None
    if profile.thinking == "none":
        adjusted.append("reasoning_effort=dropped")
        return None
    if effort == "none":
        # Gemini 2.5 turns thinking off with a zero budget; Gemini 3 always thinks a little.
        if profile.thinking == "budget":
            return {"thinkingBudget": 0}
        adjusted.append("reasoning_effort=clamped:minimal")
        return {"thinkingLevel": "MINIMAL"}
    table: Mapping[str, Any] = THINKING_LEVELS if profile.thinking == "level" else THINKING_BUDGETS
    if effort not in table:
        raise InvalidRequest(
            "invalid_value", param="reasoning_effort", detail=f"expected none or one of {', '.join(table)}"
        )
    key = "thinkingLevel" if profile.thinking == "level" else "thinkingBudget"
    return {key: table[effort], "includeThoughts": True}


def from_wire(body: JSON, *, created: int, model: str, audio_format: str | None = None) -> ChatResponse:
    """`audio_format`: what the client asked audio answers in (chat_audio.requested_format)."""
    response_id = str(body.get("responseId", ""))
    audio = (
        (lambda blob: audio_entry(blob, audio_format, response_id=response_id, created=created, provider=PROVIDER))
        if audio_format
        else None
    )
    choices = [
        _choice(candidate, position, response_id, audio)
        for position, candidate in enumerate(body.get("candidates") or ())
    ]
    if not choices:
        # The prompt itself was blocked (promptFeedback.blockReason): an empty, filtered answer.
        choices = [Choice(index=0, message=AssistantMessage(content=None), finish_reason="content_filter")]
    return ChatResponse(
        id=response_id,
        created=created,
        model=str(body.get("modelVersion") or model),
        choices=choices,
        usage=usage_from_wire(body.get("usageMetadata")),
    )


def _choice(candidate: JSON, position: int, response_id: str, audio: Callable[[JSON], JSON] | None = None) -> Choice:
    index = int(candidate.get("index", position))
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    images: list[JSON] = []
    spoken: JSON | None = None
    other: list[JSON] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if "text" in part:
            (thoughts if part.get("thought") else texts).append(part["text"])
        elif "functionCall" in part:
            calls.append(tool_call(part, response_id, index, len(calls)))
        elif part.get("thought"):
            continue  # draft images of image models' thinking are not the answer
        elif "inlineData" in part and str(part["inlineData"].get("mimeType", "")).startswith("image/"):
            images.append(image_entry(part["inlineData"]))
        elif (
            audio is not None
            and spoken is None
            and str(part.get("inlineData", {}).get("mimeType", "")).startswith("audio/")
        ):
            spoken = audio(part["inlineData"])
        else:
            other.append(part)  # code execution and newer part kinds: kept, not lost
    extra: JSON = {"gemini_parts": other} if other else {}
    message = AssistantMessage(
        content="".join(texts) if texts else None,
        tool_calls=calls or None,
        reasoning_content="".join(thoughts) if thoughts else None,
        images=images or None,
        audio=spoken,
        extra=extra,
    )
    return Choice(
        index=index,
        message=message,
        finish_reason=finish_reason(candidate.get("finishReason"), has_tool_calls=bool(calls)),  # type: ignore[arg-type]
    )


def tool_call(part: JSON, response_id: str, candidate: int, position: int) -> ToolCall:
    call = part["functionCall"]
    name = str(call["name"])
    call_id = call.get("id") or minted_id(response_id, candidate, position, name)
    return ToolCall(
        id=tool_ids.join(str(call_id), part.get("thoughtSignature")),
        name=name,
        arguments=orjson.dumps(call.get("args") or {}).decode(),
    )


def minted_id(response_id: str, candidate: int, position: int, name: str) -> str:
    """A stable id for a call Gemini gave none; never sent back upstream (docs/decisions.md, "Gemini's function-call
    ids")."""
    digest = hashlib.sha256(f"{response_id}|{candidate}|{position}|{name}".encode()).hexdigest()[:20]
    return f"{MINTED_ID_PREFIX}{digest}"


def image_entry(blob: JSON) -> JSON:
    """An image the model made, as OpenRouter's `message.images` entry with a data URL."""
    return {"type": "image_url", "image_url": {"url": f"data:{blob.get('mimeType')};base64,{blob.get('data', '')}"}}


def finish_reason(reason: Any, *, has_tool_calls: bool) -> str | None:
    if reason is None:
        return None
    finish = FINISH_REASONS.get(str(reason), "stop")
    # Gemini says STOP for a turn that called functions.
    return "tool_calls" if finish == "stop" and has_tool_calls else finish


def usage_from_wire(usage: Any) -> Usage | None:
    """Thoughts are outside candidatesTokenCount; OpenAI counts reasoning inside completion tokens."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("promptTokenCount") or 0) + int(usage.get("toolUsePromptTokenCount") or 0)
    thoughts = int(usage.get("thoughtsTokenCount") or 0)
    completion = int(usage.get("candidatesTokenCount") or 0) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.get("totalTokenCount") or prompt + completion),
        cached_tokens=int(usage.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def embedding_to_wire(request: EmbeddingRequest, model: str, profile: ModelProfile, adjusted: list[str]) -> JSON:
    """A `batchEmbedContents` body: one EmbedContentRequest per input (a request whose content had
    several parts would get one vector for all of them). Each names the model, which "must match the
    model specified" in the URL; `dimensions` is `outputDimensionality`, and the task type is the
    request's `task_type` field or else the model profile's."""
    texts = [item for item in request.inputs if isinstance(item, str)]
    if len(texts) != len(request.inputs):
        # Gemini embeds text only: it has no way to take the client's tokenizer's ids.
        raise UnsupportedCapability(provider=PROVIDER, capability="token-id inputs (send text)", param="input")
    options: JSON = {}
    task_type = request.extra.get("task_type")
    if task_type is None:
        task_type = profile.task_type
    if task_type is not None:
        if task_type not in TASK_TYPES:
            raise InvalidRequest("invalid_value", param="task_type", detail=f"expected one of {', '.join(TASK_TYPES)}")
        options["taskType"] = task_type
    if request.dimensions is not None:
        options["outputDimensionality"] = request.dimensions
    for name, value in request.extra.items():
        if name != "task_type" and value is not None:
            adjusted.append(f"{name}=dropped")
    if request.user:
        adjusted.append("user=dropped")
    name = f"models/{model}"
    return {"requests": [{"model": name, "content": {"parts": [{"text": text}]}, **options} for text in texts]}


def embedding_from_wire(body: JSON, model: str) -> EmbeddingResponse:
    """`embeddings[].values`, in request order. The documented batch answer carries no token counts
    (GEM reads a `usageMetadata` should one come), so usage is reported only when the API gave it."""
    vectors = [[float(x) for x in entry["values"]] for entry in body["embeddings"]]
    usage = body.get("usageMetadata")
    counted = None
    if isinstance(usage, dict) and "promptTokenCount" in usage:
        prompt = int(usage["promptTokenCount"] or 0)
        counted = Usage(prompt_tokens=prompt, total_tokens=int(usage.get("totalTokenCount") or prompt))
    return EmbeddingResponse(model=model, vectors=vectors, usage=counted)
