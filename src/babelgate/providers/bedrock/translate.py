"""Canonical chat <-> Bedrock Converse (pure functions).

`to_wire` builds a ConverseRequest body (BRT shapes ConverseRequest, Message, ContentBlock,
ToolConfiguration, InferenceConfiguration, OutputConfig) from the Anthropic translator's system,
turns and tools (translate_blocks.py renames the blocks), and lists in `adjusted` every parameter
dropped or approximated. `from_wire` turns a ConverseResponse into the canonical response.

Structured output: a JSON schema goes as Converse's own `outputConfig.textFormat` (native), or, with
the provider's `options.structured_output: tool` for models without it, as one forced tool whose input
is the answer (listed as `response_format=tool-forced`). Reasoning: `reasoning_effort` on a Claude
model becomes Claude's `thinking` in `additionalModelRequestFields` (the Anthropic profiles decide a
budget or adaptive thinking); other families take no common field, so it is dropped and listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from babelgate.errors import UnsupportedCapability
from babelgate.providers.anthropic.profiles import ADAPTIVE_EFFORTS, THINKING_BUDGETS, ModelProfiles
from babelgate.providers.anthropic.translate import finish_reason as anthropic_finish_reason
from babelgate.providers.anthropic.translate import usage_with_cache
from babelgate.providers.anthropic.translate_messages import reasoning_details, system_and_turns
from babelgate.providers.anthropic.translate_tools import JSON_OBJECT_INSTRUCTION, tool_choice_to_wire
from babelgate.providers.anthropic.translate_tools import tools_to_wire as anthropic_tools
from babelgate.providers.bedrock.translate_blocks import blocks_to_wire, tools_to_wire
from babelgate.providers.bedrock.wire import FINISH_REASONS, JSON_TOOL_NAME, REASONING_DETAILS, claude_name, is_claude
from babelgate.providers.message_fields import report_unsent_fields
from babelgate.schema.chat import JSON, AssistantMessage, ChatRequest, ChatResponse, Choice, ToolCall, Usage

PROVIDER: Final = "bedrock"
StructuredOutput = Literal["native", "tool"]
_PROFILES: Final = ModelProfiles()  # the built-in rules only: a model's profile is the same for every gateway


@dataclass(frozen=True, slots=True)
class WireRequest:
    body: JSON
    json_tool: str | None  # the forced tool whose input is the answer's content, if any


def to_wire(
    request: ChatRequest,
    model: str,
    adjusted: list[str],
    *,
    structured_output: StructuredOutput = "native",
    tool_positions: Sequence[int] | None = None,
) -> WireRequest:
    if request.n is not None and request.n > 1:
        raise UnsupportedCapability(provider=PROVIDER, capability="n > 1", param="n")
    if request.extra.get("logprobs") is True:
        raise UnsupportedCapability(provider=PROVIDER, capability="logprobs", param="logprobs")
    report_unsent_fields(request.messages, adjusted, used=(REASONING_DETAILS,))
    system, turns = system_and_turns(request.messages, adjusted)
    body: JSON = {
        "messages": [
            {"role": turn["role"], "content": blocks_to_wire(turn["content"], f"messages[{index}]")}
            for index, turn in enumerate(turns)
        ]
    }
    json_tool = None
    rf = request.response_format
    if rf is not None and rf.type == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    if system:
        body["system"] = blocks_to_wire(system, "system")
    inference = _inference(request)
    if inference:
        body["inferenceConfig"] = inference
    tools = tools_to_wire(anthropic_tools(request.tools, adjusted, tool_positions)) if request.tools else []
    choice = _tool_choice(request, adjusted)
    if rf is not None and rf.type == "json_schema":
        schema = rf.schema or {"type": "object", "properties": {}}
        if structured_output == "native":
            structure: JSON = {"schema": orjson.dumps(schema).decode(), "name": rf.name or "response"}
            if rf.description:
                structure["description"] = rf.description
            body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": structure}}}
        else:
            description = rf.description or "Return the answer as this tool's input."
            spec = {"name": JSON_TOOL_NAME, "description": description, "inputSchema": {"json": schema}}
            tools.append({"toolSpec": spec})
            choice, json_tool = {"tool": {"name": JSON_TOOL_NAME}}, JSON_TOOL_NAME
            adjusted.append("response_format=tool-forced")
    if choice == "none":
        if _has_tool_history(body["messages"]):
            # Converse has no "none" choice, and refuses tool blocks in a conversation without a
            # toolConfig: the tools stay, and the model is free to call them.
            adjusted.append("tool_choice=dropped")
        else:
            tools = []
        choice = None
    if tools:
        config: JSON = {"tools": tools}
        if choice is not None:
            config["toolChoice"] = choice
        body["toolConfig"] = config
    additional = _thinking(request, model, forced_tool=json_tool is not None or _forces(choice), adjusted=adjusted)
    if additional:
        body["additionalModelRequestFields"] = additional
        if "thinking" in additional:
            inference = body.get("inferenceConfig", {})
            for name in ("temperature", "topP"):
                if inference.pop(name, None) is not None:  # thinking refuses non-default sampling
                    adjusted.append(f"{'top_p' if name == 'topP' else name}=dropped")
    if request.metadata:
        body["requestMetadata"] = dict(request.metadata)
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            adjusted.append(f"{name}=dropped")
    for name, value in request.extra.items():
        if value is not None and name not in ("stream_options", "safety_identifier"):
            adjusted.append(f"{name}=dropped")
    if request.user:
        adjusted.append("user=dropped")
    return WireRequest(body, json_tool)


def _inference(request: ChatRequest) -> JSON:
    inference: JSON = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop:
        inference["stopSequences"] = list(request.stop)
    return inference


def _tool_choice(request: ChatRequest, adjusted: list[str]) -> JSON | Literal["none"] | None:
    anthropic = tool_choice_to_wire(request.tool_choice, request.parallel_tool_calls)
    if anthropic is None:
        return None
    if anthropic.get("disable_parallel_tool_use"):
        adjusted.append("parallel_tool_calls=dropped")  # Converse has no such switch
    kind = anthropic["type"]
    if kind == "none":
        return "none"
    if kind == "tool":
        return {"tool": {"name": anthropic["name"]}}
    if kind == "any":
        return {"any": {}}
    return None if request.tool_choice is None else {"auto": {}}


def _forces(choice: Any) -> bool:
    return isinstance(choice, dict) and ("any" in choice or "tool" in choice)


def _has_tool_history(messages: list[JSON]) -> bool:
    return any("toolUse" in block or "toolResult" in block for message in messages for block in message["content"])


def _thinking(request: ChatRequest, model: str, *, forced_tool: bool, adjusted: list[str]) -> JSON:
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        return {}
    profile = _PROFILES.for_model(claude_name(model)) if is_claude(model) else None
    if profile is None or profile.thinking == "none" or forced_tool:
        # Claude refuses thinking with a forced tool; other families have no common reasoning field.
        adjusted.append("reasoning_effort=dropped")
        return {}
    if profile.thinking == "adaptive" and effort in ADAPTIVE_EFFORTS:
        return {"thinking": {"type": "adaptive"}, "output_config": {"effort": ADAPTIVE_EFFORTS[effort]}}
    budget = THINKING_BUDGETS.get(effort, THINKING_BUDGETS["medium"])
    max_tokens = request.max_tokens
    if max_tokens is not None and budget >= max_tokens:
        if max_tokens <= 1024:
            adjusted.append("reasoning_effort=dropped")
            return {}
        budget = max_tokens - 1
        adjusted.append(f"reasoning_effort=clamped:budget_tokens={budget}")
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}


def from_wire(body: JSON, *, model: str, created: int, json_tool: str | None) -> ChatResponse:
    """A ConverseResponse -> the canonical response (one choice)."""
    message = (body.get("output") or {}).get("message") or {}
    texts: list[str] = []
    reasoning: list[str] = []
    signed: list[JSON] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or ():
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input", {})).decode()
            if use.get("name") == json_tool:
                texts.append(arguments)
            else:
                calls.append(ToolCall(id=str(use["toolUseId"]), name=str(use["name"]), arguments=arguments))
        elif "reasoningContent" in block:
            content = block["reasoningContent"]
            if "reasoningText" in content:
                text = content["reasoningText"]
                reasoning.append(str(text.get("text", "")))
                signed.append(
                    {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
                )
            elif "redactedContent" in content:
                signed.append({"type": "redacted_thinking", "data": content["redactedContent"]})
    extra: JSON = {}
    if signed:
        extra[REASONING_DETAILS] = reasoning_details(signed)
    finish = finish_reason(body.get("stopReason"), has_tool_calls=bool(calls))
    answer = AssistantMessage(
        content="".join(texts) if texts else None,
        tool_calls=calls or None,
        reasoning_content="".join(reasoning) if reasoning else None,
        extra=extra,
    )
    return ChatResponse(
        id=str(body.get("id") or ""),
        created=created,
        model=model,
        choices=[Choice(index=0, message=answer, finish_reason=finish)],  # type: ignore[arg-type]
        usage=usage_from_wire(body.get("usage")),
    )


def finish_reason(stop_reason: Any, *, has_tool_calls: bool) -> str | None:
    return anthropic_finish_reason(stop_reason, has_tool_calls=has_tool_calls, reasons=FINISH_REASONS)


def usage_from_wire(usage: Any) -> Usage | None:
    """Converse's inputTokens exclude cache reads and writes (as Anthropic's do); prompt_tokens include them."""
    if not isinstance(usage, dict):
        return None
    return usage_with_cache(
        usage.get("inputTokens"),
        usage.get("outputTokens"),
        usage.get("cacheReadInputTokens"),
        usage.get("cacheWriteInputTokens"),
    )
