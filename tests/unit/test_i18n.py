"""Error messages in the client's language (i18n.py, locales/*.json)."""

from __future__ import annotations

import json
import string
from importlib import resources

import pytest

from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from babelgate.i18n import SUPPORTED, choose_language, render_message


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("de-DE", "de"),
        ("DE-at", "de"),
        ("fr, de;q=0.5", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "en"),
        ("en;q=0.5, de;q=0.8", "de"),
        ("de;q=0.8, en;q=0.8", "de"),  # equal weights: the first listed wins
        ("en;q=0.8, de;q=0.8", "en"),
        ("de; q=0.9 , en ; q=0.1", "de"),
        ("de;q=0, en;q=0.1", "en"),
        ("de;q=0", "en"),
        ("de;q=abc, en;q=0.2", "en"),  # an unreadable weight counts as 0
        ("*", "en"),
        ("ja, zh-CN;q=0.9", "en"),
        ("deu, dk", "en"),
    ],
)
def test_choose_language(header: str | None, language: str) -> None:
    assert choose_language(header) == language


def test_upper_case_q_weight_is_read() -> None:
    assert choose_language("de;Q=0.1, en;q=0.5") == "en"


def catalog(language: str) -> dict[str, str]:
    text = resources.files("babelgate").joinpath(f"locales/{language}.json").read_text("utf-8")
    loaded: dict[str, str] = json.loads(text)
    return loaded


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_supported_language_has_every_key_with_the_same_placeholders() -> None:
    english = catalog("en")
    for language in SUPPORTED:
        other = catalog(language)
        assert set(other) == set(english), language
        for key, template in other.items():
            assert placeholders(template) == placeholders(english[key]), (language, key)


def test_every_error_class_default_key_is_in_the_catalog() -> None:
    classes: list[type[GatewayError]] = [GatewayError]
    keys = set()
    while classes:
        cls = classes.pop()
        keys.add(cls.default_key)
        classes.extend(cls.__subclasses__())
    assert keys <= set(catalog("en"))


def test_model_not_found_in_english_and_german() -> None:
    error = ModelNotFound(model="gpt-9", providers="openai, ollama", reason="unknown model", param="model")
    assert render_message(error) == (
        "The model 'gpt-9' does not exist or is not served by any enabled provider. Enabled providers: openai, ollama."
    )
    assert render_message(error, "de") == (
        "Das Modell 'gpt-9' existiert nicht oder wird von keinem aktivierten "
        "Anbieter bedient. Aktivierte Anbieter: openai, ollama."
    )


def test_upstream_errors_in_german() -> None:
    assert render_message(UpstreamTimeout(provider="openai", phase="first byte"), "de") == (
        "Der Anbieter 'openai' hat nicht rechtzeitig geantwortet (erstes Byte)."
    )
    assert render_message(UpstreamProtocolError("stream_interrupted", provider="local"), "de") == (
        "Der Stream des Anbieters 'local' endete, bevor er vollständig war."
    )
    assert render_message(GatewayError(), "de") == "Im Gateway ist ein interner Fehler aufgetreten."


def test_raw_message_wins_over_the_catalog() -> None:
    error = UpstreamRateLimited(provider="openai", raw_message="You exceeded your current quota.")
    assert render_message(error, "de") == "You exceeded your current quota."


def test_unknown_key_renders_as_the_key() -> None:
    assert render_message(GatewayError("no_such_message")) == "no_such_message"


def test_message_without_parameters_in_german() -> None:
    assert render_message(InvalidRequest("body_not_object"), "de") == "Der Anfragetext muss ein JSON-Objekt sein."


@pytest.mark.parametrize(
    ("error", "language", "message"),
    [
        (InvalidRequest("missing_field", param="model"), "en", "Missing required parameter: 'model'."),
        (
            InvalidRequest("wrong_type", param="stream", expected="a boolean"),
            "en",
            "Invalid type for 'stream': expected a boolean.",
        ),
        (
            InvalidRequest("out_of_range", param="temperature", expected="a value from 0 to 2"),
            "de",
            "Ungültiger Wert für 'temperature': erwartet wird ein Wert von 0 bis 2.",
        ),
        (
            InvalidRequest("invalid_tool_name", param="tools[0].function.name"),
            "en",
            "Invalid tool name at 'tools[0].function.name': it must match ^[a-zA-Z0-9_-]{1,64}$.",
        ),
    ],
    ids=["missing_field", "wrong_type", "out_of_range de", "invalid_tool_name"],
)
def test_validation_messages_name_the_param(error: InvalidRequest, language: str, message: str) -> None:
    assert render_message(error, language) == message
