"""The upstreams part: the providers of the current config, the model registry and catalog built on them, and
what they send through across reloads: the pooled HTTP client (with each provider's TLS and proxy settings),
the gateway's TLS contexts and its key pools. A reload builds providers, registry and catalog anew; a config
whose providers or aliases do not fit together is refused (ValueError, with the key path) before anything
changed."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from typing import Any, Literal

from babelgate.assembly.part import Closer
from babelgate.config.models import Config, ProviderConfig
from babelgate.http import UpstreamClient
from babelgate.http.proxy import Proxy, parse_proxy
from babelgate.http.tls import TlsContexts
from babelgate.providers import build_provider
from babelgate.providers.base import Provider
from babelgate.providers.key_pool import DEFAULT_COOLDOWN, KeyPools
from babelgate.routing.catalog import ModelCatalog
from babelgate.routing.registry import ModelRegistry, RegistryError

log = logging.getLogger("babelgate")

Network = tuple[ssl.SSLContext | None, Proxy | Literal["env"] | None]  # a provider's own TLS context and proxy


class UpstreamsPart:
    def __init__(self, config: Config) -> None:
        # One pool of connections for the gateway's life: a reload keeps it, and the connections it has.
        self.client = UpstreamClient(max_connections=config.server.max_upstream_connections)
        self.tls = TlsContexts()
        self.key_pools = KeyPools()
        self.providers, self.registry, self.catalog = self._build(config)
        self.credential_problems = credential_problems(self.providers)

    def start(self, lifespan: bool) -> None:
        if lifespan:  # mounted in another app, the catalog fills on demand
            self.catalog.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        old = self.catalog
        self.providers, self.registry, self.catalog = self._build(config)
        self.credential_problems = credential_problems(self.providers)
        self.catalog.start()
        return (old.close,)

    async def aclose(self) -> None:
        await self.catalog.close()
        await self.client.close()

    def _build(self, config: Config) -> tuple[dict[str, Provider], ModelRegistry, ModelCatalog]:
        networks: dict[str, Network] = {}
        providers: dict[str, Provider] = {}
        for name, provider_config in config.providers.items():
            try:
                networks[name] = self._network(name, provider_config)
                providers[name] = self._provider(name, provider_config, config)
            except ValueError as exc:
                raise ValueError(
                    f"providers.{name}.{exc}" if str(exc).startswith(("tls.", "proxy")) else f"providers.{name}: {exc}"
                ) from None

        def variant(name: str, changes: dict[str, Any]) -> Provider:
            return self._provider(name, config.providers[name].model_copy(update=changes), config)

        try:
            registry = ModelRegistry(config, providers, variant)
        except RegistryError as exc:
            raise ValueError(f"{exc.path}: {exc}") from None
        for name, (tls, proxy) in networks.items():
            self.client.configure(name, tls=tls, proxy=proxy)
        cooldown = config.routing.key_cooldown or DEFAULT_COOLDOWN
        for name in providers:
            for pool in self.key_pools.of(name):
                pool.cooldown = cooldown
        ttls = {name: p.models_cache_ttl for name, p in config.providers.items()}
        return providers, registry, ModelCatalog(providers, ttls)

    def _provider(self, name: str, provider_config: ProviderConfig, config: Config) -> Provider:
        provider = build_provider(name, provider_config, config.server, self.client)
        for pool in provider.key_pools():
            self.key_pools.adopt(pool)
        return provider

    def _network(self, name: str, provider: ProviderConfig) -> Network:
        """The provider's own TLS and proxy settings, for the upstream client (http/)."""
        tls = None
        if provider.tls is not None:
            settings = provider.tls
            tls = self.tls.get(
                provider=name,
                verify=settings.verify,
                ca_bundle=settings.ca_bundle,
                client_cert=settings.client_cert,
                client_key=settings.client_key,
            )
        proxy: Proxy | Literal["env"] | None = "env"
        if provider.proxy is not None:
            try:
                proxy = None if provider.proxy.lower() in ("none", "off", "") else parse_proxy(provider.proxy)
            except ValueError as exc:
                raise ValueError(f"proxy: {exc}") from None
        return tls, proxy


def credential_problems(providers: dict[str, Provider]) -> dict[str, str]:
    """Each provider's word on the credentials it can check at load (a missing file, a key that does not
    parse): the gateway still serves the others, `/health` is degraded and `check-config` fails."""
    problems = {name: provider.credentials_problem() for name, provider in providers.items()}
    found = {name: problem for name, problem in problems.items() if problem is not None}
    for name, problem in found.items():
        log.warning("provider %s: %s", name, problem)
    return found
