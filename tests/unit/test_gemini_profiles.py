"""Golden tests of the Gemini model profiles (providers/gemini/profiles.py): the built-in table,
provider-wide options, `options.models` overrides, and the errors a bad configuration gets."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.providers.gemini.profiles import (
    BUILTIN_RULES,
    DEFAULT_PROFILE,
    THINKING_BUDGETS,
    THINKING_LEVELS,
    ModelProfile,
    build_profiles,
)

JSON = dict[str, Any]
LEVEL = ModelProfile(thinking="level", signatures_required=True, search_with_functions=True)
BUDGET = ModelProfile(thinking="budget", multiple_candidates=True)
LEGACY = ModelProfile(thinking="none", penalties=True, multiple_candidates=True)
SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]

BUILTIN = [
    ("gemini-3-pro-preview", LEVEL),
    ("gemini-3-flash-preview", LEVEL),
    ("gemini-3.1-pro-preview", LEVEL),
    ("gemini-2.5-flash", BUDGET),
    ("gemini-2.5-pro", BUDGET),
    ("gemini-2.5-flash-lite-preview-06-17", BUDGET),
    ("gemini-2.0-flash", LEGACY),
    ("gemini-2.0-flash-lite", LEGACY),
    ("gemini-1.5-pro-002", LEGACY),
    ("gemma-3-27b-it", LEGACY),
    ("learnlm-2.0-flash-experimental", LEVEL),  # anything else: the newest behaviour
    ("Gemini-2.5-flash", LEVEL),  # patterns are case-sensitive, as model ids are
]


@pytest.mark.parametrize(("model", "profile"), BUILTIN, ids=[row[0] for row in BUILTIN])
def test_builtin_profiles(model: str, profile: ModelProfile) -> None:
    assert build_profiles({}).for_model(model) == profile


def test_the_builtin_table_and_thinking_tables() -> None:
    assert DEFAULT_PROFILE == LEVEL
    assert [(rule.patterns, rule.profile) for rule in BUILTIN_RULES] == [
        (("gemini-3*",), LEVEL),
        (("gemini-2.5*",), BUDGET),
        (("gemini-2.0*", "gemini-1.5*", "gemma-*"), LEGACY),
    ]
    assert THINKING_LEVELS == {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "XHIGH"}
    assert THINKING_BUDGETS == {"minimal": 512, "low": 1024, "medium": 8192, "high": 16384, "xhigh": 24576}


def test_lookups_are_cached_and_stable() -> None:
    profiles = build_profiles({})
    first = profiles.for_model("gemini-2.5-flash")
    assert profiles.for_model("gemini-2.5-flash") is first


def test_provider_wide_options_apply_to_every_model() -> None:
    profiles = build_profiles({"inline_remote_media": True, "safety_settings": SAFETY})
    settings = tuple(SAFETY)
    assert profiles.for_model("gemini-3-pro-preview") == ModelProfile(
        thinking="level",
        inline_remote_media=True,
        safety_settings=settings,
        signatures_required=True,
        search_with_functions=True,
    )
    assert profiles.for_model("gemini-2.5-flash") == ModelProfile(
        thinking="budget", multiple_candidates=True, inline_remote_media=True, safety_settings=settings
    )
    assert profiles.for_model("gemini-2.0-flash") == ModelProfile(
        thinking="none", penalties=True, multiple_candidates=True, inline_remote_media=True, safety_settings=settings
    )
    assert profiles.for_model("other-model") == ModelProfile(
        inline_remote_media=True, safety_settings=settings, signatures_required=True, search_with_functions=True
    )


def test_safety_settings_are_copied() -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    profile = build_profiles({"safety_settings": settings}).for_model("gemini-2.5-flash")
    settings[0]["threshold"] = "BLOCK_LOW_AND_ABOVE"
    assert profile.safety_settings == ({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},)


def test_model_overrides_start_from_the_builtin_profile_of_their_pattern() -> None:
    profiles = build_profiles(
        {
            "models": {
                "gemini-2.5-pro": {"thinking": "level"},
                "gemini-2.0-flash*": {"penalties": False, "safety_settings": SAFETY},
                "my-tuned-*": {"thinking": "budget", "multiple_candidates": True, "inline_remote_media": True},
            }
        }
    )
    assert profiles.for_model("gemini-2.5-pro") == ModelProfile(thinking="level", multiple_candidates=True)
    assert profiles.for_model("gemini-3-pro") == LEVEL  # untouched
    assert profiles.for_model("gemini-2.5-flash") == BUDGET  # untouched
    assert profiles.for_model("gemini-2.0-flash-lite") == ModelProfile(
        thinking="none", penalties=False, multiple_candidates=True, safety_settings=tuple(SAFETY)
    )
    assert profiles.for_model("gemini-1.5-pro") == LEGACY
    # An unknown model starts from the default profile (Gemini 3's), so it keeps the signature rule.
    assert profiles.for_model("my-tuned-model") == ModelProfile(
        thinking="budget",
        multiple_candidates=True,
        inline_remote_media=True,
        signatures_required=True,
        search_with_functions=True,
    )


def test_a_model_override_wins_over_the_provider_wide_option() -> None:
    profiles = build_profiles(
        {
            "inline_remote_media": True,
            "safety_settings": SAFETY,
            "models": {"gemini-3*": {"inline_remote_media": False, "safety_settings": []}},
        }
    )
    assert profiles.for_model("gemini-3-pro-preview") == LEVEL
    assert profiles.for_model("gemini-2.5-flash").inline_remote_media is True


def test_the_first_configured_pattern_wins() -> None:
    profiles = build_profiles(
        {"models": {"gemini-2.5-flash-lite*": {"thinking": "none"}, "gemini-2.5*": {"thinking": "level"}}}
    )
    assert profiles.for_model("gemini-2.5-flash-lite").thinking == "none"
    assert profiles.for_model("gemini-2.5-flash").thinking == "level"


@pytest.mark.parametrize("options", [{"models": None}, {"models": {}}, {"unrelated": 1}])
def test_empty_options_give_the_builtin_table(options: JSON) -> None:
    profiles = build_profiles(options)
    for model, profile in BUILTIN:
        assert profiles.for_model(model) == profile


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"models": ["gemini-3*"]}, "options.models must map model-name patterns to profile fields"),
        ({"models": {"gemini-3*": "level"}}, "options.models.gemini-3* must be a mapping"),
        (
            {"models": {"gemini-3*": {"thinking": "deep"}}},
            "options.models.gemini-3*.thinking: expected one of level, budget, none",
        ),
        ({"models": {"gemini-3*": {"temperature": 1.0}}}, "options.models.gemini-3*.temperature: unknown field"),
        ({"models": {"x": {"penalties": "yes"}}}, "options.models.x.penalties: expected one of True, False"),
        (
            {"models": {"x": {"multiple_candidates": None}}},
            "options.models.x.multiple_candidates: expected one of True, False",
        ),
        ({"inline_remote_media": "true"}, "options.inline_remote_media: expected one of True, False"),
        (
            {"safety_settings": {"category": "HARM_CATEGORY_HARASSMENT"}},
            "options.safety_settings: expected a list of {category, threshold} mappings",
        ),
        (
            {"safety_settings": ["BLOCK_NONE"]},
            "options.safety_settings: expected a list of {category, threshold} mappings",
        ),
        (
            {"models": {"x": {"safety_settings": "BLOCK_NONE"}}},
            "options.models.x.safety_settings: expected a list of {category, threshold} mappings",
        ),
    ],
)
def test_bad_options_are_value_errors_naming_the_key(options: JSON, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        build_profiles(options)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "options",
    [{"inline_remote_media": 1}, {"models": {"x": {"penalties": 0}}}, {"models": {"x": {"multiple_candidates": 1.0}}}],
)
def test_numbers_are_not_booleans(options: JSON) -> None:
    with pytest.raises(ValueError):
        build_profiles(options)
