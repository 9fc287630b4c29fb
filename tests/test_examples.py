"""The shipped example config stays valid: check-config accepts it and resolves every name."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "babelgate.yaml"


def test_example_config_checks_out(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "gpt-4  →  openai: gpt-4o-mini" in out
    assert "local  →  local-vllm: Qwen/Qwen2.5-7B-Instruct" in out
