"""The translated road: a legacy completions body → one single-turn chat request per prompt, and the
chat answers → one `text_completion` object.

A completions body is OpenAI's wire too: besides the prompt and the fields only it has
(`COMPLETION_ONLY`), its fields are chat's by name and meaning (sampling, `stop`, `user`, and fields
the legacy API does not define, passed on as on chat), so the OpenAI codec reads them
(`prepare.read_chat_fields`) onto the request every prompt's call starts from.

Fan-out: each prompt string becomes its own chat call carrying the client's `n`, and choice `i`
of prompt `p` becomes choice `p * n + i`, prompt-major, as OpenAI numbers the choices of a list
prompt. Pure: ids and timestamps come from the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from babelgate.frontends.openai_completions.wire import (
    COMPLETION_ONLY,
    DEFAULT_MAX_TOKENS,
    JSON,
    OBJECT,
    finish_reason,
)
from babelgate.frontends.prepare import read_chat_fields
from babelgate.providers.openai.translate import usage_to_wire
from babelgate.schema.chat import ChatRequest, ChatResponse, Message, Usage

_NOT_CHAT_FIELDS: Final = frozenset({*COMPLETION_ONLY, "model", "messages"})


@dataclass(slots=True)
class CompletionRequest:
    """A body that passed `validate_completion_body` and `validate_translatable`, ready to fan out."""

    model: str
    prompts: list[str]
    n: int = 1
    echo: bool = False
    stream: bool = False
    include_usage: bool = False
    # What every chat call carries besides its one message: the sampling fields, `stop`, `user`, and
    # fields the legacy API does not define (passed on as on chat).
    chat: ChatRequest = field(default_factory=lambda: ChatRequest("", []))
    # Parameters read and left out because they change nothing (x-babelgate-adjusted-params).
    adjusted: list[str] = field(default_factory=list)


def decode_request(body: JSON) -> CompletionRequest:
    prompt = body["prompt"]
    fields = {name: value for name, value in body.items() if name not in _NOT_CHAT_FIELDS}
    if fields.get("max_tokens") is None:
        fields["max_tokens"] = DEFAULT_MAX_TOKENS
    adjusted = []
    if body.get("messages") is not None:
        adjusted.append("messages=dropped")  # a chat field, not a completions one: the prompt is the conversation
    if body.get("best_of") is not None:
        adjusted.append("best_of=dropped")  # equal to `n` (validated): every candidate is returned anyway
    if body.get("suffix") == "":
        adjusted.append("suffix=dropped")  # nothing after the completion is no suffix
    options = body.get("stream_options") or {}
    return CompletionRequest(
        model=body["model"],
        prompts=[prompt] if isinstance(prompt, str) else list(prompt),
        n=body.get("n") or 1,
        echo=body.get("echo") is True,
        stream=body.get("stream") is True,
        include_usage=options.get("include_usage") is True,
        chat=read_chat_fields(body["model"], fields),
        adjusted=adjusted,
    )


def chat_request(request: CompletionRequest, prompt: str) -> ChatRequest:
    """One prompt as a single-turn chat, a request of its own: the prompt is the user's whole message."""
    return dataclasses.replace(request.chat, messages=[Message("user", prompt)], extra=dict(request.chat.extra))


def encode_response(
    request: CompletionRequest, answers: Sequence[ChatResponse], *, completion_id: str, created: int
) -> JSON:
    """`answers[p]` is the chat answer to `request.prompts[p]`."""
    choices: list[JSON] = []
    for number, answer in enumerate(answers):
        echoed = request.prompts[number] if request.echo else ""
        for choice in sorted(answer.choices, key=lambda c: c.index):
            choices.append(
                text_choice(
                    number * request.n + choice.index,
                    echoed + (choice.message.content or ""),
                    finish_reason(choice.finish_reason) or "stop",
                )
            )
    # The upstream's name for the model, as the chat road reports it.
    model = answers[0].model if answers and answers[0].model else request.model
    body: JSON = {"id": completion_id, "object": OBJECT, "created": created, "model": model, "choices": choices}
    usages = [answer.usage for answer in answers]
    if all(usage is not None for usage in usages):
        total = sum_usage([usage for usage in usages if usage is not None])
        if total is not None:
            body["usage"] = usage_to_wire(total)
    return body


def text_choice(index: int, text: str, finish: str | None) -> JSON:
    # The chat road's answers carry no log probabilities (`logprobs` is refused on it).
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def sum_usage(usages: Sequence[Usage]) -> Usage | None:
    """The usage of several calls together (None for none). The detail objects the canonical usage
    does not model travel only with a single call's usage: adding up unknown fields would be a guess."""
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]
    return Usage(
        prompt_tokens=sum(usage.prompt_tokens for usage in usages),
        completion_tokens=sum(usage.completion_tokens for usage in usages),
        total_tokens=sum(usage.total_tokens for usage in usages),
        cached_tokens=_sum_known([usage.cached_tokens for usage in usages]),
        cache_write_tokens=_sum_known([usage.cache_write_tokens for usage in usages]),
        reasoning_tokens=_sum_known([usage.reasoning_tokens for usage in usages]),
    )


def _sum_known(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None
