"""The gateway's models in the Bedrock control plane's shapes (botocore's `bedrock` service model): a
`FoundationModelSummary` for ListFoundationModels and an `InferenceProfileSummary` for ListInferenceProfiles,
each naming the model by its public name (what `{modelId}` takes), its ARN's resource that name too."""

from __future__ import annotations

from typing import Any, Final

from babelgate.schema.models import ModelInfo

JSON = dict[str, Any]
# The ARNs' account and region name nothing on the gateway: left empty, as a foundation model's account is.
MODEL_ARN: Final = "arn:aws:bedrock:::foundation-model/{}"
PROFILE_ARN: Final = "arn:aws:bedrock:::inference-profile/{}"
# Bedrock's ModelModality values, by the gateway's modality names (model_facts.py).
_MODALITIES: Final = {"text": "TEXT", "image": "IMAGE", "audio": "SPEECH", "embedding": "EMBEDDING"}


def _modalities(names: Any, default: list[str]) -> list[str]:
    if not isinstance(names, list):
        return default
    found = [_MODALITIES[name] for name in names if name in _MODALITIES]
    return list(dict.fromkeys(found)) or default


def foundation_model(info: ModelInfo, extras: JSON) -> JSON:
    embedding = "embed" in info.id
    return {
        "modelArn": MODEL_ARN.format(info.id),
        "modelId": info.id,
        "modelName": info.display_name or info.id,
        "providerName": info.owned_by,
        "inputModalities": _modalities(extras.get("input_modalities"), ["TEXT"]),
        "outputModalities": ["EMBEDDING"] if embedding else _modalities(extras.get("output_modalities"), ["TEXT"]),
        "responseStreamingSupported": not embedding,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }


def inference_profile(info: ModelInfo, extras: JSON) -> JSON:
    return {
        "inferenceProfileName": info.display_name or info.id,
        "inferenceProfileArn": PROFILE_ARN.format(info.id),
        "inferenceProfileId": info.id,
        "models": [{"modelArn": MODEL_ARN.format(info.id)}],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }
