"""A fake AWS Bedrock Runtime on 127.0.0.1, scriptable per test like the other fakes.

It speaks Bedrock's wire: `POST /model/{modelId}/converse` (ConverseResponse JSON),
`/converse-stream` (an `application/vnd.amazon.eventstream` body of ConverseStreamOutput events, real
frames with their CRCs), `/invoke` and `/invoke-with-response-stream` (Claude's Messages body and
answer; the stream's `chunk` events carry each Anthropic event base64 in `bytes`; Titan and Cohere
embeddings), `/count-tokens`, and ApplyGuardrail (`POST /guardrail/{id}/version/{version}/apply`: the guardrails in
`guardrails` by id and version; one intervenes on a text holding any of its `denied` words, and the id `slow`
answers once the client hung up, `broken` with a 500); errors as `{"message"}` with `x-amzn-ErrorType`. Its
control plane's batch inference jobs are `batch_jobs` (bedrock_batches.py).

Like AWS it refuses what AWS refuses, and records each refusal in `violations`:
- authorisation: a SigV4 signature is recomputed with botocore's `SigV4Auth` from the secret of the
  access key it names (`iam`, shared with the fake credential sources) and the request's X-Amz-Date,
  and compared; an unknown key is `UnrecognizedClientException`, a wrong signature
  `InvalidSignatureException`, a session token past its expiry `ExpiredTokenException` (403 all);
  or a Bedrock API key as `Authorization: Bearer …`;
- bodies: ApplyGuardrail's against botocore's `ApplyGuardrailRequest`; Converse bodies against botocore's service
  model (`ConverseRequest`,
  `ConverseStreamRequest`: bedrock_service.py); Claude's InvokeModel bodies against the Anthropic
  fake's checks (the SDK's own types), plus Bedrock's rules (`anthropic_version`, no `model`, no
  `stream`, betas as an `anthropic_beta` list); embedding bodies against the Titan and Cohere fields.
"""

from __future__ import annotations

import base64
import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from tests.fakes.anthropic_upstream import message as claude_message
from tests.fakes.anthropic_upstream import request_violations as anthropic_violations
from tests.fakes.bedrock_batches import FakeBatchJobs
from tests.fakes.bedrock_service import chunk_frame, event_frame, exception_frame, shape_violations
from tests.fakes.scripted import Received, Reply, ScriptedStreams

__all__ = [
    "REGION",
    "AwsKey",
    "FakeBedrock",
    "Received",
    "Reply",
    "converse_response",
    "converse_text_events",
    "converse_tool_events",
    "error_reply",
]

REGION = "us-east-1"
ERROR_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@dataclass
class AwsKey:
    """One access key the fake IAM knows: its secret, and for temporary ones the token and expiry."""

    secret: str
    token: str | None = None
    expires: float | None = None  # wall clock


def error_reply(name: str, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        json={"message": message},
        headers={"x-amzn-ErrorType": name + ERROR_NAMESPACE, "x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})},
    )


def usage(
    input_tokens: int = 11, output_tokens: int = 5, *, cache_read: int = 0, cache_write: int = 0
) -> dict[str, int]:
    return {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens + cache_read + cache_write,
        "cacheReadInputTokens": cache_read,
        "cacheWriteInputTokens": cache_write,
    }


def converse_response(
    content: str | list[dict[str, Any]] = "Hello from Bedrock!",
    *,
    stop_reason: str | None = None,
    token_usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    blocks = [{"text": content}] if isinstance(content, str) else content
    if stop_reason is None:
        stop_reason = "tool_use" if any("toolUse" in block for block in blocks) else "end_turn"
    return {
        "output": {"message": {"role": "assistant", "content": blocks}},
        "stopReason": stop_reason,
        "usage": token_usage or usage(),
        "metrics": {"latencyMs": 120},
    }


def converse_text_events(
    pieces: list[str], *, stop_reason: str = "end_turn", token_usage: dict[str, int] | None = None
) -> list[dict[str, Any] | bytes]:
    """A ConverseStream answer, as ConverseStreamOutput union members (one key each)."""
    events: list[dict[str, Any] | bytes] = [{"messageStart": {"role": "assistant"}}]
    events += [{"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": piece}}} for piece in pieces]
    events += [
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": stop_reason}},
        {"metadata": {"usage": token_usage or usage(), "metrics": {"latencyMs": 99}}},
    ]
    return events


