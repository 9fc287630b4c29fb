"""Per-model Claude profiles (providers/anthropic/profiles.py): the built-in table and config overrides."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.providers.anthropic.profiles import DEFAULT_PROFILE, ModelProfile, ModelProfiles, build_profiles

# The rows of the built-in table, written out.
CLAUDE_3_HAIKU = ModelProfile(max_tokens=4096, sampling="both", structured_output="tool", thinking="none")
CLAUDE_3 = ModelProfile(max_tokens=8192, sampling="both", structured_output="tool", thinking="none")
CLAUDE_3_7 = ModelProfile(max_tokens=16384, sampling="both", structured_output="tool", thinking="budget")
CLAUDE_4 = ModelProfile(max_tokens=16384, sampling="both", structured_output="tool", thinking="budget")
CLAUDE_4_1 = ModelProfile(max_tokens=16384, sampling="both", structured_output="native", thinking="budget")
CLAUDE_4_5 = ModelProfile(max_tokens=16384, sampling="one", structured_output="native", thinking="budget")
CLAUDE_4_6 = ModelProfile(max_tokens=16384, sampling="one", structured_output="native", thinking="adaptive")
NEWEST = ModelProfile(max_tokens=16384, sampling="none", structured_output="native", thinking="adaptive")


@pytest.mark.parametrize(
    ("model", "profile"),
    [
        ("claude-3-haiku-20240307", CLAUDE_3_HAIKU),
        ("claude-3-5-haiku-20241022", CLAUDE_3),
        ("claude-3-5-haiku-latest", CLAUDE_3),
        ("claude-3-opus-20240229", CLAUDE_3),
        ("claude-3-7-sonnet-20250219", CLAUDE_3_7),
        ("claude-sonnet-4-20250514", CLAUDE_4),
        ("claude-opus-4-0", CLAUDE_4),
        ("claude-opus-4-1-20250805", CLAUDE_4_1),
        ("claude-sonnet-4-5", CLAUDE_4_5),
        ("claude-sonnet-4-5-20250929", CLAUDE_4_5),
        ("claude-haiku-4-5-20251001", CLAUDE_4_5),
        ("claude-opus-4-5", CLAUDE_4_5),
        ("claude-opus-4-6", CLAUDE_4_6),
        ("claude-sonnet-4-6", CLAUDE_4_6),
        ("claude-opus-4-7", NEWEST),
        ("claude-opus-4-8-20260301", NEWEST),
        ("claude-sonnet-5", NEWEST),
        ("claude-opus-5-20260601", NEWEST),
        ("claude-mythos-5", NEWEST),
        ("claude-fable-5", NEWEST),
        ("some-proxy-alias", DEFAULT_PROFILE),
    ],
)
def test_the_built_in_table(model: str, profile: ModelProfile) -> None:
    assert ModelProfiles().for_model(model) == profile


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"])
def test_claude_4_5_is_not_taken_for_claude_5(model: str) -> None:
    """Regression: unanchored `claude-*-5` / `claude-*-5-*` patterns once gave 4.5 models the newest
    profile (no sampling, adaptive thinking, which 4.5 models refuse)."""
    profile = ModelProfiles().for_model(model)
    assert (profile.sampling, profile.thinking) == ("one", "budget")


def test_the_default_profile() -> None:
    expected = ModelProfile(
        max_tokens=16384,
        sampling="one",
        structured_output="native",
        thinking="budget",
        clamp_temperature=False,
        beta=(),
    )
    assert expected == DEFAULT_PROFILE


def test_lookups_are_stable() -> None:
    profiles = ModelProfiles()
    assert profiles.for_model("claude-opus-4-7") is profiles.for_model("claude-opus-4-7")


def test_no_options_means_the_built_in_table() -> None:
    profiles = build_profiles({})
    assert profiles.for_model("claude-3-5-haiku-20241022") == CLAUDE_3
    assert profiles.for_model("claude-opus-4-7") == NEWEST
    assert build_profiles({"models": None}).for_model("claude-opus-4-7") == NEWEST


def test_a_configured_pattern_starts_from_the_built_in_profile_of_its_text() -> None:
    profiles = build_profiles(
        {
            "models": {
                "claude-3-5-haiku*": {"structured_output": "native", "beta": "structured-outputs-2025-11-13"},
                "claude-opus-4-7*": {"sampling": "one", "clamp_temperature": True, "beta": ["b1", "b2"]},
                "my-proxy-*": {"max_tokens": 2048, "thinking": "none"},
            }
        }
    )
    assert profiles.for_model("claude-3-5-haiku-20241022") == ModelProfile(
        max_tokens=8192,
        sampling="both",
        structured_output="native",
        thinking="none",
        beta=("structured-outputs-2025-11-13",),
    )
    assert profiles.for_model("claude-opus-4-7") == ModelProfile(
        max_tokens=16384,
        sampling="one",
        structured_output="native",
        thinking="adaptive",
        clamp_temperature=True,
        beta=("b1", "b2"),
    )
    assert profiles.for_model("my-proxy-claude") == ModelProfile(
        max_tokens=2048, sampling="one", structured_output="native", thinking="none"
    )
    # models no configured pattern matches keep the built-in rows
    assert profiles.for_model("claude-3-haiku-20240307") == CLAUDE_3_HAIKU
    assert profiles.for_model("claude-sonnet-5") == NEWEST


def test_configured_patterns_are_tried_before_the_built_in_ones_in_their_order() -> None:
    profiles = build_profiles({"models": {"claude-*": {"max_tokens": 1000}, "claude-opus-*": {"max_tokens": 2000}}})
    assert profiles.for_model("claude-opus-4-7").max_tokens == 1000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": ["claude-*"]}, "options.models must map model-name patterns to profile fields"),
        ({"models": {"claude-*": "fast"}}, "options.models.claude-* must be a mapping"),
        (
            {"models": {"claude-*": {"speed": 1, "colour": "red"}}},
            "options.models.claude-*: unknown field(s) colour, speed",
        ),
        (
            {"models": {"claude-*": {"sampling": "two"}}},
            "options.models.claude-*.sampling: expected one of both, one, none",
        ),
        (
            {"models": {"claude-*": {"structured_output": "json"}}},
            "options.models.claude-*.structured_output: expected one of native, tool",
        ),
        (
            {"models": {"claude-*": {"thinking": "always"}}},
            "options.models.claude-*.thinking: expected one of budget, adaptive, none",
        ),
        (
            {"models": {"claude-*": {"clamp_temperature": "yes"}}},
            "options.models.claude-*.clamp_temperature: expected one of True, False",
        ),
    ],
)
def test_bad_values_are_value_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        build_profiles(options)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", ["lots", -5, 0.5, True])
def test_a_bad_max_tokens_is_a_value_error(value: Any) -> None:
    with pytest.raises(ValueError):
        build_profiles({"models": {"claude-*": {"max_tokens": value}}})


def test_a_bad_beta_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        build_profiles({"models": {"claude-*": {"beta": 5}}})
