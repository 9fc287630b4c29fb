"""Build a `Config` from a YAML file and the environment, with errors that name file, key and problem.

Environment presets are declared by each provider type (its folder's declaration, handed in with the
available types) and follow its official SDK (OPENAI_API_KEY + OPENAI_BASE_URL with `/v1`,
ANTHROPIC_BASE_URL without, …). A provider found in the environment is added unless the file
defines one of the same name; the file wins.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import yaml
from pydantic import ValidationError

from babelgate.config.models import Config
from babelgate.config.presets import DEFAULT_REGION, PRESETS, REGION_VARIABLES
from babelgate.sealing import parse_keys

log = logging.getLogger("babelgate.config")

ENV_PREFIX: Final = "env:"


class ConfigError(Exception):
    """A configuration problem: where (file and key path) and what."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path or '<top>'}: {problem}" for path, problem in problems))


@dataclass(frozen=True, slots=True)
class EnvPreset:
    """A provider the environment turns on with no config file: when `key_var` is set (or always, for a
    server that takes no key), a provider called `name` of type `type` at `base_url_var`'s address or
    the default. Each provider type declares its own (providers/<name>/declaration.py)."""

    name: str
    type: str
    base_url_var: str
    default_base_url: str
    key_var: str | None = None
    url_suffix: str = ""
    profile: str | None = None
    connect_timeout: float | None = None


class ProviderKind(Protocol):
    """What loading needs of a provider type (providers/types.py's `ProviderType`, handed in by the
    caller: the providers' floor stands above this one)."""

    @property
    def env(self) -> tuple[EnvPreset, ...]: ...

    @property
    def config_keys(self) -> frozenset[str]: ...


