"""AWS Bedrock as a provider type: its class, list prices and telemetry name (providers/types.py).

No environment preset and no model family: AWS credentials in an environment say nothing about
wanting Bedrock, and bare names (`claude-…`) belong to the direct providers. A Bedrock model is
configured (`provider: <a bedrock provider>`, `model: us.anthropic.claude-…`) or named with the
provider's prefix.

botocore is imported inside the provider's modules only, when a bedrock provider is built.

Prices: Bedrock's on-demand list prices (US regions, standard tier), as of the gateway's release. The
patterns start with `*` so that an inference profile's geography (`us.`, `eu.`, `apac.`, `global.`)
and an ARN's path match; they never clash with the Anthropic declaration's `claude-*`, because a
Bedrock id names its publisher (`anthropic.claude-…`).
"""

from __future__ import annotations

from typing import Final

from babelgate.model_facts import PDF, TEXT, TEXT_IMAGE, Price, chat_model, embedding_model, rerank_model
from babelgate.providers.bedrock.provider import BedrockProvider
from babelgate.providers.types import ProviderType

_CLAUDE = {
    "*anthropic.claude-opus-4-6*": chat_model(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, PDF, reasoning=True),
    "*anthropic.claude-opus-4-5*": chat_model(Price(5.0, 25.0, 0.50, 6.25), 200_000, 64_000, PDF, reasoning=True),
    "*anthropic.claude-opus-4*": chat_model(Price(15.0, 75.0, 1.50, 18.75), 200_000, 32_000, PDF, reasoning=True),
    "*anthropic.claude-sonnet-4*": chat_model(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, PDF, reasoning=True),
    "*anthropic.claude-haiku-4-5*": chat_model(Price(1.0, 5.0, 0.10, 1.25), 200_000, 64_000, PDF, reasoning=True),
    "*anthropic.claude-3-7-sonnet*": chat_model(Price(3.0, 15.0, 0.30, 3.75), 200_000, 64_000, PDF, reasoning=True),
    "*anthropic.claude-3-5-haiku*": chat_model(Price(0.80, 4.0, 0.08, 1.0), 200_000, 8_192, PDF),
    "*anthropic.claude-3-haiku*": chat_model(Price(0.25, 1.25), 200_000, 4_096, TEXT_IMAGE),
}
_OTHERS = {
    "*amazon.nova-premier*": chat_model(Price(2.50, 12.50, 0.625), 1_000_000, 32_000, PDF),
    "*amazon.nova-pro*": chat_model(Price(0.80, 3.20, 0.20), 300_000, 10_000, PDF),
    "*amazon.nova-lite*": chat_model(Price(0.06, 0.24, 0.015), 300_000, 10_000, PDF),
    "*amazon.nova-micro*": chat_model(Price(0.035, 0.14, 0.00875), 128_000, 10_000, TEXT),
    "*meta.llama4-maverick*": chat_model(Price(0.24, 0.97), 1_000_000, 8_192, TEXT_IMAGE),
    "*meta.llama4-scout*": chat_model(Price(0.17, 0.66), 3_500_000, 8_192, TEXT_IMAGE),
    "*meta.llama3-3-70b*": chat_model(Price(0.72, 0.72), 128_000, 8_192, TEXT),
    "*mistral.mistral-large-2407*": chat_model(Price(2.0, 6.0), 128_000, 8_192, TEXT),
    "*mistral.pixtral-large*": chat_model(Price(2.0, 6.0), 128_000, 8_192, TEXT_IMAGE),
    "*deepseek.r1*": chat_model(Price(1.35, 5.40), 128_000, 32_768, TEXT, reasoning=True, structured=False),
    "*deepseek.v3*": chat_model(Price(0.58, 1.68), 128_000, 8_192, TEXT),
    "*openai.gpt-oss-120b*": chat_model(Price(0.15, 0.60), 128_000, 32_768, TEXT, reasoning=True),
    "*openai.gpt-oss-20b*": chat_model(Price(0.07, 0.30), 128_000, 32_768, TEXT, reasoning=True),
    "*qwen.qwen3-32b*": chat_model(Price(0.15, 0.60), 128_000, 16_384, TEXT, reasoning=True),
    "*qwen.qwen3-235b*": chat_model(Price(0.22, 0.88), 128_000, 16_384, TEXT, reasoning=True),
    "*amazon.titan-embed-text-v2*": embedding_model(0.02, 8_192),
    "*amazon.titan-embed-text-v1*": embedding_model(0.10, 8_192),
    "*cohere.embed-english-v3*": embedding_model(0.10, 512),
    "*cohere.embed-multilingual-v3*": embedding_model(0.10, 512),
    "*cohere.embed-v4*": embedding_model(0.12, 128_000),
    # Rerank through InvokeModel, by the query (Cohere's search units are not reported here: a query a search).
    "*cohere.rerank-v3-5*": rerank_model(Price(0.0, 0.0, per_search=2.0), 4_096),
    "*amazon.rerank-v1*": rerank_model(Price(0.0, 0.0, per_search=1.0), 32_000),
}

DECLARATION: Final = ProviderType(
    name=BedrockProvider.type,
    factory=BedrockProvider,
    telemetry_name="aws.bedrock",  # the OpenTelemetry GenAI conventions' name for it
    facts={**_CLAUDE, **_OTHERS},
    config_keys=frozenset(
        (
            "region",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_profile",
            "batch_bucket",
            "batch_role_arn",
        )
    ),
)
