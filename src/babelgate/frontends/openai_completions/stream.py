"""The translated road's stream: the chat calls' canonical chunks → `text_completion` chunks.

OpenAI streams a legacy completion as objects of the same shape as the whole answer, with `text`
deltas and `finish_reason` null until a choice ends, then `data: [DONE]`. With
`stream_options.include_usage` every chunk says `"usage": null` and one last chunk with empty
choices holds the usage, as on chat.
"""

from __future__ import annotations

from babelgate.errors import GatewayError
from babelgate.frontends.openai_completions.translate import sum_usage, text_choice
from babelgate.frontends.openai_completions.wire import JSON, OBJECT, finish_reason
from babelgate.frontends.openai_errors import encode_stream_error
from babelgate.providers.openai.translate import usage_to_wire
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSE_DONE, encode_sse_json


class OpenAICompletionsStreamEncoder:
    """One instance per client stream, a StreamEncoder (stream_encoder.py) fed the chunks of every chat
    call with the index of the prompt the call answers (the calls' chunks may interleave). Choice `i` of
    prompt `p` is choice `p * n + i`. With `echo`, each choice's prompt goes out first, in a chunk of its own.

    Only text reaches the client: a chat delta's role, reasoning or refusal has no place in a
    text completion (no tools are sent, so no tool calls come)."""

    __slots__ = ("_started", "_usage", "completion_id", "created", "echo", "include_usage", "model", "n", "prompts")

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        prompts: list[str],
        n: int,
        echo: bool,
        include_usage: bool,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model  # replaced by the upstream's name for it when the first chunk comes
        self.prompts = prompts
        self.n = n
        self.echo = echo
        self.include_usage = include_usage
        self._started = False
        self._usage: dict[int, Usage] = {}  # by prompt

    def start(self) -> bytes:
        return b""  # the echo waits for the first chunk, which names the model

    def feed(self, item: tuple[int, ChatChunk]) -> bytes:
        prompt, chunk = item
        out = b""
        if not self._started:
            self.model = chunk.model or self.model
            out = self._start()
        if chunk.usage is not None:
            self._usage[prompt] = chunk.usage
        choices = []
        for choice in chunk.choices:
            text = choice.delta.content or ""
            finish = finish_reason(choice.finish_reason)
            if text or finish is not None:
                choices.append(text_choice(prompt * self.n + choice.index, text, finish))
        if choices:
            out += self._frame(choices)
        return out

    def finish(self) -> bytes:
        """What ends a complete stream: the echo if no chunk came at all, the usage chunk (when
        asked for and every call reported its usage), and `[DONE]`."""
        out = b"" if self._started else self._start()
        if self.include_usage and len(self._usage) == len(self.prompts):
            usage = sum_usage(list(self._usage.values()))
            assert usage is not None
            out += encode_sse_json(
                {
                    "id": self.completion_id,
                    "object": OBJECT,
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage_to_wire(usage),
                }
            )
        return out + SSE_DONE

    def fail(self, error: GatewayError, language: str) -> bytes:
        return encode_stream_error(error, language)

    def _start(self) -> bytes:
        self._started = True
        if not self.echo:
            return b""
        return b"".join(
            self._frame([text_choice(number * self.n + index, prompt, None)])
            for number, prompt in enumerate(self.prompts)
            for index in range(self.n)
        )

    def _frame(self, choices: list[JSON]) -> bytes:
        wire: JSON = {
            "id": self.completion_id,
            "object": OBJECT,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            wire["usage"] = None
        return encode_sse_json(wire)
