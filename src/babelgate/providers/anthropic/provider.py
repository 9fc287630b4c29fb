"""Thin I/O for Anthropic: URL, auth and version headers, sending, and handing bodies over.

Besides the translated road (`chat`, `stream`), its relay serves the native Messages road (`relay` and
`relay_stream` of "messages", and `relay` of "messages.count_tokens"): an Anthropic client's own body
goes out with only `model` rewritten, and the answer is relayed as it came (relay.py reads what
accounting needs)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamClient, UpstreamResponse
from babelgate.observability.logging import Scrubber
from babelgate.providers.anthropic import batches, wire
from babelgate.providers.anthropic.errors import error_from_body, map_error
from babelgate.providers.anthropic.profiles import build_profiles
from babelgate.providers.anthropic.relay import account, relay_message_events
from babelgate.providers.anthropic.replay import ThinkingReplay, with_thinking_replayed
from babelgate.providers.anthropic.stream import AnthropicStreamTranslator
from babelgate.providers.anthropic.translate import WireRequest, from_wire, to_wire
from babelgate.providers.base import CallNotes, Capabilities, ProviderDefaults, RelayApi, provider_timeouts
from babelgate.providers.batch import (
    BatchLine,
    BatchOutcome,
    ProviderBatches,
    ProviderBatchStatus,
    batches_on,
    checked_lines,
    jsonl_objects,
)
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.sse import translate_sse
from babelgate.providers.transport import Upstream, read_json_object
from babelgate.schema.chat import ChatRequest, ChatResponse
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.models import ModelInfo

_NOT_YET: Final = object()  # a model whose `anthropic-beta` has not been worked out


# The Messages fields count_tokens takes: the rest of a Messages body (max_tokens, sampling) it refuses.
_COUNTED: Final = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


class AnthropicProvider(ProviderDefaults):
    type = "anthropic"
    capabilities = Capabilities(
        list_models=True,
        relays=frozenset({"messages", "messages.count_tokens"}),
        hosted_tools=frozenset({"web_search"}),
        count_tokens=True,
        # Message Batches (batches.py); `options.batches: false` for an Anthropic-compatible server without them.
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.secrets = config.api_keys
        self.list_models_enabled = config.list_models
        base_url = config.base_url or wire.DEFAULT_BASE_URL
        self._messages_url = base_url + wire.MESSAGES_PATH
        self._count_tokens_url = self._messages_url + "/count_tokens"
        self._models_url = base_url + wire.MODELS_PATH
        self._client = client
        self._timeouts = provider_timeouts(config, server)
        self._scrub = Scrubber(config.api_keys)
        self._profiles = build_profiles(config.options)
        beta = config.options.get("beta", ())
        self._beta = (beta,) if isinstance(beta, str) else tuple(beta)
        self._model_betas: dict[str, Mapping[str, str] | None] = {}  # `_beta_header` without the client's betas
        self._replay = ThinkingReplay()
        common = {
            "content-type": "application/json",
            "anthropic-version": str(config.options.get("version", wire.DEFAULT_VERSION)),
            **config.headers,
        }
        # `x-api-key` is the long-standing auth; `options.auth: bearer` for proxies that want OAuth style.
        bearer = config.options.get("auth") == "bearer"
        self._headers = KeyPool.for_keys(
            name,
            config.api_keys,
            # Read-only, as every provider's: the client renders a key's header lines once (http/client.py).
            lambda key: MappingProxyType(
                {**common, **({"authorization": f"Bearer {key}"} if bearer else {"x-api-key": key})}
            ),
            MappingProxyType(common),
        )
        self._upstream = Upstream(client, name, self._headers, self._timeouts, map_error, self._scrub)
        self._batches_url = base_url + batches.BATCHES_PATH
        if not batches_on(config.options, True):
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)

    def _prepare(self, request: ChatRequest, model: str, notes: CallNotes) -> WireRequest:
        profile = self._profiles.for_model(model)
        return to_wire(
            self._with_thinking_replayed(request, notes),
            model,
            profile,
            notes.adjusted,
            tool_positions=notes.tool_positions,
        )

    def _with_thinking_replayed(self, request: ChatRequest, notes: CallNotes) -> ChatRequest:
        return with_thinking_replayed(request, self._replay, notes)

    def _beta_header(self, model: str, client_beta: tuple[str, ...] = ()) -> Mapping[str, str] | None:
        """The `anthropic-beta` header the request adds to its key's headers, if any beta applies. Without the
        client's own, the same read-only mapping for every request to a model: the transport merges it with
        each key's headers once, and the client renders their lines once (providers/transport.py)."""
        if not client_beta:
            found = self._model_betas.get(model, _NOT_YET)
            if found is not _NOT_YET:
                return found  # type: ignore[return-value]
        beta = tuple(dict.fromkeys((*self._beta, *self._profiles.for_model(model).beta, *client_beta)))
        header = MappingProxyType({"anthropic-beta": ",".join(beta)}) if beta else None
        if not client_beta and len(self._model_betas) < 10_000:
            self._model_betas[model] = header
        return header

    async def _post(
        self, body: dict[str, Any], model: str, *, url: str | None = None, client_beta: tuple[str, ...] = ()
    ) -> UpstreamResponse:
        return await self._upstream.post(
            url or self._messages_url, orjson.dumps(body), self._beta_header(model, client_beta)
        )

    async def _post_native(self, body: dict[str, Any], model: str, *, url: str | None = None) -> UpstreamResponse:
        """A client's Messages body with `model` rewritten. Its `betas` (the SDK's name for the
        `anthropic-beta` header, which the frontend puts there) go out as that header."""
        body = {**body, "model": model}
        beta = body.pop("betas", None) or ()
        return await self._post(body, model, url=url, client_beta=tuple(str(item) for item in beta))

    def relays(self, api: RelayApi, model: str) -> bool:
        return api == "messages" or api == "messages.count_tokens"

    async def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        if api == "messages":
            raw, parsed = await read_json_object(await self._post_native(body, model), self.name)
            if parsed.get("type") == "error":
                raise error_from_body(parsed, provider=self.name, scrub=self._scrub)
            if parsed.get("type") != "message":
                raise UpstreamProtocolError(provider=self.name, detail="the body is not a Message")
            account(parsed, {}, notes)
            notes.completed = True
            return raw
        if api == "messages.count_tokens":
            # Anthropic's own count, relayed as it came like the Messages answer (`{"input_tokens": n}`).
            response = await self._post_native(body, model, url=self._count_tokens_url)
            raw, parsed = await read_json_object(response, self.name)
            tokens = parsed.get("input_tokens")
            if isinstance(tokens, bool) or not isinstance(tokens, int):
                raise UpstreamProtocolError(provider=self.name, detail="the body has no input_tokens")
            return raw
        raise ValueError(f"{self.name} does not relay {api!r}")  # relay_of hands out only what it relays

    async def relay_stream(
        self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes
    ) -> AsyncIterator[bytes]:
        if api != "messages":  # count_tokens has no stream
            raise ValueError(f"{self.name} does not relay a stream of {api!r}")
        response = await self._post_native(body, model)
        async for frames in relay_message_events(response, provider=self.name, notes=notes, scrub=self._scrub):
            yield frames

    async def count_input_tokens(self, request: ChatRequest, model: str, notes: CallNotes) -> int | None:
        """Anthropic's count_tokens of the Messages body `chat` would send (what it takes of it: no max_tokens)."""
        body = self._prepare(request, model, notes).body
        counted: dict[str, Any] = {name: body[name] for name in _COUNTED if name in body}
        _, parsed = await read_json_object(await self._post(counted, model, url=self._count_tokens_url), self.name)
        tokens = parsed.get("input_tokens")
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise UpstreamProtocolError(provider=self.name, detail="the body has no input_tokens")
        return tokens

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        prepared = self._prepare(request, model, notes)
        _, parsed = await read_json_object(await self._post(prepared.body, model), self.name)
        if parsed.get("type") == "error":
            raise error_from_body(parsed, provider=self.name, scrub=self._scrub)
        if parsed.get("type") != "message":
            raise UpstreamProtocolError(provider=self.name, detail="the body is not a Message")
        try:
            response = from_wire(parsed, created=int(time.time()), json_tool=prepared.json_tool)
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        message = response.choices[0].message
        if message.tool_calls:
            self._replay.remember(
                [call.id for call in message.tool_calls], message.extra.get(wire.REASONING_DETAILS) or []
            )
        notes.usage, notes.finish_reason = response.usage, response.choices[0].finish_reason
        return response

    async def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        prepared = self._prepare(request, model, notes)
        response = await self._post(prepared.body, model)
        translator = AnthropicStreamTranslator(
            self.name, created=int(time.time()), json_tool=prepared.json_tool, scrub=self._scrub
        )
        # Anthropic always ends with message_stop; a stream without it was cut off.
        async for canonical in translate_sse(response, translator, notes, provider=self.name, end_marker_required=True):
            yield canonical
        self._replay.remember(translator.tool_call_ids, translator.thinking_details)

    # The ProviderBatches part (batches.py): each line's params the Messages body `chat` sends, with the model's betas.

    def messages_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The Messages body `chat` would send for `request`, never streamed: a batch line's (here, and on Vertex)."""
        params = self._prepare(request, model, CallNotes()).body
        params.pop("stream", None)
        return params

    @staticmethod
    def batch_answer(message: dict[str, Any], created: int) -> ChatResponse:
        """A batch line's `message`, read as `chat` reads one. A line's own json_tool is not kept: the structured-output
        tool's name is the gateway's own (`babelgate_json_output`), so a tool of that name is the JSON answer."""
        return from_wire(message, created=created, json_tool=wire.JSON_TOOL_NAME)

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        requests = [
            {"custom_id": batches.wire_id(line.custom_id), "params": self.messages_body(line.request, model)}
            for line in checked_lines(lines)
        ]
        response = await self._post({"requests": requests}, model, url=self._batches_url)
        _, parsed = await read_json_object(response, self.name)
        batch_id = parsed.get("id")
        if parsed.get("type") != "message_batch" or not isinstance(batch_id, str):
            raise UpstreamProtocolError(provider=self.name, detail="the body is not a MessageBatch")
        return batch_id

    def _batch_url(self, batch_id: str, tail: str = "") -> str:
        return f"{self._batches_url}/{quote(batch_id, safe='')}{tail}"

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        return batches.status_of(await self._upstream.get_json(self._batch_url(batch_id)), self.name)

    async def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The results file at this provider's own base URL (where the batch's `results_url` points), so that its key
        goes nowhere else."""
        created = int(time.time())

        def from_wire_message(message: dict[str, Any]) -> ChatResponse:
            return self.batch_answer(message, created)

        response = await self._upstream.get(self._batch_url(batch_id, "/results"))
        async for line in jsonl_objects(response, self.name):
            outcome = batches.outcome_of(line, from_wire=from_wire_message, provider=self.name, scrub=self._scrub)
            if outcome is not None:
                yield outcome

    async def cancel_batch(self, batch_id: str) -> None:
        await read_json_object(await self._upstream.post(self._batch_url(batch_id, "/cancel"), b""), self.name)

    async def list_models(self) -> list[ModelInfo]:
        parsed = await self._upstream.get_json(self._models_url)
        return [
            ModelInfo(
                id=entry["id"],
                owned_by="anthropic",
                created=_epoch(entry.get("created_at")),
                display_name=entry.get("display_name") if isinstance(entry.get("display_name"), str) else None,
            )
            for entry in parsed.get("data") or ()
            if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]


def _epoch(timestamp: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: AnthropicProvider) -> ProviderBatches:
        return provider
