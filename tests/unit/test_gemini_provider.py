"""Tests of the Gemini provider's construction (providers/gemini/provider.py): URLs, headers, the
media policy from `options.media`, and the profiles from `options`. Construction does no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.gemini.profiles import ModelProfile
from babelgate.providers.gemini.provider import GeminiProvider, _media_policy
from babelgate.providers.media import MediaPolicy

JSON = dict[str, Any]
BASE = "https://generativelanguage.googleapis.com/v1beta/models/"


def provider(**fields: Any) -> GeminiProvider:
    config = ProviderConfig(type="gemini", api_keys=("k",), **fields)
    built = build_provider("gemini", config, ServerConfig(), UpstreamClient())
    assert isinstance(built, GeminiProvider)
    return built


def test_the_provider_type_and_capabilities() -> None:
    gemini = provider()
    assert (gemini.type, gemini.name, gemini.secrets) == ("gemini", "gemini", ("k",))
    assert gemini.capabilities.signed_tool_ids is True
    assert gemini.capabilities.list_models is True


@pytest.mark.parametrize(
    ("model", "method", "url"),
    [
        ("gemini-2.5-flash", "generateContent", f"{BASE}gemini-2.5-flash:generateContent"),
        ("gemini-3-pro-preview", "streamGenerateContent", f"{BASE}gemini-3-pro-preview:streamGenerateContent"),
        (
            "gemini-2.5-flash-lite-preview-06-17",
            "generateContent",
            f"{BASE}gemini-2.5-flash-lite-preview-06-17:generateContent",
        ),
        # A model name cannot leave the models path or add a query.
        ("../../files/x", "generateContent", f"{BASE}..%2F..%2Ffiles%2Fx:generateContent"),
        ("gemini?key=1#x", "generateContent", f"{BASE}gemini%3Fkey%3D1%23x:generateContent"),
        ("my model:v1", "generateContent", f"{BASE}my%20model%3Av1:generateContent"),
    ],
)
def test_url(model: str, method: str, url: str) -> None:
    assert provider()._url(model, method) == url


def test_a_configured_base_url() -> None:
    gemini = provider(base_url="http://127.0.0.1:9/")
    assert gemini._url("gemini-2.5-flash", "generateContent") == (
        "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert gemini._models_url == "http://127.0.0.1:9/v1beta/models?pageSize=1000"
    assert provider()._models_url == "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"


def test_the_key_goes_in_a_header_never_in_the_url() -> None:
    config = ProviderConfig(type="gemini", api_keys=("AIzaSECRET",), headers={"x-extra": "1"})
    gemini = build_provider("gemini", config, ServerConfig(), UpstreamClient())
    assert isinstance(gemini, GeminiProvider)
    assert gemini._headers.items[gemini._headers.pick()] == {
        "content-type": "application/json",
        "x-extra": "1",
        "x-goog-api-key": "AIzaSECRET",
    }
    assert "AIzaSECRET" not in gemini._url("m", "generateContent") + gemini._models_url


def test_several_keys_rotate() -> None:
    config = ProviderConfig(type="gemini", api_keys=("k1", "k2"))
    gemini = build_provider("gemini", config, ServerConfig(), UpstreamClient())
    assert isinstance(gemini, GeminiProvider)
    assert {gemini._headers.items[gemini._headers.pick()]["x-goog-api-key"] for _ in range(4)} == {"k1", "k2"}


def test_profiles_come_from_the_options() -> None:
    gemini = provider(options={"inline_remote_media": True, "models": {"gemini-2.5-pro": {"thinking": "level"}}})
    assert gemini._profiles.for_model("gemini-2.5-pro") == ModelProfile(
        thinking="level", multiple_candidates=True, inline_remote_media=True
    )
    assert gemini._profiles.for_model("gemini-2.0-flash") == ModelProfile(
        thinking="none", penalties=True, multiple_candidates=True, inline_remote_media=True
    )


def test_bad_profile_options_fail_construction_with_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^options.models.gemini-3\*.thinking: expected one of level, budget, none$"):
        provider(options={"models": {"gemini-3*": {"thinking": "deep"}}})


# --- options.media -------------------------------------------------------------------------------


def test_the_default_media_policy() -> None:
    assert provider()._media_policy == MediaPolicy()
    assert _media_policy({}) == MediaPolicy(
        allow_http=False,
        allow_private=False,
        max_bytes=20 * 1024 * 1024,
        timeout=10.0,
        max_redirects=3,
        allowed_types=("image/", "application/pdf", "audio/", "video/", "text/"),
        allow_private_hosts=frozenset(),
    )


def test_a_configured_media_policy() -> None:
    media = {
        "allow_http": True,
        "allow_private": False,
        "max_bytes": 1024,
        "timeout": 2.5,
        "max_redirects": 0,
        "allowed_types": ["image/", "application/pdf"],
        "allow_private_hosts": ["127.0.0.1", "0:0::1"],
    }
    expected = MediaPolicy(
        allow_http=True,
        max_bytes=1024,
        timeout=2.5,
        max_redirects=0,
        allowed_types=("image/", "application/pdf"),
        allow_private_hosts=frozenset({"127.0.0.1", "::1"}),
    )
    assert _media_policy(media) == expected
    assert provider(options={"media": media})._media_policy == expected
    assert media["allowed_types"] == ["image/", "application/pdf"]  # the config is not changed


@pytest.mark.parametrize(
    ("media", "message"),
    [
        ({"allow_ftp": True, "max_size": 5}, "options.media: unknown field(s) allow_ftp, max_size"),
        (["allow_http"], "options.media must be a mapping"),
        ({"max_bytes": 0}, "max_bytes and timeout must be positive, max_redirects not negative"),
        ({"timeout": 0}, "max_bytes and timeout must be positive, max_redirects not negative"),
        ({"max_redirects": -1}, "max_bytes and timeout must be positive, max_redirects not negative"),
        ({"allow_private_hosts": ["media.internal"]}, "'media.internal' does not appear to be an IPv4 or IPv6 address"),
    ],
)
def test_bad_media_options_are_value_errors(media: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        _media_policy(media)
    assert str(caught.value) == message
    with pytest.raises(ValueError):
        provider(options={"media": media})


def test_a_string_allowed_types_is_refused() -> None:
    with pytest.raises(ValueError):
        _media_policy({"allowed_types": "image/"})


@pytest.mark.parametrize(
    "media",
    [{"max_bytes": "big"}, {"timeout": None}, {"allow_private_hosts": 5}, {"allow_http": "yes"}],
    ids=["max_bytes-string", "timeout-null", "hosts-int", "allow_http-string"],
)
def test_wrongly_typed_media_options_are_value_errors(media: JSON) -> None:
    with pytest.raises(ValueError):
        _media_policy(media)
