"""What the gateway knows of a model without asking its upstream: its prices (for the cost of each
request, budgets and the ledger) and its limits and capabilities (for `/v1/models`).

The defaults below are the providers' published list prices in US dollars per million tokens,
matched by the upstream's model name (glob patterns; the longest matching pattern wins, so a
dated snapshot such as `gpt-4o-2024-08-06` takes `gpt-4o*` and `gpt-4o-mini-…` takes
`gpt-4o-mini*`). A config's `prices:` section and a model's own `price:` override them
(docs/governance.md, "Cost"). A model nobody priced has no cost: its requests are in the ledger
with `cost_usd` empty and count nothing against budgets.
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

    def cost(self, usage: Usage) -> float:
        cached = usage.cached_tokens or 0
        written = usage.cache_write_tokens or 0
        reasoning = usage.reasoning_tokens or 0
        plain_prompt = max(0, usage.prompt_tokens - cached - written)
        plain_completion = max(0, usage.completion_tokens - reasoning)
        total = (
            plain_prompt * self.input
            + cached * (self.input if self.cached_input is None else self.cached_input)
            + written * (self.input if self.cache_write is None else self.cache_write)
            + plain_completion * self.output
            + reasoning * (self.output if self.reasoning is None else self.reasoning)
        )
        return total / MILLION

    def public(self) -> dict[str, float]:
        """As `/v1/models` shows it: dollars per million tokens, the parts that are set."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}


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


_TEXT: Final = ("text",)
_TEXT_IMAGE: Final = ("text", "image")
_MULTI: Final = ("text", "image", "audio", "video")
_PDF: Final = ("text", "image", "file")


def _chat(
    price: Price,
    window: int,
    out: int,
    modalities: tuple[str, ...] = _TEXT_IMAGE,
    *,
    reasoning: bool = False,
    structured: bool = True,
) -> ModelFacts:
    return ModelFacts(
        price, window, out, modalities, _TEXT, tools=True, structured_output=structured, reasoning=reasoning
    )


def _embedding(price: float, window: int) -> ModelFacts:
    return ModelFacts(Price(price, 0.0), window, None, _TEXT, ("embedding",), tools=False, structured_output=False)


