"""Validators for what the gateway emits at `/v1/responses` (JSON, SSE, WebSocket) and `/v1/responses/compact`.

Everything is checked against both public specs, as kept in `tests/data/specs/` (see `tests/fakes/openai_spec.py`):
Open Responses (ORS, `openresponses-openapi.json`, 2026-04-24) and OpenAI's (`openai-openapi.json`). Each
`*_violations` function returns human-readable violations, each prefixed with the spec and schema it breaks
(`ORS ResponseResource: usage: ...`); empty means valid. Validators are built once per process and cached.

`parse_sse` reads a streamed body the way the Open Responses compliance suite's parser does, but refuses
(AssertionError) everything that parser would silently mis-read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from tests.fakes.openai_spec import SPEC_NAME as OPENAI_SPEC
from tests.fakes.openai_spec import component, schema_violations, spec_document

ORS_SPEC = "openresponses-openapi.json"

# ORS names its error schemas itself; OpenAI's spec has no schema for an HTTP error body of /responses other
# than the shared `ErrorResponse` (ORS has none at all: its paths define only the 200 answers).
_CHECKS: dict[str, list[tuple[str, str]]] = {
    "response": [(ORS_SPEC, "ResponseResource"), (OPENAI_SPEC, "Response")],
    "compact": [(ORS_SPEC, "CompactResource"), (OPENAI_SPEC, "CompactResource")],
    "websocket_error": [(ORS_SPEC, "WebSocketErrorEvent"), (OPENAI_SPEC, "ResponseWsError")],
    "create_request": [(ORS_SPEC, "CreateResponseBody")],
    "websocket_create": [(ORS_SPEC, "WebSocketResponseCreateEvent")],
    "error_body": [(OPENAI_SPEC, "ErrorResponse")],
}
_LABEL = {ORS_SPEC: "ORS", OPENAI_SPEC: "OpenAI"}


def _violations(body: Any, checks: Iterable[tuple[str, str]]) -> list[str]:
    return [
        f"{_LABEL[spec]} {schema}: {line}" for spec, schema in checks for line in schema_violations(body, schema, spec)
    ]


def _type_tag(schema: dict[str, Any] | None) -> str | None:
    """The one value a schema's `type` property allows (`"response.completed"` for its event schema)."""
    values = ((schema or {}).get("properties", {}).get("type", {}) or {}).get("enum") or []
    return values[0] if len(values) == 1 else None


@cache
def _ors_event_schemas() -> dict[str, str]:
    """Event `type` → ORS schema name, for the events the ORS `text/event-stream` answer may carry."""
    answers = spec_document(ORS_SPEC)["paths"]["/responses"]["post"]["responses"]
    stream = answers["200"]["content"]["text/event-stream"]["schema"]
    names = [ref["$ref"].rsplit("/", 1)[-1] for ref in stream["oneOf"]]
    return {tag: name for name in names if (tag := _type_tag(component(name, ORS_SPEC))) is not None}


@cache
def _openai_event_schemas() -> dict[str, str]:
    """Event `type` → member of OpenAI's `ResponseStreamEvent` union."""
    union = component("ResponseStreamEvent", OPENAI_SPEC)
    names = [ref["$ref"].rsplit("/", 1)[-1] for ref in union.get("anyOf") or union.get("oneOf") or []]
    return {tag: name for name in names if (tag := _type_tag(component(name, OPENAI_SPEC))) is not None}


def ors_event_types() -> frozenset[str]:
    """The event types Open Responses defines."""
    return frozenset(_ors_event_schemas())


def openai_event_types() -> frozenset[str]:
    """The event types OpenAI's `ResponseStreamEvent` defines."""
    return frozenset(_openai_event_schemas())


def response_violations(resource: Any) -> list[str]:
    """A response resource (the JSON answer, or the `response` of a lifecycle event) against ORS
    `ResponseResource` and OpenAI `Response`."""
    return _violations(resource, _CHECKS["response"])


