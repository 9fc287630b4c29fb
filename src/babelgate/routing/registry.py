"""Public model names → routes: the deployments that serve a name (provider + upstream model +
parameter defaults + weight), its fallbacks, and the routing policy its attempts follow.

Order: a configured model, then an alias (resolved again), then a `provider/model` prefix, then
a model family (`gpt-*` → the provider named "openai", …; each provider type declares its families,
babelgate.providers.FAMILIES). Results are cached per name.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Final

from babelgate.config.models import Balance, Config, ModelConfig, RoutingConfig
from babelgate.errors import ModelNotFound
from babelgate.model_facts import Price, facts_table, price_from
from babelgate.providers import ENV_PRESETS, FAMILIES, MODEL_FACTS
from babelgate.providers.base import Provider
from babelgate.routing.affinity import AffinityPolicy

# A provider like the named one but with some of its config replaced (a deployment's own key
# pool or timeouts): name, {provider config field: value}.
ProviderVariant = Callable[[str, dict[str, Any]], Provider]

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
    weight: float = 1.0
    # Who this deployment is to the router's health state (circuit, latency) and in
    # `x-babelgate-route`: `provider/model`, with `#n` when a model has the pair twice (own keys).
    label: str = ""
    price: Price | None = None  # what a token costs here (model_facts.py); None: unknown
    # `label=ok` as `x-babelgate-route` names a first attempt that answered (router.py).
    route_ok: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.label:
            # getattr: tests build deployments of translators without a provider behind them.
            object.__setattr__(self, "label", f"{getattr(self.provider, 'name', '-')}/{self.model}")
        object.__setattr__(self, "route_ok", f"{self.label}=ok".encode())

    @property
    def name(self) -> str:
        return self.label

    def apply_to_body(self, body: dict[str, Any]) -> None:
        """Defaults fill what the client left out; overrides always win. `max_tokens` and
        `max_completion_tokens` are one setting under two names: the client's name is kept."""
        for name, value in self.defaults.items():
            if name in TOKEN_FIELDS and any(field in body for field in TOKEN_FIELDS):
                continue
            body.setdefault(name, value)
        for name, value in self.overrides.items():
            if name in TOKEN_FIELDS:
                name = next((field for field in TOKEN_FIELDS if field in body), name)
            body[name] = value


TOKEN_FIELDS: Final = ("max_tokens", "max_completion_tokens")


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The routing settings of one model, the server's `routing` section overridden by the model's."""

    retries: int = 0
    backoff_initial: float = 0.25
    backoff_max: float = 8.0
    budget: float = 60.0
    balance: Balance = "weighted"
    circuit_failures: int = 5
    circuit_cooldown: float = 30.0
    key_cooldown: float = 60.0
    affinity: AffinityPolicy | None = None  # None: no session pins (the default), nothing read for them

    @classmethod
    def merged(cls, server: RoutingConfig, model: RoutingConfig | None) -> RoutingPolicy:
        values: dict[str, Any] = {}
        for section in (server, model):
            if section is None:
                continue
            for name, target in (
                ("retries", "retries"),
                ("budget", "budget"),
                ("balance", "balance"),
                ("key_cooldown", "key_cooldown"),
            ):
                if getattr(section, name) is not None:
                    values[target] = getattr(section, name)
            if section.backoff is not None:
                values["backoff_initial"], values["backoff_max"] = section.backoff.initial, section.backoff.max
            if section.circuit is not None:
                values["circuit_failures"] = section.circuit.failures
                values["circuit_cooldown"] = section.circuit.cooldown
        values["affinity"] = AffinityPolicy.merged(server.affinity, model.affinity if model is not None else None)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Everything that may serve one public model name, in the order the router tries it."""

    public_name: str
    deployments: tuple[Deployment, ...]
    policy: RoutingPolicy
    fallbacks: tuple[str, ...] = ()
    context_window_fallbacks: tuple[str, ...] = ()
    content_policy_fallbacks: tuple[str, ...] = ()
    cache_ttl: float | None = None  # seconds answers are cached (response_cache.py); None: not cached
    # Running totals of the deployments' weights, for one weighted draw (router.py).
    weight_totals: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_totals", tuple(itertools.accumulate(d.weight for d in self.deployments)))

    @property
    def simple(self) -> bool:
        """One deployment, no retry, nowhere to fall back to: one attempt, and nothing to decide."""
        return (
            len(self.deployments) == 1
            and not self.policy.retries
            and not self.fallbacks
            and not self.context_window_fallbacks
            and not self.content_policy_fallbacks
        )

    def renamed(self, public: str) -> ModelRoute:
        return replace(
            self, public_name=public, deployments=tuple(replace(d, public_name=public) for d in self.deployments)
        )


