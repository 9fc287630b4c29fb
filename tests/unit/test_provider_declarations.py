"""A provider is one folder plus one entry: each folder declares itself (`declaration.py`), and the one list
in providers/__init__.py is what the gateway's tables of types, environment presets, families, model facts
and telemetry names are built from."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import babelgate.providers as providers
from babelgate.providers import DECLARATIONS, ENV_PRESETS, FAMILIES, MODEL_FACTS, PROVIDER_TYPES, TELEMETRY_NAMES
from babelgate.providers.types import ProviderType

FOLDERS = sorted(path.parent.name for path in Path(providers.__file__).parent.glob("*/provider.py"))


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_provider_folder_declares_itself_and_is_listed(folder: str) -> None:
    declaration = importlib.import_module(f"babelgate.providers.{folder}.declaration").DECLARATION
    assert isinstance(declaration, ProviderType)
    assert declaration in DECLARATIONS, f"providers/{folder}/declaration.py is not in providers.DECLARATIONS"
    assert declaration.name == declaration.factory.type  # type: ignore[attr-defined]
    assert declaration.telemetry_name


def test_the_tables_are_built_from_the_declarations() -> None:
    assert list(PROVIDER_TYPES) == ["openai", "anthropic", "gemini", "mistral", "bedrock", "vertex", "azure", "cohere"]
    assert dict(TELEMETRY_NAMES) == {
        "openai": "openai",
        "anthropic": "anthropic",
        "gemini": "gcp.gemini",
        "mistral": "mistral_ai",
        "bedrock": "aws.bedrock",
        "vertex": "gcp.vertex_ai",
        "azure": "azure.ai.openai",
        "cohere": "cohere",
    }
    # The keyless local server comes last, as its provider is listed last.
    assert [(p.name, p.type, p.key_var) for p in ENV_PRESETS] == [
        ("openai", "openai", "OPENAI_API_KEY"),
        ("jina", "openai", "JINA_API_KEY"),
        ("voyage", "openai", "VOYAGE_API_KEY"),
        ("anthropic", "anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "gemini", "GEMINI_API_KEY"),
        ("mistral", "mistral", "MISTRAL_API_KEY"),
        ("cohere", "cohere", "COHERE_API_KEY"),
        ("ollama", "openai", None),
    ]
    assert [provider for _, provider in FAMILIES] == ["openai", "anthropic", "gemini", "mistral", "cohere"]
    assert ("claude-*",) in [patterns for patterns, _ in FAMILIES]
    assert len(MODEL_FACTS) == sum(len(d.facts) for d in DECLARATIONS)
    assert MODEL_FACTS["gpt-4o-mini*"] is PROVIDER_TYPES["openai"].facts["gpt-4o-mini*"]


def test_a_type_or_a_model_pattern_declared_twice_is_refused() -> None:
    openai = PROVIDER_TYPES["openai"]
    with pytest.raises(ValueError, match="provider type 'openai' is declared twice"):
        providers._by_name((openai, openai))
    with pytest.raises(ValueError, match=r"model facts for 'gpt-5\*' are declared twice"):
        providers._facts((openai, ProviderType("other", openai.factory, "other", facts=openai.facts)))
