"""Bedrock's Converse API as a door (boto3's `bedrock-runtime` `converse` / `converse_stream`, Strands Agents,
LangChain's `ChatBedrockConverse`): `POST /model/{modelId}/converse` (the ConverseResponse as JSON),
`/model/{modelId}/converse-stream` (ConverseStream's events in the AWS event stream) and
`/model/{modelId}/count-tokens` with a `converse` input (one with an `invokeModel` input is the InvokeModel door's
count); and the control plane's listings, `GET /foundation-models` and `GET /inference-profiles`, of the gateway's
models. `{modelId}` is a public model name (the SDKs percent-encode its slashes; the server decoded them), a
Bedrock model or inference profile id, or an ARN of one (`arn:aws:bedrock:…:foundation-model/openai/gpt-4o`):
frontends/bedrock_model_ids.py finds the public model each names, for this door and the InvokeModel door alike.

Its handlers (door.py) load at the door's first request (frontends/later.py); paths, bodies and errors are
declared here. Two roads, chosen per model, as on the other doors that speak a provider's API: a provider that
relays "converse" (Bedrock) gets the client's body (native.py); every other model gets it decoded into the
canonical chat request (translate.py), prepared as every door's is, and its answer encoded back (answers.py,
stream.py). A stream the guardrails read is SSE until they have, and the event stream after
(stream.as_event_stream); any other is written as the event stream at once.

Errors, authentication and the ARN-free error prefix are the InvokeModel door's (frontends/anthropic_clouds/
bedrock.py): Bedrock's `{"message"}` with the exception's name in `x-amzn-ErrorType`, a gateway key as the bearer
token (`AWS_BEARER_TOKEN_BEDROCK`) or in `x-api-key`.
"""

from __future__ import annotations

from typing import Final

from babelgate.frontends.anthropic_clouds import bedrock
from babelgate.frontends.body_schema import OBJECT, array, obj
from babelgate.frontends.later import later, later_prefix
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route

_DOOR: Final = "babelgate.frontends.bedrock_converse.door"
CONVERSE: Final = "/converse"
CONVERSE_STREAM: Final = "/converse-stream"
COUNT_TOKENS: Final = "/count-tokens"
ENDS: Final = (CONVERSE_STREAM, CONVERSE, COUNT_TOKENS)


def _claims(method: str, rest: str) -> bool:
    """Under `/model/`: the Converse actions and the token count (which reads either input)."""
    return any(rest.endswith(end) and len(rest) > len(end) for end in ENDS)


# -- what /openapi.json says ---------------------------------------------------------------------

_BLOCKS: Final = array(OBJECT)
CONVERSE_BODY: Final = obj(
    ("messages",),
    properties={
        "messages": array(obj(("role", "content"), strings=("role",), properties={"content": _BLOCKS})),
        "system": _BLOCKS,
        "inferenceConfig": OBJECT,
        "toolConfig": OBJECT,
        "additionalModelRequestFields": OBJECT,
        "guardrailConfig": OBJECT,
        "requestMetadata": OBJECT,
        "performanceConfig": OBJECT,
        "outputConfig": OBJECT,
    },
)
COUNT_TOKENS_BODY: Final = obj(
    ("input",),
    properties={
        "input": obj((), properties={"converse": CONVERSE_BODY, "invokeModel": obj(("body",), strings=("body",))})
    },
)
_OPERATIONS: Final = {
    CONVERSE: (Operation("POST", body=CONVERSE_BODY),),
    CONVERSE_STREAM: (Operation("POST", body=CONVERSE_BODY, streams="application/vnd.amazon.eventstream"),),
    COUNT_TOKENS: (Operation("POST", body=COUNT_TOKENS_BODY),),
}
PREFIX_ROUTES: Final = (
    PrefixRoute(
        "/model/",
        "bedrock.converse",
        later_prefix(_DOOR, "model_action"),
        False,
        "modelId",
        _OPERATIONS,
        errors=bedrock.encode_error,
        claims=_claims,
        names_model=True,
        error_headers=bedrock.error_headers,
    ),
)
ROUTES: Final = {
    "/foundation-models": Route(
        "GET", later(_DOOR, "foundation_models"), "bedrock.foundation_models", errors=bedrock.encode_error
    ),
    "/inference-profiles": Route(
        "GET",
        later(_DOOR, "inference_profiles"),
        "bedrock.inference_profiles",
        public=True,
        errors=bedrock.encode_error,
    ),
}

FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES,
    prefix_routes=PREFIX_ROUTES,
    operations={"bedrock.converse": "chat", "bedrock.converse_stream": "chat"},
)