class RegistryError(ValueError):
    """Models, aliases and providers that do not fit together; `path` is the config key."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(problem)


class ModelRegistry:
    def __init__(
        self, config: Config, providers: Mapping[str, Provider], variant: ProviderVariant | None = None
    ) -> None:
        self.providers = dict(providers)
        self._aliases = dict(config.aliases)
        self._refuse_tools = config.server.unsupported_tools == "refuse"
        self._policy = RoutingPolicy.merged(config.routing, None)
        self._default_fallbacks = tuple(config.routing.fallbacks or ())
        self._variant = variant
        # Prices and capabilities by upstream model name: the providers' declared defaults under the
        # config's `prices`.
        self.facts = facts_table(MODEL_FACTS, {pattern: p.model_dump() for pattern, p in config.prices.items()})
        self._configured = {
            name: self._configured_route(config, name, model)
            for name, model in config.models.items()
            if all(d.provider in self.providers for d in model.all_deployments())
        }
        self._cache: dict[str, ModelRoute] = {}
        for alias in self._aliases:
            try:
                self.route(alias)
            except ModelNotFound as exc:
                raise RegistryError(
                    f"aliases.{alias}",
                    f"target {self._aliases[alias]!r} does not resolve: {exc.params.get('reason', 'unknown model')}",
                ) from None
        for name, model in config.models.items():
            for field_name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
                for number, target in enumerate(getattr(model, field_name)):
                    self._check_target(f"models.{name}.{field_name}[{number}]", target)
        for number, target in enumerate(self._default_fallbacks):
            self._check_target(f"routing.fallbacks[{number}]", target)
        self._check_cascades(config)

    def _configured_route(self, config: Config, name: str, model: ModelConfig) -> ModelRoute:
        refuse = (model.unsupported_tools or config.server.unsupported_tools) == "refuse"
        deployments = []
        specs = model.all_deployments()
        for number, spec in enumerate(specs):
            provider = self.providers[spec.provider]
            changes: dict[str, Any] = spec.timeouts.provider_fields() if spec.timeouts is not None else {}
            if spec.api_keys:
                changes["api_keys"] = spec.api_keys
            for place in ("project", "location", "region"):  # the provider's own config keys (a cloud's)
                if getattr(spec, place) is not None:
                    changes[place] = getattr(spec, place)
            if changes:
                if self._variant is None:
                    raise RegistryError(f"models.{name}", "own keys, timeouts or places need a provider factory")
                provider = self._variant(spec.provider, changes)
            twin = sum(1 for other in specs[:number] if (other.provider, other.model) == (spec.provider, spec.model))
            deployments.append(
                Deployment(
                    name,
                    provider,
                    spec.model,
                    spec.defaults,
                    spec.overrides,
                    model.native_responses,
                    refuse,
                    spec.weight,
                    f"{spec.provider}/{spec.model}#{twin + 1}" if twin else "",
                    price_from(spec.price.model_dump()) if spec.price is not None else self.facts.price(spec.model),
                )
            )
            if model.native_responses and "responses" not in provider.capabilities.relays:
                raise RegistryError(
                    f"models.{name}.native_responses", f"provider {provider.name!r} has no native Responses API"
                )
        return ModelRoute(
            name,
            tuple(deployments),
            RoutingPolicy.merged(config.routing, model.routing),
            model.fallbacks or self._default_fallbacks,
            model.context_window_fallbacks,
            model.content_policy_fallbacks,
            model.cache.ttl if model.cache is not None else None,
        )

    def _check_target(self, path: str, target: str) -> None:
        try:
            self.route(target)
        except ModelNotFound as exc:
            raise RegistryError(
                path, f"{target!r} does not resolve: {exc.params.get('reason', 'unknown model')}"
            ) from None

    def _check_cascades(self, config: Config) -> None:
        """The voice cascades' models resolve, to providers that transcribe and speak; a model's block is whole
        with the server's."""
        server = config.realtime.cascade()
        blocks = [("realtime", server)] if server.transcription or server.speech else []
        blocks += [
            (f"models.{name}.realtime", m.realtime.over(server)) for name, m in config.models.items() if m.realtime
        ]
        for path, block in blocks:
            if not block.complete:
                missing = " and ".join(n for n in ("transcription", "speech") if getattr(block, n) is None)
                raise RegistryError(path, f"the voice cascade needs {missing} (here or in the server's `realtime:`)")
            for capability in ("transcription", "speech"):
                target = getattr(block, capability)
                self._check_target(f"{path}.{capability}", target)
                deployments = self.route(target).deployments
                unable = [d.label for d in deployments if not getattr(d.provider.capabilities, capability)]
                if unable:
                    raise RegistryError(
                        f"{path}.{capability}",
                        f"{target!r} is served by {', '.join(unable)}, which has no {capability}",
                    )

    def providers_named(self, name: str) -> list[Provider]:
        """The providers called `name` that serve this registry: the configured one, and the variants
        made for deployments with keys or timeouts of their own (each with its own key pool)."""
        found: dict[int, Provider] = {id(p): p for p in (self.providers.get(name),) if p is not None}
        for route in self._configured.values():
            for deployment in route.deployments:
                if deployment.provider.name == name:
                    found.setdefault(id(deployment.provider), deployment.provider)
        return list(found.values())

    @property
    def aliases(self) -> Mapping[str, str]:
        return self._aliases

    @property
    def configured(self) -> Mapping[str, Deployment]:
        """The first deployment of every configured model."""
        return {name: route.deployments[0] for name, route in self._configured.items()}

    def resolve(self, name: str) -> Deployment:
        """The deployment that serves `name` first (for listings and descriptions of a model)."""
        return self.route(name).deployments[0]

    def route(self, name: str) -> ModelRoute:
        route = self._cache.get(name)
        if route is None:
            route = self._route(name, name, 0)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[name] = route
        return route

    def _route(self, public: str, name: str, depth: int) -> ModelRoute:
        configured = self._configured.get(name)
        if configured is not None:
            return configured if public == name else configured.renamed(public)
        target = self._aliases.get(name)
        if target is not None:
            if depth >= _MAX_ALIAS_DEPTH or target == name:
                raise self._not_found(public, reason=f"aliases form a cycle or a chain longer than {_MAX_ALIAS_DEPTH}")
            return self._route(public, target, depth + 1)
        prefix, slash, rest = name.partition("/")
        if slash and rest and prefix in self.providers:
            return self._single(
                Deployment(
                    public,
                    self.providers[prefix],
                    rest,
                    refuse_unsupported_tools=self._refuse_tools,
                    price=self.facts.price(rest),
                )
            )
        family = next(
            (provider for patterns, provider in FAMILIES if any(fnmatchcase(name, p) for p in patterns)), None
        )
        if family in self.providers:
            return self._single(
                Deployment(
                    public,
                    self.providers[family],
                    name,
                    refuse_unsupported_tools=self._refuse_tools,
                    price=self.facts.price(name),
                )
            )
        raise self._not_found(public, wanted=prefix if slash and rest else family)

    def _single(self, deployment: Deployment) -> ModelRoute:
        """A name the config does not list: one deployment, the server's policy and fallbacks."""
        fallbacks = tuple(f for f in self._default_fallbacks if f != deployment.public_name)
        return ModelRoute(deployment.public_name, (deployment,), self._policy, fallbacks)

    def _not_found(self, model: str, *, reason: str = "unknown model", wanted: str | None = None) -> ModelNotFound:
        """`wanted`: the provider the name asks for (its prefix or family). When that provider is off only
        because its key is not in the environment, the message names the variable that turns it on: with
        no key set, the README's own first example (`gpt-4o-mini`) would otherwise only hear "Enabled
        providers: ollama"."""
        providers = ", ".join(sorted(self.providers)) or "none"
        switch = next((env.key_var for env in ENV_PRESETS if env.name == wanted and env.key_var), None)
        if switch is not None:
            return ModelNotFound(
                "model_provider_not_enabled",
                model=model,
                provider=wanted,
                variable=switch,
                providers=providers,
                param="model",
                reason=f"provider {wanted!r} is not enabled (set {switch})",
            )
        return ModelNotFound(model=model, providers=providers, reason=reason, param="model")

    def table(self) -> list[tuple[str, str, str]]:
        """(public name, provider, upstream model) for every configured model and alias."""
        rows = [(name, d.provider.name, d.model) for name, route in self._configured.items() for d in route.deployments]
        for alias in self._aliases:
            deployment = self.resolve(alias)
            rows.append((alias, deployment.provider.name, deployment.model))
        return rows
