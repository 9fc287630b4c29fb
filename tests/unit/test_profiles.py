"""Quirks of OpenAI-compatible servers as data (providers/openai/profiles.py)."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.providers.openai.profiles import PROFILES, ModelRule, Profile, select_profile


def apply(profile: Profile, body: dict[str, Any], model: str) -> list[str]:
    adjusted: list[str] = []
    profile.apply(body, model, adjusted)
    return adjusted


@pytest.mark.parametrize("model", ["o1", "o1-mini", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5-nano"])
def test_reasoning_models_get_max_completion_tokens(model: str) -> None:
    body = {"model": model, "max_tokens": 100, "temperature": 1}
    assert apply(PROFILES["openai"], body, model) == ["max_tokens=renamed:max_completion_tokens"]
    assert body == {"model": model, "max_completion_tokens": 100, "temperature": 1}


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1-mini", "O3-mini", "chatgpt-4o-latest"])
def test_other_models_keep_max_tokens(model: str) -> None:
    body = {"max_tokens": 100}
    assert apply(PROFILES["openai"], body, model) == []
    assert body == {"max_tokens": 100}


def test_rename_does_not_overwrite_a_field_the_client_sent() -> None:
    body = {"max_tokens": 100, "max_completion_tokens": 50}
    assert apply(PROFILES["openai"], body, "o3") == []
    assert body == {"max_tokens": 100, "max_completion_tokens": 50}


def test_reasoning_rule_without_max_tokens_changes_nothing() -> None:
    body = {"max_completion_tokens": 5}
    assert apply(PROFILES["openai"], body, "o3") == []
    assert body == {"max_completion_tokens": 5}


def test_no_stream_options_profile_drops_stream_options() -> None:
    body = {"stream": True, "stream_options": {"include_usage": True}}
    assert apply(PROFILES["no-stream-options"], body, "anything") == ["stream_options=dropped"]
    assert body == {"stream": True}


@pytest.mark.parametrize("name", ["ollama", "vllm", "generic"])
def test_plain_profiles_change_nothing(name: str) -> None:
    body = {"max_tokens": 1, "stream_options": {"include_usage": True}}
    assert apply(PROFILES[name], body, "o3-mini") == []
    assert body == {"max_tokens": 1, "stream_options": {"include_usage": True}}


@pytest.mark.parametrize(
    ("name", "base_url", "expected"),
    [
        (None, "https://api.openai.com/v1", "openai"),
        (None, "http://127.0.0.1:11434/v1", "generic"),
        (None, "https://api.deepseek.com/v1", "generic"),
        ("ollama", "http://127.0.0.1:11434/v1", "ollama"),
        ("generic", "https://api.openai.com/v1", "generic"),
    ],
)
def test_select_profile_by_name_or_host(name: str | None, base_url: str, expected: str) -> None:
    profile = select_profile(name, base_url, {})
    assert profile is PROFILES[expected]


def test_unknown_profile_raises_value_error_listing_the_known_ones() -> None:
    known = ", ".join(sorted(PROFILES))
    with pytest.raises(ValueError, match=rf"^unknown profile 'lmstudio' \(known: {known}\)$"):
        select_profile("lmstudio", "http://x", {})


def test_options_drop_rename_and_default_params() -> None:
    options = {
        "drop_params": ["logprobs", "seed"],
        "rename_params": {"user": "end_user"},
        "default_params": {"temperature": 0.3, "top_k": 40},
    }
    profile = select_profile("generic", "http://x", options)
    body = {"model": "m", "logprobs": True, "user": "u", "temperature": 1.0}
    assert apply(profile, body, "m") == ["user=renamed:end_user", "logprobs=dropped"]
    assert body == {"model": "m", "end_user": "u", "temperature": 1.0, "top_k": 40}


def test_options_add_to_the_named_profile_rules() -> None:
    shared = PROFILES["openai"].rules
    profile = select_profile(None, "https://api.openai.com/v1", {"drop_params": ["stream_options"]})
    assert profile.name == "openai"
    body = {"max_tokens": 9, "stream_options": {"include_usage": True}}
    assert apply(profile, body, "o3") == ["max_tokens=renamed:max_completion_tokens", "stream_options=dropped"]
    assert body == {"max_completion_tokens": 9}
    # The shared profile is not changed by one provider's options.
    assert PROFILES["openai"].rules == shared


@pytest.mark.parametrize("name", ["openai", "azure"])
def test_top_k_is_dropped_where_the_api_has_none(name: str) -> None:
    body = {"model": "m", "top_k": 40, "temperature": 0.5}
    assert apply(PROFILES[name], body, "gpt-4o-mini") == ["top_k=dropped"]
    assert body == {"model": "m", "temperature": 0.5}


def test_empty_options_keep_the_shared_profile() -> None:
    assert select_profile("vllm", "http://x", {"drop_params": [], "rename_params": {}}) is PROFILES["vllm"]


def test_model_rule_patterns_are_case_sensitive_globs() -> None:
    rule = ModelRule(models=("llama3*", "qwen?-*"))
    assert [rule.matches(m) for m in ("llama3.1:8b", "Llama3", "qwen2-7b", "qwen-7b")] == [True, False, True, False]


def test_rules_for_is_cached_per_model() -> None:
    profile = Profile("p", (ModelRule(models=("a*",), drop=("x",)), ModelRule(models=("*",), drop=("y",))))
    first = profile.rules_for("abc")
    assert first is profile.rules_for("abc")
    assert len(first) == 2
    assert len(profile.rules_for("b")) == 1


def test_drop_params_as_a_single_string_is_refused_or_dropped_whole() -> None:
    try:
        profile = select_profile("generic", "http://x", {"drop_params": "stream_options"})
    except ValueError:
        return
    body = {"stream_options": {"include_usage": True}, "s": 1}
    apply(profile, body, "m")
    assert body == {"s": 1}
