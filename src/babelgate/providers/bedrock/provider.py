"""Thin I/O for AWS Bedrock: URL, authorisation (SigV4 or a bearer key), sending, handing bodies over.

Which road serves a model: Claude (`anthropic.…`, `us.anthropic.…`, an ARN of one) goes through
InvokeModel with Anthropic's Messages body, for every frontend: the Anthropic translators then serve
it as they serve Anthropic (thinking and its signatures, cache control, betas, native structured
outputs), and `/v1/messages` is relayed natively. `options.claude: converse` sends Claude through
Converse instead. Every other model goes through Converse / ConverseStream. Embeddings (Titan,
Cohere) go through InvokeModel.

With `batch_bucket` (and `batch_role_arn`) it has the batch part: batch inference jobs whose records are the
bodies `chat` sends, read back with the same translators (batches.py, batch_jobs.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import UnsupportedCapability, UpstreamProtocolError
from babelgate.http import UpstreamClient, UpstreamResponse
from babelgate.http.s3 import S3Bucket
from babelgate.observability.logging import Scrubber
from babelgate.providers import rerank as rerank_wire
from babelgate.providers.anthropic.profiles import ModelProfile, build_profiles
from babelgate.providers.anthropic.relay import account
from babelgate.providers.anthropic.replay import ThinkingReplay, with_thinking_replayed
from babelgate.providers.anthropic.stream import AnthropicStreamTranslator
from babelgate.providers.anthropic.translate import WireRequest as MessagesRequest
from babelgate.providers.anthropic.translate import from_wire as anthropic_from_wire
from babelgate.providers.anthropic.translate import to_wire as anthropic_to_wire
from babelgate.providers.anthropic.wire import JSON_TOOL_NAME as CLAUDE_JSON_TOOL
from babelgate.providers.base import CallNotes, Capabilities, ProviderDefaults, RelayApi, provider_timeouts
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches, ProviderBatchStatus, batches_on
from babelgate.providers.bedrock import batches, converse_relay, embeddings, wire
from babelgate.providers.bedrock.batch_jobs import BatchJobs, JobWire
from babelgate.providers.bedrock.credentials import CredentialSource, botocore_credentials, keys_problem
from babelgate.providers.bedrock.errors import CredentialsRefused, error_from_frame, map_error
from babelgate.providers.bedrock.eventstream import messages_of
from babelgate.providers.bedrock.invoke import relay_as_sse
from babelgate.providers.bedrock.signing import SIGNED_NAMES, Authorizer, BearerAuthorizer, SigV4Authorizer
from babelgate.providers.bedrock.stream import ConverseStreamTranslator
from babelgate.providers.bedrock.translate import StructuredOutput, WireRequest, from_wire, to_wire
from babelgate.providers.bedrock.wire import JSON_TYPE, chunk_bytes, invoke_body
from babelgate.providers.key_pool import KeyPool
from babelgate.providers.transport import Upstream, event_object, read_json_object
from babelgate.schema.chat import ChatRequest, ChatResponse, Usage
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse
from babelgate.schema.models import ModelInfo
from babelgate.schema.rerank import RerankRequest, RerankResponse


class _Road:
    """What every request to one model id shares: whether Claude's InvokeModel road serves it, its
    Anthropic profile (by the Claude name inside the Bedrock id) and betas, and its actions' URLs."""

    __slots__ = ("betas", "claude", "invoke", "profile", "urls")

    def __init__(self, *, invoke: bool, claude: bool, betas: tuple[str, ...], profile: ModelProfile | None) -> None:
        self.invoke, self.claude, self.betas, self.profile = invoke, claude, betas, profile
        self.urls: dict[str, str] = {}


