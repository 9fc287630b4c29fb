"""Where an Ollama request's and answer's texts are, for the guardrails (guardrails/paths.py)."""

from __future__ import annotations

from typing import Final

from babelgate.guardrails.paths import TextPaths, paths

# Where a conversation's texts are, for the guardrails: the messages (tool calls' arguments too) or the prompt and
# system prompt; in the answer and each line of its stream, the message or the response.
TEXTS: Final = TextPaths(
    input=paths("messages.*.content", "messages.*.tool_calls.*.function.arguments.**", "prompt", "system"),
    output=paths("message.content", "message.tool_calls.*.function.arguments.**", "response"),
    pieces=paths("message.content", "response"),
    framing="ndjson",
)
