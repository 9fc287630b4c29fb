"""Canonical chat ↔ Anthropic Messages (pure functions).

`to_wire` builds the request body and reports every parameter it dropped, clamped or adapted in
`adjusted`; what cannot be sent without changing the answer's meaning is a GatewayError.
`from_wire` turns a Message into the canonical response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.anthropic.profiles import ADAPTIVE_EFFORTS, THINKING_BUDGETS, ModelProfile
from babelgate.providers.anthropic.translate_messages import reasoning_details, system_and_turns
from babelgate.providers.anthropic.translate_tools import (
    JSON_OBJECT_INSTRUCTION,
    forces_tool_use,
    json_tool,
    native_schema,
    tool_choice_to_wire,
    tools_to_wire,
)
from babelgate.providers.anthropic.wire import (
    FINISH_REASONS,
    JSON_TOOL_NAME,
    NATIVE_FIELDS,
    REASONING_DETAILS,
)
from babelgate.providers.message_fields import report_unsent_fields
from babelgate.schema.chat import JSON, AssistantMessage, ChatRequest, ChatResponse, Choice, ToolCall, Usage

PROVIDER = "anthropic"


@dataclass(frozen=True, slots=True)
class WireRequest:
    body: JSON
    json_tool: str | None  # the forced tool whose input is the answer's content, if any


def to_wire(
    request: ChatRequest,
    model: str,
    profile: ModelProfile,
    adjusted: list[str],
    *,
    tool_positions: Sequence[int] | None = None,
) -> WireRequest:
    _refuse_what_cannot_be_sent(request)
    report_unsent_fields(request.messages, adjusted, used=(REASONING_DETAILS,))
    system, turns = system_and_turns(request.messages, adjusted)
    body: JSON = {"model": model, "messages": turns}
    max_tokens = request.max_tokens if request.max_tokens is not None else profile.max_tokens
    body["max_tokens"] = max_tokens
    if request.stop:
        body["stop_sequences"] = request.stop
    _sampling(request, profile, body, adjusted)
    choice = tool_choice_to_wire(request.tool_choice, request.parallel_tool_calls)
    tools = tools_to_wire(request.tools, adjusted, tool_positions) if request.tools else []
    json_tool_name = None
    rf = request.response_format
    if rf is not None and rf.type == "json_schema":
        if profile.structured_output == "native":
            body["output_config"] = {"format": {"type": "json_schema", "schema": native_schema(rf.schema, adjusted)}}
        else:
            tools.append(json_tool(rf))
            choice = {"type": "tool", "name": JSON_TOOL_NAME}
            json_tool_name = JSON_TOOL_NAME
    elif rf is not None and rf.type == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    if system:
        body["system"] = system
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    _thinking(request, profile, body, max_tokens, forced_tool=forces_tool_use(choice), adjusted=adjusted)
    user = request.user or request.extra.get("safety_identifier")
    if user:
        body["metadata"] = {"user_id": user}
    if request.stream:
        body["stream"] = True
    _extra_fields(request, body, adjusted)
    return WireRequest(body, json_tool_name)


def _refuse_what_cannot_be_sent(request: ChatRequest) -> None:
    """Dropping these would change what the client gets back, so they are refused."""
    if request.n is not None and request.n > 1:
        raise UnsupportedCapability(provider=PROVIDER, capability="n > 1", param="n")
    if request.extra.get("logprobs") is True:
        raise UnsupportedCapability(provider=PROVIDER, capability="logprobs", param="logprobs")


def _sampling(request: ChatRequest, profile: ModelProfile, body: JSON, adjusted: list[str]) -> None:
    temperature, top_p = request.temperature, request.top_p
    if profile.sampling == "none":
        for name, value in (("temperature", temperature), ("top_p", top_p)):
            if value is not None:
                adjusted.append(f"{name}=dropped")
        return
    if temperature is not None:
        # OpenAI's range is 0 to 2, Anthropic's 0 to 1.
        if temperature > 1:
            if not profile.clamp_temperature:
                raise InvalidRequest("out_of_range", param="temperature", expected="a value from 0 to 1 for Claude")
            temperature = 1.0
            adjusted.append("temperature=clamped:1.0")
        body["temperature"] = temperature
    if top_p is not None:
        if profile.sampling == "one" and temperature is not None:
            adjusted.append("top_p=dropped")
        else:
            body["top_p"] = top_p


def _thinking(
    request: ChatRequest, profile: ModelProfile, body: JSON, max_tokens: int, *, forced_tool: bool, adjusted: list[str]
) -> None:
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        return
    if profile.thinking == "none":
        adjusted.append("reasoning_effort=dropped")
        return
    if forced_tool:
        # "Thinking may not be enabled when tool_choice forces tool use": the forced tool is what
        # the client explicitly asked for, so thinking gives way.
        adjusted.append("reasoning_effort=dropped")
        return
    if profile.thinking == "adaptive":
        if effort not in ADAPTIVE_EFFORTS:
            raise InvalidRequest(
                "invalid_value", param="reasoning_effort", detail=f"expected one of {', '.join(ADAPTIVE_EFFORTS)}"
            )
        body["thinking"] = {"type": "adaptive"}
        body.setdefault("output_config", {})["effort"] = ADAPTIVE_EFFORTS[effort]
        _drop_sampling_for_thinking(body, adjusted)
        return
    if effort not in THINKING_BUDGETS:
        raise InvalidRequest(
            "invalid_value", param="reasoning_effort", detail=f"expected one of {', '.join(THINKING_BUDGETS)}"
        )
    budget = THINKING_BUDGETS[effort]
    if budget >= max_tokens:
        # The budget is part of max_tokens and must stay below it (ANT thinking_config_enabled_param.py).
        budget = max_tokens - 1
        if budget < 1024:
            raise InvalidRequest(
                "out_of_range",
                param="max_tokens",
                expected="more than 1024 tokens when reasoning_effort is set for Claude",
            )
        adjusted.append(f"reasoning_effort=clamped:budget_tokens={budget}")
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    _drop_sampling_for_thinking(body, adjusted)


def _drop_sampling_for_thinking(body: JSON, adjusted: list[str]) -> None:
    """Thinking (manual or adaptive) refuses sampling parameters other than their defaults:
    "temperature may only be set to 1 when thinking is enabled or in adaptive mode"."""
    for name in ("temperature", "top_p"):
        if body.pop(name, None) is not None:
            adjusted.append(f"{name}=dropped")


def _extra_fields(request: ChatRequest, body: JSON, adjusted: list[str]) -> None:
    for name, value in request.extra.items():
        if name in NATIVE_FIELDS:
            if name == "service_tier" and value not in ("auto", "standard_only"):
                adjusted.append("service_tier=dropped")
            elif name == "top_k" and "thinking" in body:
                adjusted.append("top_k=dropped")  # thinking refuses it too
            elif name == "output_config" and isinstance(value, dict):
                body["output_config"] = {**value, **body.get("output_config", {})}
            else:
                body.setdefault(name, value)
        elif value is not None and name not in ("stream_options", "safety_identifier"):
            adjusted.append(f"{name}=dropped")
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            adjusted.append(f"{name}=dropped")
    if request.metadata:
        adjusted.append("metadata=dropped")


def from_wire(body: JSON, *, created: int, json_tool: str | None) -> ChatResponse:
    """An Anthropic Message → the canonical response (one choice)."""
    texts: list[str] = []
    thinking: list[str] = []
    thinking_blocks: list[JSON] = []
    calls: list[ToolCall] = []
    unhandled: list[JSON] = []
    for block in body.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use" and block.get("name") == json_tool:
            texts.append(orjson.dumps(block.get("input", {})).decode())
        elif kind == "tool_use":
            calls.append(
                ToolCall(id=block["id"], name=block["name"], arguments=orjson.dumps(block.get("input", {})).decode())
            )
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
            thinking_blocks.append(block)
        elif kind == "redacted_thinking":
            thinking_blocks.append(block)
        else:
            unhandled.append(block)  # server tools and newer block kinds: kept, not lost
    extra: JSON = {}
    if thinking_blocks:
        extra[REASONING_DETAILS] = reasoning_details(thinking_blocks)
    if unhandled:
        extra["anthropic_content"] = unhandled
    finish = finish_reason(body.get("stop_reason"), has_tool_calls=bool(calls))
    message = AssistantMessage(
        content="".join(texts) if texts else None,
        tool_calls=calls or None,
        reasoning_content="".join(thinking) if thinking else None,
        extra=extra,
    )
    return ChatResponse(
        id=str(body.get("id", "")),
        created=created,
        model=str(body.get("model", "")),
        choices=[Choice(index=0, message=message, finish_reason=finish)],  # type: ignore[arg-type]
        usage=usage_from_wire(body.get("usage")),
    )


def finish_reason(stop_reason: Any, *, has_tool_calls: bool, reasons: Mapping[str, str] = FINISH_REASONS) -> str | None:
    """`reasons`: the upstream's stop reasons (Anthropic's; Bedrock's Converse names its own)."""
    if stop_reason is None:
        return None
    finish = reasons.get(str(stop_reason), "stop")
    # The structured-output tool is not a tool call for the client.
    if finish == "tool_calls" and not has_tool_calls:
        return "stop"
    return finish


def usage_from_wire(usage: Any) -> Usage | None:
    """Anthropic's input_tokens exclude cache reads and writes; OpenAI's prompt_tokens include them."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("output_tokens_details") or {}
    return usage_with_cache(
        usage.get("input_tokens"),
        usage.get("output_tokens"),
        usage.get("cache_read_input_tokens"),
        usage.get("cache_creation_input_tokens"),
        reasoning=details.get("thinking_tokens"),
    )


def usage_with_cache(
    uncached: Any, completion: Any, cache_read: Any, cache_write: Any, *, reasoning: int | None = None
) -> Usage:
    """Claude's counting (on Anthropic and on Bedrock): input tokens exclude cache reads and writes, OpenAI's
    prompt_tokens include them."""
    read, written = int(cache_read or 0), int(cache_write or 0)
    prompt, completed = int(uncached or 0) + read + written, int(completion or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completed,
        total_tokens=prompt + completed,
        cached_tokens=read,
        cache_write_tokens=written or None,
        reasoning_tokens=reasoning,
    )
