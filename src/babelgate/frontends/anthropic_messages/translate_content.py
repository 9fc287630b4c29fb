"""Anthropic Messages content blocks → canonical chat parts (pure), checked as they are read (errors name
Messages paths, `messages[2].content[0].source.data`), and the small readers both translate modules use.

Text, images (base64 or URL), documents (PDF, plain text, content blocks, URLs) and search results
become `TextPart`, `ImagePart` and `FilePart`. Sources that need Anthropic's own servers (Files API ids)
are refused by name; prompt-caching and citation settings are dropped and reported (`Shaping`).
"""

from __future__ import annotations

from dataclasses import dataclass

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages import wire
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.openai_validation import expect_object
from babelgate.schema.chat import ContentPart, FilePart, ImagePart, TextPart


@dataclass(slots=True)
class Shaping:
    """What one translation reports besides the chat request: the parameters it dropped (sent back in
    `x-babelgate-adjusted-params`)."""

    adjusted: list[str]

    def drop(self, name: str) -> None:
        entry = f"{name}=dropped"
        if entry not in self.adjusted:
            self.adjusted.append(entry)

    def block_settings(self, block: JSON) -> None:
        """Settings a block may carry that only Anthropic's servers act on: the answer is the same
        without them (a cache marker saves cost; citations annotate), so they are dropped."""
        for name in ("cache_control", "citations"):
            if block.get(name) is not None:
                self.drop(name)


def unsupported(param: str, feature: str) -> InvalidRequest:
    return InvalidRequest("messages_unsupported", param=param, feature=feature)


def user_parts(block: JSON, kind: str, path: str, shaping: Shaping) -> list[ContentPart]:
    """One user content block → chat parts (a document with its context may make two)."""
    shaping.block_settings(block)
    if kind == "text":
        return [TextPart(string(block, "text", path))]
    if kind == "image":
        return [_image(block, path)]
    if kind == "document":
        return _document(block, path, shaping)
    if kind == "search_result":
        return [TextPart(_search_result(block, path))]
    raise unsupported(f"{path}.type", f"'{kind}' blocks")


def _image(block: JSON, path: str) -> ImagePart:
    source = expect_object(block.get("source"), f"{path}.source")
    kind = source.get("type")
    where = f"{path}.source"
    if kind == "base64":
        url = f"data:{string(source, 'media_type', where)};base64,{string(source, 'data', where)}"
    elif kind == "url":
        url = string(source, "url", where)
        if not url.startswith(("https://", "http://")):
            raise InvalidRequest("invalid_value", param=f"{where}.url", detail="expected an http(s) URL")
    elif kind == "file":
        raise unsupported(f"{where}.file_id", "files from Anthropic's Files API")
    else:
        raise InvalidRequest("invalid_value", param=f"{where}.type", detail="expected base64, url or file")
    return ImagePart(url)


def _document(block: JSON, path: str, shaping: Shaping) -> list[ContentPart]:
    source = expect_object(block.get("source"), f"{path}.source")
    where = f"{path}.source"
    title = optional_string(block, "title", path)
    context = optional_string(block, "context", path)
    parts: list[ContentPart] = [TextPart(context)] if context else []
    kind = source.get("type")
    if kind == "base64":
        media_type = string(source, "media_type", where)
        if media_type != "application/pdf":
            raise InvalidRequest("invalid_value", param=f"{where}.media_type", detail="expected application/pdf")
        data_uri = f"data:application/pdf;base64,{string(source, 'data', where)}"
        parts.append(FilePart(file_data=data_uri, filename=_pdf_name(title)))
    elif kind == "url":
        # A file URL travels as a file id: the convention providers that fetch URLs read (Gemini).
        parts.append(FilePart(file_id=string(source, "url", where), filename=_pdf_name(title)))
    elif kind == "text":
        text = string(source, "data", where)
        parts.append(TextPart(f"{title}\n\n{text}" if title else text))
    elif kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            parts.append(TextPart(inner))
        elif isinstance(inner, list):
            for index, item in enumerate(inner):
                item_path = f"{where}.content[{index}]"
                item = expect_object(item, item_path)
                item_kind = block_type(item, item_path)
                if item_kind not in ("text", "image"):
                    raise InvalidRequest("invalid_value", param=f"{item_path}.type", detail="expected text or image")
                parts += user_parts(item, item_kind, item_path, shaping)
        else:
            raise InvalidRequest("wrong_type", param=f"{where}.content", expected="a string or an array of blocks")
    elif kind == "file":
        raise unsupported(f"{where}.file_id", "files from Anthropic's Files API")
    else:
        raise InvalidRequest("invalid_value", param=f"{where}.type", detail="expected base64, url, text or content")
    return parts


def _pdf_name(title: str | None) -> str:
    if not title:
        return wire.DEFAULT_PDF_NAME
    return title if title.lower().endswith(".pdf") else f"{title}.pdf"


def _search_result(block: JSON, path: str) -> str:
    """A search result (RAG) is text the model reads: title, source, then its passages."""
    heading = "\n".join(filter(None, (optional_string(block, "title", path), optional_string(block, "source", path))))
    passages = block.get("content")
    if not isinstance(passages, list):
        raise InvalidRequest("wrong_type", param=f"{path}.content", expected="an array of text blocks")
    texts = [
        string(expect_object(item, f"{path}.content[{i}]"), "text", f"{path}.content[{i}]")
        for i, item in enumerate(passages)
    ]
    return "\n\n".join(filter(None, (heading, *texts)))


def block_type(block: JSON, path: str) -> str:
    kind = block.get("type")
    if kind is None:
        raise InvalidRequest("missing_field", param=f"{path}.type")
    if not isinstance(kind, str):
        raise InvalidRequest("wrong_type", param=f"{path}.type", expected="a string")
    return kind


def string(container: JSON, key: str, path: str) -> str:
    value = container.get(key)
    if value is None:
        raise InvalidRequest("missing_field", param=f"{path}.{key}")
    if not isinstance(value, str):
        raise InvalidRequest("wrong_type", param=f"{path}.{key}", expected="a string")
    return value


def optional_string(container: JSON, key: str, path: str) -> str | None:
    return None if container.get(key) is None else string(container, key, path)
