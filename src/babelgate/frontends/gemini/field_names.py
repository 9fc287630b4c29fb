"""Both spellings of every Gemini API field: Google parses request JSON the protobuf way, where
`parametersJsonSchema` and `parameters_json_schema` are one field, and its SDKs send either (google-genai
sends `functionDeclarations[].parameters_json_schema`). `camel_case` renames the snake_case keys of the
request's known messages to the camelCase the frontend reads, in place, walking only the messages: the keys
inside user data (a JSON schema's property names, a function call's `args`, a function's `response`, a
`Struct`) are the caller's and are never touched.
"""

from __future__ import annotations

import re
from typing import Any, Final

# A message: its fields (camelCase) → what each holds: another message, `Each` of them (a list, or a map
# whose keys are the caller's), or `LEAF` (a scalar, or user data never walked).
Message = dict[str, Any]
LEAF: Final = None


class Each:
    """A repeated field (or, `keyed`, a map whose keys are the caller's): every item (value) is a `message`."""

    __slots__ = ("keyed", "message")

    def __init__(self, message: Message, *, keyed: bool = False) -> None:
        self.message = message
        self.keyed = keyed


def _fields(*names: str, **nested: Any) -> Message:
    return {**dict.fromkeys(names, LEAF), **nested}


_BLOB: Final = _fields("mimeType", "data", "displayName")
_FILE: Final = _fields("mimeType", "fileUri", "displayName")
_FUNCTION_RESPONSE_PART: Final = _fields(inlineData=_BLOB, fileData=_FILE)
PART: Final = _fields(
    "text",
    "thought",
    "thoughtSignature",
    "partMetadata",  # a Struct: the caller's keys
    "mediaResolution",
    "toolCall",
    "toolResponse",
    inlineData=_BLOB,
    fileData=_FILE,
    functionCall=_fields("id", "name", "args", "willContinue", "partialArgs"),  # `args`: the model's object
    functionResponse=_fields(
        "id", "name", "response", "willContinue", "scheduling", parts=Each(_FUNCTION_RESPONSE_PART)
    ),
    executableCode=_fields("id", "language", "code"),
    codeExecutionResult=_fields("id", "outcome", "output"),
    videoMetadata=_fields("startOffset", "endOffset", "fps"),
)
CONTENT: Final = _fields("role", parts=Each(PART))
# Google's OpenAPI subset: `properties` is a map whose keys are the caller's, `example` and `default` values.
SCHEMA: Final = _fields(
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "propertyOrdering",
    "default",
    "minimum",
    "maximum",
)
SCHEMA.update(properties=Each(SCHEMA, keyed=True), anyOf=Each(SCHEMA), items=SCHEMA)
FUNCTION_DECLARATION: Final = _fields(
    "name",
    "description",
    "behavior",
    "parametersJsonSchema",  # JSON Schema: the caller's
    "responseJsonSchema",
    parameters=SCHEMA,
    response=SCHEMA,
)
TOOL: Final = _fields(
    "retrieval",
    "computerUse",
    "fileSearch",
    "googleMaps",
    "enterpriseWebSearch",
    "mcpServers",
    functionDeclarations=Each(FUNCTION_DECLARATION),
    googleSearch=_fields("excludeDomains", timeRangeFilter=_fields("startTime", "endTime")),
    googleSearchRetrieval=_fields(dynamicRetrievalConfig=_fields("mode", "dynamicThreshold")),
    codeExecution=_fields(),
    urlContext=_fields(),
)
TOOL_CONFIG: Final = _fields(
    "includeServerSideToolInvocations",
    functionCallingConfig=_fields("mode", "allowedFunctionNames", "streamFunctionCallArguments"),
    retrievalConfig=_fields("languageCode", latLng=_fields("latitude", "longitude")),
)
GENERATION_CONFIG: Final = _fields(
    "stopSequences",
    "responseMimeType",
    "responseJsonSchema",  # JSON Schema: the caller's
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "imageConfig",
    "mediaResolution",
    "routingConfig",
    "audioTimestamp",
    "enableAffectiveDialog",
    responseSchema=SCHEMA,
    thinkingConfig=_fields("includeThoughts", "thinkingBudget", "thinkingLevel"),
)
GENERATE_CONTENT_REQUEST: Final = _fields(
    "model",
    "cachedContent",
    "labels",  # the caller's keys
    "serviceTier",
    "store",
    contents=Each(CONTENT),
    systemInstruction=CONTENT,
    tools=Each(TOOL),
    toolConfig=TOOL_CONFIG,
    safetySettings=Each(_fields("category", "threshold", "method")),
    generationConfig=GENERATION_CONFIG,
)
# countTokens takes the generateContent fields at the top level or inside `generateContentRequest`.
COUNT_TOKENS_REQUEST: Final = {**GENERATE_CONTENT_REQUEST, "generateContentRequest": GENERATE_CONTENT_REQUEST}
EMBED_CONTENT_REQUEST: Final = _fields("model", "taskType", "title", "outputDimensionality", content=CONTENT)
BATCH_EMBED_REQUEST: Final = _fields(requests=Each(EMBED_CONTENT_REQUEST))
# Vertex AI's: the options in an `embedContentConfig` (vertex.py).
_EMBED_CONFIG: Final = _fields("taskType", "title", "outputDimensionality", "autoTruncate")
VERTEX_EMBED_REQUEST: Final = _fields(content=CONTENT, embedContentConfig=_EMBED_CONFIG)
VERTEX_BATCH_EMBED_REQUEST: Final = _fields(requests=Each(VERTEX_EMBED_REQUEST))


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda upper: "_" + upper.group(1).lower(), name)


