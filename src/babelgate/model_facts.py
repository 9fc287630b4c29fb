"""What the gateway knows of a model without asking its upstream: its prices (for the cost of each
request, budgets and the ledger) and its limits and capabilities (for `/v1/models`).

The defaults are the providers' published list prices in US dollars per million tokens, declared by
each provider type (`facts` in providers/<name>/declaration.py, built with `chat_model` and
`embedding_model` below) and handed to `facts_table`. They are matched by the upstream's model name
(glob patterns; the longest matching pattern wins, so a dated snapshot such as `gpt-4o-2024-08-06`
takes `gpt-4o*` and `gpt-4o-mini-…` takes `gpt-4o-mini*`). A config's `prices:` section and a
model's own `price:` override them (docs/governance.md, "Cost"). A model nobody priced has no cost:
its requests are in the ledger with `cost_usd` empty and count nothing against budgets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from babelgate.schema.chat import Usage

MILLION: Final = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens. Prompt tokens include cached reads and cache writes, and
    completion tokens include reasoning tokens (OpenAI's counting, which every provider's usage is
    translated to); each part is charged at its own rate, which defaults to the plain one."""

    input: float
    output: float
    cached_input: float | None = None  # cache reads; unset: `input`
    cache_write: float | None = None  # tokens written to a prompt cache (Anthropic); unset: `input`
    reasoning: float | None = None  # unset: `output`
    audio_input: float | None = None  # audio tokens in, not read from a cache; unset: `input`
    audio_output: float | None = None  # audio tokens out; unset: `output`
    per_search: float | None = None  # dollars per 1,000 searches (a rerank's search units); unset: searches are free
    batch_discount: float = 0.5  # the share taken off the price for a line through a provider's batch API

    def cost(self, usage: Usage) -> float:
        cached = usage.cached_tokens or 0
        written = usage.cache_write_tokens or 0
        reasoning = usage.reasoning_tokens or 0
        heard = usage.audio_prompt_tokens or 0
        spoken = usage.audio_completion_tokens or 0
        if usage.search_units:  # a rerank: its searches, and the tokens it may have been billed for besides
            searches = usage.search_units * (self.per_search or 0.0) / 1000
            return searches + (max(0, usage.prompt_tokens) * self.input) / MILLION
        if not (cached or written or reasoning or heard or spoken):  # most answers: the sum without its zero terms
            # Conditionals, not `max(0, …)`: every priced answer comes here, and `max` parses its arguments as
            # keywords in C (a cold path of its own, twice a request: docs/performance.md).
            prompt, completion = usage.prompt_tokens, usage.completion_tokens
            return (
                (prompt if prompt > 0 else 0) * self.input + (completion if completion > 0 else 0) * self.output
            ) / MILLION
        plain_prompt = max(0, usage.prompt_tokens - cached - written - heard)
        plain_completion = max(0, usage.completion_tokens - reasoning - spoken)
        total = (
            plain_prompt * self.input
            + cached * (self.input if self.cached_input is None else self.cached_input)
            + written * (self.input if self.cache_write is None else self.cache_write)
            + heard * (self.input if self.audio_input is None else self.audio_input)
            + plain_completion * self.output
            + reasoning * (self.output if self.reasoning is None else self.reasoning)
            + spoken * (self.output if self.audio_output is None else self.audio_output)
        )
        return total / MILLION

    def public(self) -> dict[str, float]:
        """As `/v1/models` shows it: dollars per million tokens, the parts that are set (not the batch discount, a
        share that only lines through a provider's batch API pay)."""
        return {
            f.name: value
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None and f.name != "batch_discount"
        }


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """A model's price and what it can do; any part may be unknown (None)."""

    price: Price | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    tools: bool | None = None
    structured_output: bool | None = None
    reasoning: bool | None = None

    def public(self) -> dict[str, Any]:
        """The fields `/v1/models` adds to OpenAI's, the known ones only."""
        out: dict[str, Any] = {}
        if self.context_window is not None:
            out["context_window"] = self.context_window
        if self.max_output_tokens is not None:
            out["max_output_tokens"] = self.max_output_tokens
        if self.input_modalities:
            out["input_modalities"] = list(self.input_modalities)
        if self.output_modalities:
            out["output_modalities"] = list(self.output_modalities)
        capabilities = {
            name: value
            for name, value in (
                ("tools", self.tools),
                ("structured_output", self.structured_output),
                ("reasoning", self.reasoning),
            )
            if value is not None
        }
        if capabilities:
            out["capabilities"] = capabilities
        if self.price is not None:
            out["pricing"] = {"currency": "USD", "unit": "1M tokens", **self.price.public()}
        return out


