"""A Converse request → the canonical chat request it means (pure), checked as it is read.

Converse is Anthropic's Messages with its blocks renamed, which is how the Bedrock provider speaks it
(providers/bedrock/translate_blocks.py renames Messages blocks into Converse's). This door reads it the other way:
each Converse block is renamed back into the Messages block it is, the request's other fields into the Messages
fields of the same meaning, and the Messages frontend's decoder (`chat_request`) makes the canonical request: one
decoder of conversations, tool results and reasoning, two wire formats.

What Converse says that has no Messages field: `inferenceConfig` (maxTokens, temperature, topP, stopSequences
are Messages' own), `additionalModelRequestFields` (a target model's own fields: `top_k` and Nova's
`inferenceConfig.topK`, Claude's `thinking` and `output_config`, Nova's `reasoningConfig` carry; any other is
dropped and reported), `requestMetadata` (the request's metadata), `outputConfig.textFormat` (a JSON schema).
Cache points, `performanceConfig`, `serviceTier`, `promptVariables` and `additionalModelResponseFieldPaths`
change nothing a translated road can keep: dropped and reported (`x-babelgate-adjusted-params`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages.translate import chat_request
from babelgate.frontends.anthropic_messages.translate_content import Shaping
from babelgate.frontends.openai_validation import INTEGER_RANGES, expect_number, expect_object
from babelgate.providers.bedrock.wire import DOCUMENT_FORMATS, IMAGE_FORMATS
from babelgate.schema.chat import ChatRequest

JSON = dict[str, Any]

# Converse's image and document formats → media types: the Bedrock provider's tables, read the other way.
IMAGE_TYPES: Final = {image_format: media for media, image_format in IMAGE_FORMATS.items() if media != "image/jpg"}
DOCUMENT_TYPES: Final = {document_format: media for media, document_format in DOCUMENT_FORMATS.items()}
# Documents a model reads as text: their bytes are UTF-8 text, given to the model as a text document.
TEXT_DOCUMENTS: Final = frozenset({"txt", "md", "csv", "html"})
# Fields read below; any other with a value is dropped and reported.
_READ: Final = frozenset(
    {
        "modelId",
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "additionalModelRequestFields",
        "requestMetadata",
        "outputConfig",
        "guardrailConfig",  # the door's (routes.py): a gateway guardrail of that name, or reported
    }
)
# additionalModelRequestFields that are a Messages field of the same name.
_MESSAGES_FIELDS: Final = ("top_k", "thinking", "output_config")
# Nova's reasoningConfig.maxReasoningEffort → a Messages adaptive effort.
_NOVA_EFFORTS: Final = frozenset({"low", "medium", "high"})


def decode_request(body: JSON, model: str, *, adjusted: list[str], count: bool = False) -> ChatRequest:
    """A Converse body (or CountTokens' `converse` input, `count`) → the chat request; what it drops is appended
    to `adjusted`."""
    shaping = Shaping(adjusted)
    messages: JSON = {"model": model, "messages": _messages(body.get("messages"), shaping)}
    system = body.get("system")
    if system is not None:
        messages["system"] = _system(system, shaping)
    config = body.get("inferenceConfig")
    max_tokens = None
    if config is not None:
        max_tokens = _inference(expect_object(config, "inferenceConfig"), messages, shaping)
    tools = body.get("toolConfig")
    if tools is not None:
        _tools(expect_object(tools, "toolConfig"), messages, shaping)
    additional = body.get("additionalModelRequestFields")
    if additional is not None:
        _additional(expect_object(additional, "additionalModelRequestFields"), messages, shaping)
    output = body.get("outputConfig")
    if output is not None:
        _output(expect_object(output, "outputConfig"), messages)
    request = chat_request(messages, shaping)
    if max_tokens is not None:
        request.max_tokens = max_tokens
    metadata = body.get("requestMetadata")
    if metadata is not None:
        metadata = expect_object(metadata, "requestMetadata")
        if not all(isinstance(value, str) for value in metadata.values()):
            raise InvalidRequest("wrong_type", param="requestMetadata", expected="an object of strings")
        request.metadata = dict(metadata)
    if not count:
        for name, value in body.items():
            if name not in _READ and value is not None:
                shaping.drop(name)
    return request


# -- the conversation ------------------------------------------------------------------------------


def _messages(turns: Any, shaping: Shaping) -> list[JSON]:
    if turns is None:
        raise InvalidRequest("missing_field", param="messages")
    if not isinstance(turns, list) or not turns:
        raise InvalidRequest("empty_messages", param="messages")
    # A path (`messages[3].content[1]`) is made only where an error names it, as the Messages decoder does.
    out = []
    for index, turn in enumerate(turns):
        role = turn.get("role") if turn.__class__ is dict else None
        content = turn.get("content") if role is not None else None
        if (role == "user" or role == "assistant") and content.__class__ is list:
            out.append({"role": role, "content": blocks(content, index, shaping)})
            continue
        path = f"messages[{index}]"
        turn = expect_object(turn, path)
        if role not in ("user", "assistant"):
            raise InvalidRequest("invalid_value", param=f"{path}.role", detail="expected user or assistant")
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="an array of content blocks")
    return out


def blocks(content: list[Any], turn: int, shaping: Shaping) -> list[JSON]:
    """A message's Converse content blocks → Messages blocks; a cache point marks nothing a translated road keeps."""
    out = []
    for index, block in enumerate(content):
        if block.__class__ is dict and len(block) == 1:
            text = block.get("text")
            if text.__class__ is str:  # most blocks: text alone
                out.append({"type": "text", "text": text})
                continue
        where = f"messages[{turn}].content[{index}]"
        block = expect_object(block, where)
        if "cachePoint" in block:
            shaping.drop("cachePoint")
            continue
        out.append(block_of(block, where, shaping))
    return out


def block_of(block: JSON, path: str, shaping: Shaping) -> JSON:
    """One ContentBlock (a union: one member set) → its Messages block."""
    members = [name for name, value in block.items() if value is not None]
    if len(members) != 1:
        raise InvalidRequest("invalid_value", param=path, detail="a content block sets exactly one member")
    kind = members[0]
    value = block[kind]
    where = f"{path}.{kind}"
    if kind == "text":
        return {"type": "text", "text": _string(value, where)}
    if kind == "image":
        return _image(expect_object(value, where), where)
    if kind == "document":
        return _document(expect_object(value, where), where)
    if kind == "toolUse":
        use = expect_object(value, where)
        return {
            "type": "tool_use",
            "id": _string(use.get("toolUseId"), f"{where}.toolUseId"),
            "name": _string(use.get("name"), f"{where}.name"),
            "input": use.get("input") if use.get("input") is not None else {},
        }
    if kind == "toolResult":
        return _tool_result(expect_object(value, where), where, shaping)
    if kind == "reasoningContent":
        return _reasoning(expect_object(value, where), where)
    if kind == "guardContent":
        # Text a Bedrock guardrail would single out; here it is text like any other (the gateway's guardrails
        # read every text).
        text = expect_object(expect_object(value, where).get("text"), f"{where}.text")
        return {"type": "text", "text": _string(text.get("text"), f"{where}.text.text")}
    raise unsupported(where, f"'{kind}' blocks")


def _image(image: JSON, path: str) -> JSON:
    image_format = image.get("format")
    media_type = IMAGE_TYPES.get(image_format) if isinstance(image_format, str) else None
    if media_type is None:
        raise InvalidRequest("invalid_value", param=f"{path}.format", detail=f"expected {', '.join(IMAGE_TYPES)}")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": _bytes(image, path)}}


def _document(document: JSON, path: str) -> JSON:
    name = document.get("name")
    title = name if isinstance(name, str) and name else None
    source = expect_object(document.get("source"), f"{path}.source")
    if source.get("text") is not None:
        text = _string(source["text"], f"{path}.source.text")
        return _text_document(text, title)
    if source.get("content") is not None:
        parts = source["content"]
        if not isinstance(parts, list):
            raise InvalidRequest("wrong_type", param=f"{path}.source.content", expected="an array")
        texts = [
            _string(expect_object(part, f"{path}.source.content[{i}]").get("text"), f"{path}.source.content[{i}].text")
            for i, part in enumerate(parts)
        ]
        inner = [{"type": "text", "text": text} for text in texts]
        return _titled({"type": "document", "source": {"type": "content", "content": inner}}, title)
    document_format = document.get("format")
    data = _bytes(document, path)
    if document_format == "pdf":
        return _titled(
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}, title
        )
    if document_format in TEXT_DOCUMENTS:
        try:
            text = base64.b64decode(data).decode()
        except UnicodeDecodeError:
            raise InvalidRequest("invalid_value", param=f"{path}.source.bytes", detail="expected UTF-8 text") from None
        return _text_document(text, title)
    if document_format in DOCUMENT_TYPES:
        raise unsupported(f"{path}.format", f"{document_format} documents")
    raise InvalidRequest("invalid_value", param=f"{path}.format", detail=f"expected {', '.join(DOCUMENT_TYPES)}")


