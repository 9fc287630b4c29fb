"""A batch line as its door reads and answers it, for the lines a provider's own batch API runs: a chat
completions line with the chat frontend's codec, a Messages line (the Anthropic door's batches) with the Messages
frontend's; each decoded into the canonical request and prepared for the deployment as the door's translated road
prepares it, and each canonical answer or error encoded in the door's own shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate import tool_ids
from babelgate.errors import GatewayError
from babelgate.frontends.anthropic_messages import wire as messages_wire
from babelgate.frontends.anthropic_messages.translate import decode_request, encode_response
from babelgate.frontends.anthropic_messages.translate import encode_error as messages_error
from babelgate.frontends.openai_errors import encode_error as openai_error
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.frontends.prepare import prepared_request, supported_tools
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.translate import request_from_wire, response_to_wire
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

CHAT_URL: Final = "/v1/chat/completions"
MESSAGES_URL: Final = "/v1/messages"


@dataclass(frozen=True, slots=True)
class LineCodec:
    route: str  # the route's name, for the ledger

    def takes(self, body: dict[str, Any]) -> bool:
        """Whether a provider batch can run the line at all (the gateway runs what it cannot)."""
        return True

    def end_user(self, body: dict[str, Any]) -> Any:
        """What the line names as its end customer, where the door's interactive route reads it (its budgets)."""
        return body.get("user")

    async def request(self, runtime: Runtime, body: dict[str, Any], deployment: Deployment) -> ChatRequest:
        raise NotImplementedError

    def answer(self, response: ChatResponse, deployment: Deployment) -> bytes:
        raise NotImplementedError

    def error(self, error: GatewayError) -> bytes:
        raise NotImplementedError


class _Chat(LineCodec):
    async def request(self, runtime: Runtime, body: dict[str, Any], deployment: Deployment) -> ChatRequest:
        wire = dict(body)
        wire.pop("stream", None)
        deployment.apply_to_body(wire)
        validate_chat_body(wire)
        request = supported_tools(request_from_wire(wire), deployment, CallNotes())
        if not deployment.provider.capabilities.signed_tool_ids:
            request = tool_ids.strip_request(request)
        return request

    def answer(self, response: ChatResponse, deployment: Deployment) -> bytes:
        return orjson.dumps(response_to_wire(response))

    def error(self, error: GatewayError) -> bytes:
        return openai_error(error, "en")


class _Messages(LineCodec):
    def takes(self, body: dict[str, Any]) -> bool:
        return not body.get("mcp_servers")  # the MCP connector's tools are run by the gateway, turn by turn

    def end_user(self, body: dict[str, Any]) -> Any:
        metadata = body.get("metadata")
        return metadata.get("user_id") if isinstance(metadata, dict) else None

    async def request(self, runtime: Runtime, body: dict[str, Any], deployment: Deployment) -> ChatRequest:
        notes = CallNotes()
        decoded = decode_request(body, adjusted=notes.adjusted)
        return await prepared_request(runtime, deployment, decoded, stream=False, context=None, notes=notes)

    def answer(self, response: ChatResponse, deployment: Deployment) -> bytes:
        provider = deployment.provider.name
        message_id = messages_wire.new_id()
        return orjson.dumps(
            encode_response(response, message_id=message_id, model=deployment.public_name, provider=provider)
        )

    def error(self, error: GatewayError) -> bytes:
        return messages_error(error, "en")


CODECS: Final[dict[str, LineCodec]] = {CHAT_URL: _Chat("chat.completions"), MESSAGES_URL: _Messages("messages")}
