"""Quirks of OpenAI-compatible servers, as data: dict-level edits of the request body.

A profile holds rules matched by upstream model name (fnmatch patterns). A rule renames, drops
or sets defaults on top-level fields; renames and drops are reported so the client sees them in
the `x-babelgate-adjusted-params` header (a default only fills a field the client left out).
These edits are the only work the fast path does on a body besides rewriting `model`, and they
never touch the stream.

A profile also says which models the server's legacy `/completions` endpoint serves (the native
road of `/v1/completions`; every other model is answered through chat), and where that endpoint
lives when it is not beside `/chat/completions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class ModelRule:
    models: tuple[str, ...]
    rename: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.models)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    rules: tuple[ModelRule, ...] = ()
    # Upstream model names (fnmatch patterns) that the server's legacy `/completions` serves.
    completions: tuple[str, ...] = ("*",)
    # Where that endpoint is when not at `{base_url}/completions`: a path under the server's root
    # (the base URL without its `/v1`), e.g. DeepSeek's "/beta".
    completions_root: str | None = None
    # How the server's `{base_url}/rerank` speaks: "cohere" (Cohere's v2 body, `results`: vLLM, Jina, Infinity),
    # "voyage" (`top_k`, answers under `data`), or None where the server has no rerank (OpenAI's own API).
    rerank: str | None = "cohere"
    # The server counts a Responses body's input tokens at `{base_url}/responses/input_tokens` (OpenAI's API).
    input_tokens: bool = False
    # The server runs OpenAI's Batch API (`{base_url}/files` and `/batches`): OpenAI's own and Azure's. Compatible
    # servers have none, and their providers leave out the `batch` capability.
    batches: bool = False
    _by_model: dict[str, tuple[ModelRule, ...]] = field(default_factory=dict, compare=False, repr=False)

    def rules_for(self, model: str) -> tuple[ModelRule, ...]:
        cached = self._by_model.get(model)
        if cached is None:
            cached = tuple(rule for rule in self.rules if rule.matches(model))
            if len(self._by_model) < 4096:
                self._by_model[model] = cached
        return cached

    def apply(self, body: dict[str, Any], model: str, adjusted: list[str]) -> None:
        """Edit `body` in place for `model`, appending a note per edit to `adjusted`."""
        for rule in self.rules_for(model):
            for old, new in rule.rename.items():
                if old in body and new not in body:
                    body[new] = body.pop(old)
                    adjusted.append(f"{old}=renamed:{new}")
            for name in rule.drop:
                if name in body:
                    del body[name]
                    adjusted.append(f"{name}=dropped")
            for name, value in rule.defaults.items():
                body.setdefault(name, value)

    def extended(self, extra: ModelRule | None) -> Profile:
        # A fresh cache: the base profile's cached rule lists do not hold the extra rule.
        return self if extra is None else replace(self, rules=(*self.rules, extra), _by_model={})

    def serves_completions(self, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.completions)


# OpenAI's reasoning models refuse `max_tokens` ("Use 'max_completion_tokens' instead").
_OPENAI_REASONING: Final = ModelRule(
    models=("o1*", "o3*", "o4*", "gpt-5*"), rename={"max_tokens": "max_completion_tokens"}
)

# DeepSeek: "temperature, top_p, presence_penalty, frequency_penalty … will not trigger an error
# but will also have no effect" on deepseek-reasoner; dropping them says so to the client.
_DEEPSEEK_REASONER: Final = ModelRule(
    models=("deepseek-reasoner*",), drop=("temperature", "top_p", "presence_penalty", "frequency_penalty")
)
# xAI: reasoning models refuse presencePenalty and frequencyPenalty; grok-4 also reasoning_effort.
_XAI_REASONING: Final = (
    ModelRule(models=("grok-4*", "grok-3-mini*"), drop=("presence_penalty", "frequency_penalty")),
    ModelRule(models=("grok-4*",), drop=("reasoning_effort",)),
)

# OpenAI's `/v1/completions` serves only its instruct and base models (and fine-tunes of those);
# chat models there answer "This is a chat model and not supported in the v1/completions endpoint".
_OPENAI_COMPLETIONS: Final = (
    "gpt-3.5-turbo-instruct*",
    "davinci-002",
    "babbage-002",
    "ft:davinci-002:*",
    "ft:babbage-002:*",
)
# DeepSeek's completions are its FIM beta: `POST {root}/beta/completions`, non-thinking mode only.
_DEEPSEEK_COMPLETIONS: Final = ("deepseek-chat*",)
# DashScope's OpenAI-compatible Completions API serves only the Qwen Coder models (and only in the
# Beijing region; elsewhere set `options.completions: false`).
_QWEN_COMPLETIONS: Final = ("qwen2.5-coder-*", "qwen-coder-turbo*")
# xAI's legacy `/v1/completions` "is not supported by reasoning models".
_XAI_COMPLETIONS: Final = ("grok-2*", "grok-3", "grok-3-latest", "grok-3-fast*", "*-non-reasoning")

# OpenAI's models that do not reason refuse `reasoning_effort` ("Unrecognized request argument"):
# clients of other APIs (Claude Code's thinking, Ollama's `think`) send it to any model they are given.
_OPENAI_NOT_REASONING: Final = ModelRule(models=("gpt-4*", "gpt-3.5*", "chatgpt-4o*"), drop=("reasoning_effort",))

# OpenAI's API (and Azure's, in front of OpenAI's and Foundry's models) has no `top_k` and refuses it
# ("Unrecognized request argument supplied: top_k"): Anthropic, Gemini and Ollama clients send it to any model.
NO_TOP_K: Final = ModelRule(models=("*",), drop=("top_k",))

PROFILES: Final[dict[str, Profile]] = {
    "openai": Profile(
        "openai",
        (_OPENAI_REASONING, _OPENAI_NOT_REASONING, NO_TOP_K),
        completions=_OPENAI_COMPLETIONS,
        rerank=None,
        input_tokens=True,
        batches=True,
    ),
    # Azure OpenAI and Microsoft Foundry: model names are the resource's deployment names, so only what holds
    # for every model there.
    "azure": Profile("azure", (NO_TOP_K,), batches=True),
    # Ollama's /v1 accepts the OpenAI body as is: its decoder ignores fields it does not know, and
    # current versions honour stream_options.include_usage, so nothing is dropped.
    "ollama": Profile("ollama"),
    "vllm": Profile("vllm"),
    "llamacpp": Profile("llamacpp"),
    "deepseek": Profile("deepseek", (_DEEPSEEK_REASONER,), completions=_DEEPSEEK_COMPLETIONS, completions_root="/beta"),
    "qwen": Profile("qwen", completions=_QWEN_COMPLETIONS),
    # Groq serves chat only: `/openai/v1/completions` is a 404 (unknown URL) there.
    "groq": Profile("groq", completions=()),
    "xai": Profile("xai", _XAI_REASONING, completions=_XAI_COMPLETIONS),
    # Servers built on older OpenAI-compatible layers reject `stream_options` outright.
    "no-stream-options": Profile("no-stream-options", (ModelRule(models=("*",), drop=("stream_options",)),)),
    "generic": Profile("generic"),
    # Embeddings and rerank services: no legacy completions; Voyage's rerank names `top_n` `top_k`.
    "jina": Profile("jina", completions=()),
    "voyage": Profile("voyage", completions=(), rerank="voyage"),
}


def select_profile(name: str | None, base_url: str, options: Mapping[str, Any]) -> Profile:
    """The named profile, else one guessed from the host, plus rules from the provider's options."""
    if name is None:
        name = "openai" if "api.openai.com" in base_url else "generic"
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join(sorted(PROFILES))})")
    drop_option = options.get("drop_params", ())
    drop = (drop_option,) if isinstance(drop_option, str) else tuple(drop_option)
    rename = dict(options.get("rename_params", {}))
    defaults = dict(options.get("default_params", {}))
    extra = (
        ModelRule(models=("*",), rename=rename, drop=drop, defaults=defaults) if (drop or rename or defaults) else None
    )
    profile = PROFILES[name].extended(extra)
    completions = _completions_option(options.get("completions"))
    return profile if completions is None else replace(profile, completions=completions, _by_model={})


def _completions_option(value: Any) -> tuple[str, ...] | None:
    """`options.completions`: true (every model has the legacy endpoint), false (none has), or a
    list of model patterns; None leaves the profile's own list."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("*",) if value else ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(pattern, str) for pattern in value):
        return tuple(value)
    raise ValueError("options.completions: expected true, false or a list of model patterns")
