"""What each Claude model accepts, as data matched by model-name pattern (first match wins).

docs/decisions.md, "Model profiles": Claude 4.5+ take `temperature` or `top_p`, not both (send temperature, drop top_p);
the newest models take neither (drop both). Models differ too in their default output budget,
native structured outputs (`output_config.format`), and thinking (a token budget, or adaptive
thinking with an effort). A provider's `options.models` puts its own rules in front of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Final, Literal

Sampling = Literal["both", "one", "none"]
Thinking = Literal["budget", "adaptive", "none"]
StructuredOutput = Literal["native", "tool"]


@dataclass(frozen=True, slots=True)
class ModelProfile:
    max_tokens: int = 8192  # sent when the client gave no limit (Anthropic requires one)
    sampling: Sampling = "one"
    structured_output: StructuredOutput = "native"
    thinking: Thinking = "budget"
    clamp_temperature: bool = False  # else a temperature above 1 is a 400
    beta: tuple[str, ...] = ()  # extra `anthropic-beta` values for this model


@dataclass(frozen=True, slots=True)
class ProfileRule:
    patterns: tuple[str, ...]
    profile: ModelProfile


_NEWEST = ModelProfile(max_tokens=16384, sampling="none", thinking="adaptive")


def _family(*versions: str) -> tuple[str, ...]:
    """Patterns anchored on the family name, so that a date suffix never matches a version."""
    return tuple(f"claude-{family}-{version}*" for version in versions for family in ("opus", "sonnet", "haiku"))


BUILTIN_RULES: Final = (
    ProfileRule(
        ("claude-3-haiku*",), ModelProfile(max_tokens=4096, sampling="both", structured_output="tool", thinking="none")
    ),
    ProfileRule(
        ("claude-3-5-*", "claude-3-opus*", "claude-3-sonnet*"),
        ModelProfile(max_tokens=8192, sampling="both", structured_output="tool", thinking="none"),
    ),
    ProfileRule(("claude-3-7-*",), ModelProfile(max_tokens=16384, sampling="both", structured_output="tool")),
    ProfileRule(("claude-opus-4-7*", "claude-opus-4-8*", *_family("5"), "claude-mythos*", "claude-fable*"), _NEWEST),
    ProfileRule(_family("4-6"), ModelProfile(max_tokens=16384, sampling="one", thinking="adaptive")),
    ProfileRule(_family("4-5"), ModelProfile(max_tokens=16384, sampling="one")),
    ProfileRule(("claude-opus-4-1*",), ModelProfile(max_tokens=16384, sampling="both")),
    ProfileRule(
        ("claude-sonnet-4*", "claude-opus-4*"),
        ModelProfile(max_tokens=16384, sampling="both", structured_output="tool"),
    ),
)
DEFAULT_PROFILE: Final = ModelProfile(max_tokens=16384)

# reasoning_effort → thinking budget (manual thinking) or effort (adaptive thinking).
THINKING_BUDGETS: Final[dict[str, int]] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
ADAPTIVE_EFFORTS: Final[dict[str, str]] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}


@dataclass(frozen=True, slots=True)
class ModelProfiles:
    rules: tuple[ProfileRule, ...] = BUILTIN_RULES
    _cache: dict[str, ModelProfile] = field(default_factory=dict, compare=False, repr=False)

    def for_model(self, model: str) -> ModelProfile:
        profile = self._cache.get(model)
        if profile is None:
            profile = next(
                (rule.profile for rule in self.rules if any(fnmatchcase(model, p) for p in rule.patterns)),
                DEFAULT_PROFILE,
            )
            if len(self._cache) < 4096:
                self._cache[model] = profile
        return profile


_ALLOWED: Final[dict[str, tuple[Any, ...]]] = {
    "sampling": ("both", "one", "none"),
    "structured_output": ("native", "tool"),
    "thinking": ("budget", "adaptive", "none"),
    "clamp_temperature": (True, False),
}


def build_profiles(options: Mapping[str, Any]) -> ModelProfiles:
    """Built-in rules behind the provider's `options.models` ({pattern: {field: value}}).
    A configured pattern starts from the profile the built-in rules give that pattern's text."""
    configured = options.get("models") or {}
    if not isinstance(configured, Mapping):
        raise ValueError("options.models must map model-name patterns to profile fields")
    builtin = ModelProfiles()
    rules = []
    for pattern, fields in configured.items():
        if not isinstance(fields, Mapping):
            raise ValueError(f"options.models.{pattern} must be a mapping")
        unknown = set(fields) - set(ModelProfile.__dataclass_fields__)
        if unknown:
            raise ValueError(f"options.models.{pattern}: unknown field(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in fields.items():
            where = f"options.models.{pattern}.{name}"
            allowed = _ALLOWED.get(name)
            if allowed is not None and value not in allowed:
                raise ValueError(f"{where}: expected one of {', '.join(map(str, allowed))}")
            if name == "max_tokens" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{where}: expected a positive whole number")
            if name == "beta":
                value = [value] if isinstance(value, str) else value
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise ValueError(f"{where}: expected a string or a list of strings")
                value = tuple(value)
            values[name] = value
        rules.append(ProfileRule((str(pattern),), replace(builtin.for_model(str(pattern)), **values)))
    return ModelProfiles((*rules, *BUILTIN_RULES))
