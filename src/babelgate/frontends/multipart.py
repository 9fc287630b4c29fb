"""`multipart/form-data` bodies (image edits, audio uploads), read after the exchange's size-bounded
body read, so nothing past `server.max_body_bytes` is ever held. Parsed with the standard
library's MIME parser: form fields become strings, files keep their bytes, name and type."""

from __future__ import annotations

import email.parser
import email.policy
import mimetypes
from dataclasses import dataclass
from email.message import Message

from babelgate.errors import InvalidRequest

_PARSER = email.parser.BytesParser(policy=email.policy.HTTP)


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str = "application/octet-stream"

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("invalid_value", param=self.name, detail="not UTF-8 text") from None


def parse_form(body: bytes, content_type: str | None) -> list[Part]:
    """The parts in order; a body that is not multipart/form-data (or has no boundary) is a 400."""
    kind = (content_type or "").lower()
    if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
        raise InvalidRequest(
            "invalid_value", param="content-type", detail="expected multipart/form-data with a boundary"
        )
    assert content_type is not None
    message = _PARSER.parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise InvalidRequest("invalid_value", param="content-type", detail="the body is not multipart")
    parts = []
    for item in message.iter_parts():
        name = item.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("invalid_value", param="body", detail="a form part has no name")
        filename = item.get_filename()
        parts.append(Part(name=name, data=_payload(item), filename=filename, content_type=_type(item, filename)))
    return parts


def _type(item: Message, filename: str | None) -> str:
    """A file's declared type; undeclared, the type its name implies (MIME's default, text/plain,
    would make an upstream refuse an image or an audio file)."""
    if filename is None:
        return "text/plain"
    if item.get("content-type") is not None:
        return item.get_content_type()
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _payload(item: Message) -> bytes:
    payload = item.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def fields(parts: list[Part]) -> dict[str, list[Part]]:
    """Parts by field name (`image[]` and repeated `image` fields are both lists)."""
    grouped: dict[str, list[Part]] = {}
    for part in parts:
        grouped.setdefault(part.name.removesuffix("[]"), []).append(part)
    return grouped
