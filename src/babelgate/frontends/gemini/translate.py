"""The Gemini API ⇄ chat (pure): a `generateContent` request becomes the canonical `ChatRequest` it means,
checked as it is read (errors name Gemini paths, `generationConfig.temperature`), a canonical answer becomes
a `GenerateContentResponse`, and gateway errors take Google's error shape (`{"error": {"code", "message",
"status"}}`). Field names are read in camelCase: the routes rename snake_case ones first (field_names.py).

Everything a request says is carried, reported in `x-babelgate-adjusted-params` when dropped, or refused
by name when dropping it would change what the answer is about (docs/gemini-api.md). Where the Gemini
provider has the table this direction needs, it is imported: its effort budgets (profiles.py), its audio
MIME types and the prefix of made-up call ids (wire.py); the finish reasons and usage fields here are the
inverse of its translate.py's (`usage_to_wire` of `usage_from_wire`).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from babelgate import tool_ids
from babelgate.errors import GatewayError, InvalidRequest
from babelgate.frontends.gemini import wire
from babelgate.frontends.gemini.translate_contents import Opener, chat_messages
from babelgate.frontends.gemini.translate_schema import json_schema
from babelgate.frontends.gemini.wire import JSON
from babelgate.frontends.openai_validation import (
    INTEGER_RANGES,
    NUMBER_RANGES,
    TOOL_NAME,
    Bound,
    expect_number,
    expect_object,
    json_schema_object,
)
from babelgate.frontends.responses.reasoning import REASONING_DETAILS, ReasoningSeal
from babelgate.i18n import render_message
from babelgate.providers.gemini.profiles import THINKING_BUDGETS
from babelgate.schema.chat import (
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    Choice,
    NamedToolChoice,
    ResponseFormat,
    Tool,
    ToolChoice,
    Usage,
)
from babelgate.schema.models import ModelInfo

# Top-level request fields read below; any other is dropped and reported.
_READ_FIELDS: Final = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        "model",
    }
)
# generationConfig fields and the chat field of the same meaning, checked against chat's range for it (a
# seed is any integer).
SAMPLING: Final[dict[str, str]] = {
    "temperature": "temperature",
    "topP": "top_p",
    "maxOutputTokens": "max_tokens",
    "candidateCount": "n",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
_SEEDS: Final = (-(2**63), 2**63 - 1)
_RANGES: Final[dict[str, tuple[Bound, Bound, bool]]] = {
    **{name: (low, high, False) for name, (low, high) in NUMBER_RANGES.items()},
    **{name: (low, high, True) for name, (low, high) in INTEGER_RANGES.items()},
    "seed": (*_SEEDS, True),
}
# generationConfig fields that change nothing the answer says, or that only Gemini serves: dropped, reported.
_CONFIG_READ: Final = frozenset(
    {
        *SAMPLING,
        "topK",
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "_responseJsonSchema",
        "thinkingConfig",
        "responseLogprobs",
        "logprobs",
        "responseModalities",
    }
)
RESPONSE_FORMAT_NAME: Final = "response"  # chat's json_schema format needs a name; Gemini's has none
FUNCTION_MODES: Final[dict[str, str]] = {"AUTO": "auto", "ANY": "required", "NONE": "none", "VALIDATED": "auto"}


def decode_request(body: JSON, model: str, *, adjusted: list[str], opener: Opener | None = None) -> ChatRequest:
    """A generateContent body → the chat request it means; what it drops is appended to `adjusted`.
    `opener` opens the thought signatures the gateway sealed for this request's provider."""
    request = ChatRequest(model, chat_messages(body, adjusted, opener))
    tools = body.get("tools")
    if tools is not None:
        chat_tools = _tools(tools, adjusted)
        if chat_tools:
            request.tools = chat_tools
    _tool_config(body.get("toolConfig"), request, adjusted)
    config = body.get("generationConfig")
    if config is not None:
        _generation_config(expect_object(config, "generationConfig"), request, adjusted)
    if body.get("safetySettings"):
        _drop(adjusted, "safetySettings")  # Gemini's own filters; another provider applies its own
    if body.get("cachedContent") is not None:
        # A Gemini context cache holds part of the prompt: without it the model would not see it.
        raise InvalidRequest(
            "invalid_value", param="cachedContent", detail="cached contents live on Gemini; send the contents"
        )
    for name, value in body.items():
        if name not in _READ_FIELDS and name != "cachedContent" and value is not None:
            _drop(adjusted, name)  # labels, serviceTier…
    return request


