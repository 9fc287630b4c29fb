"""OpenAI's Realtime calls over WebRTC (`POST {base_url}/realtime/calls`): the caller's SDP offer and the
session's settings go up as OpenAI's SDK sends them (multipart/form-data, an `sdp` part and a `session` part);
the SDP answer comes back with the call's id in its `Location`."""

from __future__ import annotations

import secrets
from typing import Any, Final

import orjson

from babelgate.providers.base import RealtimeCall

CALLS_PATH: Final = "/realtime/calls"


def call_form(sdp: bytes, session: dict[str, Any]) -> tuple[bytes, str]:
    """The multipart body of a call's creation and its content type (with the boundary)."""
    boundary = "babelgate-" + secrets.token_hex(16)
    parts = (
        (b'Content-Disposition: form-data; name="sdp"\r\nContent-Type: application/sdp', sdp),
        (b'Content-Disposition: form-data; name="session"\r\nContent-Type: application/json', orjson.dumps(session)),
    )
    mark = b"--" + boundary.encode()
    body = b"".join(mark + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n" for head, content in parts)
    return body + mark + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def call_of(answer: bytes, location: str | None) -> RealtimeCall:
    """The call an upstream answered: its SDP, and its id as the last segment of `Location`
    (`/v1/realtime/calls/rtc_…`)."""
    call_id = location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if location else ""
    return RealtimeCall(answer, call_id or None)
