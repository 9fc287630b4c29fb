"""What `babelgate serve` hands uvicorn (cli.py): the coalescing protocol, and proxy headers only with
the access log (the one place the client's address is read)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from babelgate import cli
from babelgate.cli import main
from babelgate.server_protocol import GatewayHttpProtocol
from tests.unit.test_cli_check_config import ENV_VARS


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BABELGATE_LOG_LEVEL", "warning")  # serve sets it for its workers; restored after
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)  # the test run's logging stays as it is
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


@pytest.mark.parametrize(("args", "proxy_headers"), [([], False), (["--access-log"], True)])
def test_serve_runs_uvicorn_with_our_protocol(
    uvicorn_calls: list[dict[str, Any]], args: list[str], proxy_headers: bool
) -> None:
    assert main(["serve", "--port", "0", *args]) == 0
    [options] = uvicorn_calls
    assert options["http"] is GatewayHttpProtocol
    assert options["proxy_headers"] is proxy_headers
    assert options["access_log"] is proxy_headers
