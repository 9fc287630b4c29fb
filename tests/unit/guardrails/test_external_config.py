"""The external checkers' configuration (config/models.py, GuardrailConfig): their URLs, `parallel`, Presidio's
reversible masks, `threshold`, and their secrets kept out of every log line (observability/logging.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.config import Config, ConfigError, load_config
from babelgate.observability.logging import Scrubber, secrets_of
from babelgate.providers import PROVIDER_TYPES


def _load(tmp_path: Path, guardrail: str, environ: dict[str, str] | None = None) -> Config:
    path = tmp_path / "babelgate.yaml"
    path.write_text(f"guardrails:\n  - {{name: g, {guardrail}}}\n")
    return load_config(path, environ or {}, available_types=PROVIDER_TYPES)


def _refusal(tmp_path: Path, guardrail: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, guardrail, environ)
    return str(refused.value)


@pytest.mark.parametrize(
    ("guardrail", "said"),
    [
        ("kind: http, url: 'ftp://checker/x'", "expected an http:// or https:// URL with a host"),
        ("kind: http, url: 'https:///x'", "expected an http:// or https:// URL with a host"),
        ("kind: http, url: 'https://user:pw@checker/x'", "must not hold credentials"),
        ("kind: presidio, analyzer_url: 'http://a', anonymizer_url: 'x'", "expected an http:// or https://"),
        (
            "kind: azure_content_safety, base_url: 'https://u:p@r.cognitiveservices.azure.com', api_key: env:K",
            "credentials",
        ),
        (
            "kind: http, url: 'http://c', parallel: true, action: mask",
            "a parallel guardrail can block or log, not mask",
        ),
        ("kind: http, url: 'http://c', parallel: true, stage: output", "parallel applies to the input stage"),
        ("kind: pii, parallel: true", "parallel is for external checkers"),
        (
            "kind: presidio, analyzer_url: 'http://a', anonymizer_url: 'http://b', action: mask,"
            " mask_style: reversible",
            "leave anonymizer_url out",
        ),
        ("kind: azure_content_safety, base_url: 'https://r', api_key: env:K, threshold: 9", "threshold"),
        ("kind: moderation, model: omni, action: mask", "can block or log, not mask"),
        ("kind: bedrock, guardrail_id: g1, provider: aws, action: mask", "can block or log, not mask"),
    ],
)
def test_a_checker_s_configuration_is_refused_with_its_reason(tmp_path: Path, guardrail: str, said: str) -> None:
    assert said in _refusal(tmp_path, guardrail, {"K": "key-value-0123"})


def test_a_checker_s_api_key_is_an_env_reference_and_scrubbed_from_logs(tmp_path: Path) -> None:
    key = "azure-content-safety-key-0123456789"
    config = _load(
        tmp_path,
        "kind: azure_content_safety, base_url: 'https://r.cognitiveservices.azure.com/', api_key: env:SAFETY_KEY,"
        " parallel: true",
        {"SAFETY_KEY": key},
    )
    (guardrail,) = config.guardrails
    assert guardrail.api_key == key and key not in repr(guardrail)
    assert guardrail.base_url == "https://r.cognitiveservices.azure.com" and guardrail.parallel
    assert guardrail.threshold == 2
    assert key not in Scrubber(secrets_of(config))(f"calling with {key}")
    literal = "kind: azure_content_safety, base_url: 'https://r', api_key: plain-key-in-the-file"
    assert "must be an 'env:VAR_NAME' reference" in _refusal(tmp_path, literal)


def test_presidio_s_overlapping_results_mask_once_and_long_texts_split_for_content_safety() -> None:
    from babelgate.guardrails.external.azure_content_safety import LIMIT, split
    from babelgate.guardrails.external.presidio import _findings
    from babelgate.guardrails.findings import Finding

    results = [
        {"entity_type": "URL", "start": 4, "end": 15},
        {"entity_type": "EMAIL_ADDRESS", "start": 0, "end": 15},
        {"entity_type": "PERSON", "start": 20, "end": 99},
    ]
    assert _findings(results, 25) == [Finding("email_address", 0, 15), Finding("person", 20, 25)]
    text = "x" * (2 * LIMIT + 1)
    assert [len(part) for part in split(text)] == [LIMIT, LIMIT, 1] and "".join(split(text)) == text
    assert split("") == [""]


def test_a_bedrock_checker_names_a_bedrock_provider(tmp_path: Path) -> None:
    path = tmp_path / "babelgate.yaml"
    path.write_text(
        "providers:\n  up: {type: openai, base_url: 'http://x/v1'}\n"
        "guardrails:\n  - {name: g, kind: bedrock, guardrail_id: gr-1, provider: up}\n"
    )
    with pytest.raises(ConfigError) as refused:
        load_config(path, {}, available_types=PROVIDER_TYPES)
    assert "guardrails.g.provider: 'up' is not a bedrock provider" in str(refused.value)