def _drop(adjusted: list[str], name: str) -> None:
    entry = f"{name}=dropped"
    if entry not in adjusted:
        adjusted.append(entry)


def _tools(tools: Any, adjusted: list[str]) -> list[Tool]:
    if not isinstance(tools, list):
        raise InvalidRequest("wrong_type", param="tools", expected="an array")
    out: list[Tool] = []
    for index, tool in enumerate(tools):
        if tool.__class__ is not dict:
            expect_object(tool, f"tools[{index}]")  # raises, naming it
        for kind, value in tool.items():
            if kind == "functionDeclarations":
                if value.__class__ is not list:
                    raise InvalidRequest(
                        "wrong_type", param=f"tools[{index}].functionDeclarations", expected="an array"
                    )
                for position, item in enumerate(value):
                    out.append(_function(item, index, position))
            elif kind in wire.HOSTED_TOOLS:
                # Mapped to the provider's own where it has one, else dropped and reported (hosted_tools.py).
                hosted = wire.HOSTED_TOOLS[kind]
                out.append(Tool(hosted, type=hosted))
            elif value is not None:
                _drop(adjusted, f"tools[{index}].{kind}")  # retrieval, MCP servers, computer use: Gemini's own servers
    return out


def _function(declaration: Any, index: int, position: int) -> Tool:
    """A function declaration as chat's function tool; its place (`tools[index].functionDeclarations[position]`)
    is spelled out only in an error."""
    if declaration.__class__ is not dict:
        expect_object(declaration, _declaration_path(index, position))  # raises, naming it
    name = declaration.get("name")
    if name.__class__ is not str or not name:
        param = f"{_declaration_path(index, position)}.name"
        raise InvalidRequest("missing_field" if name is None else "wrong_type", param=param)
    if not TOOL_NAME.fullmatch(name):
        raise InvalidRequest("invalid_tool_name", param=f"{_declaration_path(index, position)}.name")
    description = declaration.get("description")
    tool = Tool(name, description=description if description.__class__ is str and description else None)
    if declaration.get("parametersJsonSchema") is not None:
        schema = declaration["parametersJsonSchema"]
        json_schema_object(schema, f"{_declaration_path(index, position)}.parametersJsonSchema")
        tool.parameters = schema
    elif declaration.get("parameters") is not None:
        parameters = declaration["parameters"]
        tool.parameters = json_schema(parameters, lambda: f"{_declaration_path(index, position)}.parameters")
    # Without either, none: chat takes a function without parameters too (a provider that needs a schema
    # gets an empty one from its own translator).
    return tool


def _declaration_path(index: int, position: int) -> str:
    return f"tools[{index}].functionDeclarations[{position}]"


def _tool_config(config: Any, request: ChatRequest, adjusted: list[str]) -> None:
    if config is None:
        return
    config = expect_object(config, "toolConfig")
    calling = config.get("functionCallingConfig")
    for name, value in config.items():
        if name != "functionCallingConfig" and value is not None:
            _drop(adjusted, f"toolConfig.{name}")  # retrievalConfig, includeServerSideToolInvocations
    if calling is None:
        return
    calling = expect_object(calling, "toolConfig.functionCallingConfig")
    mode = str(calling.get("mode") or "AUTO").upper()
    if mode not in FUNCTION_MODES:
        raise InvalidRequest(
            "invalid_value",
            param="toolConfig.functionCallingConfig.mode",
            detail="expected AUTO, ANY, NONE or VALIDATED",
        )
    if mode == "VALIDATED":
        adjusted.append("toolConfig.functionCallingConfig.mode=approximated:AUTO")
    if request.tools is None:
        return  # a mode without functions says nothing (and chat upstreams refuse a lone tool_choice)
    names = calling.get("allowedFunctionNames")
    choice: ToolChoice = FUNCTION_MODES[mode]  # type: ignore[assignment]
    if isinstance(names, list) and names and mode == "ANY":
        if len(names) == 1 and isinstance(names[0], str):
            choice = NamedToolChoice(names[0])
        else:
            choice = {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": name}} for name in names],
                },
            }
    elif names:
        _drop(adjusted, "toolConfig.functionCallingConfig.allowedFunctionNames")  # only ANY reads them
    request.tool_choice = choice


