"""The OpenAI-compatible family: quirk profiles (providers/openai/profiles.py) and named presets
(config/presets.py, applied by config/load.py `_apply_presets`). Expected values are spelled out
here, so a changed default URL, key variable or profile shows up as a failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from babelgate.config import Config, ConfigError, load_config
from babelgate.config.presets import PRESETS
from babelgate.providers import PROVIDER_TYPES
from babelgate.providers.openai.profiles import PROFILES, select_profile

TYPES = PROVIDER_TYPES
FULL = {
    "model": "m",
    "messages": [{"role": "user", "content": "Hi"}],
    "temperature": 0.3,
    "top_p": 0.9,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.2,
    "reasoning_effort": "high",
    "max_tokens": 50,
    "stream": True,
    "stream_options": {"include_usage": True},
}


def applied(profile: str, model: str, body: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    edited = dict(body if body is not None else FULL)
    adjusted: list[str] = []
    PROFILES[profile].apply(edited, model, adjusted)
    return edited, adjusted


def without(*names: str) -> dict[str, Any]:
    return {key: value for key, value in FULL.items() if key not in names}


# --- profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["deepseek-reasoner", "deepseek-reasoner-0528"])
def test_deepseek_reasoner_drops_sampling(model: str) -> None:
    body, adjusted = applied("deepseek", model)
    assert body == without("temperature", "top_p", "presence_penalty", "frequency_penalty")
    assert adjusted == ["temperature=dropped", "top_p=dropped", "presence_penalty=dropped", "frequency_penalty=dropped"]


def test_deepseek_reasoner_with_nothing_to_drop_gives_no_notes() -> None:
    body, adjusted = applied("deepseek", "deepseek-reasoner", {"model": "m", "messages": []})
    assert body == {"model": "m", "messages": []}
    assert adjusted == []


def test_deepseek_chat_is_untouched() -> None:
    assert applied("deepseek", "deepseek-chat") == (FULL, [])


@pytest.mark.parametrize("model", ["grok-4", "grok-4-0709", "grok-4-fast-reasoning"])
def test_grok_4_drops_penalties_and_reasoning_effort(model: str) -> None:
    body, adjusted = applied("xai", model)
    assert body == without("presence_penalty", "frequency_penalty", "reasoning_effort")
    assert adjusted == ["presence_penalty=dropped", "frequency_penalty=dropped", "reasoning_effort=dropped"]


@pytest.mark.parametrize("model", ["grok-3-mini", "grok-3-mini-fast"])
def test_grok_3_mini_drops_penalties_only(model: str) -> None:
    body, adjusted = applied("xai", model)
    assert body == without("presence_penalty", "frequency_penalty")
    assert adjusted == ["presence_penalty=dropped", "frequency_penalty=dropped"]


@pytest.mark.parametrize("model", ["grok-2", "grok-2-vision-1212", "grok-3"])
def test_other_grok_models_are_untouched(model: str) -> None:
    assert applied("xai", model) == (FULL, [])


@pytest.mark.parametrize("profile", ["ollama", "vllm", "llamacpp", "qwen", "groq", "generic"])
@pytest.mark.parametrize("model", ["llama3.1:8b", "qwen-max", "deepseek-reasoner", "grok-4", "o3-mini", "gpt-5"])
def test_plain_profiles_touch_nothing(profile: str, model: str) -> None:
    assert applied(profile, model) == (FULL, [])


def test_openai_reasoning_renames_max_tokens() -> None:
    body, adjusted = applied("openai", "o3-mini")
    assert body == {**without("max_tokens"), "max_completion_tokens": 50}
    assert adjusted == ["max_tokens=renamed:max_completion_tokens"]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1-mini", "gpt-3.5-turbo", "chatgpt-4o-latest"])
def test_openai_models_that_do_not_reason_drop_reasoning_effort(model: str) -> None:
    assert applied("openai", model) == (without("reasoning_effort"), ["reasoning_effort=dropped"])


def test_no_stream_options_profile() -> None:
    body, adjusted = applied("no-stream-options", "anything")
    assert body == without("stream_options")
    assert adjusted == ["stream_options=dropped"]


def test_select_profile_adds_option_rules_after_the_profile() -> None:
    profile = select_profile("xai", "https://api.x.ai/v1", {"drop_params": "top_p", "default_params": {"n": 1}})
    body = dict(FULL)
    adjusted: list[str] = []
    profile.apply(body, "grok-3-mini", adjusted)
    assert body == {**without("presence_penalty", "frequency_penalty", "top_p"), "n": 1}
    assert adjusted == ["presence_penalty=dropped", "frequency_penalty=dropped", "top_p=dropped"]


def test_select_profile_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        select_profile("nope", "http://x", {})


def test_every_preset_names_a_known_profile() -> None:
    assert {preset.profile for preset in PRESETS.values()} <= set(PROFILES)


# --- presets -------------------------------------------------------------------------------------

# name: (base URL, key variable, profile, models endpoint option)
EXPECTED_PRESETS: dict[str, tuple[str, str | None, str, str | None]] = {
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY", "openai", None),
    "ollama": ("http://127.0.0.1:11434/v1", None, "ollama", "ollama_tags"),
    "vllm": ("http://127.0.0.1:8000/v1", "VLLM_API_KEY", "vllm", None),
    "llamacpp": ("http://127.0.0.1:8080/v1", "LLAMACPP_API_KEY", "llamacpp", None),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek", None),
    "qwen": ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY", "qwen", None),
    "siliconflow": ("https://api.siliconflow.com/v1", "SILICONFLOW_API_KEY", "generic", None),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq", None),
    "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY", "generic", None),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "generic", None),
    "xai": ("https://api.x.ai/v1", "XAI_API_KEY", "xai", None),
    "jina": ("https://api.jina.ai/v1", "JINA_API_KEY", "jina", None),
    "voyage": ("https://api.voyageai.com/v1", "VOYAGE_API_KEY", "voyage", None),
    # `{region}` from AWS_REGION / AWS_DEFAULT_REGION, us-east-1 without either.
    "bedrock-openai": (
        "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
        "AWS_BEARER_TOKEN_BEDROCK",
        "generic",
        None,
    ),
}


def load(yaml_text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> Config:
    path = tmp_path / "babelgate.yaml"
    path.write_text(yaml_text)
    return load_config(path, environ or {}, available_types=TYPES)


def test_the_preset_table_is_complete() -> None:
    assert set(PRESETS) == set(EXPECTED_PRESETS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_a_preset_without_its_key_variable(name: str, tmp_path: Path) -> None:
    base_url, _, profile, models_endpoint = EXPECTED_PRESETS[name]
    provider = load(
        f"server: {{providers_from_env: false}}\nproviders:\n  up:\n    preset: {name}\n", tmp_path
    ).providers["up"]
    assert provider.type == "openai"
    assert provider.base_url == base_url
    assert provider.profile == profile
    assert provider.api_keys == ()
    assert provider.options == ({"models_endpoint": models_endpoint} if models_endpoint else {})


@pytest.mark.parametrize("name", sorted(n for n, row in EXPECTED_PRESETS.items() if row[1] is not None))
def test_a_preset_reads_its_key_variable_when_set(name: str, tmp_path: Path) -> None:
    key_env = EXPECTED_PRESETS[name][1]
    assert key_env is not None
    environ = {key_env: f"key-for-{name}", "SOME_OTHER_API_KEY": "other"}
    provider = load(
        f"server: {{providers_from_env: false}}\nproviders:\n  up:\n    preset: {name}\n", tmp_path, environ
    ).providers["up"]
    assert provider.api_keys == (f"key-for-{name}",)


def test_an_empty_key_variable_means_no_key(tmp_path: Path) -> None:
    provider = load(
        "server: {providers_from_env: false}\nproviders:\n  up:\n    preset: deepseek\n",
        tmp_path,
        {"DEEPSEEK_API_KEY": ""},
    ).providers["up"]
    assert provider.api_keys == ()


def test_ollama_takes_no_key_from_any_variable(tmp_path: Path) -> None:
    provider = load(
        "server: {providers_from_env: false}\nproviders:\n  local:\n    preset: ollama\n",
        tmp_path,
        {"OLLAMA_API_KEY": "x", "OPENAI_API_KEY": "y"},
    ).providers["local"]
    assert provider.api_keys == ()


def test_explicit_settings_win(tmp_path: Path) -> None:
    yaml_text = """\