# Modalities, as `/v1/models` names them.
TEXT: Final = ("text",)
TEXT_IMAGE: Final = ("text", "image")
MULTI: Final = ("text", "image", "audio", "video")
PDF: Final = ("text", "image", "file")


def realtime_model(price: Price) -> ModelFacts:
    """A Realtime model's facts (OpenAI's `/v1/realtime`): text, images and audio in, text and audio out, tools."""
    return ModelFacts(price, 32_000, 4_096, ("text", "image", "audio"), ("text", "audio"), tools=True)


def chat_model(
    price: Price,
    window: int,
    out: int,
    modalities: tuple[str, ...] = TEXT_IMAGE,
    *,
    reasoning: bool = False,
    structured: bool = True,
) -> ModelFacts:
    """A chat model's facts: text out, with tools and (unless said otherwise) structured output."""
    return ModelFacts(
        price, window, out, modalities, TEXT, tools=True, structured_output=structured, reasoning=reasoning
    )


def rerank_model(price: Price, window: int | None = None) -> ModelFacts:
    """A rerank model's facts: a query and documents in, scores out, priced by the search or by the token."""
    return ModelFacts(price, window, None, TEXT, ("rerank",), tools=False, structured_output=False)


def embedding_model(price: float, window: int) -> ModelFacts:
    """An embedding model's facts: text in, vectors out, input tokens only priced."""
    return ModelFacts(Price(price, 0.0), window, None, TEXT, ("embedding",), tools=False, structured_output=False)


class FactsTable:
    """Patterns → facts, looked up by the longest pattern that matches (computed once per name)."""

    def __init__(self, entries: Mapping[str, ModelFacts]) -> None:
        # Longest first: the first match is the most specific one.
        self._patterns = sorted(entries.items(), key=lambda item: len(item[0]), reverse=True)
        self._seen: dict[str, ModelFacts | None] = {}

    def lookup(self, model: str) -> ModelFacts | None:
        if model in self._seen:
            return self._seen[model]
        bare = model.rpartition("/")[2]  # `models/gemini-…`, `org/model` names of OpenAI-compatible servers
        found = next(
            (facts for pattern, facts in self._patterns if fnmatchcase(model, pattern) or fnmatchcase(bare, pattern)),
            None,
        )
        if len(self._seen) < 10_000:
            self._seen[model] = found
        return found

    def price(self, model: str) -> Price | None:
        facts = self.lookup(model)
        return facts.price if facts is not None else None


def facts_table(
    defaults: Mapping[str, ModelFacts],
    prices: Mapping[str, Mapping[str, Any]] | None = None,
    overrides: Iterable[tuple[str, Mapping[str, Any]]] = (),
) -> FactsTable:
    """The defaults (the providers' declared facts, `babelgate.providers.MODEL_FACTS`), with the config's
    `prices:` (pattern → price fields) laid over them."""
    entries = dict(defaults)
    for pattern, fields_ in [*(prices or {}).items(), *overrides]:
        known = entries.get(pattern) or next(
            (f for p, f in sorted(defaults.items(), key=lambda i: -len(i[0])) if fnmatchcase(pattern, p)),
            ModelFacts(),
        )
        entries[pattern] = replace(known, price=price_from(fields_))
    return FactsTable(entries)


def price_from(fields_: Mapping[str, Any]) -> Price:
    """A config's price (already type-checked by the config model)."""
    return Price(**{name: value for name, value in fields_.items() if value is not None})