def converse_tool_events(
    calls: list[tuple[str, str, list[str]]],
    *,
    reasoning: tuple[str, str] | None = None,
    token_usage: dict[str, int] | None = None,
) -> list[dict[str, Any] | bytes]:
    """A streamed tool-use answer: [reasoning block with its signature], then per (id, name, input
    fragments) a toolUse block whose input arrives as JSON fragments."""
    events: list[dict[str, Any] | bytes] = [{"messageStart": {"role": "assistant"}}]
    index = 0
    if reasoning is not None:
        text, signature = reasoning
        events += [
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": text}}}},
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": signature}}}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
        ]
        index = 1
    for call_id, name, fragments in calls:
        events.append(
            {
                "contentBlockStart": {
                    "contentBlockIndex": index,
                    "start": {"toolUse": {"toolUseId": call_id, "name": name}},
                }
            }
        )
        events += [
            {"contentBlockDelta": {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}}}
            for fragment in fragments
        ]
        events.append({"contentBlockStop": {"contentBlockIndex": index}})
        index += 1
    events += [
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": token_usage or usage(), "metrics": {"latencyMs": 99}}},
    ]
    return events


def _converse_frame(event: dict[str, Any]) -> bytes:
    ((name, payload),) = event.items()
    if name.endswith("Exception"):
        return exception_frame(name, str(payload.get("message", "")))
    return event_frame(name, payload)


