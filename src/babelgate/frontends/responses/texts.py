"""Where a Responses request's and answer's texts are, for the guardrails (guardrails/paths.py): the
instructions and the input's messages, function calls and their outputs; the output's text and function calls;
in a stream, the deltas, and the whole texts its `done` events and its closing response repeat."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from babelgate.guardrails.paths import TextPaths, paths

TEXTS: Final = TextPaths(
    input=paths(
        "instructions",
        "input",
        "input.*.content",
        "input.*.content.*.text",
        "input.*.arguments",
        "input.*.output",
    ),
    output=paths("output.*.content.*.text", "output.*.content.*.refusal", "output.*.arguments"),
    pieces=paths("delta"),
    wholes=paths(
        "text",
        "refusal",
        "arguments",
        "part.text",
        "item.content.*.text",
        "item.arguments",
        "response.output.*.content.*.text",
        "response.output.*.arguments",
    ),
)
# The WebSocket mode: the same events, one a message.
MESSAGE_TEXTS: Final = replace(TEXTS, framing="message")
