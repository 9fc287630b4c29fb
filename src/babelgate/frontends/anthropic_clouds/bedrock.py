"""Bedrock's InvokeModel door (Claude Code with `CLAUDE_CODE_USE_BEDROCK=1`, the `AnthropicBedrock` client):
`POST /model/{modelId}/invoke` (the Messages answer as JSON), `/model/{modelId}/invoke-with-response-stream`
(an AWS event stream whose `chunk` events each carry one Anthropic stream event, base64 in `bytes`) and
`/model/{modelId}/count-tokens` (CountTokens of an InvokeModel body, which Claude Code asks: the Converse door's
route hands it here), every
model of the gateway by its name as `{modelId}` (percent-encoded slashes and all: the SDKs quote it). The body
is Anthropic's Messages body in Bedrock's envelope (envelope.py); the Messages frontend serves it on either
road, and this module only reframes its answers and errors the way Bedrock writes them.

Errors are Bedrock's: `{"message": …}` with the error's name in `x-amzn-ErrorType`, and inside a stream that
already began an exception message (`:exception-type`). Claude Code also asks the control plane's
`GET /inference-profiles` on the same base URL at start: the Converse door answers it.

A caller authenticates as on every route: a gateway key as a bearer token (`AWS_BEARER_TOKEN_BEDROCK`), or in
`x-api-key` (`ANTHROPIC_CUSTOM_HEADERS`, with `CLAUDE_CODE_SKIP_BEDROCK_AUTH=1`), or a SigV4 signature by a
virtual key's AWS-style credentials (an access key id `BGAK…`: boto3 with `aws_access_key_id` and
`aws_secret_access_key`), checked where keys are (pipeline.identify, governance/sigv4.py) and refused as AWS
refuses one (403, `UnrecognizedClientException` or `InvalidSignatureException`). A signature by any other AWS
credentials proves knowledge of a secret the gateway does not have, so it cannot be verified: a request carrying
only one is refused (401, `UnrecognizedClientException`, saying how to send a key); beside a key it is ignored.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import eventstream
from babelgate.answer import Answer
from babelgate.errors import GatewayError, InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.anthropic_clouds.envelope import ENVELOPE_BODY, messages_body
from babelgate.frontends.anthropic_messages.routes import serve_count, serve_message
from babelgate.frontends.bedrock_model_ids import public_model
from babelgate.frontends.route import Frontend, Operation, PrefixRoute
from babelgate.i18n import render_message
from babelgate.model_call import ModelCall
from babelgate.streaming import SSEDecoder, parse_frame

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

INVOKE: Final = "/invoke"
INVOKE_STREAM: Final = "/invoke-with-response-stream"
# What an InvokeModel body may hold that a token count does not take (Anthropic's count_tokens refuses them).
_NOT_COUNTED: Final = ("max_tokens", "stream", "temperature", "top_p", "top_k", "stop_sequences", "metadata")
EVENT_STREAM_TYPE: Final = (b"content-type", b"application/vnd.amazon.eventstream")
ERROR_TYPE_HEADER: Final = b"x-amzn-errortype"

# The error's name by status (BRT's error shapes and the AWS front door's): what botocore and the SDKs read.
ERROR_NAMES: Final[dict[int, str]] = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    405: "ValidationException",
    408: "ModelTimeoutException",
    409: "ConflictException",
    413: "ValidationException",
    422: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    502: "ModelErrorException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
# Inside a stream the same errors are the ResponseStream's members (lowerCamelCase); a failure of the model
# mid-stream is `modelStreamErrorException`.
STREAM_ERROR_NAMES: Final[dict[int, str]] = {
    400: "validationException",
    408: "modelTimeoutException",
    429: "throttlingException",
    503: "serviceUnavailableException",
    504: "modelTimeoutException",
}


# A refused signature's own name, by its code (errors.SignatureRefused), as AWS names it.
SIGNATURE_ERROR_NAMES: Final[dict[str, str]] = {
    "unrecognized_client": "UnrecognizedClientException",
    "invalid_signature": "InvalidSignatureException",
}


def error_name(status: int) -> str:
    return ERROR_NAMES.get(status, "ValidationException" if status < 500 else "InternalServerException")


def encode_error(error: GatewayError, language: str) -> bytes:
    """Bedrock's error body; its name goes in `x-amzn-ErrorType` (error_headers)."""
    if error.message_key == "invalid_api_key" and error.raw_message is None:
        error = GatewayError("bedrock_invalid_api_key")  # names the ways a Bedrock client can send a key
    return orjson.dumps({"message": render_message(error, language)})


def error_headers(error: GatewayError) -> list[tuple[bytes, bytes]]:
    name = SIGNATURE_ERROR_NAMES.get(error.code or "") if error.status == 403 else None
    return [(ERROR_TYPE_HEADER, (name or error_name(error.status)).encode())]