class FakeBedrock(ScriptedStreams):
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.violations: list[str] = []
        self.iam: dict[str, AwsKey] = {}
        self.bearer_keys: set[str] = set()
        self.signed_with: list[str] = []  # the access key of each accepted signed request
        self.signed_regions: list[str] = []  # and the region its signature was scoped to
        # The regions this fake stands for (a real endpoint is one region's; a test may play several).
        self.regions = {REGION, "eu-west-1", "us-west-2"}
        # bench/bedrock_paths.py turns this off, so that the fake's own SigV4 work (botocore, in
        # Python) does not slow the gateway's measure; the tests never do.
        self.verify_signatures = True
        # ApplyGuardrail: (guardrail id, version) -> the words it denies.
        self.guardrails: dict[tuple[str, str], tuple[str, ...]] = {}
        self.batch_jobs = FakeBatchJobs(self)
        self.port = 0

    @property
    def spec_violations(self) -> list[str]:
        return self.violations

    def reset(self) -> None:
        self.replies.clear()
        self.responder = None
        self.received.clear()
        self.violations.clear()
        self.iam.clear()
        self.bearer_keys.clear()
        self.signed_with.clear()
        self.signed_regions.clear()
        self.guardrails.clear()
        self.batch_jobs.reset()
        self.stream_closed_at = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/model/{tail:.+}", self._model)
        app.router.add_post("/guardrail/{identifier}/version/{version}/apply", self._apply_guardrail)
        self.batch_jobs.routes(app)
        await self.serve(app)

    # --- authorisation ----------------------------------------------------------------------------------

    def _auth_refusal(self, request: web.Request, raw: bytes) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            if header[7:] in self.bearer_keys:
                return None
            return self._refuse(
                "UnrecognizedClientException", 403, "Authentication failed: Please make sure your API Key is valid."
            )
        if not header.startswith("AWS4-HMAC-SHA256 "):
            return self._refuse("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
        fields = dict(part.strip().split("=", 1) for part in header[len("AWS4-HMAC-SHA256 ") :].split(","))
        access_key, _date, region, service, terminator = fields["Credential"].split("/")
        key = self.iam.get(access_key)
        if key is None:
            return self._refuse(
                "UnrecognizedClientException", 403, "The security token included in the request is invalid."
            )
        if (service, terminator) != ("bedrock", "aws4_request") or region not in self.regions:
            return self._refuse(
                "InvalidSignatureException", 403, f"Credential should be scoped to a valid region, not '{region}'."
            )
        if key.token is not None and request.headers.get("X-Amz-Security-Token") != key.token:
            return self._refuse(
                "UnrecognizedClientException", 403, "The security token included in the request is invalid."
            )
        if key.expires is not None and time.time() >= key.expires:
            return self._refuse("ExpiredTokenException", 403, "The security token included in the request is expired")
        if self.verify_signatures and fields["Signature"] != self._signature(
            request, raw, key, access_key, fields["SignedHeaders"].split(";")
        ):
            return self._refuse(
                "InvalidSignatureException",
                403,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
                "Access Key and signing method. Consult the service documentation for details.",
            )
        self.signed_with.append(access_key)
        self.signed_regions.append(region)
        return None

    def _signature(self, request: web.Request, raw: bytes, key: AwsKey, access_key: str, signed: list[str]) -> str:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import ReadOnlyCredentials

        headers = {name: request.headers.get(name, "") for name in signed}
        rebuilt = AWSRequest(
            method=request.method, url=f"http://{request.host}{request.raw_path}", data=raw, headers=headers
        )
        rebuilt.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        region = request.headers.get("Authorization", "").split("Credential=", 1)[1].split("/")[2]
        signer = SigV4Auth(ReadOnlyCredentials(access_key, key.secret, key.token), "bedrock", region)
        canonical = signer.canonical_request(rebuilt)
        return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))

    def received_and_authorised(self, request: web.Request, raw: bytes, body: Any) -> web.Response | None:
        """Records a request of another part of the fake (its batch jobs) and checks its signature."""
        self.received.append(Received(request.method, request.raw_path, dict(request.headers), body))
        return self._auth_refusal(request, raw)

    @staticmethod
    def region_of(request: web.Request) -> str:
        """The region a signed request's credential scope names."""
        return request.headers.get("Authorization", "").split("Credential=", 1)[1].split("/")[2]

    def _refuse(self, name: str, status: int, message: str) -> web.Response:
        self.violations.append(f"{name}: {message}")
        return self._error(name, status, message)

    @staticmethod
    def _error(name: str, status: int, message: str) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps({"message": message}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": name + ERROR_NAMESPACE, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    # --- the operations ---------------------------------------------------------------------------------

    async def _model(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        raw_path = request.raw_path.split("?", 1)[0]
        encoded_id, _, action = raw_path[len("/model/") :].rpartition("/")
        model = unquote(encoded_id)
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        self.received.append(Received(request.method, f"/model/{model}/{action}", dict(request.headers), body))
        refusal = self._auth_refusal(request, raw)
        if refusal is not None:
            return refusal
        if "/" in encoded_id:
            return self._refuse("UnknownOperationException", 404, f"model id not encoded: {encoded_id}")
        if not isinstance(body, dict):
            return self._refuse("SerializationException", 400, "The request body is not JSON")
        problems = self._body_violations(action, model, body, request)
        if problems:
            return self._refuse("ValidationException", 400, "; ".join(problems))
        reply = self.next_reply(body, f"/model/{model}/{action}") or self._default(action, model, body)
        if reply.first_byte_delay:
            import asyncio

            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is not None:
            make = chunk_frame if action == "invoke-with-response-stream" else _converse_frame
            headers = {"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-RequestId": str(uuid.uuid4())}
            return await self.write_stream(request, reply, frame=make, headers=headers)
        payload = reply.body if reply.body is not None else orjson.dumps(reply.json)
        return web.Response(
            status=reply.status,
            body=payload,
            content_type="application/json",
            headers={"x-amzn-RequestId": str(uuid.uuid4()), **reply.headers},
        )

    async def _apply_guardrail(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        identifier, version = request.match_info["identifier"], request.match_info["version"]
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        refusal = self._auth_refusal(request, raw)
        if refusal is not None:
            return refusal
        problems = shape_violations(body, "ApplyGuardrailRequest")
        if problems:
            return self._refuse("ValidationException", 400, "; ".join(problems))
        if identifier == "slow":
            from tests.fakes.guardrail_services import until_gone

            await until_gone(request)
        if identifier == "broken":
            return self._error("InternalServerException", 500, "internal error")
        denied = self.guardrails.get((identifier, version))
        if denied is None:
            return self._error("ResourceNotFoundException", 404, f"The guardrail {identifier} was not found.")
        texts = [block["text"]["text"] for block in body["content"] if "text" in block]
        hit = [word for word in denied if any(word in text for text in texts)]
        assessment: dict[str, Any] = {}
        if hit:
            topics = [{"name": word, "type": "DENY", "action": "BLOCKED", "detected": True} for word in hit]
            assessment = {"topicPolicy": {"topics": topics}}
        return web.json_response(
            {
                "usage": {"topicPolicyUnits": len(texts), "contentPolicyUnits": 0, "wordPolicyUnits": 0},
                "action": "GUARDRAIL_INTERVENED" if hit else "NONE",
                "outputs": [{"text": "Sorry, I cannot help with that."}] if hit else [],
                "assessments": [assessment],
            }
        )

    def _body_violations(self, action: str, model: str, body: dict[str, Any], request: web.Request) -> list[str]:
        # InvokeModel's contentType "must be application/json" (its default: botocore may send none).
        if request.headers.get("Content-Type", "application/json").split(";")[0] != "application/json":
            return ["Content-Type: expected application/json"]
        if action == "converse":
            return shape_violations(body, "ConverseRequest") + _converse_rules(body)
        if action == "converse-stream":
            return shape_violations(body, "ConverseStreamRequest") + _converse_rules(body)
        if action == "count-tokens":
            problems = shape_violations(body, "CountTokensRequest")
            if problems:
                return problems
            inner = orjson.loads(base64.b64decode(body["input"]["invokeModel"]["body"]))
            return _claude_violations(inner, model, streaming=False)
        if action in ("invoke", "invoke-with-response-stream"):
            if "titan-embed" in model:
                return _titan_violations(body, model)
            if "cohere.embed" in model:
                return _cohere_violations(body)
            if ".rerank" in model:
                return _rerank_violations(body, model)
            if "anthropic." in model:
                return _claude_violations(body, model, streaming=action != "invoke")
            return [f"the fake knows no InvokeModel body for {model}"]
        return [f"unknown operation {action}"]

    def _default(self, action: str, model: str, body: dict[str, Any]) -> Reply:
        if action == "converse":
            return Reply(json=converse_response())
        if action == "converse-stream":
            return Reply(stream=converse_text_events(["Hello", " from", " Bedrock!"]))
        if action == "count-tokens":
            return Reply(json={"inputTokens": 42})
        if "titan-embed" in model:
            size = int(body.get("dimensions", 1024 if "v2" in model else 1536))
            vector = [round(((len(body["inputText"]) + i) % 7) / 7, 3) for i in range(size)]
            return Reply(json={"embedding": vector, "inputTextTokenCount": len(body["inputText"].split())})
        if ".rerank" in model:  # a document's score: the share of the query's words it holds
            words = set(body["query"].split())
            scores = [len(words & set(text.split())) / len(words) for text in body["documents"]]
            ranked = sorted(range(len(scores)), key=lambda index: -scores[index])[: body.get("top_n")]
            results = [{"index": index, "relevance_score": scores[index]} for index in ranked]
            return Reply(json={"id": str(uuid.uuid4()), "results": results})
        if "cohere.embed" in model:
            vectors = [[round(((len(text) + i) % 5) / 5, 3) for i in range(1024)] for text in body["texts"]]
            tokens = sum(len(text.split()) for text in body["texts"])
            return Reply(
                json={
                    "id": str(uuid.uuid4()),
                    "embeddings": vectors,
                    "texts": body["texts"],
                    "response_type": "embeddings_floats",
                },
                headers={"X-Amzn-Bedrock-Input-Token-Count": str(tokens)},
            )
        name = model.split("anthropic.", 1)[-1]
        if action == "invoke":
            return Reply(json=claude_message("Hello from Claude on Bedrock!", model=name))
        from tests.fakes.anthropic_upstream import text_events

        return Reply(stream=text_events(["Hello", " from", " Claude!"], model=name))  # type: ignore[arg-type]


def _converse_rules(body: dict[str, Any]) -> list[str]:
    """What Converse refuses beyond the shapes: turns must alternate starting with the user, tool
    blocks need a toolConfig, every toolUse needs its toolResult in the next user turn."""
    out: list[str] = []
    messages = body.get("messages") or []
    roles = [message.get("role") for message in messages]
    if roles and roles[0] != "user":
        out.append("A conversation must start with a user message.")
    if any(a == b for a, b in itertools.pairwise(roles)):
        out.append("A conversation must alternate between user and assistant roles.")
    has_tools = any("toolUse" in block or "toolResult" in block for m in messages for block in m.get("content") or ())
    if has_tools and "toolConfig" not in body:
        out.append("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        uses = {block["toolUse"]["toolUseId"] for block in message.get("content") or () if "toolUse" in block}
        if not uses:
            continue
        following = messages[index + 1]["content"] if index + 1 < len(messages) else []
        results = {block["toolResult"]["toolUseId"] for block in following if "toolResult" in block}
        if uses - results and index + 1 < len(messages):
            out.append(f"messages.{index + 1}: toolResult blocks missing for {sorted(uses - results)}")
    for message in messages:
        for block in message.get("content") or ():
            if "text" in block and not block["text"].strip() and message.get("role") == "user":
                out.append("The text field in the ContentBlock object is blank.")
    return out


def _claude_violations(body: dict[str, Any], model: str, *, streaming: bool) -> list[str]:
    out = []
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        out.append("anthropic_version: expected bedrock-2023-05-31")
    for key in ("model", "stream"):
        if key in body:
            out.append(f"{key}: Extra inputs are not permitted")
    beta = body.get("anthropic_beta")
    if beta is not None and not (isinstance(beta, list) and all(isinstance(item, str) for item in beta)):
        out.append("anthropic_beta: expected a list of strings")
    rest = {
        key: value
        for key, value in body.items()
        if key not in ("anthropic_version", "anthropic_beta", "model", "stream")
    }
    rest["model"] = model.rsplit("/", 1)[-1].split("anthropic.", 1)[-1]
    if streaming:
        rest["stream"] = True
    return out + anthropic_violations(rest, beta=bool(beta))


def _titan_violations(body: dict[str, Any], model: str) -> list[str]:
    allowed = {"inputText", "dimensions", "normalize", "embeddingTypes"} if "v2" in model else {"inputText"}
    out = [f"{key}: extraneous key [{key}] is not permitted" for key in body if key not in allowed]
    if not isinstance(body.get("inputText"), str) or not body["inputText"]:
        out.append("inputText: required, a non-empty string")
    if "dimensions" in body and body["dimensions"] not in (256, 512, 1024):
        out.append("dimensions: must be 256, 512 or 1024")
    return out


def _rerank_violations(body: dict[str, Any], model: str) -> list[str]:
    """Cohere Rerank 3.5's InvokeModel body (`api_version` 2 required), or Amazon Rerank's."""
    cohere = "cohere.rerank" in model
    allowed = {"query", "documents", "top_n", *(("api_version", "max_tokens_per_doc") if cohere else ())}
    out = [f"{key}: extraneous key [{key}] is not permitted" for key in body if key not in allowed]
    if cohere and body.get("api_version") != 2:
        out.append("api_version: required, 2")
    if not isinstance(body.get("query"), str) or not isinstance(body.get("documents"), list):
        out.append("query and documents are required")
    return out


def _cohere_violations(body: dict[str, Any]) -> list[str]:
    allowed = {
        "texts",
        "images",
        "input_type",
        "truncate",
        "embedding_types",
        "output_dimension",
        "max_tokens",
        "inputs",
    }
    out = [f"{key}: extraneous key [{key}] is not permitted" for key in body if key not in allowed]
    texts = body.get("texts")
    if not isinstance(texts, list) or not 1 <= len(texts) <= 96:
        out.append("texts: 1 to 96 strings")
    if body.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
        out.append("input_type: required, one of search_document, search_query, classification, clustering")
    return out


def claude_body_violations(body: dict[str, Any], model: str) -> list[str]:
    """What InvokeModel refuses in a Claude body (a batch record's `modelInput`)."""
    return _claude_violations(body, model, streaming=False)


def converse_body_violations(body: dict[str, Any]) -> list[str]:
    """What Converse refuses in its body (a batch record's `modelInput`)."""
    return shape_violations(body, "ConverseRequest") + _converse_rules(body)