def _text_document(text: str, title: str | None) -> JSON:
    return _titled({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}, title)


def _titled(block: JSON, title: str | None) -> JSON:
    if title is not None:
        block["title"] = title
    return block


def _bytes(holder: JSON, path: str) -> str:
    """A source's `bytes` (base64 in JSON, as the SDKs send blobs), checked; S3 locations are Bedrock's own."""
    source = expect_object(holder.get("source"), f"{path}.source")
    data = source.get("bytes")
    if data is None:
        if source.get("s3Location") is not None:
            raise unsupported(f"{path}.source.s3Location", "S3 locations")
        raise InvalidRequest("missing_field", param=f"{path}.source.bytes")
    if not isinstance(data, str):
        raise InvalidRequest("wrong_type", param=f"{path}.source.bytes", expected="base64")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("wrong_type", param=f"{path}.source.bytes", expected="base64") from None
    return data


def _tool_result(result: JSON, path: str, shaping: Shaping) -> JSON:
    content = result.get("content")
    if not isinstance(content, list):
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="an array")
    parts: list[JSON] = []
    for index, item in enumerate(content):
        where = f"{path}.content[{index}]"
        item = expect_object(item, where)
        if item.get("json") is not None:
            parts.append({"type": "text", "text": orjson.dumps(item["json"]).decode()})
        else:
            parts.append(block_of(item, where, shaping))
    status = result.get("status")
    if status is not None and status not in ("success", "error"):
        raise InvalidRequest("invalid_value", param=f"{path}.status", detail="expected success or error")
    return {
        "type": "tool_result",
        "tool_use_id": _string(result.get("toolUseId"), f"{path}.toolUseId"),
        "content": parts,
        "is_error": status == "error",
    }