def encode_stream_error(error: GatewayError, language: str) -> bytes:
    """The exception message that ends a stream which already began (the SDKs raise it as an error)."""
    name = STREAM_ERROR_NAMES.get(error.status, "modelStreamErrorException" if error.status >= 500 else "")
    return eventstream.exception(name or "validationException", render_message(error, language))


async def model_action(runtime: Runtime, exchange: Exchange, rest: str) -> ModelCall:
    """`{modelId}/invoke` or `/invoke-with-response-stream` under `/model/`; `{modelId}` is the gateway's model name
    (the server decoded the path: `openai%2Fgpt-4o` is `openai/gpt-4o`), or a Bedrock model id, inference profile id
    or ARN of one that frontends/bedrock_model_ids.py resolves to one. `/count-tokens`, which takes either door's
    input, is the Converse door's route (frontends/bedrock_converse/door.py), which hands InvokeModel inputs to
    `count_invoke`."""
    ends = (INVOKE_STREAM, INVOKE)
    suffix = next((end for end in ends if rest.endswith(end) and len(rest) > len(end)), None)
    if suffix is None:
        raise NotFound(method=exchange.scope["method"], path=exchange.scope["path"])
    stream = suffix == INVOKE_STREAM
    if exchange.scope["method"] != "POST":
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    exchange.call.route = "bedrock.invoke_stream" if stream else "bedrock.invoke"
    model = public_model(runtime.registry, rest[: -len(suffix)])
    raw = messages_body(await exchange.read_body(runtime.max_body_bytes), model, stream=stream)
    return await serve_message(runtime, exchange, raw, reframe=as_event_stream)


async def count_invoke(runtime: Runtime, exchange: Exchange, model: str, request: dict[str, Any]) -> ModelCall:
    """Bedrock's CountTokens of an InvokeModel body (Claude Code asks it for Claude's counts in Bedrock mode):
    `{"input": {"invokeModel": {"body": <the InvokeModel body, base64>}}}` (`request`) → `{"inputTokens": n}`,
    the Messages frontend's count."""
    given = request.get("input")
    invoke = given.get("invokeModel") if isinstance(given, dict) else None
    encoded = invoke.get("body") if isinstance(invoke, dict) else None
    if not isinstance(encoded, str):
        raise InvalidRequest("missing_field", param="input.invokeModel.body")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise InvalidRequest("wrong_type", param="input.invokeModel.body", expected="base64") from None
    body = orjson.loads(messages_body(raw, model, stream=False))
    for name in _NOT_COUNTED:
        body.pop(name, None)
    return await serve_count(runtime, exchange, orjson.dumps(body), reframe=_input_tokens)


def _input_tokens(answer: Answer) -> Answer:
    counted = orjson.loads(answer.body)
    return Answer(orjson.dumps({"inputTokens": counted["input_tokens"]}), answer.notes, headers=answer.headers)


def as_event_stream(answer: Answer) -> Answer:
    """A streamed Messages answer (Anthropic's SSE, on either road) as InvokeModelWithResponseStream's event
    stream: each event one `chunk`, pings left out (Bedrock sends none). A whole answer is Bedrock's as it is."""
    if answer.rest is None:
        return answer
    framer = _ChunkFramer()
    return Answer(
        framer.feed(answer.body),
        answer.notes,
        status=answer.status,
        content_type=EVENT_STREAM_TYPE,
        headers=answer.headers,
        rest=framer.frames(answer.rest),
        on_error=encode_stream_error,
    )


class _ChunkFramer:
    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, data: bytes) -> bytes:
        out = []
        for frame in self._decoder.feed_frames(data):
            event = parse_frame(frame)
            if event is None or event.event == "ping" or not event.data:
                continue
            out.append(eventstream.chunk(event.data.encode()))
        return b"".join(out)

    async def frames(self, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async with contextlib.aclosing(rest):  # type: ignore[type-var]
            async for data in rest:
                framed = self.feed(data)
                if framed:
                    yield framed


_INVOKE_OPERATIONS: Final = {
    INVOKE: (Operation("POST", body=ENVELOPE_BODY),),
    INVOKE_STREAM: (Operation("POST", body=ENVELOPE_BODY, streams="application/vnd.amazon.eventstream"),),
}
PREFIX_ROUTES: Final = (
    PrefixRoute(
        "/model/",
        "bedrock",
        model_action,
        False,
        "modelId",
        _INVOKE_OPERATIONS,
        errors=encode_error,
        names_model=True,
        error_headers=error_headers,
    ),
)

FRONTEND: Final[Frontend] = Frontend(
    routes={},
    prefix_routes=PREFIX_ROUTES,
    error_prefix=("/model/", encode_error),
    operations={"bedrock.invoke": "chat", "bedrock.invoke_stream": "chat"},
)
