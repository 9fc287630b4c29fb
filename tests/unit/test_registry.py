"""Public model names → deployments (routing/registry.py)."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config import Config, ProviderConfig, ServerConfig
from babelgate.errors import ModelNotFound
from babelgate.http import UpstreamClient
from babelgate.i18n import render_message
from babelgate.providers import build_provider
from babelgate.providers.base import Provider
from babelgate.providers.openai.profiles import select_profile
from babelgate.providers.openai.translate import request_from_wire, to_wire
from babelgate.routing.registry import Deployment, ModelRegistry, RegistryError


def providers(*names: str) -> dict[str, Provider]:
    client = UpstreamClient()
    return {
        name: build_provider(name, ProviderConfig(base_url=f"http://127.0.0.1:1/{name}/v1"), ServerConfig(), client)
        for name in names
    }


def registry(names: tuple[str, ...] = ("openai", "local"), **config: Any) -> ModelRegistry:
    built = providers(*names)
    return ModelRegistry(Config.model_validate({"providers": {n: {} for n in names}, **config}), built)


MODELS = {
    "fast": {
        "provider": "local",
        "model": "qwen2.5:7b",
        "defaults": {"temperature": 0.2},
        "overrides": {"max_tokens": 64},
    },
    "smart": {"provider": "openai", "model": "gpt-4o"},
}


def test_configured_model() -> None:
    deployment = registry(models=MODELS).resolve("fast")
    assert (deployment.public_name, deployment.provider.name, deployment.model) == ("fast", "local", "qwen2.5:7b")
    assert deployment.defaults == {"temperature": 0.2}
    assert deployment.overrides == {"max_tokens": 64}


def test_alias_keeps_its_public_name_and_the_target_settings() -> None:
    deployment = registry(models=MODELS, aliases={"default": "fast"}).resolve("default")
    assert (deployment.public_name, deployment.provider.name, deployment.model) == ("default", "local", "qwen2.5:7b")
    assert deployment.defaults == {"temperature": 0.2}
    assert deployment.overrides == {"max_tokens": 64}


def test_alias_to_alias_to_prefix() -> None:
    routes = registry(aliases={"a": "b", "b": "c", "c": "local/llama3.1:8b"})
    deployment = routes.resolve("a")
    assert (deployment.public_name, deployment.provider.name, deployment.model) == ("a", "local", "llama3.1:8b")


def test_alias_to_a_family_name() -> None:
    deployment = registry(aliases={"mini": "gpt-4o-mini"}).resolve("mini")
    assert (deployment.public_name, deployment.provider.name, deployment.model) == ("mini", "openai", "gpt-4o-mini")


def test_configured_model_wins_over_an_alias_of_the_same_name() -> None:
    deployment = registry(models=MODELS, aliases={"fast": "smart"}).resolve("fast")
    assert deployment.model == "qwen2.5:7b"


@pytest.mark.parametrize("aliases", [{"a": "b", "b": "a"}, {"a": "a"}, {"a": "b", "b": "c", "c": "a"}])
def test_alias_cycle_is_reported_at_construction(aliases: dict[str, str]) -> None:
    with pytest.raises(RegistryError) as caught:
        registry(aliases=aliases)
    assert caught.value.path == "aliases.a"
    assert str(caught.value) == (
        f"target {aliases['a']!r} does not resolve: aliases form a cycle or a chain longer than 8"
    )


def test_alias_to_an_unknown_model_is_reported_at_construction() -> None:
    with pytest.raises(RegistryError) as caught:
        registry(("local",), aliases={"smart": "gpt-4o"})
    assert caught.value.path == "aliases.smart"
    assert str(caught.value) == (
        "target 'gpt-4o' does not resolve: provider 'openai' is not enabled (set OPENAI_API_KEY)"
    )


def test_alias_chain_of_eight_resolves_and_a_longer_one_is_refused() -> None:
    aliases = {f"a{i}": f"a{i + 1}" for i in range(7)} | {"a7": "local/m"}
    assert registry(aliases=aliases).resolve("a0").model == "m"
    with pytest.raises(RegistryError):
        registry(aliases={f"a{i}": f"a{i + 1}" for i in range(8)} | {"a8": "local/m"})


@pytest.mark.parametrize(
    ("name", "provider", "model"),
    [
        ("openai/gpt-4o", "openai", "gpt-4o"),
        ("local/meta-llama/Llama-3.1-8B-Instruct", "local", "meta-llama/Llama-3.1-8B-Instruct"),
        ("local/hf.co/org/repo:Q4_K_M", "local", "hf.co/org/repo:Q4_K_M"),
        ("local/gpt-4o", "local", "gpt-4o"),
    ],
)
def test_provider_prefix(name: str, provider: str, model: str) -> None:
    deployment = registry().resolve(name)
    assert (deployment.public_name, deployment.provider.name, deployment.model) == (name, provider, model)
    assert deployment.defaults == {}
    assert deployment.overrides == {}


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4.1-mini", "gpt-4.1-mini"),
        ("o1", "o1"),
        ("o3-mini", "o3-mini"),
        ("o4-mini", "o4-mini"),
        ("chatgpt-4o-latest", "chatgpt-4o-latest"),
    ],
)
def test_openai_family_goes_to_the_provider_named_openai(name: str, model: str) -> None:
    deployment = registry().resolve(name)
    assert (deployment.provider.name, deployment.model) == ("openai", model)


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("claude-sonnet-4-5", "anthropic"),
        ("gemini-2.5-pro", "gemini"),
        ("mistral-large-latest", "mistral"),
        ("codestral-latest", "mistral"),
        ("magistral-medium", "mistral"),
    ],
)
def test_other_families_need_a_provider_of_that_name(name: str, provider: str) -> None:
    assert registry((provider,)).resolve(name).provider.name == provider
    with pytest.raises(ModelNotFound):
        registry(("openai",)).resolve(name)


def test_family_without_its_provider_is_not_found() -> None:
    with pytest.raises(ModelNotFound) as caught:
        registry(("local",)).resolve("gpt-4o")
    assert caught.value.params == {
        "model": "gpt-4o",
        "providers": "local",
        "provider": "openai",
        "variable": "OPENAI_API_KEY",
        "reason": "provider 'openai' is not enabled (set OPENAI_API_KEY)",
    }


@pytest.mark.parametrize("name", ["llama3", "nowhere/gpt-4o", "openai/", "GPT-4o", "/gpt-4o"])
def test_unknown_model(name: str) -> None:
    with pytest.raises(ModelNotFound) as caught:
        registry().resolve(name)
    error = caught.value
    assert (error.status, error.code, error.type, error.param) == (404, "model_not_found", "not_found_error", "model")
    assert error.params == {"model": name, "providers": "local, openai", "reason": "unknown model"}
    assert render_message(error) == (
        f"The model '{name}' does not exist or is not served by any enabled provider. Enabled providers: local, openai."
    )


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("gpt-4o-mini", "OPENAI_API_KEY"),
        ("o3-mini", "OPENAI_API_KEY"),
        ("claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("gemini-2.5-flash", "GEMINI_API_KEY"),
        ("codestral-latest", "MISTRAL_API_KEY"),
        ("anthropic/claude-3-5-haiku", "ANTHROPIC_API_KEY"),
    ],
)
def test_a_model_of_a_provider_that_is_off_names_the_variable_that_turns_it_on(name: str, variable: str) -> None:
    with pytest.raises(ModelNotFound) as caught:
        registry(("ollama",)).resolve(name)
    error = caught.value
    assert (error.status, error.code, error.param) == (404, "model_not_found", "model")
    assert variable in render_message(error) and "Enabled providers: ollama." in render_message(error)
    assert variable in render_message(error, "de") and "Aktivierte Anbieter: ollama." in render_message(error, "de")


def test_unknown_model_with_no_providers() -> None:
    with pytest.raises(ModelNotFound) as caught:
        ModelRegistry(Config(), {}).resolve("gpt-4o")
    assert caught.value.params["providers"] == "none"


def test_resolve_is_cached() -> None:
    routes = registry()
    assert routes.resolve("openai/gpt-4o") is routes.resolve("openai/gpt-4o")


def test_table_lists_configured_models_then_aliases() -> None:
    routes = registry(models=MODELS, aliases={"default": "fast", "gpt": "openai/gpt-4o-mini"})
    assert routes.table() == [
        ("fast", "local", "qwen2.5:7b"),
        ("smart", "openai", "gpt-4o"),
        ("default", "local", "qwen2.5:7b"),
        ("gpt", "openai", "gpt-4o-mini"),
    ]
    assert set(routes.configured) == {"fast", "smart"}
    assert dict(routes.aliases) == {"default": "fast", "gpt": "openai/gpt-4o-mini"}


PROVIDER = providers("local")["local"]


def deployment(**settings: Any) -> Deployment:
    return Deployment("fast", PROVIDER, "qwen", **settings)


def test_apply_to_body_defaults_only_fill_gaps_and_overrides_always_win() -> None:
    body = {"model": "fast", "temperature": 0.9, "messages": []}
    deployment(defaults={"temperature": 0.1, "top_p": 0.5}, overrides={"max_tokens": 64, "seed": 1}).apply_to_body(body)
    assert body == {"model": "fast", "temperature": 0.9, "messages": [], "top_p": 0.5, "max_tokens": 64, "seed": 1}


def test_apply_to_body_override_replaces_what_the_client_sent() -> None:
    body = {"max_tokens": 4000}
    deployment(defaults={"max_tokens": 10}, overrides={"max_tokens": 512}).apply_to_body(body)
    assert body == {"max_tokens": 512}


def test_defaults_applied_to_the_body_reach_the_typed_request() -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "x"}], "temperature": 0.9, "store": True}
    deployment(
        defaults={"temperature": 0.1, "top_p": 0.5, "store": False, "top_k": 40},
        overrides={"max_tokens": 64, "logprobs": True},
    ).apply_to_body(body)
    request = request_from_wire(body)
    assert (request.temperature, request.top_p, request.max_tokens) == (0.9, 0.5, 64)
    assert request.extra == {"store": True, "top_k": 40, "logprobs": True}


def test_response_format_default_works_on_the_typed_path() -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "x"}]}
    deployment(defaults={"response_format": {"type": "json_object"}}).apply_to_body(body)
    assert to_wire(request_from_wire(body), "qwen")["response_format"] == {"type": "json_object"}


def test_max_tokens_override_keeps_the_clients_field_name() -> None:
    body = {"max_completion_tokens": 4000}
    deployment(overrides={"max_tokens": 512}).apply_to_body(body)
    assert body == {"max_completion_tokens": 512}


def test_max_tokens_default_does_not_reach_a_reasoning_model_beside_max_completion_tokens() -> None:
    body = {"model": "o3", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 50}
    Deployment("o3", PROVIDER, "o3", defaults={"max_tokens": 1000}).apply_to_body(body)
    select_profile("openai", "https://api.openai.com/v1", {}).apply(body, "o3", [])
    assert "max_tokens" not in body
    assert body["max_completion_tokens"] == 50
