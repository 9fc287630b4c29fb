"""Bedrock model ids → the gateway's public model names (frontends/bedrock_model_ids.py): the exact name first,
then a configured model a Converse-relaying provider serves under that id (or the same foundation model under
another geography), then the publisher's own name of the model; anything else is left for routing to refuse."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config import Config, ProviderConfig, ServerConfig
from babelgate.frontends.bedrock_model_ids import arn_resource, foundation_model, public_model
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.routing.registry import ModelRegistry

PROVIDERS: dict[str, dict[str, Any]] = {
    "anthropic": {},
    "mistral": {},
    "aws": {"type": "bedrock", "region": "us-east-1", "api_key": "ABSK-test"},
}
MODELS = {
    "sonnet": {"provider": "aws", "model": "eu.anthropic.claude-sonnet-4-20250514-v1:0"},
    "nova": {"provider": "aws", "model": "us.amazon.nova-pro-v1:0"},
    "nova-eu": {"provider": "aws", "model": "eu.amazon.nova-pro-v1:0"},
    "lite": {"provider": "aws", "model": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"},
    "claude-direct": {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"},
}


def registry(providers: dict[str, dict[str, Any]] = PROVIDERS, **config: Any) -> ModelRegistry:
    client = UpstreamClient()
    built = {
        name: build_provider(name, ProviderConfig.model_validate(settings), ServerConfig(), client)
        for name, settings in providers.items()
    }
    return ModelRegistry(Config.model_validate({"providers": providers, **config}), built)


def test_an_arns_resource_and_a_foundation_model_without_its_geography() -> None:
    assert arn_resource("openai/gpt-4o") == "openai/gpt-4o"
    assert arn_resource("arn:aws:bedrock:us-east-1::foundation-model/openai/gpt-4o") == "openai/gpt-4o"
    assert arn_resource("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.nova") == "us.nova"
    assert foundation_model("us-gov.anthropic.claude-x-v1:0") == "anthropic.claude-x-v1:0"
    assert foundation_model("global.anthropic.claude-x-v1:0") == "anthropic.claude-x-v1:0"
    assert foundation_model("anthropic.claude-x-v1:0") == "anthropic.claude-x-v1:0"
    assert foundation_model("us.nova") == "us.nova"  # a geography before one label is a publisher's id
    assert foundation_model("gpt-4o") is None and foundation_model("openai/gpt-4.1") is None


@pytest.mark.parametrize(
    ("given", "public"),
    [
        # A public name and an ARN ending in one are themselves.
        ("nova", "nova"),
        ("arn:aws:bedrock:us-east-1::foundation-model/nova", "nova"),
        # The upstream id exactly, before the same foundation model under another geography.
        ("us.amazon.nova-pro-v1:0", "nova"),
        ("eu.amazon.nova-pro-v1:0", "nova-eu"),
        ("apac.amazon.nova-pro-v1:0", "nova"),
        ("amazon.nova-pro-v1:0", "nova"),
        ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", "nova-eu"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "sonnet"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "sonnet"),
        ("amazon.nova-lite-v1:0", "lite"),
        ("jp.amazon.nova-lite-v1:0", "lite"),
        # No Bedrock deployment: the publisher's own name of the model, as routing resolves it.
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"),
        ("us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("mistral.mistral-large-2407-v1:0", "mistral-large-2407"),
        # Nothing resolves it: left as it is, for routing to refuse.
        ("amazon.titan-text-express-v1", "amazon.titan-text-express-v1"),
        ("anthropic.claude-sonnet-4-5", "anthropic.claude-sonnet-4-5"),  # no revision: not the publisher's form
        ("no-such-model", "no-such-model"),
    ],
)
def test_a_bedrock_model_id_finds_its_public_model(given: str, public: str) -> None:
    assert public_model(registry(models=MODELS), given) == public


def test_a_configured_name_or_alias_wins() -> None:
    """The operator's exact name decides; a family name the operator configured beats routing's family."""
    models = {**MODELS, "us.anthropic.claude-sonnet-4-20250514-v1:0": {"provider": "anthropic", "model": "claude-x"}}
    profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    aliases = {"claude-3-5-haiku-20241022": "claude-direct", profile: "nova"}
    routes = registry(models=models, aliases=aliases)
    assert public_model(routes, profile) == profile
    assert public_model(routes, "us.anthropic.claude-sonnet-4-20250514-v1:0") == (
        "us.anthropic.claude-sonnet-4-20250514-v1:0"
    )
    assert public_model(routes, "anthropic.claude-3-5-haiku-20241022-v1:0") == "claude-3-5-haiku-20241022"


def test_a_family_of_another_publisher_is_not_the_models_name() -> None:
    """`gpt-*` is OpenAI's family: a model another publisher calls `gpt-…` on Bedrock is not sent there."""
    routes = registry({**PROVIDERS, "openai": {}})
    assert public_model(routes, "writer.gpt-like-v1:0") == "writer.gpt-like-v1:0"
    assert public_model(routes, "openai.gpt-5-v1:0") == "gpt-5"
