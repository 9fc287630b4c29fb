"""Session affinity: what names a session, read once for every frontend (docs/routing.md, "Affinity").

A provider's prompt cache is per deployment: a long agent session is several times cheaper when its
requests keep reaching the deployment that has its prefix cached. With `routing.affinity` set, the
router pins a session to the deployment that served it (routing/pins.py) and sends its next requests
there while that deployment answers and its circuit admits them.

A session is named by the first of the configured keys the request carries, in their order:

- `prompt_cache_key`: the body's field of that name (Chat Completions and Responses; Codex sets it);
- `session_header`: a header the known agents send for their session (`SESSION_HEADERS`), then the
  headers named in `routing.affinity.headers`;
- `user`: OpenAI's `user` (or `safety_identifier`), Anthropic's `metadata.user_id`;
- `prefix`: a hash of the conversation's stable prefix: the system prompt or instructions, the tools,
  and the turns up to and including the first user turn (in whichever API's fields the body has them),
  without `cache_control` marks (a client moves them as the conversation grows).

The body is the client's JSON as its frontend decoded it, in that frontend's own field names: the
fields read here have one meaning wherever they occur, so one reader serves every frontend.

What leaves this module is never the raw value: `Session.key`, the pin's name, is a hash of the
caller's gateway key id, the model and the value; `Session.label`, what the ledger's `session`
column holds, a 16-hex-digit hash of the kind and the value (a user id may be personal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from babelgate.config.models import AFFINITY_KEYS, AffinityConfig, AffinityKey

DEFAULT_TTL: Final = 3600.0
# The session headers coding agents send, as seen from the pinned releases (tests/agents): Claude Code's
# `X-Claude-Code-Session-Id` (2.1), Codex CLI's `session-id` (0.169; the id it also puts in
# `prompt_cache_key`), and the `session_id` / `conversation_id` of earlier Codex releases. Gemini CLI
# sends none on the API-key road (only an installation id, which names a machine, not a session): its
# sessions go by `prefix`.
SESSION_HEADERS: Final = (b"x-claude-code-session-id", b"session-id", b"session_id", b"conversation_id")
_SYSTEM_FIELDS: Final = ("system", "instructions", "systemInstruction", "system_instruction", "tools")
_CONVERSATION_FIELDS: Final = ("messages", "input", "contents")
_USER_FIELDS: Final = ("user", "safety_identifier")
Header = Callable[[bytes], bytes | None]
_MAX_VALUE: Final = 512  # characters of a header or field value that name a session; the rest is ignored


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # the pin's name: the caller's key, the model and the session (hashed)
    label: str  # the session as the ledger shows it (hashed)


@dataclass(frozen=True, slots=True)
class AffinityPolicy:
    keys: tuple[AffinityKey, ...]
    ttl: float = DEFAULT_TTL
    headers: tuple[bytes, ...] = SESSION_HEADERS

    @classmethod
    def merged(cls, server: AffinityConfig | None, model: AffinityConfig | None) -> AffinityPolicy | None:
        """The server's section under the model's, key by key; None when neither turns affinity on (or
        the keys are an empty list)."""
        if server is None and model is None:
            return None
        keys: tuple[AffinityKey, ...] = AFFINITY_KEYS
        ttl, extra = DEFAULT_TTL, tuple[bytes, ...]()
        for section in (server, model):
            if section is None:
                continue
            keys = section.keys if section.keys is not None else keys
            ttl = section.ttl if section.ttl is not None else ttl
            extra = tuple(name.encode("latin-1") for name in section.headers) if section.headers is not None else extra
        if not keys:
            return None
        return cls(tuple(dict.fromkeys(keys)), ttl, tuple(dict.fromkeys((*SESSION_HEADERS, *extra))))

    def session(self, body: Mapping[str, Any] | None, header: Header, key_id: str | None, model: str) -> Session | None:
        """The request's session, or None when it carries none of the keys."""
        for kind in self.keys:
            value = _READERS[kind](self, body or {}, header)
            if value:
                named = kind.encode() + b"\0" + value
                label = hashlib.blake2b(named, digest_size=8).hexdigest()
                tenant = f"{key_id or ''}\0{model}\0".encode()
                return Session(hashlib.blake2b(tenant + named, digest_size=16).hexdigest(), label)
        return None


def _prompt_cache_key(
    policy: AffinityPolicy, body: Mapping[str, Any], header: Callable[[bytes], bytes | None]
) -> bytes:
    return _text(body.get("prompt_cache_key"))


def _session_header(policy: AffinityPolicy, body: Mapping[str, Any], header: Header) -> bytes:
    for name in policy.headers:
        value = header(name)
        if value:
            return name + b"=" + value[:_MAX_VALUE]  # which header: Codex's two ids are the same value
    return b""


def _user(policy: AffinityPolicy, body: Mapping[str, Any], header: Header) -> bytes:
    for name in _USER_FIELDS:
        value = _text(body.get(name))
        if value:
            return value
    metadata = body.get("metadata")
    return _text(metadata.get("user_id")) if isinstance(metadata, dict) else b""


def _prefix(policy: AffinityPolicy, body: Mapping[str, Any], header: Header) -> bytes:
    turns = next((body[name] for name in _CONVERSATION_FIELDS if name in body), None)
    opening: Any
    if isinstance(turns, str):  # a Responses `input` given as one text
        opening = turns
    elif isinstance(turns, list) and turns:
        end = next((n for n, turn in enumerate(turns) if isinstance(turn, dict) and turn.get("role") == "user"), 0)
        opening = turns[: end + 1]
    else:
        return b""
    stable = [_unmarked(body.get(name)) for name in _SYSTEM_FIELDS]
    try:
        return hashlib.blake2b(
            orjson.dumps([stable, _unmarked(opening)], option=orjson.OPT_SORT_KEYS), digest_size=16
        ).digest()
    except TypeError:  # not JSON (cannot happen for a decoded body; a caller's own mapping might)
        return b""


def _unmarked(value: Any) -> Any:
    """`value` without `cache_control` anywhere: Claude Code marks the newest turn, so the first user turn
    carries the mark in a session's first request and not in the next ones."""
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_unmarked(item) for item in value]
    return value


def _text(value: Any) -> bytes:
    return value[:_MAX_VALUE].encode() if isinstance(value, str) else b""


_READERS: Final[dict[str, Callable[[AffinityPolicy, Mapping[str, Any], Header], bytes]]] = {
    "prompt_cache_key": _prompt_cache_key,
    "session_header": _session_header,
    "user": _user,
    "prefix": _prefix,
}