server: {providers_from_env: false}
providers:
  ds:
    preset: deepseek
    base_url: https://proxy.example.com/deepseek/v1/
    api_key: env:MY_DEEPSEEK_KEY
    profile: generic
  local:
    preset: ollama
    base_url: http://gpu-box:11434/v1
    options: {models_endpoint: openai, keep_alive: 5m}
"""
    config = load(yaml_text, tmp_path, {"MY_DEEPSEEK_KEY": "mine", "DEEPSEEK_API_KEY": "preset's"})
    ds = config.providers["ds"]
    assert (ds.type, ds.base_url, ds.api_keys, ds.profile) == (
        "openai",
        "https://proxy.example.com/deepseek/v1",
        ("mine",),
        "generic",
    )
    local = config.providers["local"]
    assert (local.base_url, local.api_keys, local.profile) == ("http://gpu-box:11434/v1", (), "ollama")
    assert local.options == {"models_endpoint": "openai", "keep_alive": "5m"}


def test_explicit_api_keys_list_wins(tmp_path: Path) -> None:
    yaml_text = (
        "server: {providers_from_env: false}\nproviders:\n  g:\n    preset: groq\n    api_keys: [env:A, env:B]\n"
    )
    provider = load(yaml_text, tmp_path, {"A": "a", "B": "b", "GROQ_API_KEY": "g"}).providers["g"]
    assert provider.api_keys == ("a", "b")


def test_ollama_options_are_merged_with_the_models_endpoint(tmp_path: Path) -> None:
    yaml_text = "server: {providers_from_env: false}\nproviders:\n  o:\n    preset: ollama\n    options: {x: 1}\n"
    assert load(yaml_text, tmp_path).providers["o"].options == {"x": 1, "models_endpoint": "ollama_tags"}


def test_an_unknown_preset_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load("providers:\n  up:\n    preset: nosuch\n", tmp_path)
    error = caught.value
    assert error.problems == [("providers.up.preset", f"unknown preset 'nosuch' (known: {', '.join(sorted(PRESETS))})")]
    assert "providers.up.preset" in str(error)


@pytest.mark.parametrize("value", ["[deepseek]", "3", "null"])
def test_a_preset_that_is_not_a_string_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(f"providers:\n  up:\n    preset: {value}\n", tmp_path)
    assert [path for path, _ in caught.value.problems] == ["providers.up.preset"]
