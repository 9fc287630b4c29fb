"""The one HTTP client of the operator commands: a gateway's base URL, its credentials, JSON in and
out, and a streamed body read line by line. Plain `urllib`: the commands are blocking one-shots,
and an `http_proxy` in the environment must not capture a call to the gateway."""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPResponse
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"
ADMIN_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
STREAM_GAP = 600.0


class UsageError(Exception):
    """A command line that cannot be run as given (a URL that is not one, a time that is not one): exit 2."""


class Failed(Exception):
    """A call that did not succeed: the gateway's own error message, or why it could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Gateway:
    url: str
    key: str | None = None  # sent as `Authorization: Bearer`: a gateway key, or the master key
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler({})), repr=False
    )

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = ADMIN_TIMEOUT) -> Answer:
        """A JSON call; its answer parsed, or Failed with the gateway's message."""
        with self._open(method, path, body, timeout) as response:
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise Failed(f"the connection to the gateway at {self.url} broke: {error}") from None
            headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, parsed(raw) if raw else {})

    def stream(self, path: str, body: Any) -> tuple[dict[str, str], Iterator[bytes]]:
        """POST `body`; the answer's headers and its lines as they arrive (a stream's events, or a
        JSON answer to join) — or Failed with the gateway's message. Connecting is bounded;
        then a gap of up to STREAM_GAP seconds between two lines is waited out (the gateway's own
        timeouts end a stalled upstream sooner)."""
        parts = urllib.parse.urlsplit(self.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=CONNECT_TIMEOUT)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(STREAM_GAP)
            connection.request("POST", parts.path.rstrip("/") + path, body=json.dumps(body), headers=self._headers())
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise Failed(f"cannot reach the gateway at {self.url}: {error}") from None
        if response.status >= 400:
            raw = response.read()
            connection.close()
            raise _failure(response.status, raw, response.reason)
        headers = {name.lower(): value for name, value in response.getheaders()}

        def lines() -> Iterator[bytes]:
            try:
                yield from response
            except (OSError, http.client.HTTPException) as error:  # reset, or STREAM_GAP without a line
                raise Failed(
                    f"the connection to the gateway at {self.url} broke mid-answer: {error or type(error).__name__}"
                ) from None
            finally:
                connection.close()

        return headers, lines()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def _open(self, method: str, path: str, body: Any, timeout: float) -> HTTPResponse:
        url = self.url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=self._headers())
        try:
            response: HTTPResponse = self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            raise _failure(error.code, error.read(), error.reason) from None
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise Failed(f"cannot reach the gateway at {self.url}: {reason}") from None
        return response


def parsed(raw: bytes, what: str = "the gateway answered with something") -> dict[str, Any]:
    """A JSON object the gateway sent (an answer, or one event of a stream), or Failed saying `what`."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise Failed(f"{what} that is not a JSON object: {raw[:200]!r}")
    return value


def _failure(status: int, raw: bytes, reason: str) -> Failed:
    """The gateway's error in its own words (`{"error": {"message", "code"}}`), else the status."""
    try:
        detail = json.loads(raw)["error"]
        return Failed(f"the gateway answered {status}: {detail['message']}", status=status, code=detail.get("code"))
    except (ValueError, KeyError, TypeError):
        return Failed(f"the gateway answered {status}: {reason}", status=status)


def run_admin(args: Any) -> int:
    """An admin command (`args.command_func(args, gateway)`): the master key from --master-key or
    the environment (exit 2 without one), a failed call printed with the gateway's message (exit 1)."""
    from babelgate.operator.render import problem

    master = getattr(args, "master_key", None) or os.environ.get("BABELGATE_MASTER_KEY")
    if not master:
        problem("set BABELGATE_MASTER_KEY (or pass --master-key) to the gateway's master key")
        return 2
    try:
        args.command_func(args, Gateway(gateway_url(getattr(args, "url", None)), key=master))
    except UsageError as wrong:
        problem(str(wrong))
        return 2
    except Failed as failed:
        problem(str(failed))
        return 1
    return 0


def gateway_url(url: str | None, host: str | None = None, port: int | None = None) -> str:
    """`--url`, else $BABELGATE_URL, else the default; `--host`/`--port` replace that one's host or
    port. A URL without a scheme is taken as http (`localhost:8080`), and a trailing `/v1` (the
    form an OpenAI client's base URL has) is dropped: the commands name whole paths."""
    if url and (host or port):
        raise UsageError("give either --url or --host/--port, not both")
    base = url or os.environ.get("BABELGATE_URL") or DEFAULT_URL
    parts = urllib.parse.urlsplit(base if "://" in base else f"http://{base}")
    try:
        default_port = parts.port
    except ValueError:
        default_port = None
        if not (host and port):
            raise UsageError(f"{base!r} is not a gateway URL (http://host:port)") from None
    if parts.scheme not in ("http", "https") or not (host or parts.hostname):
        raise UsageError(f"{base!r} is not a gateway URL (http://host:port)")
    name = host or parts.hostname or ""
    if ":" in name and not name.startswith("["):  # an IPv6 address
        name = f"[{name}]"
    port = port or default_port
    path = parts.path.rstrip("/").removesuffix("/v1")
    return f"{parts.scheme}://{name}{f':{port}' if port else ''}{path}"