def event_violations(event: Any) -> list[str]:
    """One streaming event (SSE or WebSocket) against the ORS `*StreamingEvent` schema and the OpenAI
    `ResponseStreamEvent` member its `type` names. A type ORS does not define is itself a violation (the
    compliance suite rejects it); a type only OpenAI lacks (ORS's `response.reasoning.delta`/`.done`) is
    checked against ORS alone."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return [f"event: not an object with a string `type`: {str(event)[:200]}"]
    kind = event["type"]
    out: list[str] = []
    ors = _ors_event_schemas()
    if kind not in ors:
        out.append(f"ORS: event type {kind!r} is not an Open Responses streaming event")
    checks = [(ORS_SPEC, ors[kind])] if kind in ors else []
    if kind in (openai := _openai_event_schemas()):
        checks.append((OPENAI_SPEC, openai[kind]))
    return out + _violations(event, checks)


def websocket_error_violations(event: Any) -> list[str]:
    """A WebSocket-mode failure envelope against ORS `WebSocketErrorEvent` and OpenAI `ResponseWsError`."""
    return _violations(event, _CHECKS["websocket_error"])


def compact_violations(resource: Any) -> list[str]:
    """A `/v1/responses/compact` answer against `CompactResource` (the name in both specs)."""
    return _violations(resource, _CHECKS["compact"])


def create_request_violations(body: Any) -> list[str]:
    """A `POST /v1/responses` body against ORS `CreateResponseBody` (for checking test inputs)."""
    return _violations(body, _CHECKS["create_request"])


@cache
def _websocket_disallowed() -> tuple[str, ...]:
    """The HTTP-only fields ORS forbids in a WebSocket `response.create` (`x-openresponses-disallowed`)."""
    schema = component("WebSocketResponseCreateEvent", ORS_SPEC)
    return tuple(
        field
        for part in schema.get("allOf", [])
        for field, rule in part.get("properties", {}).items()
        if rule.get("x-openresponses-disallowed")
    )


def websocket_create_violations(event: Any) -> list[str]:
    """A WebSocket `response.create` message against ORS `WebSocketResponseCreateEvent` (which forbids the
    HTTP-only `stream`, `stream_options` and `background`, by a schema no value can match: reported plainly)."""
    label = "ORS WebSocketResponseCreateEvent"
    sent = [field for field in _websocket_disallowed() if isinstance(event, dict) and field in event]
    out = [f"{label}: {field}: must not be sent in a WebSocket response.create" for field in sent]
    return out + [
        line
        for line in _violations(event, _CHECKS["websocket_create"])
        if not any(line.startswith(f"{label}: {field}: ") for field in sent)
    ]


def error_body_violations(body: Any) -> list[str]:
    """An HTTP error body (`{"error": {type, message, param, code}}`) against OpenAI `ErrorResponse`: ORS
    defines no schema for it (only prose with the same four keys)."""
    return _violations(body, _CHECKS["error_body"])


def assert_valid_response(resource: Any) -> None:
    """AssertionError listing every violation of `response_violations`."""
    problems = response_violations(resource)
    assert not problems, "response resource breaks the specs:\n  " + "\n  ".join(problems)


def assert_valid_events(events: Iterable[Any]) -> None:
    """AssertionError listing every violation of `event_violations`, each with the event's index and type."""
    problems = [
        f"#{index} {event.get('type') if isinstance(event, dict) else '?'}: {line}"
        for index, event in enumerate(events)
        for line in event_violations(event)
    ]
    assert not problems, "streaming events break the specs:\n  " + "\n  ".join(problems)


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events of a Responses SSE body, read strictly as the Open Responses compliance suite reads them
    (its `sse-parser.ts`): LF line endings only (a `\\r` leaves the blank line non-blank, so the event never
    ends); each event is an `event: <type>` line whose name equals the data's `type`, then exactly one `data:`
    line of JSON (the parser keeps only the last `data:` line), then a blank line; no `id:`/`retry:` lines
    (ORS: servers SHOULD NOT use `id`; comment lines `:...` are tolerated, as the parser ignores them); the
    body ends with `data: [DONE]` and a blank line, and nothing follows it. AssertionError on any breach."""
    assert isinstance(text, str), f"SSE body must be text, not {type(text).__name__}"
    assert "\r" not in text, f"SSE body has a CR (line endings must be LF) at offset {text.index(chr(13))}"
    events: list[dict[str, Any]] = []
    name: str | None = None
    data: list[str] = []
    done = False
    assert text.endswith("\n"), f"SSE body's last line is not terminated: {text[-120:]!r}"
    lines = text.split("\n")[:-1]  # the empty string after the final LF is not a line
    for number, line in enumerate(lines, start=1):
        where = f"SSE line {number}"
        if line == "":
            if name is None and not data:
                continue  # a blank line with nothing pending (the suite ignores it)
            assert data, f"{where}: event {name!r} has no data: line"
            assert len(data) == 1, f"{where}: event {name!r} has {len(data)} data: lines (must be exactly one)"
            payload = data[0]
            if payload == "[DONE]":
                assert name is None, f"{where}: the [DONE] terminator has an event: line ({name!r})"
                assert not done, f"{where}: a second data: [DONE]"
                done = True
            else:
                assert not done, f"{where}: event after data: [DONE]"
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise AssertionError(f"{where}: data is not JSON ({exc}): {payload[:200]}") from None
                assert isinstance(event, dict), f"{where}: data is not a JSON object: {payload[:200]}"
                assert name is not None, f"{where}: event {event.get('type')!r} has no event: line"
                assert name == event.get("type"), (
                    f"{where}: event: line {name!r} differs from the data's type {event.get('type')!r}"
                )
                events.append(event)
            name, data = None, []
        elif line.startswith("event:"):
            assert not done, f"{where}: event after data: [DONE]"
            assert name is None, f"{where}: a second event: line in one event"
            assert not data, f"{where}: event: line after the data: line (the suite would lose the name)"
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            payload = line[len("data:") :].strip()
            assert payload, f"{where}: empty data: line (the suite would not end the event on the blank line)"
            data.append(payload)
        elif line.startswith(":"):
            assert not done, f"{where}: a comment line after data: [DONE]"
        else:
            field = line.split(":", 1)[0]
            raise AssertionError(
                f"{where}: unexpected {field!r} line (only event:, data: and blank lines): {line[:200]}"
            )
    assert name is None and not data, "SSE body ends inside an event (no blank line after its last line)"
    assert done, "SSE body does not end with the terminal data: [DONE]"
    return events


def parse_sse_chunks(chunks: Iterable[str | bytes]) -> list[dict[str, Any]]:
    """`parse_sse` over a body received as `chunks` (one network read, or one server write, each), also
    requiring that every chunk ends on an event boundary: the suite's parser forgets a half-read event at the
    end of each read, so the gateway must emit each whole event in one write/flush."""
    texts = [chunk.decode("utf-8") if isinstance(chunk, bytes) else chunk for chunk in chunks]
    for index, chunk in enumerate(texts):
        assert chunk.endswith("\n\n"), f"SSE chunk #{index} does not end on an event boundary: {chunk[-120:]!r}"
    return parse_sse("".join(texts))
