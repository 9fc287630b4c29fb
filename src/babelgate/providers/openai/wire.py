"""The OpenAI Chat Completions wire shapes we parse (OAI `CreateChatCompletionResponse` et al.),
and the paths of the other endpoints we relay to (Responses, embeddings, legacy completions).

Only the fields the gateway reads are typed; everything else is carried through untouched.
"""

from __future__ import annotations

from typing import Any, Final, NotRequired, TypedDict

CHAT_PATH: Final = "/chat/completions"
RESPONSES_PATH: Final = "/responses"
EMBEDDINGS_PATH: Final = "/embeddings"
COMPLETIONS_PATH: Final = "/completions"  # legacy completions (OAI `CreateCompletionRequest`)
MODELS_PATH: Final = "/models"
MODERATIONS_PATH: Final = "/moderations"
RERANK_PATH: Final = "/rerank"  # vLLM, Jina, Voyage, Infinity: beside `/embeddings` (not OpenAI's own API)
DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"


class WireToolCall(TypedDict):
    id: str
    type: str
    function: dict[str, Any]


class WireMessage(TypedDict, total=False):
    role: str
    content: str | list[dict[str, Any]] | None
    tool_calls: list[WireToolCall]
    refusal: str | None
    reasoning_content: str | None
    audio: dict[str, Any] | None


class WireChoice(TypedDict):
    index: int
    message: WireMessage
    finish_reason: str | None
    logprobs: NotRequired[dict[str, Any] | None]


class WireUsage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, Any] | None
    completion_tokens_details: dict[str, Any] | None


class WireResponse(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: list[WireChoice]
    usage: NotRequired[WireUsage | None]
    system_fingerprint: NotRequired[str | None]


class WireError(TypedDict, total=False):
    message: str
    type: str
    param: str | None
    code: str | int | None
