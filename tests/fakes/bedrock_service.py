"""What the fake Bedrock checks a request against: botocore's own service models for bedrock-runtime
(`botocore/data/bedrock-runtime/2023-09-30/service-2.json`) and, for batch jobs, the bedrock control plane
(`botocore/data/bedrock/2023-04-20/service-2.json`), walked shape by shape, and the AWS
event-stream framing its answers use (encoded here, with the prelude and message CRC32s).

`shape_violations(body, "ConverseRequest")` lists what the real service's validation would refuse:
unknown members, missing required members, a union with other than one member set, strings outside
their enum, length or pattern, numbers outside their range, lists outside their length, blobs that
are not base64. Members bound to the URI or a header are not part of the JSON body.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from functools import cache
from typing import Any

import orjson

RUNTIME = "bedrock-runtime"
CONTROL = "bedrock"


@cache
def service_model(service: str = RUNTIME) -> dict[str, Any]:
    import botocore.loaders

    return botocore.loaders.Loader().load_service_model(service, "service-2")  # type: ignore[no-any-return]


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def shape_violations(body: Any, shape_name: str, service: str = RUNTIME) -> list[str]:
    out: list[str] = []
    _check(body, shape_name, "<body>", out, service, top=True)
    return out


def _check(value: Any, shape_name: str, path: str, out: list[str], service: str, *, top: bool = False) -> None:
    shape = service_model(service)["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        _structure(value, shape, path, out, service, top=top)
    elif kind == "list":
        if not isinstance(value, list):
            out.append(f"{path}: expected a list")
            return
        _length(len(value), shape, path, out)
        for index, item in enumerate(value):
            _check(item, shape["member"]["shape"], f"{path}[{index}]", out, service)
    elif kind == "map":
        if not isinstance(value, dict):
            out.append(f"{path}: expected a map")
            return
        for key, item in value.items():
            _check(key, shape["key"]["shape"], f"{path}.<key>", out, service)
            _check(item, shape["value"]["shape"], f"{path}.{key}", out, service)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(f"{path}: expected a string")
            return
        if "enum" in shape and value not in shape["enum"]:
            out.append(f"{path}: {value!r} is not one of {shape['enum']}")
        _length(len(value), shape, path, out)
        pattern = _pattern(shape["pattern"]) if "pattern" in shape else None
        # AWS's validation matches the whole value ("Member must satisfy regular expression pattern").
        if pattern is not None and not pattern.fullmatch(value):
            out.append(f"{path}: {value[:60]!r} does not match {shape['pattern'][:60]}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{path}: expected an integer")
            return
        _range(value, shape, path, out)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{path}: expected a number")
            return
        _range(value, shape, path, out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{path}: expected a boolean")
    elif kind == "blob":
        if not isinstance(value, str):
            out.append(f"{path}: expected base64 text")
            return
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            out.append(f"{path}: not valid base64")
    elif kind == "timestamp" and not isinstance(value, str | int | float):
        out.append(f"{path}: expected a timestamp")
    # `document` (and anything newer): any JSON


def _structure(value: Any, shape: dict[str, Any], path: str, out: list[str], service: str, *, top: bool) -> None:
    if shape.get("document"):
        return
    if not isinstance(value, dict):
        out.append(f"{path}: expected an object")
        return
    members = shape.get("members", {})
    body_members = {
        name: member for name, member in members.items() if not (top and member.get("location") in ("uri", "header"))
    }
    for key in value:
        if key not in body_members:
            out.append(f"{path}.{key}: unknown member")
    for name in shape.get("required", ()):
        if name in body_members and name not in value:
            out.append(f"{path}.{name}: required")
    if shape.get("union"):
        present = [key for key in value if key in members and value[key] is not None]
        if len(present) != 1:
            out.append(f"{path}: a union must set exactly one member (set: {present})")
    for key, item in value.items():
        if key in body_members:
            _check(item, body_members[key]["shape"], f"{path}.{key}", out, service)


def _length(length: int, shape: dict[str, Any], path: str, out: list[str]) -> None:
    if "min" in shape and length < shape["min"]:
        out.append(f"{path}: shorter than {shape['min']}")
    if "max" in shape and length > shape["max"]:
        out.append(f"{path}: longer than {shape['max']}")


def _range(value: float, shape: dict[str, Any], path: str, out: list[str]) -> None:
    if "min" in shape and value < shape["min"]:
        out.append(f"{path}: below {shape['min']}")
    if "max" in shape and value > shape["max"]:
        out.append(f"{path}: above {shape['max']}")


# --- the event-stream framing (application/vnd.amazon.eventstream) --------------------------------


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One message: total length, headers length, prelude CRC32, headers (string-typed: type 7),
    payload, and the CRC32 of everything before it."""
    encoded = b"".join(
        struct.pack("!B", len(name)) + name.encode() + b"\x07" + struct.pack("!H", len(value.encode())) + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, orjson.dumps(payload))


def exception_frame(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, orjson.dumps({"message": message}))


def chunk_frame(anthropic_event: dict[str, Any]) -> bytes:
    """InvokeModelWithResponseStream's `chunk`: one Anthropic stream event, base64 in `bytes`."""
    data = base64.b64encode(orjson.dumps(anthropic_event)).decode()
    return event_frame("chunk", {"bytes": data})


def corrupt(message: bytes) -> bytes:
    """The same message with one payload byte flipped: its message CRC no longer matches."""
    at = len(message) - 6
    return message[:at] + bytes([message[at] ^ 0xFF]) + message[at + 1 :]