# Published list prices (standard tier, the shortest-context band where prices depend on the
# prompt's length), as of the gateway's release. Patterns are matched against the upstream's name.
DEFAULT_FACTS: Final[dict[str, ModelFacts]] = {
    # OpenAI
    "gpt-5*": _chat(Price(1.25, 10.0, 0.125), 400_000, 128_000, _TEXT_IMAGE, reasoning=True),
    "gpt-5-mini*": _chat(Price(0.25, 2.0, 0.025), 400_000, 128_000, _TEXT_IMAGE, reasoning=True),
    "gpt-5-nano*": _chat(Price(0.05, 0.40, 0.005), 400_000, 128_000, _TEXT_IMAGE, reasoning=True),
    "gpt-4.1*": _chat(Price(2.0, 8.0, 0.50), 1_047_576, 32_768),
    "gpt-4.1-mini*": _chat(Price(0.40, 1.60, 0.10), 1_047_576, 32_768),
    "gpt-4.1-nano*": _chat(Price(0.10, 0.40, 0.025), 1_047_576, 32_768),
    "gpt-4o*": _chat(Price(2.50, 10.0, 1.25), 128_000, 16_384),
    "gpt-4o-mini*": _chat(Price(0.15, 0.60, 0.075), 128_000, 16_384),
    "o1*": _chat(Price(15.0, 60.0, 7.50), 200_000, 100_000, reasoning=True),
    "o3*": _chat(Price(2.0, 8.0, 0.50), 200_000, 100_000, reasoning=True),
    "o3-mini*": _chat(Price(1.10, 4.40, 0.55), 200_000, 100_000, _TEXT, reasoning=True),
    "o4-mini*": _chat(Price(1.10, 4.40, 0.275), 200_000, 100_000, reasoning=True),
    "gpt-3.5-turbo*": _chat(Price(0.50, 1.50), 16_385, 4_096, _TEXT),
    "text-embedding-3-small": _embedding(0.02, 8_191),
    "text-embedding-3-large": _embedding(0.13, 8_191),
    "text-embedding-ada-002": _embedding(0.10, 8_191),
    # Anthropic (cache writes: the 5-minute rate, 1.25 times input)
    "claude-opus-4-6*": _chat(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, _PDF, reasoning=True),
    "claude-opus-4-5*": _chat(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, _PDF, reasoning=True),
    "claude-opus-4*": _chat(Price(15.0, 75.0, 1.50, 18.75), 200_000, 32_000, _PDF, reasoning=True),
    "claude-sonnet-4*": _chat(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, _PDF, reasoning=True),
    "claude-3-7-sonnet*": _chat(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, _PDF, reasoning=True),
    "claude-haiku-4-5*": _chat(Price(1.0, 5.0, 0.10, 1.25), 200_000, 64_000, _PDF, reasoning=True),
    "claude-3-5-haiku*": _chat(Price(0.80, 4.0, 0.08, 1.0), 200_000, 8_192, _PDF),
    # Google Gemini (prompts up to 200k tokens)
    "gemini-3-pro*": _chat(Price(2.0, 12.0, 0.20), 1_048_576, 65_536, _MULTI, reasoning=True),
    "gemini-2.5-pro*": _chat(Price(1.25, 10.0, 0.31), 1_048_576, 65_536, _MULTI, reasoning=True),
    "gemini-2.5-flash*": _chat(Price(0.30, 2.50, 0.075), 1_048_576, 65_536, _MULTI, reasoning=True),
    "gemini-2.5-flash-lite*": _chat(Price(0.10, 0.40, 0.025), 1_048_576, 65_536, _MULTI, reasoning=True),
    "gemini-2.0-flash*": _chat(Price(0.10, 0.40, 0.025), 1_048_576, 8_192, _MULTI),
    "gemini-2.0-flash-lite*": _chat(Price(0.075, 0.30), 1_048_576, 8_192, _MULTI),
    "gemini-embedding-001": _embedding(0.15, 2_048),
    "text-embedding-004": _embedding(0.0, 2_048),
    # Mistral
    "mistral-large*": _chat(Price(0.50, 1.50), 262_144, 262_144, _TEXT_IMAGE),
    "mistral-medium*": _chat(Price(0.40, 2.0), 131_072, 131_072, _TEXT_IMAGE),
    "mistral-small*": _chat(Price(0.10, 0.30), 131_072, 131_072, _TEXT_IMAGE),
    "magistral-medium*": _chat(Price(2.0, 5.0), 40_960, 40_960, _TEXT, reasoning=True),
    "magistral-small*": _chat(Price(0.50, 1.50), 40_960, 40_960, _TEXT, reasoning=True),
    "codestral*": _chat(Price(0.30, 0.90), 256_000, 256_000, _TEXT),
    "devstral*": _chat(Price(0.40, 2.0), 131_072, 131_072, _TEXT),
    "ministral-8b*": _chat(Price(0.10, 0.10), 131_072, 131_072, _TEXT),
    "ministral-3b*": _chat(Price(0.04, 0.04), 131_072, 131_072, _TEXT),
    "pixtral-large*": _chat(Price(2.0, 6.0), 131_072, 131_072, _TEXT_IMAGE),
    "open-mistral-nemo*": _chat(Price(0.15, 0.15), 131_072, 131_072, _TEXT),
    "mistral-embed": _embedding(0.10, 8_192),
    "codestral-embed*": _embedding(0.15, 8_192),
}


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
    prices: Mapping[str, Mapping[str, Any]] | None = None, overrides: Iterable[tuple[str, Mapping[str, Any]]] = ()
) -> FactsTable:
    """The defaults, with the config's `prices:` (pattern → price fields) laid over them."""
    entries = dict(DEFAULT_FACTS)
    for pattern, fields_ in [*(prices or {}).items(), *overrides]:
        known = entries.get(pattern) or next(
            (f for p, f in sorted(DEFAULT_FACTS.items(), key=lambda i: -len(i[0])) if fnmatchcase(pattern, p)),
            ModelFacts(),
        )
        entries[pattern] = replace(known, price=price_from(fields_))
    return FactsTable(entries)


def price_from(fields_: Mapping[str, Any]) -> Price:
    """A config's price (already type-checked by the config model)."""
    return Price(**{name: value for name, value in fields_.items() if value is not None})