def _snake_names(message: Message, seen: set[int], out: set[str]) -> set[str]:
    if id(message) in seen:
        return out
    seen.add(id(message))
    for name, held in message.items():
        if any(letter.isupper() for letter in name):
            out.add(_snake(name))
        if isinstance(held, Each):
            held = held.message
        if held is not LEAF:
            _snake_names(held, seen, out)
    return out


def _snake_to_camel(message: Message, seen: set[int], out: dict[str, str]) -> dict[str, str]:
    for name in _snake_names(message, seen, set()):
        head, *rest = name.split("_")
        out[name] = head + "".join(word[:1].upper() + word[1:] for word in rest)
    return out


# Every snake_case spelling of a known field → its camelCase name; and a search of the body's bytes for any of
# them as a key, so that a body written in camelCase (what the SDKs mostly send) is never walked.
CAMEL: Final = _snake_to_camel(
    {**COUNT_TOKENS_REQUEST, **BATCH_EMBED_REQUEST, **EMBED_CONTENT_REQUEST, **VERTEX_EMBED_REQUEST}, set(), {}
)


def _branches(names: list[str]) -> str:
    """`names` as one regular expression whose alternatives branch letter by letter: the engine tries the
    alternatives one after another at each quote of the body, and a flat list of eighty names made the search
    cost a third of parsing the body."""
    by_head: dict[str, list[str]] = {}
    for name in names:
        by_head.setdefault(name[0], []).append(name[1:])
    out = []
    for head, tails in sorted(by_head.items()):
        rest = [tail for tail in tails if tail]
        if not rest:
            out.append(re.escape(head))
        elif len(tails) == 1:
            out.append(re.escape(head + rest[0]))
        else:
            out.append(f"{re.escape(head)}(?:{_branches(rest)}){'?' if len(rest) < len(tails) else ''}")
    return "|".join(out)


_ANY_SNAKE: Final = re.compile(f'"(?:{_branches(sorted(CAMEL))})"\\s*:'.encode())


def camel_case(body: dict[str, Any], message: Message, *, raw: bytes) -> None:
    """Rename, in place, the snake_case fields of `body` (a request of the shape `message`) and of the messages
    inside it. A field spelled both ways keeps its camelCase value (the snake_case one stays, unknown)."""
    if _ANY_SNAKE.search(raw) is not None:
        _walk(body, message)


def _walk(value: Any, message: Message) -> None:
    if value.__class__ is not dict:
        return
    if any(CAMEL.get(name) in message for name in value if "_" in name):
        renamed = {_camel(name, value, message): item for name, item in value.items()}
        value.clear()
        value.update(renamed)  # in the order the caller wrote, as a camelCase body would be read
    for name, item in value.items():
        held = message.get(name, LEAF)
        if held is LEAF:
            continue
        if held.__class__ is not Each:
            _walk(item, held)
        elif held.keyed:
            for each in item.values() if item.__class__ is dict else ():
                _walk(each, held.message)
        elif item.__class__ is list:
            for each in item:
                _walk(each, held.message)
        else:
            _walk(item, held.message)  # one item where a list goes (the API takes one Content for `contents`)


def _camel(name: str, value: dict[str, Any], message: Message) -> str:
    camel = CAMEL.get(name) if "_" in name else None
    return camel if camel is not None and camel in message and camel not in value else name