def _reasoning(content: JSON, path: str) -> JSON:
    text = content.get("reasoningText")
    if text is not None:
        text = expect_object(text, f"{path}.reasoningText")
        block: JSON = {"type": "thinking", "thinking": _string(text.get("text"), f"{path}.reasoningText.text")}
        signature = text.get("signature")
        block["signature"] = signature if isinstance(signature, str) else ""
        return block
    redacted = content.get("redactedContent")
    if redacted is not None:
        return {"type": "redacted_thinking", "data": _string(redacted, f"{path}.redactedContent")}
    raise InvalidRequest("invalid_value", param=path, detail="expected reasoningText or redactedContent")


def _system(system: Any, shaping: Shaping) -> list[JSON]:
    if not isinstance(system, list):
        raise InvalidRequest("wrong_type", param="system", expected="an array of system content blocks")
    out = []
    for index, block in enumerate(system):
        text = block.get("text") if block.__class__ is dict and len(block) == 1 else None
        if text.__class__ is str:
            out.append({"type": "text", "text": text})
            continue
        where = f"system[{index}]"
        block = expect_object(block, where)
        if "cachePoint" in block:
            shaping.drop("cachePoint")
            continue
        translated = block_of(block, where, shaping)
        if translated["type"] != "text":
            raise InvalidRequest("invalid_value", param=where, detail="the system prompt takes text blocks")
        out.append(translated)
    return out


# -- settings ------------------------------------------------------------------------------------


def _inference(config: JSON, messages: JSON, shaping: Shaping) -> int | None:
    max_tokens = config.get("maxTokens")
    if max_tokens is not None:
        expect_number(max_tokens, "inferenceConfig.maxTokens", *INTEGER_RANGES["max_tokens"], integer=True)
    for name, field in (("temperature", "temperature"), ("topP", "top_p"), ("stopSequences", "stop_sequences")):
        if config.get(name) is not None:
            messages[field] = config[name]
    for name, value in config.items():
        if name not in ("maxTokens", "temperature", "topP", "stopSequences") and value is not None:
            shaping.drop(f"inferenceConfig.{name}")
    return max_tokens


