"""A provider's prompt cache, for the fakes: one per fake server, i.e. per deployment.

Real prompt caches (OpenAI's automatic one, Anthropic's `cache_control` one) are per deployment and by
prefix: a request's leading part that this deployment processed before is read from the cache, and
reported as cached input tokens. Modelled here with the request cut into segments in the order the
provider reads them (tools, system, then each message), each segment's tokens its JSON length / 4: the
cached tokens are those of the longest run of leading segments this server saw before, in any request.
`cache_control` marks are ignored (a client moves them as a conversation grows; the content is what is
cached).

    cache = PromptCache()
    fake.responder = cache.openai      # FakeOpenAI: chat answers report prompt_tokens_details.cached_tokens
    fake.responder = cache.anthropic   # FakeAnthropic: answers report cache_read_input_tokens
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

from tests.fakes import anthropic_upstream
from tests.fakes.openai_upstream import chunk, completion
from tests.fakes.scripted import Reply


class PromptCache:
    def __init__(self) -> None:
        self._seen: set[bytes] = set()  # hashes of every leading run of segments processed
        self.requests = 0

    def reset(self) -> None:
        self._seen.clear()
        self.requests = 0

    def read(self, segments: list[Any]) -> tuple[int, int]:
        """(prompt tokens, cached tokens) of a request; its prefixes are cached from now on."""
        self.requests += 1
        digest = hashlib.sha256()
        total = cached = 0
        hit = True
        for segment in segments:
            encoded = orjson.dumps(_unmarked(segment), option=orjson.OPT_SORT_KEYS)
            tokens = max(1, math.ceil(len(encoded) / 4))
            digest.update(encoded + b"\0")
            prefix = digest.copy().digest()
            total += tokens
            if hit and prefix in self._seen:
                cached = total
            else:
                hit = False
            self._seen.add(prefix)
        return total, cached

    # -- the fakes' responders --------------------------------------------------------------------------

    def openai(self, body: Any, path: str) -> Reply | None:
        if not path.endswith("/chat/completions") or not isinstance(body, dict):
            return None
        segments = [body.get("tools"), *body.get("messages", [])]
        prompt, cached = self.read(segments)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": 3,
            "total_tokens": prompt + 3,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        model = body.get("model", "gpt-4o-mini")
        if not body.get("stream"):
            return Reply(json=completion("Hello!", model=model, usage=usage))
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        events: list[dict[str, Any] | bytes] = [
            chunk({"role": "assistant", "content": ""}, model=model, usage=include),
            chunk({"content": "Hello!"}, model=model, usage=include),
            chunk({}, finish_reason="stop", model=model, usage=include),
        ]
        if include:
            last = chunk({}, model=model)
            last["choices"], last["usage"] = [], usage
            events.append(last)
        return Reply(stream=events)

    def anthropic(self, body: Any, path: str) -> Reply | None:
        if not path.endswith("/messages") or not isinstance(body, dict):
            return None
        prompt, cached = self.read([body.get("tools"), body.get("system"), *body.get("messages", [])])
        model = body.get("model", anthropic_upstream.DEFAULT_MODEL)
        usage = anthropic_upstream.usage(prompt - cached, 3, cache_read_input_tokens=cached)
        if not body.get("stream"):
            return Reply(json=anthropic_upstream.message("Hello!", model=model, usage=usage))
        events: list[dict[str, Any] | bytes] = list(anthropic_upstream.text_events(["Hello!"], model=model))
        events[0]["message"]["usage"] = {**usage, "output_tokens": 1}  # type: ignore[index]
        return Reply(stream=events)


def _unmarked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_unmarked(item) for item in value]
    return value