class BedrockProvider(ProviderDefaults):
    type = "bedrock"
    capabilities = Capabilities(
        embeddings=True,
        embedding_batch_limit=embeddings.COHERE_BATCH,
        relays=frozenset({"messages", "messages.count_tokens", "converse"}),
        count_tokens=True,
        apply_guardrail=True,
        rerank=True,
        # Batch inference jobs (batches.py), with `batch_bucket` set: the capability is turned off without it.
        batch=True,
    )

    def __init__(self, name: str, config: ProviderConfig, server: ServerConfig, client: UpstreamClient) -> None:
        self.name = name
        self.list_models_enabled = False  # the runtime endpoint lists nothing (that is the control plane's)
        # AWS_BEARER_TOKEN_BEDROCK fills `api_key`, as in the AWS SDKs (read once, here), unless the
        # provider names its AWS credentials: what the file says wins over the environment.
        named = config.aws_access_key_id or config.aws_profile
        from_env = () if named else tuple(key for key in (os.environ.get(wire.BEARER_ENV, ""),) if key)
        bearer = config.api_keys or from_env
        self.secrets = (*config.secret_values(), *bearer)
        self.region = config.region or _default_region(config.aws_profile, needs_profile=not config.base_url)
        self._base_url = config.base_url or wire.DEFAULT_BASE_URL.format(region=self.region)
        self._roads: dict[str, _Road] = {}  # model id -> what every request to it shares
        self._timeouts = provider_timeouts(config, server)
        self._scrub = Scrubber(self.secrets)
        self._profiles = build_profiles(config.options)
        self._claude_road = str(config.options.get("claude", "invoke"))
        structured = str(config.options.get("structured_output", "native"))
        if structured not in ("native", "tool") or self._claude_road not in ("invoke", "converse"):
            raise ValueError("options.structured_output is native or tool; options.claude is invoke or converse")
        self._structured: StructuredOutput = "tool" if structured == "tool" else "native"
        beta = config.options.get("beta", ())
        self._beta = (beta,) if isinstance(beta, str) else tuple(beta)
        self._replay = ThinkingReplay()
        self._credentials: CredentialSource | None = None
        # What credentials_problem checks: whether each half of a key pair is given (not the keys), the profile.
        self._named_keys = (bool(config.aws_access_key_id), bool(config.aws_secret_access_key), config.aws_profile)
        self._auth: Authorizer
        # Read-only header sets, the content type in each: the HTTP client renders each one once (a signature's
        # lines come on top, per request: signing.Authorizer).
        own = {**config.headers, "content-type": JSON_TYPE}
        if bearer:
            self._headers: KeyPool[Mapping[str, str]] = KeyPool.for_keys(
                name,
                bearer,
                lambda key: MappingProxyType({**own, "authorization": f"Bearer {key}"}),
                MappingProxyType(own),
            )
            self._auth = BearerAuthorizer()
        else:
            unsigned = {header: value for header, value in own.items() if header.lower() not in SIGNED_NAMES}
            self._headers = KeyPool([MappingProxyType(unsigned)], ["aws"], provider=name)
            lookup = botocore_credentials(
                access_key=config.aws_access_key_id,
                secret_key=config.aws_secret_access_key,
                token=config.aws_session_token,
                profile=config.aws_profile,
            )
            source = (
                "the provider's AWS keys"
                if config.aws_access_key_id
                else f"the AWS profile {config.aws_profile}"
                if config.aws_profile
                else "the AWS credential chain"
            )
            self._credentials = CredentialSource(
                name, lookup, wait=self._timeouts.connect or 10.0, source=source, scrub=self._scrub
            )
            client.on_close(_closer(self._credentials))
            self._auth = SigV4Authorizer(self._credentials, self.region)
        self._upstream = Upstream(client, name, self._headers, self._timeouts, map_error, self._scrub)
        self._batch_jobs = self._batch_part(config, client)
        # Bedrock refuses a job of fewer records than the account's quota for the model ("Minimum number of records
        # per batch inference job", 100 by default): smaller groups of lines are run by the gateway instead.
        self._min_records = _positive_int(config.options, "batch_min_records", batches.MIN_RECORDS)
        if self._batch_jobs is None:
            self.capabilities = dataclasses.replace(self.capabilities, batch=False)

    def _batch_part(self, config: ProviderConfig, client: UpstreamClient) -> BatchJobs | None:
        """Batch inference jobs when `batch_bucket` is set (and `options.batches` does not turn them off): their
        records go through the bucket, which only AWS credentials can sign for (a Bedrock API key cannot)."""
        if not batches_on(config.options, config.batch_bucket is not None):
            return None
        if config.batch_bucket is None:
            raise ValueError("options.batches: a bedrock provider serves batches with batch_bucket set")
        bucket, prefix = batches.bucket_of(config.batch_bucket)
        role_arn = batches.checked_role(config.batch_role_arn)
        source = self._credentials
        if source is None:
            raise ValueError("batch_bucket: batch jobs need AWS credentials to reach the bucket, not an API key")
        objects = S3Bucket(bucket, self.region, _option_url(config, "batch_s3_url"), source.get)
        client.on_close(_bucket_closer(objects))
        control = _option_url(config, "batch_control_url") or batches.CONTROL_URL.format(region=self.region)
        jobs_wire = JobWire(
            post=self._signed_post,
            get=self._signed_get,
            invocation=lambda model: "InvokeModel" if self._road(model).invoke else "Converse",
            body=self._batch_body,
            reader=self._batch_reader,
            map_error=map_error,
            scrub=self._scrub,
        )
        return BatchJobs(self.name, jobs_wire, objects=objects, prefix=prefix, role_arn=role_arn, control_url=control)

    def credentials_problem(self) -> str | None:
        if self._credentials is None:  # a bearer key: nothing to check before a call
            return None
        access_key, secret_key, profile = self._named_keys
        return keys_problem(access_key=access_key, secret_key=secret_key, profile=profile)

    # --- sending ---------------------------------------------------------------------------------

    def _road(self, model: str) -> _Road:
        """The model's road, profile, betas and URLs, worked out at its first request (a provider calls a
        handful of models; bounded all the same)."""
        road = self._roads.get(model)
        if road is None:
            claude = wire.is_claude(model)
            profile = self._profiles.for_model(wire.claude_name(model)) if claude else None
            road = _Road(
                invoke=claude and self._claude_road == "invoke",
                claude=claude,
                betas=(*self._beta, *(profile.beta if profile is not None else ())),
                profile=profile,
            )
            if len(self._roads) < 4096:
                self._roads[model] = road
        return road

    async def _post(self, model: str, action: str, body: dict[str, Any], road: _Road | None = None) -> UpstreamResponse:
        urls = (road or self._road(model)).urls
        url = urls.get(action)
        if url is None:
            url = urls[action] = self._base_url + wire.model_path(model, action)
        return await self._signed_post(url, orjson.dumps(body))

    async def apply_guardrail(self, identifier: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        """ApplyGuardrail: a guardrail kept in Bedrock, asked with this provider's region and credentials."""
        response = await self._signed_post(
            self._base_url + wire.guardrail_path(identifier, version), orjson.dumps(body)
        )
        return (await read_json_object(response, self.name))[1]

    async def _signed_post(self, url: str, raw: bytes) -> UpstreamResponse:
        lines = self._auth.lines_now(url, raw)  # without a coroutine while the credentials are at hand
        if lines is None:
            lines = await self._auth.lines("POST", url, raw)
        try:
            return await self._upstream.post(url, raw, lines=lines)
        except CredentialsRefused:
            if self._credentials is not None:
                self._credentials.rejected()  # expired or revoked: look them up again for the next request
            raise

    async def _signed_get(self, url: str) -> UpstreamResponse:
        lines = await self._auth.lines("GET", url, b"")
        try:
            return await self._upstream.get(url, lines=lines)
        except CredentialsRefused:
            if self._credentials is not None:
                self._credentials.rejected()
            raise

    def _claude(self, model: str) -> bool:
        return self._road(model).invoke

    # --- the native Messages road (Claude) ---------------------------------------------------------

    def _betas(self, model: str) -> tuple[str, ...]:
        """The provider's and the model profile's betas (the Anthropic provider's rule), sent in the body."""
        return self._road(model).betas

    def relays(self, api: RelayApi, model: str) -> bool:
        if api == "converse":
            return True  # Converse serves every model Bedrock has, Claude too
        return api in ("messages", "messages.count_tokens") and self._claude(model)

    async def relay(self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes) -> bytes:
        if api == "messages":
            road = self._road(model)
            response = await self._post(model, "invoke", invoke_body(body, road.betas), road)
            raw, parsed = await read_json_object(response, self.name)
            if parsed.get("type") != "message":
                raise UpstreamProtocolError(provider=self.name, detail="the body is not a Message")
            account(parsed, {}, notes)
            notes.completed = True
            return raw
        if api == "messages.count_tokens":
            # Bedrock's CountTokens takes the InvokeModel body, base64, and answers `{"inputTokens": n}`.
            inner = invoke_body({**body, "max_tokens": body.get("max_tokens", 1)}, self._betas(model))
            count = {"input": {"invokeModel": {"body": _b64(orjson.dumps(inner))}}}
            _, parsed = await read_json_object(await self._post(model, "count-tokens", count), self.name)
            tokens = parsed.get("inputTokens")
            if isinstance(tokens, bool) or not isinstance(tokens, int):
                raise UpstreamProtocolError(provider=self.name, detail="the body has no inputTokens")
            return orjson.dumps({"input_tokens": tokens})
        if api == "converse":
            raw, parsed = await read_json_object(await self._post(model, "converse", body), self.name)
            converse_relay.account(parsed, notes)
            return raw
        raise ValueError(f"{self.name} does not relay {api!r}")

    async def relay_stream(
        self, api: RelayApi, body: dict[str, Any], model: str, notes: CallNotes
    ) -> AsyncIterator[bytes]:
        if api == "converse":
            response = await self._post(model, "converse-stream", body)
            relayed = converse_relay.relay_as_sse(response, provider=self.name, notes=notes, scrub=self._scrub)
            async with contextlib.aclosing(relayed) as frames:
                async for frame in frames:
                    yield frame
            return
        if api != "messages":
            raise ValueError(f"{self.name} does not relay a stream of {api!r}")
        road = self._road(model)
        response = await self._post(model, "invoke-with-response-stream", invoke_body(body, road.betas), road)
        async with contextlib.aclosing(
            relay_as_sse(response, provider=self.name, notes=notes, scrub=self._scrub)
        ) as frames:
            async for frame in frames:
                yield frame

    # --- the translated road -------------------------------------------------------------------------

    async def chat(self, request: ChatRequest, model: str, notes: CallNotes) -> ChatResponse:
        road = self._road(model)  # looked up once a request: the body and the URL both read it
        if road.invoke:
            prepared = self._claude_body(request, model, notes, road)
            response = await self._post(model, "invoke", prepared.body, road)
            _, parsed = await read_json_object(response, self.name)
            if parsed.get("type") != "message":
                raise UpstreamProtocolError(provider=self.name, detail="the body is not a Message")
            try:
                answer = anthropic_from_wire(parsed, created=int(time.time()), json_tool=prepared.json_tool)
            except (AttributeError, TypeError, ValueError, KeyError):
                raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        else:
            converse = self._converse(request, model, notes)
            _, parsed = await read_json_object(await self._post(model, "converse", converse.body), self.name)
            try:
                answer = from_wire(parsed, model=model, created=int(time.time()), json_tool=converse.json_tool)
            except (AttributeError, TypeError, ValueError, KeyError):
                raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
            answer = dataclasses.replace(answer, id=answer.id or _response_id())
        message = answer.choices[0].message
        if message.tool_calls:
            self._replay.remember(
                [call.id for call in message.tool_calls], message.extra.get(wire.REASONING_DETAILS) or []
            )
        notes.usage, notes.finish_reason = answer.usage, answer.choices[0].finish_reason
        return answer

    async def count_input_tokens(self, request: ChatRequest, model: str, notes: CallNotes) -> int | None:
        """Bedrock's CountTokens of the body `chat` would send: Claude's InvokeModel body (base64) or the Converse
        messages and system; None for models off Claude, which CountTokens does not serve."""
        road = self._road(model)
        if not road.claude:
            return None
        if road.invoke:
            inner = self._claude_body(request, model, notes, road).body
            count: dict[str, Any] = {"input": {"invokeModel": {"body": _b64(orjson.dumps(inner))}}}
        else:
            body = self._converse(request, model, notes).body
            count = {"input": {"converse": {k: body[k] for k in ("messages", "system", "toolConfig") if k in body}}}
        _, parsed = await read_json_object(await self._post(model, "count-tokens", count), self.name)
        tokens = parsed.get("inputTokens")
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise UpstreamProtocolError(provider=self.name, detail="the body has no inputTokens")
        return tokens

    def _converse(self, request: ChatRequest, model: str, notes: CallNotes) -> WireRequest:
        """The Converse body; for Claude (`options.claude: converse`) with its signed thinking
        re-attached from memory when the client dropped it, as on the InvokeModel road."""
        if self._road(model).claude:
            request = with_thinking_replayed(request, self._replay, notes)
        try:
            return to_wire(
                request, model, notes.adjusted, structured_output=self._structured, tool_positions=notes.tool_positions
            )
        except UnsupportedCapability as error:
            raise self._named(error) from None

    def _named(self, error: UnsupportedCapability) -> UnsupportedCapability:
        """A refusal of the shared Anthropic translators names this provider, not `anthropic`."""
        if error.params.get("provider") in ("anthropic", "bedrock"):
            error.params["provider"] = self.name
        return error

    def stream(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        # The road's own generator, handed out (not wrapped: a wrapping generator is one more hop a chunk).
        road = self._road(model)
        if road.invoke:
            return self._stream_claude(request, model, notes, road)
        return self._stream_converse(request, model, notes)

    async def _stream_converse(self, request: ChatRequest, model: str, notes: CallNotes) -> AsyncIterator[ChatChunk]:
        converse = self._converse(request, model, notes)
        response = await self._post(model, "converse-stream", converse.body)
        translator = ConverseStreamTranslator(
            self.name, message_id=_response_id(), model=model, created=int(time.time()), json_tool=converse.json_tool
        )
        async with messages_of(response, self.name) as reads:
            async for messages in reads:
                for message in messages:
                    if message.kind != "event":
                        raise error_from_frame(message.name, message.payload, provider=self.name, scrub=self._scrub)
                    for chunk in translator.feed(message.name, event_object(message.payload, self.name)):
                        if chunk.usage is not None:
                            notes.usage = chunk.usage
                        yield chunk
                    if translator.done:
                        notes.finish_reason, notes.completed = translator.finish_reason, True
                        self._replay.remember(translator.tool_call_ids, translator.thinking_details)
                        return
        notes.finish_reason = translator.finish_reason
        if translator.finish_reason is None:
            raise UpstreamProtocolError("stream_interrupted", provider=self.name)
        notes.completed = True  # messageStop came; only the metadata (usage) did not

    async def _stream_claude(
        self, request: ChatRequest, model: str, notes: CallNotes, road: _Road
    ) -> AsyncIterator[ChatChunk]:
        prepared = self._claude_body(request, model, notes, road)
        response = await self._post(model, "invoke-with-response-stream", prepared.body, road)
        translator = AnthropicStreamTranslator(
            self.name, created=int(time.time()), json_tool=prepared.json_tool, scrub=self._scrub
        )
        # The frames read here, not through anthropic_events (the relay's reader): one generator fewer
        # between the body and the client, per chunk.
        async with messages_of(response, self.name) as reads:
            async for messages in reads:
                for message in messages:
                    if message.kind != "event":
                        raise error_from_frame(message.name, message.payload, provider=self.name, scrub=self._scrub)
                    if message.name != "chunk":
                        continue
                    for chunk in translator.feed_data(chunk_bytes(message.payload, self.name)):
                        if chunk.usage is not None:
                            notes.usage = chunk.usage
                        yield chunk
                    if translator.done:
                        notes.finish_reason, notes.completed = translator.finish_reason, True
                        self._replay.remember(translator.tool_call_ids, translator.thinking_details)
                        return
        raise UpstreamProtocolError("stream_interrupted", provider=self.name)

    def _claude_body(self, request: ChatRequest, model: str, notes: CallNotes, road: _Road) -> MessagesRequest:
        """The Anthropic translator's Messages body (profiles by the Claude name inside the Bedrock
        id), signed thinking re-attached from memory as the Anthropic provider does, made an
        InvokeModel body."""
        assert road.profile is not None  # Claude's road
        request = with_thinking_replayed(request, self._replay, notes)
        try:
            prepared = anthropic_to_wire(
                request, model, road.profile, notes.adjusted, tool_positions=notes.tool_positions
            )
        except UnsupportedCapability as error:
            raise self._named(error) from None
        return MessagesRequest(invoke_body(prepared.body, road.betas), prepared.json_tool)

    # --- the ProviderBatches part: batch inference jobs (batches.py, batch_jobs.py) ----------------------

    def _batch_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """A record's `modelInput`: Claude's InvokeModel body on its InvokeModel road, else the Converse body."""
        road = self._road(model)
        if road.invoke:
            return self._claude_body(request, model, CallNotes(), road).body
        return self._converse(request, model, CallNotes()).body

    def _batch_reader(
        self, invocation: batches.Invocation, model: str, created: int
    ) -> Callable[[dict[str, Any]], ChatResponse]:
        """How a record's `modelOutput` is read: as `chat` reads InvokeModel's Claude Message or a Converse answer.
        A line's own json_tool is not kept: the structured-output tool's name is the gateway's own, so a tool of
        that name is the JSON answer, as `chat` reads it."""
        if invocation == "InvokeModel":

            def claude(output: dict[str, Any]) -> ChatResponse:
                if output.get("type") != "message":
                    raise ValueError("not a Message")
                return anthropic_from_wire(output, created=created, json_tool=CLAUDE_JSON_TOOL)

            return claude

        def converse(output: dict[str, Any]) -> ChatResponse:
            answer = from_wire(output, model=model, created=created, json_tool=wire.JSON_TOOL_NAME)
            return dataclasses.replace(answer, id=answer.id or _response_id())

        return converse

    def _jobs(self) -> BatchJobs:
        if self._batch_jobs is None:
            raise UnsupportedCapability(provider=self.name, capability="batch")
        return self._batch_jobs

    def minimum_lines(self, model: str) -> int:
        return self._min_records

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        return await self._jobs().submit(model, lines)

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        return await self._jobs().status(batch_id)

    def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        return self._jobs().results(batch_id)

    async def cancel_batch(self, batch_id: str) -> None:
        await self._jobs().cancel(batch_id)

    # --- embeddings ------------------------------------------------------------------------------------

    async def embed(self, request: EmbeddingRequest, model: str, notes: CallNotes) -> EmbeddingResponse:
        texts = embeddings.texts_of(request.inputs)
        if embeddings.family(model) == "titan":
            bodies = [embeddings.titan_body(text, model, request.dimensions) for text in texts]
            answers = await asyncio.gather(*(self._embed_call(model, body) for body in bodies))
            try:
                pairs = [embeddings.titan_vector(parsed) for parsed, _ in answers]
            except (KeyError, TypeError, ValueError):
                raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
            vectors, tokens = [vector for vector, _ in pairs], sum(count for _, count in pairs)
        else:
            parsed, tokens = await self._embed_call(
                model, embeddings.cohere_body(texts, request.extra, request.dimensions)
            )
            try:
                vectors = embeddings.cohere_vectors(parsed)
            except (KeyError, TypeError, ValueError):
                raise UpstreamProtocolError(provider=self.name, detail="the body has the wrong shape") from None
        if len(vectors) != len(texts):
            raise UpstreamProtocolError(provider=self.name, detail=f"{len(vectors)} embeddings for {len(texts)} inputs")
        answer = EmbeddingResponse(model=model, vectors=vectors, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))
        notes.usage = answer.usage
        return answer

    async def rerank(self, request: RerankRequest, model: str, notes: CallNotes) -> RerankResponse:
        """InvokeModel with the rerank model's own body: Cohere's (`api_version: 2`) or Amazon's (`{query,
        documents, top_n}`); both answer Cohere's `results`."""
        body: dict[str, Any] = {"query": request.query, "documents": request.documents}
        if request.top_n is not None:
            body["top_n"] = request.top_n
        if "cohere.rerank" in model:
            body["api_version"] = 2
            if request.max_tokens_per_doc is not None:
                body["max_tokens_per_doc"] = request.max_tokens_per_doc
        elif "amazon.rerank" not in model:
            raise UnsupportedCapability(provider=self.name, capability=f"rerank with {model}", param="model")
        _, parsed = await read_json_object(await self._post(model, "invoke", body), self.name)
        answer = rerank_wire.read_answer(parsed, request, self.name)
        notes.usage = answer.usage
        return answer

    async def _embed_call(self, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        response = await self._post(model, "invoke", body)
        header = response.headers.get(embeddings.TOKEN_COUNT_HEADER)
        _, parsed = await read_json_object(response, self.name)
        return parsed, int(header) if header and header.isdigit() else 0

    async def list_models(self) -> list[ModelInfo]:
        return []


def _default_region(profile: str | None, *, needs_profile: bool) -> str:
    """AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` (read with botocore, as the AWS
    tools read it); a provider with neither and no `base_url` is a configuration error."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        found = botocore.session.Session(profile=profile).get_config_variable("region")
    except BotoCoreError as error:  # a profile that is not there, a config file botocore cannot read
        raise ValueError(f"the AWS configuration could not be read: {error}") from None
    if isinstance(found, str) and found:
        return found
    if needs_profile:
        raise ValueError("a bedrock provider needs a region: set `region`, AWS_REGION, or the profile's region")
    return "us-east-1"


def _closer(source: CredentialSource) -> Callable[[], Awaitable[None]]:
    """What the shared HTTP client runs when it closes: stop the refreshes. Weak: the client outlives the
    providers a config reload replaces."""
    holder = weakref.ref(source)

    async def close() -> None:
        alive = holder()
        if alive is not None:
            await alive.close()

    return close


def _positive_int(options: dict[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if value.__class__ is not int or value < 1:
        raise ValueError(f"options.{name}: expected a whole number of at least 1")
    return int(value)


def _option_url(config: ProviderConfig, name: str) -> str | None:
    """An endpoint the provider's options name instead of AWS's own (a VPC endpoint, a test fake)."""
    value = config.options.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError(f"options.{name}: expected an http:// or https:// URL")
    return value.rstrip("/")


def _bucket_closer(objects: S3Bucket) -> Callable[[], Awaitable[None]]:
    """What the shared HTTP client runs when it closes: the bucket's connections go. Weak, as `_closer`."""
    holder = weakref.ref(objects)

    async def close() -> None:
        alive = holder()
        if alive is not None:
            await alive.close()

    return close


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _response_id() -> str:
    """Converse answers carry no id of their own."""
    return f"chatcmpl-{uuid.uuid4().hex}"


if TYPE_CHECKING:  # the `batch` capability's part, held to its protocol where `make typecheck` looks

    def _batches(provider: BedrockProvider) -> ProviderBatches:
        return provider
