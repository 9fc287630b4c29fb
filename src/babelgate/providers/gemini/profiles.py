"""What each Gemini model accepts, as data matched by model-name pattern (first match wins).

docs/decisions.md, "Model profiles": Gemini 2.5+ and 3 refuse non-zero presence/frequency penalties (dropped, reported);
Gemini 3 refuses `n > 1` (a 400: dropping would change the answer's shape). Thinking is a token
budget on 2.5 and a level on 3. A provider's `options.models` puts its own rules in front, e.g.
`{"gemini-embedding-*": {"task_type": "RETRIEVAL_DOCUMENT"}}`: the `taskType` sent with every input of an
embeddings request for those models (none by default: the model's own default; a request's own
`task_type` field wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Final, Literal

from babelgate.providers.gemini.wire import TASK_TYPES

Thinking = Literal["level", "budget", "none"]


@dataclass(frozen=True, slots=True)
class ModelProfile:
    thinking: Thinking = "level"
    penalties: bool = False  # presence/frequency penalties accepted
    multiple_candidates: bool = False  # n > 1 accepted
    inline_remote_media: bool = False  # fetch http(s) media and inline it instead of a fileData URI
    safety_settings: tuple[Mapping[str, Any], ...] = ()
    task_type: str | None = None  # embeddings: the Gemini TaskType sent with each input
    signatures_required: bool = False  # function calls of the current turn need a thought signature
    # Google Search grounding in the same request as function declarations: Gemini 3 takes both,
    # Gemini 2.x refuses the pair ("Tool use with function calling is unsupported").
    search_with_functions: bool = False


@dataclass(frozen=True, slots=True)
class ProfileRule:
    patterns: tuple[str, ...]
    profile: ModelProfile


BUILTIN_RULES: Final = (
    ProfileRule(("gemini-3*",), ModelProfile(thinking="level", signatures_required=True, search_with_functions=True)),
    ProfileRule(("gemini-2.5*",), ModelProfile(thinking="budget", multiple_candidates=True)),
    ProfileRule(
        ("gemini-2.0*", "gemini-1.5*", "gemma-*"),
        ModelProfile(thinking="none", penalties=True, multiple_candidates=True),
    ),
)
DEFAULT_PROFILE: Final = ModelProfile(thinking="level", signatures_required=True, search_with_functions=True)

# reasoning_effort → Gemini 3 thinkingLevel, or a Gemini 2.5 thinkingBudget (tokens).
THINKING_LEVELS: Final[dict[str, str]] = {
    "minimal": "MINIMAL",
    "low": "LOW",
    "medium": "MEDIUM",
    "high": "HIGH",
    "xhigh": "XHIGH",
}
# 24576 is Gemini 2.5 Flash's largest budget; Pro takes up to 32768.
THINKING_BUDGETS: Final[dict[str, int]] = {"minimal": 512, "low": 1024, "medium": 8192, "high": 16384, "xhigh": 24576}

_ALLOWED: Final[dict[str, tuple[Any, ...]]] = {
    "thinking": ("level", "budget", "none"),
    "penalties": (True, False),
    "multiple_candidates": (True, False),
    "inline_remote_media": (True, False),
    "search_with_functions": (True, False),
    "task_type": TASK_TYPES,
}


@dataclass(frozen=True, slots=True)
class ModelProfiles:
    rules: tuple[ProfileRule, ...] = BUILTIN_RULES
    base: ModelProfile = DEFAULT_PROFILE
    _cache: dict[str, ModelProfile] = field(default_factory=dict, compare=False, repr=False)

    def for_model(self, model: str) -> ModelProfile:
        profile = self._cache.get(model)
        if profile is None:
            profile = next(
                (rule.profile for rule in self.rules if any(fnmatchcase(model, p) for p in rule.patterns)), self.base
            )
            if len(self._cache) < 4096:
                self._cache[model] = profile
        return profile


def build_profiles(options: Mapping[str, Any]) -> ModelProfiles:
    """Built-in rules behind `options.models` ({pattern: {field: value}}); provider-wide
    `options.inline_remote_media` and `options.safety_settings` apply to every model."""
    provider_wide = _fields(options, "options", keys=("inline_remote_media", "safety_settings"))
    rules = [ProfileRule(rule.patterns, replace(rule.profile, **provider_wide)) for rule in BUILTIN_RULES]
    base = replace(DEFAULT_PROFILE, **provider_wide)
    builtin = ModelProfiles(tuple(rules), base)
    configured = options.get("models") or {}
    if not isinstance(configured, Mapping):
        raise ValueError("options.models must map model-name patterns to profile fields")
    own = [
        ProfileRule(
            (str(pattern),), replace(builtin.for_model(str(pattern)), **_fields(fields, f"options.models.{pattern}"))
        )
        for pattern, fields in configured.items()
    ]
    return ModelProfiles((*own, *rules), base)


def _fields(source: Any, where: str, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    if not isinstance(source, Mapping):
        raise ValueError(f"{where} must be a mapping")
    names = keys if keys is not None else tuple(source)
    values: dict[str, Any] = {}
    for name in names:
        if name not in source:
            continue
        if name not in ModelProfile.__dataclass_fields__:
            raise ValueError(f"{where}.{name}: unknown field")
        value = source[name]
        allowed = _ALLOWED.get(name)
        if allowed is not None and (value not in allowed or (True in allowed and not isinstance(value, bool))):
            raise ValueError(f"{where}.{name}: expected one of {', '.join(map(str, allowed))}")
        if name == "safety_settings":
            if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
                raise ValueError(f"{where}.{name}: expected a list of {{category, threshold}} mappings")
            value = tuple(dict(item) for item in value)
        values[name] = value
    return values
