"""Error messages in the client's language, chosen by `Accept-Language` (en, de)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

from babelgate.errors import GatewayError

SUPPORTED: Final = ("en", "de")
DEFAULT: Final = "en"


@cache
def _catalog(language: str) -> dict[str, str]:
    text = resources.files("babelgate").joinpath(f"locales/{language}.json").read_text("utf-8")
    catalog: dict[str, str] = json.loads(text)
    return catalog


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
            text = template.format_map({"param": error.param, **error.params})
        except (KeyError, IndexError, ValueError):
            text = template
    return text
