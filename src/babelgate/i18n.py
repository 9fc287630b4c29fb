"""Error messages in the client's language, chosen by `Accept-Language` (en, de).

A message is a template of `locales/<language>.json` filled with the error's parameters. Some parameters
are English phrases the code writes where it raises (`expected="a string"`, `detail=f"expected one of
{…}"`, a timeout's phase): those are looked up in `locales/<language>.phrases.json`, keyed by the English
phrase as the code writes it (gettext's way: the source text is the key), with `{}` standing for each value
an f-string puts in. A phrase without a translation stays English; tests/unit/test_i18n_phrases.py finds
every phrase in the source and fails on any that has no German.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, Final

from babelgate.errors import GatewayError

SUPPORTED: Final = ("en", "de")
DEFAULT: Final = "en"
# The parameters whose values are English phrases written in the code, not names, numbers or API values.
PHRASE_PARAMS: Final = frozenset({"expected", "detail", "reason", "feature", "capability", "phase", "who", "period"})


# The caches below are of the package's own files and of pure functions of their argument: the process's.
@cache
def _catalog(language: str) -> dict[str, str]:
    text = resources.files("babelgate").joinpath(f"locales/{language}.json").read_text("utf-8")
    catalog: dict[str, str] = json.loads(text)
    return catalog


@cache
def _phrases(language: str) -> tuple[dict[str, str], tuple[tuple[re.Pattern[str], str], ...]]:
    """The language's phrases: those without values by their English text, the others as patterns that
    match the English with any values in place of `{}` (longest first, so the most specific wins)."""
    source = resources.files("babelgate").joinpath(f"locales/{language}.phrases.json")
    table: dict[str, str] = json.loads(source.read_text("utf-8")) if source.is_file() else {}
    fixed = {english: text for english, text in table.items() if "{}" not in english}
    patterns = tuple(
        (re.compile("(.+?)".join(map(re.escape, english.split("{}"))), re.DOTALL), text)
        for english, text in sorted(table.items(), key=lambda item: -len(item[0]))
        if "{}" in english
    )
    return fixed, patterns


def translate_phrase(text: str, language: str) -> str:
    """An English phrase of the code in `language`; as it is when the catalogue has no translation."""
    fixed, patterns = _phrases(language)
    found = fixed.get(text)
    if found is not None:
        return found
    for pattern, translated in patterns:
        match = pattern.fullmatch(text)
        if match is not None:
            return translated.format(*match.groups())  # the values are the code's: names, numbers, API values
    return text


def _localized(params: dict[str, Any], language: str) -> dict[str, Any]:
    if language == DEFAULT:
        return params
    return {
        name: translate_phrase(value, language) if name in PHRASE_PARAMS and isinstance(value, str) else value
        for name, value in params.items()
    }


@cache
def choose_language(accept_language: str | None) -> str:
    """Best supported language for an Accept-Language header (RFC 9110 weights)."""
    if not accept_language:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, weight_text = item.strip().partition(";")
        weight = 1.0
        if weight_text.strip().lower().startswith("q="):
            try:
                weight = float(weight_text.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in SUPPORTED and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def render_message(error: GatewayError, language: str = DEFAULT) -> str:
    """The error's message: the upstream's own words when relayed, else our localized text."""
    if error.raw_message is not None:
        return error.raw_message
    template = _catalog(language).get(error.message_key) or _catalog(DEFAULT).get(error.message_key)
    if template is None:
        text = error.message_key
    else:
        try:
            text = template.format_map({"param": error.param, **_localized(error.params, language)})
        except (KeyError, IndexError, ValueError):
            text = template
    return text
