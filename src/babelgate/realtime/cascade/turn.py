"""One cascade response: the conversation as a chat request to the session's model, streamed; its text spoken
sentence by sentence (or sent as text), its function calls as `function_call` items, and `response.done` with the
chat model's tokens and the seconds of audio heard and spoken. The session state it works on is plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from babelgate.realtime.cascade.models import RATE, Models
from babelgate.realtime.cascade.speech import Sentences, Speaker
from babelgate.realtime.gemini_live.audio import FromPcm, ToPcm
from babelgate.realtime.gemini_live.settings import Settings
from babelgate.realtime.sequence import (
    Emitter,
    Event,
    Ids,
    ResponseState,
    close_response,
    function_call,
    open_response,
    text_delta,
)
from babelgate.realtime.sequence import audio_out as audio_delta
from babelgate.schema.chat import ChatRequest, Message, NamedToolChoice, Tool, ToolCall, ToolChoice
from babelgate.schema.chat import Usage as ChatUsage

Push = Callable[[list[Event]], None]
BYTES_PER_SECOND: Final = RATE * 2
_TEXT_PARTS: Final = {"input_text": "text", "text": "text", "output_text": "text"}
_AUDIO_PARTS: Final = frozenset({"input_audio", "audio", "output_audio"})


@dataclass(slots=True)
class CascadeState:
    settings: Settings
    ids: Ids
    emit: Emitter
    session_id: str
    voice: str
    response: ResponseState | None = None
    last_item_id: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # the conversation, as realtime items
    heard_seconds: float = 0.0  # user audio committed since the last response.done
    spoken_seconds: float = 0.0  # audio spoken in the current response
    to_pcm: ToPcm = field(init=False)
    from_pcm: FromPcm = field(init=False)

    def __post_init__(self) -> None:
        self.new_converters()

    def new_converters(self) -> None:
        self.to_pcm = ToPcm(self.settings.input_format, RATE)
        self.from_pcm = FromPcm(RATE, self.settings.output_format)

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.settings.output_modalities

    def audio_tail(self) -> bytes:
        return self.from_pcm.flush()

    def usage(self, chat: ChatUsage | None) -> dict[str, Any]:
        """A `response.done`'s usage: the chat model's text tokens, and (the gateway's own fields) the seconds of
        audio transcribed for it and spoken in it."""
        prompt = chat.prompt_tokens if chat is not None else 0
        completion = chat.completion_tokens if chat is not None else 0
        cached = (chat.cached_tokens or 0) if chat is not None else 0
        usage = {
            "total_tokens": prompt + completion,
            "input_tokens": prompt,
            "output_tokens": completion,
            "input_token_details": {"text_tokens": prompt, "audio_tokens": 0, "cached_tokens": cached},
            "output_token_details": {"text_tokens": completion, "audio_tokens": 0},
            "input_audio_seconds": round(self.heard_seconds, 3),
            "output_audio_seconds": round(self.spoken_seconds, 3),
        }
        self.heard_seconds = self.spoken_seconds = 0.0
        return usage


def _text(content: Any) -> str:
    """The text of an item's content parts: typed text, and the transcripts of audio."""
    texts = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        value = (
            part.get(_TEXT_PARTS[kind])
            if kind in _TEXT_PARTS
            else part.get("transcript")
            if kind in _AUDIO_PARTS
            else None
        )
        if isinstance(value, str) and value:
            texts.append(value)
    return "\n".join(texts)


def chat_messages(instructions: str | None, items: list[dict[str, Any]]) -> list[Message]:
    """The conversation as chat messages: a function call joins the assistant message before it."""
    messages = [Message("system", instructions)] if instructions else []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            text = _text(item.get("content"))
            if role in ("user", "system", "assistant") and text:
                messages.append(Message(role, text))
        elif kind == "function_call":
            call = ToolCall(
                str(item.get("call_id") or item.get("id")), str(item.get("name")), item.get("arguments") or "{}"
            )
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls = [*(last.tool_calls or []), call]
            else:
                messages.append(Message("assistant", None, tool_calls=[call]))
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                Message("tool", output if isinstance(output, str) else "", tool_call_id=str(item.get("call_id")))
            )
    return messages


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return choice  # type: ignore[no-any-return]
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return NamedToolChoice(choice["name"])
    return None


def chat_request(state: CascadeState) -> ChatRequest:
    settings = state.settings
    tools = [
        Tool(str(tool["name"]), description=tool.get("description"), parameters=tool.get("parameters"))
        for tool in settings.tools
    ]
    return ChatRequest(
        model=settings.model,
        messages=chat_messages(settings.instructions, state.items),
        tools=tools or None,
        tool_choice=_tool_choice(settings.tool_choice) if tools else None,
        temperature=settings.temperature,
        max_tokens=settings.max_output_tokens,
        stream=True,
        include_usage=True,
    )


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


async def respond(state: CascadeState, models: Models, push: Push) -> None:
    """One response, from `response.created` to `response.done`. Cancelled (barge-in, `response.cancel`), it stops
    where it is: its caller closes the response. A GatewayError of a model is raised to the caller too."""
    push(open_response(state))
    spoken = "audio" in state.modalities
    sentences = Sentences()

    def on_sentence(sentence: str) -> None:
        part = state.response.part if state.response is not None else None
        push(text_delta(state, " " + sentence if part is not None and part.text else sentence, transcript=True))

    def on_audio(pcm: bytes) -> None:
        state.spoken_seconds += len(pcm) / BYTES_PER_SECOND
        push(audio_delta(state, state.from_pcm.feed(pcm)))

    speaker = Speaker(lambda text: models.speak(text, state.voice), on_sentence, on_audio)
    calls: dict[int, _Call] = {}
    usage: ChatUsage | None = None
    try:
        async for chunk in models.chat(chat_request(state)):
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices[:1]:
                delta = choice.delta
                if delta.content:
                    if spoken:
                        for sentence in sentences.feed(delta.content):
                            speaker.say(sentence)
                    else:
                        push(text_delta(state, delta.content, transcript=False))
                for fragment in delta.tool_calls or ():
                    call = calls.setdefault(fragment.index, _Call())
                    call.id = fragment.id or call.id
                    call.name = fragment.name or call.name
                    call.arguments += fragment.arguments or ""
        rest = sentences.flush()
        if rest is not None:
            speaker.say(rest)
        await speaker.finish()
    finally:
        await speaker.stop()
    for _, call in sorted(calls.items()):
        push(function_call(state, call.id or state.ids.new("call"), call.name, call.arguments or "{}"))
    finish(state, push, "completed", usage=usage)


def finish(
    state: CascadeState, push: Push, status: Any, reason: str | None = None, usage: ChatUsage | None = None
) -> None:
    """`response.done`, and the response's items kept in the conversation (a cut-off message as far as it was
    spoken: what the user heard is what the model remembers)."""
    response = state.response
    if response is None:
        return
    events = close_response(state, status, reason, state.usage(usage))
    state.items.extend(item for item in response.output if _said(item))
    push(events)


def _said(item: dict[str, Any]) -> bool:
    return item.get("type") != "message" or bool(_text(item.get("content")))
