"""The shipped example config stays valid: check-config accepts it and resolves every name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from babelgate.cli import main
from tests.fakes.google_credentials import service_account_key

EXAMPLE = Path(__file__).parent.parent / "examples" / "babelgate.yaml"


def test_example_config_checks_out(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "gpt-4  →  openai: gpt-4o-mini" in out
    assert "local  →  local-vllm: Qwen/Qwen2.5-7B-Instruct" in out


RESILIENCE = Path(__file__).parent.parent / "examples" / "resilience.yaml"
RESILIENCE_ENV = {
    "PRIMARY_BASE_URL": "http://127.0.0.1:1/v1",
    "PRIMARY_API_KEY": "sk-primary",
    "SECONDARY_BASE_URL": "http://127.0.0.1:2/v1",
    "SECONDARY_API_KEY": "sk-secondary",
    "FALLBACK_BASE_URL": "http://127.0.0.1:3/v1",
    "FALLBACK_API_KEY": "sk-fallback",
}


def test_the_resilience_example_checks_out_with_its_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in RESILIENCE_ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", str(RESILIENCE)]) == 0
    out = capsys.readouterr().out
    assert "resilient  →  primary: gpt-4o-mini" in out and "resilient  →  secondary: gpt-4o-mini" in out
    assert "backup     →  fallback: gpt-4o-mini" in out


def test_the_resilience_example_names_a_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in RESILIENCE_ENV.items():
        if name != "SECONDARY_BASE_URL":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECONDARY_BASE_URL", raising=False)
    assert main(["check-config", str(RESILIENCE)]) != 0
    assert "providers.secondary.base_url: environment variable SECONDARY_BASE_URL is not set" in capsys.readouterr().err


CLOUDS = Path(__file__).parent.parent / "examples" / "vertex-azure.yaml"


def test_the_clouds_example_checks_out_without_reaching_a_cloud(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Building the cloud providers fetches no token (the first request does), so a config checks offline; the
    service-account key it names is read (it must exist and parse), which needs no network either."""
    key_file = tmp_path / "key.json"
    service_account_key(key_file, "https://oauth2.googleapis.com/token")
    for name, value in {
        "GOOGLE_CLOUD_PROJECT": "my-project",
        "VERTEX_CREDENTIALS_FILE": str(key_file),
        "AZURE_OPENAI_ENDPOINT": "https://sweden.openai.azure.com",
        "AZURE_OPENAI_API_KEY": "azure-example-key",
        "AZURE_FOUNDRY_ENDPOINT": "https://foundry.services.ai.azure.com",
        "AZURE_TENANT_ID": "tenant",
        "AZURE_CLIENT_ID": "client",
        "AZURE_CLIENT_SECRET": "secret-example",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", str(CLOUDS)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  sonnet +→  gcp: claude-sonnet-4-5@20250929\n", out)
    assert re.search(r"\n  gpt-4o +→  azure-sweden: gpt-4o-prod\n", out)