def _generation_config(config: JSON, request: ChatRequest, adjusted: list[str]) -> None:
    # One pass over what the client set (a few fields), not a lookup of every field it might have set.
    rest = unknown = False  # a field read below is set; a field not read is
    for name, value in config.items():
        if value is None:
            continue
        if name in SAMPLING:
            field = SAMPLING[name]
            low, high, integer = _RANGES[field]
            expect_number(value, f"generationConfig.{name}", low, high, integer=integer)
            setattr(request, field, value)
        elif name in _CONFIG_READ:
            rest = True
        else:
            unknown = True
    if rest:
        _generation_rest(config, request, adjusted)
    if unknown:
        for name, value in config.items():
            if name not in _CONFIG_READ and value is not None:
                _drop(adjusted, f"generationConfig.{name}")  # mediaResolution, speechConfig, routingConfig…


def _generation_rest(config: JSON, request: ChatRequest, adjusted: list[str]) -> None:
    top_k = config.get("topK")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int | float) or top_k < 0:
            raise InvalidRequest("wrong_type", param="generationConfig.topK", expected="a non-negative integer")
        request.extra["top_k"] = int(top_k)  # not a chat field: an extra field, each provider's to take or report
    stop = config.get("stopSequences")
    if stop:
        if isinstance(stop, str):
            stop = [stop]
        elif not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise InvalidRequest("wrong_type", param="generationConfig.stopSequences", expected="an array of strings")
        request.stop = stop
    if config.get("responseLogprobs") is True:
        # Not chat fields either: extra fields, the OpenAI wire's names (an OpenAI upstream takes them).
        request.extra["logprobs"] = True
        top = config.get("logprobs")
        if top is not None:
            expect_number(top, "generationConfig.logprobs", *INTEGER_RANGES["top_logprobs"], integer=True)
            request.extra["top_logprobs"] = top
    _response_format(config, request, adjusted)
    modalities = config.get("responseModalities")
    if isinstance(modalities, list) and any(str(item).upper() != "TEXT" for item in modalities):
        # An image or audio answer asked of a model that writes text would change what comes back.
        raise InvalidRequest(
            "invalid_value", param="generationConfig.responseModalities", detail="this route answers in text"
        )
    thinking = config.get("thinkingConfig")
    if thinking is not None:
        effort = _effort(expect_object(thinking, "generationConfig.thinkingConfig"))
        if effort is not None:
            request.reasoning_effort = effort


def _response_format(config: JSON, request: ChatRequest, adjusted: list[str]) -> None:
    mime = config.get("responseMimeType")
    schema = config.get("responseJsonSchema", config.get("_responseJsonSchema"))
    if schema is None and config.get("responseSchema") is not None:
        schema = json_schema(config["responseSchema"], "generationConfig.responseSchema")
    if mime in (None, "text/plain") and schema is None:
        return
    if mime == "text/x.enum" and isinstance(schema, dict) and isinstance(schema.get("enum"), list):
        # One of the listed words: a JSON string of that enum is the nearest chat can ask for.
        adjusted.append("generationConfig.responseMimeType=approximated:application/json")
        schema = {"type": "object", "properties": {"value": schema}, "required": ["value"]}
    elif mime not in (None, "application/json"):
        raise InvalidRequest(
            "invalid_value", param="generationConfig.responseMimeType", detail="expected text/plain or application/json"
        )
    if schema is None:
        request.response_format = ResponseFormat("json_object")
        return
    request.response_format = ResponseFormat(
        "json_schema", name=RESPONSE_FORMAT_NAME, schema=expect_object(schema, "generationConfig.responseJsonSchema")
    )


def _effort(thinking: JSON) -> str | None:
    level = thinking.get("thinkingLevel")
    if level is not None:
        effort = wire.THINKING_LEVELS.get(str(level).upper())
        if effort is None:
            raise InvalidRequest(
                "invalid_value",
                param="generationConfig.thinkingConfig.thinkingLevel",
                detail=f"expected one of {', '.join(wire.THINKING_LEVELS)}",
            )
        return effort
    budget = thinking.get("thinkingBudget")
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidRequest(
            "wrong_type", param="generationConfig.thinkingConfig.thinkingBudget", expected="an integer"
        )
    return budget_effort(budget)