def _tools(config: JSON, messages: JSON, shaping: Shaping) -> None:
    tools = config.get("tools")
    if not isinstance(tools, list):
        raise InvalidRequest("wrong_type", param="toolConfig.tools", expected="an array")
    out = []
    for index, tool in enumerate(tools):
        spec: Any = tool.get("toolSpec") if tool.__class__ is dict else None
        schema: Any = spec.get("inputSchema") if spec.__class__ is dict else None
        name: Any = spec.get("name") if schema.__class__ is dict else None
        if name.__class__ is not str:  # a cache point, or a tool the checks below refuse by its path
            where = f"toolConfig.tools[{index}]"
            tool = expect_object(tool, where)
            if "cachePoint" in tool:
                shaping.drop("cachePoint")
                continue
            if spec is None:
                raise unsupported(where, "tools other than toolSpec")
            spec = expect_object(spec, f"{where}.toolSpec")
            schema = expect_object(spec.get("inputSchema"), f"{where}.toolSpec.inputSchema")
            name = _string(spec.get("name"), f"{where}.toolSpec.name")
        translated: JSON = {"name": name, "input_schema": schema.get("json")}
        if spec.get("description") is not None:
            translated["description"] = spec["description"]
        if spec.get("strict") is not None:
            translated["strict"] = spec["strict"]
        out.append(translated)
    messages["tools"] = out
    choice = config.get("toolChoice")
    if choice is not None:
        choice = expect_object(choice, "toolChoice")
        if choice.get("auto") is not None:
            messages["tool_choice"] = {"type": "auto"}
        elif choice.get("any") is not None:
            messages["tool_choice"] = {"type": "any"}
        elif choice.get("tool") is not None:
            named = expect_object(choice["tool"], "toolConfig.toolChoice.tool")
            name = _string(named.get("name"), "toolConfig.toolChoice.tool.name")
            messages["tool_choice"] = {"type": "tool", "name": name}
        else:
            raise InvalidRequest("invalid_value", param="toolConfig.toolChoice", detail="expected auto, any or tool")


def _additional(fields: JSON, messages: JSON, shaping: Shaping) -> None:
    """A target model's own fields: those that say what a Messages field says carry, the others are reported."""
    for name, value in fields.items():
        if value is None:
            continue
        if name in _MESSAGES_FIELDS:
            messages[name] = value
        elif name == "inferenceConfig" and isinstance(value, dict) and set(value) == {"topK"}:
            messages["top_k"] = value["topK"]  # Nova's spelling
        elif name == "reasoningConfig" and isinstance(value, dict) and value.get("type") == "enabled":
            effort = value.get("maxReasoningEffort", "medium")
            if effort not in _NOVA_EFFORTS:
                raise InvalidRequest(
                    "invalid_value",
                    param="additionalModelRequestFields.reasoningConfig.maxReasoningEffort",
                    detail="expected low, medium or high",
                )
            messages["thinking"] = {"type": "adaptive"}
            messages["output_config"] = {"effort": effort}
        else:
            shaping.drop(f"additionalModelRequestFields.{name}")


def _output(config: JSON, messages: JSON) -> None:
    """`outputConfig.textFormat`: a JSON schema, as a string (Converse's), the answer's shape."""
    text_format = config.get("textFormat")
    if text_format is None:
        return
    text_format = expect_object(text_format, "outputConfig.textFormat")
    structure = expect_object(text_format.get("structure"), "outputConfig.textFormat.structure")
    schema = expect_object(structure.get("jsonSchema"), "outputConfig.textFormat.structure.jsonSchema")
    where = "outputConfig.textFormat.structure.jsonSchema.schema"
    try:
        parsed = orjson.loads(_string(schema.get("schema"), where))
    except orjson.JSONDecodeError:
        raise InvalidRequest("wrong_type", param=where, expected="a JSON schema as a string") from None
    output_format = {"type": "json_schema", "schema": parsed}
    messages["output_config"] = {**messages.get("output_config", {}), "format": output_format}


def _string(value: Any, path: str) -> str:
    if value is None:
        raise InvalidRequest("missing_field", param=path)
    if not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=path, expected="a string")
    return value


def unsupported(param: str, feature: str) -> InvalidRequest:
    return InvalidRequest("converse_unsupported", param=param, feature=feature)
