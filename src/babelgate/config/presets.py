"""Named OpenAI-compatible upstreams: one config line each (`preset: deepseek`).

A preset gives a provider its type, base URL, the environment variable its key is read from, the
quirk profile of `providers/openai/profiles.py`, and how its models are listed. Anything the
provider's own config says wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Preset:
    base_url: str
    key_env: str | None  # None: the server takes no key
    profile: str = "generic"
    models_endpoint: str = "openai"  # "openai" (GET {base}/models) or "ollama_tags" (GET /api/tags)
    list_models: bool = True  # False: the upstream has no listing to ask


# A preset's `{region}`: the AWS region the environment names, as AWS's tools read it.
REGION_VARIABLES: Final = ("AWS_REGION", "AWS_DEFAULT_REGION")
DEFAULT_REGION: Final = "us-east-1"


PRESETS: Final[dict[str, Preset]] = {
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY", profile="openai"),
    "ollama": Preset("http://127.0.0.1:11434/v1", None, profile="ollama", models_endpoint="ollama_tags"),
    "vllm": Preset("http://127.0.0.1:8000/v1", "VLLM_API_KEY", profile="vllm"),
    "llamacpp": Preset("http://127.0.0.1:8080/v1", "LLAMACPP_API_KEY", profile="llamacpp"),
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", profile="deepseek"),
    "qwen": Preset("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY", profile="qwen"),
    "siliconflow": Preset("https://api.siliconflow.com/v1", "SILICONFLOW_API_KEY"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY", profile="groq"),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "xai": Preset("https://api.x.ai/v1", "XAI_API_KEY", profile="xai"),
    # Embeddings and rerank services (`/embeddings`, `/rerank` under the root); neither lists its models.
    "jina": Preset("https://api.jina.ai/v1", "JINA_API_KEY", profile="jina", list_models=False),
    "voyage": Preset("https://api.voyageai.com/v1", "VOYAGE_API_KEY", profile="voyage", list_models=False),
    # Bedrock's OpenAI-compatible endpoint for open-weight models (gpt-oss…), with a Bedrock API key as the
    # bearer: no SigV4, so an `openai` provider (docs/clouds.md). It lists no models.
    "bedrock-openai": Preset(
        "https://bedrock-runtime.{region}.amazonaws.com/openai/v1", "AWS_BEARER_TOKEN_BEDROCK", list_models=False
    ),
}