def load_config(
    path: str | Path | None,
    environ: Mapping[str, str],
    *,
    available_types: Mapping[str, ProviderKind],
) -> Config:
    """The file (if any) merged with the environment, validated. `available_types`: the provider types
    by name (`babelgate.providers.PROVIDER_TYPES`), with the environment presets each declares."""
    source = str(path) if path is not None else "<environment>"
    raw: dict[str, Any] = _read_yaml(Path(path)) if path is not None else {}
    problems: list[tuple[str, str]] = []
    _apply_presets(raw, environ, problems)
    _resolve_secrets(raw, environ, problems)
    server = raw.setdefault("server", {}) if isinstance(raw.get("server", {}), dict) else None
    providers = raw.setdefault("providers", {}) if isinstance(raw.get("providers", {}), dict) else None
    if server is not None:
        _merge_server_env(server, environ, problems)
    _merge_store_env(raw, environ, problems)
    _merge_redis_env(raw, environ, problems)
    _merge_responses_env(raw, environ, problems)
    _resolve_auth_secrets(raw, environ, problems)
    if providers is not None and (server is None or server.get("providers_from_env", True)):
        _merge_env_providers(providers, environ, available_types)
    if providers is not None:
        owners: dict[str, set[str]] = {}  # a key may be read by several types (a cloud's `batch_bucket`)
        for type_name, declared in available_types.items():
            for key in declared.config_keys:
                owners.setdefault(key, set()).add(type_name)
        for name, provider in providers.items():
            kind = provider.get("type", "openai") if isinstance(provider, dict) else None
            if kind is not None and kind not in available_types:
                problems.append(
                    (
                        f"providers.{name}.type",
                        f"unknown provider type {kind!r} (available: {', '.join(sorted(available_types))})",
                    )
                )
            elif kind is not None:
                for key in provider:
                    readers = owners.get(key)
                    if readers is not None and kind not in readers:
                        owner = ", ".join(sorted(readers))
                        problems.append(
                            (f"providers.{name}.{key}", f"is read by type {owner} only; this provider is type {kind}")
                        )
    if problems:
        raise ConfigError(source, problems)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(error) for error in exc.errors()]) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read the file: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [(where, f"invalid YAML: {problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "the file must hold a mapping at the top level")])
    return data


def _apply_presets(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """`preset: NAME` fills type, base URL, key reference, profile and model listing; the
    provider's own keys win. A preset's key variable that is not set means no key (local servers)."""
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return
    for name, provider in providers.items():
        if not isinstance(provider, dict) or "preset" not in provider:
            continue
        preset_name = provider.pop("preset")
        preset = PRESETS.get(preset_name) if isinstance(preset_name, str) else None
        if preset is None:
            problems.append(
                (f"providers.{name}.preset", f"unknown preset {preset_name!r} (known: {', '.join(sorted(PRESETS))})")
            )
            continue
        provider.setdefault("type", "openai")
        region = next((environ[v] for v in REGION_VARIABLES if environ.get(v)), DEFAULT_REGION)
        provider.setdefault("base_url", preset.base_url.replace("{region}", region))
        if not preset.list_models:
            provider.setdefault("list_models", False)
        provider.setdefault("profile", preset.profile)
        if "api_key" not in provider and "api_keys" not in provider and preset.key_env and environ.get(preset.key_env):
            provider["api_keys"] = [f"{ENV_PREFIX}{preset.key_env}"]
        if preset.models_endpoint != "openai":
            options = provider.setdefault("options", {})
            if isinstance(options, dict):
                options.setdefault("models_endpoint", preset.models_endpoint)


def _resolve_secrets(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """Replace `env:VAR` references by their values; keys must be references, never literals."""
    server = raw.get("server")
    if isinstance(server, dict) and "api_keys" in server:
        server["api_keys"] = _resolve_keys(server["api_keys"], "server.api_keys", environ, problems)
    models = raw.get("models")
    if isinstance(models, dict):
        # A model, or one of its deployments, may hold a key pool of its own.
        for name, model in models.items():
            if not isinstance(model, dict):
                continue
            _resolve_key_fields(model, f"models.{name}", environ, problems)
            deployments = model.get("deployments")
            if isinstance(deployments, list):
                for number, deployment in enumerate(deployments):
                    if isinstance(deployment, dict):
                        _resolve_key_fields(deployment, f"models.{name}.deployments[{number}]", environ, problems)
    _resolve_mcp_secrets(raw.get("mcp_servers"), environ, problems)
    _resolve_guardrail_secrets(raw.get("guardrails"), environ, problems)
    _resolve_exporter_secrets(raw.get("exporters"), environ, problems)
    alerts = raw.get("alerts")
    hooks = alerts.get("webhooks") if isinstance(alerts, dict) else None
    if isinstance(hooks, list):
        for number, hook in enumerate(hooks):
            if isinstance(hook, dict) and hook.get("secret") is not None:
                hook["secret"] = _resolve_secret(hook["secret"], f"alerts.webhooks[{number}].secret", environ, problems)
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return
    for name, provider in providers.items():
        if not isinstance(provider, dict):
            continue
        _resolve_key_fields(provider, f"providers.{name}", environ, problems)
        for field in SECRET_FIELDS:
            if field in provider:
                provider[field] = _resolve_secret(provider[field], f"providers.{name}.{field}", environ, problems)
        for field in _ENV_FIELDS:
            # An address that differs per environment (examples/resilience.yaml); a proxy URL may
            # also hold a password; a cloud's project, tenant or key file per environment.
            value = provider.get(field)
            if isinstance(value, str) and value.startswith(ENV_PREFIX):
                provider[field] = _env_value(value, f"providers.{name}.{field}", environ, problems)
        headers = provider.get("headers")
        if isinstance(headers, dict):
            for header, value in headers.items():
                if isinstance(value, str) and value.startswith(ENV_PREFIX):
                    headers[header] = _env_value(value, f"providers.{name}.headers.{header}", environ, problems)


def _resolve_mcp_secrets(servers: Any, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """An MCP server's header and env values may be `env:VAR` references (plain values are allowed:
    not every header is a secret); its OAuth client secret must be one."""
    if not isinstance(servers, list):
        return
    for number, server in enumerate(servers):
        if not isinstance(server, dict):
            continue
        for field in ("headers", "env"):
            values = server.get(field)
            if isinstance(values, dict):
                for name, value in values.items():
                    if isinstance(value, str) and value.startswith(ENV_PREFIX):
                        values[name] = _env_value(value, f"mcp_servers[{number}].{field}.{name}", environ, problems)
        oauth = server.get("oauth")
        if isinstance(oauth, dict) and "client_secret" in oauth:
            where = f"mcp_servers[{number}].oauth.client_secret"
            oauth["client_secret"] = _resolve_secret(oauth["client_secret"], where, environ, problems)


def _resolve_guardrail_secrets(guardrails: Any, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """An external checker's `api_key` must be an `env:VAR` reference; its header values may be (plain values are
    allowed: not every header is a secret)."""
    if not isinstance(guardrails, list):
        return
    for number, guardrail in enumerate(guardrails):
        if not isinstance(guardrail, dict):
            continue
        if guardrail.get("api_key") is not None:
            guardrail["api_key"] = _resolve_secret(
                guardrail["api_key"], f"guardrails[{number}].api_key", environ, problems
            )
        headers = guardrail.get("headers")
        if isinstance(headers, dict):
            for name, value in headers.items():
                if isinstance(value, str) and value.startswith(ENV_PREFIX):
                    headers[name] = _env_value(value, f"guardrails[{number}].headers.{name}", environ, problems)


def _resolve_exporter_secrets(exporters: Any, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """An exporter's `secret_key` and `secret` must be `env:VAR` references; its header values may be (an OTLP
    backend's API key is usually one of them)."""
    if not isinstance(exporters, list):
        return
    for number, exporter in enumerate(exporters):
        if not isinstance(exporter, dict):
            continue
        for field in ("secret_key", "secret"):
            if exporter.get(field) is not None:
                exporter[field] = _resolve_secret(exporter[field], f"exporters[{number}].{field}", environ, problems)
        headers = exporter.get("headers")
        if isinstance(headers, dict):
            for name, value in headers.items():
                if isinstance(value, str) and value.startswith(ENV_PREFIX):
                    headers[name] = _env_value(value, f"exporters[{number}].headers.{name}", environ, problems)


# Provider fields that may be given as `env:VAR` references (and as plain values).
_ENV_FIELDS: Final = (
    "base_url",
    "proxy",
    "region",
    "aws_profile",
    "project",
    "location",
    "credentials_file",
    "api_version",
    "tenant_id",
    "client_id",
)


def _resolve_key_fields(
    section: dict[str, Any], path: str, environ: Mapping[str, str], problems: list[tuple[str, str]]
) -> None:
    for field in ("api_key", "api_keys"):
        if field in section:
            section[field] = _resolve_keys(section[field], f"{path}.{field}", environ, problems)


# A provider's secrets besides its api_keys (AWS credentials, Entra ID's app secret; docs/decisions.md, "Cloud
# providers' configuration"): env:VAR references only.
SECRET_FIELDS: Final = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "client_secret")


def _resolve_secret(value: Any, path: str, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> str:
    if not isinstance(value, str) or not value.startswith(ENV_PREFIX):
        problems.append((path, "must be an 'env:VAR_NAME' reference, so that the secret stays out of the file"))
        return ""
    return _env_value(value, path, environ, problems)


def _resolve_keys(value: Any, path: str, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> list[str]:
    """Always a list, whether the file gave one reference or several."""
    single = not isinstance(value, list)
    items = [value] if single else value
    resolved: list[str] = []
    for index, item in enumerate(items):
        where = path if single else f"{path}[{index}]"
        if not isinstance(item, str) or not item.startswith(ENV_PREFIX):
            problems.append((where, "must be an 'env:VAR_NAME' reference, so that the secret stays out of the file"))
            continue
        resolved.append(_env_value(item, where, environ, problems))
    return resolved


def _env_value(reference: str, path: str, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> str:
    variable = reference[len(ENV_PREFIX) :]
    value = environ.get(variable)
    if not value:
        problems.append((path, f"environment variable {variable} is not set"))
        return ""
    return value


def _merge_server_env(server: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    keys = [key.strip() for key in environ.get("BABELGATE_API_KEYS", "").split(",") if key.strip()]
    if keys:
        configured = server.get("api_keys", ())
        server["api_keys"] = [*([configured] if isinstance(configured, str) else configured), *keys]
    master = server.get("master_key")
    if isinstance(master, str):
        if not master.startswith(ENV_PREFIX):
            problems.append(
                ("server.master_key", "must be an 'env:VAR_NAME' reference, so that the secret stays out of the file")
            )
        else:
            server["master_key"] = _env_value(master, "server.master_key", environ, problems)
    elif master is None and environ.get("BABELGATE_MASTER_KEY"):
        server["master_key"] = environ["BABELGATE_MASTER_KEY"]
    if environ.get("BABELGATE_LOG_FORMAT") and "log_format" not in server:
        server["log_format"] = environ["BABELGATE_LOG_FORMAT"].strip().lower()
    timeout = environ.get("BABELGATE_UPSTREAM_TIMEOUT")
    if timeout and "default_timeout" not in server:
        try:
            server["default_timeout"] = float(timeout)
        except ValueError:
            problems.append(("BABELGATE_UPSTREAM_TIMEOUT", f"not a number of seconds: {timeout!r}"))


def _merge_store_env(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """`store.url` may be an `env:VAR` reference (a database URL can hold a password);
    BABELGATE_STORE_URL sets it when the file does not."""
    store = raw.get("store")
    if store is None and environ.get("BABELGATE_STORE_URL"):
        raw["store"] = {"url": environ["BABELGATE_STORE_URL"]}
    elif isinstance(store, dict) and isinstance(store.get("url"), str) and store["url"].startswith(ENV_PREFIX):
        store["url"] = _env_value(store["url"], "store.url", environ, problems)


def _merge_redis_env(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """`redis.url` may be an `env:VAR` reference (a Redis URL can hold a password);
    BABELGATE_REDIS_URL sets it when the file has no `redis` section (docs/decisions.md, "Shared state: Redis and the
    store")."""
    redis = raw.get("redis")
    if redis is None and environ.get("BABELGATE_REDIS_URL"):
        raw["redis"] = {"url": environ["BABELGATE_REDIS_URL"]}
    elif isinstance(redis, dict) and isinstance(redis.get("url"), str) and redis["url"].startswith(ENV_PREFIX):
        redis["url"] = _env_value(redis["url"], "redis.url", environ, problems)


def _merge_responses_env(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """`responses.reasoning_key` must be an `env:VAR` reference; BABELGATE_REASONING_KEY sets it when
    the file does not. A key that does not parse is named by the variable that held it."""
    responses = raw.setdefault("responses", {})
    if not isinstance(responses, dict):
        return  # the model validation names the problem
    path = "responses.reasoning_key"
    if "reasoning_key" not in responses:
        variable = "BABELGATE_REASONING_KEY"
        if not environ.get(variable):
            return
        value = environ[variable]
    else:
        reference = responses["reasoning_key"]
        if not isinstance(reference, str) or not reference.startswith(ENV_PREFIX):
            problems.append((path, "must be an 'env:VAR_NAME' reference, so that the secret stays out of the file"))
            return
        variable, value = reference[len(ENV_PREFIX) :], _env_value(reference, path, environ, problems)
        if not value:
            return  # _env_value named the missing variable
    try:
        parse_keys(value)
    except ValueError as exc:  # names the expected forms, never the value
        problems.append((path, f"{variable}: {exc}"))
        return
    responses["reasoning_key"] = value


def env_presets(available_types: Mapping[str, ProviderKind]) -> list[EnvPreset]:
    """Every type's presets, the ones a key turns on first: a keyless one (a local server) is always on,
    and providers are listed in this order."""
    presets = [preset for kind in available_types.values() for preset in kind.env]
    return sorted(presets, key=lambda preset: preset.key_var is None)


def _merge_env_providers(
    providers: dict[str, Any], environ: Mapping[str, str], available_types: Mapping[str, ProviderKind]
) -> None:
    for spec in env_presets(available_types):
        if spec.name in providers:
            continue
        key = environ.get(spec.key_var) if spec.key_var else None
        if spec.key_var and not key:
            continue
        if spec.type not in available_types:
            log.warning("%s is set, but provider type %r is not available; skipped", spec.key_var, spec.type)
            continue
        base_url = (environ.get(spec.base_url_var) or spec.default_base_url).rstrip("/")
        if spec.url_suffix and not base_url.endswith(spec.url_suffix):
            base_url += spec.url_suffix
        entry: dict[str, Any] = {"type": spec.type, "base_url": base_url, "api_keys": [key] if key else []}
        if spec.profile:
            entry["profile"] = spec.profile
        if spec.connect_timeout:
            entry["connect_timeout"] = spec.connect_timeout
        preset = PRESETS.get(spec.name)
        if preset is not None and preset.models_endpoint != "openai":
            entry["options"] = {"models_endpoint": preset.models_endpoint}
        if preset is not None and not preset.list_models:
            entry["list_models"] = False
        providers[spec.name] = entry


def _describe(error: Any) -> tuple[str, str]:
    path = ""
    for part in error.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if not path and ": " in message and message.split(": ", 1)[0].count(".") >= 1:
        # Cross-field checks name their own path in the message.
        path, message = message.split(": ", 1)
    return path, message


def _resolve_auth_secrets(raw: dict[str, Any], environ: Mapping[str, str], problems: list[tuple[str, str]]) -> None:
    """`auth.oidc.client_secret` must be an `env:VAR` reference (docs/decisions.md, "Identity: JWT callers and
    sign-in")."""
    auth = raw.get("auth")
    oidc = auth.get("oidc") if isinstance(auth, dict) else None
    if isinstance(oidc, dict) and oidc.get("client_secret") is not None:
        oidc["client_secret"] = _resolve_secret(oidc["client_secret"], "auth.oidc.client_secret", environ, problems)