def budget_effort(budget: int) -> str | None:
    """A thinking budget → the least effort whose Gemini budget (profiles.THINKING_BUDGETS) covers it;
    0 turns thinking off, -1 lets the model decide (nothing to ask for)."""
    if budget == 0:
        return "none"
    if budget < 0:
        return None
    for effort, tokens in THINKING_BUDGETS.items():
        if budget <= tokens:
            return effort
    return next(reversed(THINKING_BUDGETS))


# -- answers -----------------------------------------------------------------------------------


def encode_response(response: ChatResponse, *, model: str, seal: ReasoningSeal | None) -> JSON:
    answer: JSON = {
        "candidates": [candidate(choice, seal) for choice in response.choices],
        "usageMetadata": usage_to_wire(response.usage),
        "modelVersion": model,
        "responseId": response.id,
    }
    return answer


def candidate(choice: Choice, seal: ReasoningSeal | None) -> JSON:
    return {
        "content": {"role": "model", "parts": model_parts(choice.message, seal)},
        "finishReason": wire.FINISH_REASONS.get(choice.finish_reason or "", wire.DEFAULT_FINISH_REASON),
        "index": choice.index,
    }


def model_parts(message: AssistantMessage, seal: ReasoningSeal | None) -> list[JSON]:
    """Thoughts, then text, then function calls: Gemini's order. The provider's reasoning state (its
    text and signed details) is sealed into the `thoughtSignature` of the first part, the place Gemini's
    own clients keep and send back (docs/gemini-api.md)."""
    parts: list[JSON] = []
    if message.reasoning_content:
        parts.append({"text": message.reasoning_content, "thought": True})
    text = (message.content or "") + (message.refusal or "")
    if text:
        parts.append({"text": text})
    for image in message.images or ():
        url = str((image.get("image_url") or {}).get("url", ""))
        header, _, data = url.partition(",")
        if header.startswith("data:") and header.endswith(";base64"):
            parts.append({"inlineData": {"mimeType": header[5:-7], "data": data}})
    for call in message.tool_calls or ():
        parts.append(function_call_part(call.id, call.name, call.arguments))
    details = message.extra.get(REASONING_DETAILS)
    if seal is not None and (message.reasoning_content or details):
        token = seal.seal(message.reasoning_content, details if isinstance(details, list) else [])
        if not parts:
            parts.append({"text": ""})
        parts[0]["thoughtSignature"] = wire.signature_of(token)
    if not parts:
        parts.append({"text": ""})
    return parts


def function_call_part(call_id: str, name: str, arguments: str) -> JSON:
    plain, signature = tool_ids.split(call_id)
    try:
        args = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        args = None
    call: JSON = {"id": plain, "name": name, "args": args if isinstance(args, dict) else {"arguments": arguments}}
    part: JSON = {"functionCall": call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def usage_to_wire(usage: Usage | None) -> JSON:
    """The reverse of providers/gemini/translate.usage_from_wire: thoughts are outside
    candidatesTokenCount, which chat counts inside completion tokens."""
    if usage is None:
        return {}
    thoughts = usage.reasoning_tokens or 0
    out: JSON = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": max(usage.completion_tokens - thoughts, 0),
        "totalTokenCount": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    return out


# -- models ----------------------------------------------------------------------------------


def model_object(info: ModelInfo, extras: JSON) -> JSON:
    """A GEM `Model`: `models/<id>`, its limits where known, and the methods this gateway serves for it."""
    embedding = "embed" in info.id
    out: JSON = {
        "name": f"models/{info.id}",
        "baseModelId": info.id,
        "version": "001",
        "displayName": info.display_name or info.id,
        "supportedGenerationMethods": (
            [wire.EMBED, wire.BATCH_EMBED] if embedding else [wire.GENERATE, wire.STREAM, wire.COUNT_TOKENS]
        ),
    }
    if extras.get("context_window"):
        out["inputTokenLimit"] = extras["context_window"]
    if extras.get("max_output_tokens"):
        out["outputTokenLimit"] = extras["max_output_tokens"]
    if (extras.get("capabilities") or {}).get("reasoning"):
        out["thinking"] = True
    return out


# -- errors ------------------------------------------------------------------------------------


def error_payload(error: GatewayError, language: str) -> JSON:
    """Google's error body (GEM errors.py `APIError` reads `code`, `message`, `status`)."""
    return {
        "error": {
            "code": error.status,
            "message": render_message(error, language),
            "status": wire.status_name(error.status),
        }
    }


def encode_error(error: GatewayError, language: str) -> bytes:
    return orjson.dumps(error_payload(error, language))
