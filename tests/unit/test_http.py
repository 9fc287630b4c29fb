"""Timeouts and transport failures → gateway errors (http.py, providers/base.py provider_timeouts)."""

from __future__ import annotations

import aiohttp
import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    UpstreamConnectionFailed,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from babelgate.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Timeouts, transport_error
from babelgate.providers.base import provider_timeouts


def test_timeouts_build_the_aiohttp_timeout() -> None:
    timeouts = Timeouts(connect=2, read=30, total=120)
    assert timeouts.client_timeout == aiohttp.ClientTimeout(total=120, sock_connect=2, sock_read=30)
    assert Timeouts() == Timeouts(connect=DEFAULT_CONNECT_TIMEOUT, read=DEFAULT_TIMEOUT, total=None)
    assert (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT) == (10.0, 600.0)


@pytest.mark.parametrize(
    ("provider", "server", "expected"),
    [
        ({}, {}, Timeouts(10.0, 600.0, None)),
        ({}, {"default_timeout": 30}, Timeouts(30.0, 30.0, None)),
        ({"timeout": 5, "connect_timeout": 1, "total_timeout": 60}, {"default_timeout": 30}, Timeouts(1, 5, 60)),
        ({"connect_timeout": 2.0}, {}, Timeouts(2.0, 600.0, None)),
    ],
)
def test_provider_timeouts(provider: dict[str, float], server: dict[str, float], expected: Timeouts) -> None:
    timeouts = provider_timeouts(ProviderConfig.model_validate(provider), ServerConfig.model_validate(server))
    assert timeouts == expected


def described(error: GatewayError) -> tuple[type[GatewayError], dict[str, object]]:
    return type(error), error.params


@pytest.mark.parametrize(
    ("exc", "phase", "expected"),
    [
        (aiohttp.ConnectionTimeoutError(), "connect", (UpstreamTimeout, {"provider": "p", "phase": "connect"})),
        (aiohttp.SocketTimeoutError(), "connect", (UpstreamTimeout, {"provider": "p", "phase": "first byte"})),
        (TimeoutError(), "connect", (UpstreamTimeout, {"provider": "p", "phase": "first byte"})),
        (TimeoutError(), "stream", (UpstreamTimeout, {"provider": "p", "phase": "stream"})),
        (aiohttp.SocketTimeoutError(), "body", (UpstreamTimeout, {"provider": "p", "phase": "body"})),
        (aiohttp.ServerDisconnectedError(), "connect", (UpstreamConnectionFailed, {"provider": "p"})),
        (aiohttp.ServerDisconnectedError(), "stream",
         (UpstreamProtocolError, {"provider": "p", "detail": "the connection closed mid-body"})),
        (aiohttp.ClientPayloadError("truncated"), "body",
         (UpstreamProtocolError, {"provider": "p", "detail": "the connection closed mid-body"})),
        (aiohttp.ClientConnectionError("refused"), "connect", (UpstreamConnectionFailed, {"provider": "p"})),
        (ConnectionRefusedError(111, "refused"), "connect", (UpstreamConnectionFailed, {"provider": "p"})),
        (aiohttp.InvalidURL("nope"), "connect", (UpstreamConnectionFailed, {"provider": "p"})),
    ],
)
def test_transport_error(exc: BaseException, phase: str, expected: tuple[object, dict[str, object]]) -> None:
    error = transport_error(exc, "p", phase=phase)
    assert described(error) == expected
    assert error.raw_message is None  # exception text may hold URLs: never relayed


def test_transport_error_passes_gateway_errors_through() -> None:
    original = InvalidRequest("x")
    assert transport_error(original, "p", phase="connect") is original


def test_transport_error_reraises_programming_errors() -> None:
    with pytest.raises(KeyError):
        transport_error(KeyError("bug"), "p", phase="connect")
