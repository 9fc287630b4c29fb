"""Public model names → deployments (provider + upstream model + parameter defaults).

Order: a configured model, then an alias (resolved again), then a `provider/model` prefix, then
a model family (`gpt-*` → the provider named "openai", …). Results are cached per name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Final

from babelgate.config.models import Config
from babelgate.errors import ModelNotFound
from babelgate.providers.base import Provider

# Bare model names by family → the provider of that name.
FAMILIES: Final = (
    (("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-embedding-*", "dall-e-*", "gpt-image-*", "whisper-*",
      "tts-*", "davinci-*", "babbage-*"), "openai"),
    (("claude-*",), "anthropic"),
    (("gemini-*", "imagen-*"), "gemini"),
    (("mistral-*", "ministral-*", "codestral-*", "pixtral-*", "magistral-*", "devstral-*"), "mistral"),
)
_MAX_ALIAS_DEPTH: Final = 8
_CACHE_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Deployment:
    public_name: str
    provider: Provider
    model: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    native_responses: bool = False  # `/v1/responses` goes to the upstream's own Responses API
    refuse_unsupported_tools: bool = False  # a hosted tool the provider lacks is a 400, not dropped

    def apply_to_body(self, body: dict[str, Any]) -> None:
        """Defaults fill what the client left out; overrides always win. `max_tokens` and
        `max_completion_tokens` are one setting under two names: the client's name is kept."""
        for name, value in self.defaults.items():
            if name in _TOKEN_FIELDS and any(field in body for field in _TOKEN_FIELDS):
                continue
            body.setdefault(name, value)
        for name, value in self.overrides.items():
            if name in _TOKEN_FIELDS:
                name = next((field for field in _TOKEN_FIELDS if field in body), name)
            body[name] = value


_TOKEN_FIELDS: Final = ("max_tokens", "max_completion_tokens")


class RegistryError(ValueError):
    """Models, aliases and providers that do not fit together; `path` is the config key."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(problem)


class ModelRegistry:
    def __init__(self, config: Config, providers: Mapping[str, Provider]) -> None:
        self.providers = dict(providers)
        self._aliases = dict(config.aliases)
        self._refuse_tools = config.server.unsupported_tools == "refuse"
        self._configured = {
            name: Deployment(name, self.providers[model.provider], model.model, model.defaults, model.overrides,
                             model.native_responses,
                             (model.unsupported_tools or config.server.unsupported_tools) == "refuse")
            for name, model in config.models.items()
            if model.provider in self.providers
        }
        for name, deployment in self._configured.items():
            if deployment.native_responses and not deployment.provider.capabilities.native_responses:
                raise RegistryError(f"models.{name}.native_responses",
                                    f"provider {deployment.provider.name!r} has no native Responses API")
        self._cache: dict[str, Deployment] = {}
        for alias in self._aliases:
            try:
                self.resolve(alias)
            except ModelNotFound as exc:
                raise RegistryError(f"aliases.{alias}", f"target {self._aliases[alias]!r} does not resolve: "
                                        f"{exc.params.get('reason', 'unknown model')}") from None

    @property
    def aliases(self) -> Mapping[str, str]:
        return self._aliases

    @property
    def configured(self) -> Mapping[str, Deployment]:
        return self._configured

    def resolve(self, name: str) -> Deployment:
        deployment = self._cache.get(name)
        if deployment is None:
            deployment = self._resolve(name, name, 0)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[name] = deployment
        return deployment

    def _resolve(self, public: str, name: str, depth: int) -> Deployment:
        configured = self._configured.get(name)
        if configured is not None:
            return configured if public == name else _renamed(configured, public)
        target = self._aliases.get(name)
        if target is not None:
            if depth >= _MAX_ALIAS_DEPTH or target == name:
                raise self._not_found(public, reason=f"aliases form a cycle or a chain longer than {_MAX_ALIAS_DEPTH}")
            return self._resolve(public, target, depth + 1)
        prefix, slash, rest = name.partition("/")
        if slash and rest and prefix in self.providers:
            return Deployment(public, self.providers[prefix], rest, refuse_unsupported_tools=self._refuse_tools)
        for patterns, provider_name in FAMILIES:
            if provider_name in self.providers and any(fnmatchcase(name, p) for p in patterns):
                return Deployment(public, self.providers[provider_name], name,
                                  refuse_unsupported_tools=self._refuse_tools)
        raise self._not_found(public)

    def _not_found(self, model: str, *, reason: str = "unknown model") -> ModelNotFound:
        return ModelNotFound(model=model, providers=", ".join(sorted(self.providers)) or "none",
                             reason=reason, param="model")

    def table(self) -> list[tuple[str, str, str]]:
        """(public name, provider, upstream model) for every configured model and alias."""
        rows = [(name, d.provider.name, d.model) for name, d in self._configured.items()]
        for alias in self._aliases:
            deployment = self.resolve(alias)
            rows.append((alias, deployment.provider.name, deployment.model))
        return rows


def _renamed(deployment: Deployment, public: str) -> Deployment:
    return replace(deployment, public_name=public)
