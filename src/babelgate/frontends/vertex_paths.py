"""Vertex AI's model paths, read once for every door that serves them: Claude's rawPredict
(anthropic_clouds/vertex.py) and Gemini's generateContent and its siblings (gemini/vertex.py) share the
prefix `/v1/projects/` (and `/v1beta1/projects/`), and each claims the requests whose method is its own.

After the prefix a path is `{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`.
`{project}` and `{location}` name nothing on the gateway and are not checked. `{model}` may hold slashes
(`openai/gpt-4o-mini`): the method is what follows the last colon.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

# What the app hands a prefix route: the path without `/v1`, so `/v1/projects/…` arrives as `/projects/…`;
# `/v1beta1/` (google-genai's default version in Vertex mode) is kept.
PREFIXES: Final = ("/projects/", "/v1beta1/projects/")
_PATH: Final = re.compile(r"[^/]+/locations/[^/]+/publishers/([^/]+)/models/(.+):([A-Za-z]+)")


@dataclass(frozen=True, slots=True)
class PublisherModel:
    """One `publishers/{publisher}/models/{model}:{method}` path."""

    publisher: str
    model: str
    method: str


def publisher_model(rest: str) -> PublisherModel | None:
    """The path's rest after a prefix, or None when it is no publisher model's method."""
    found = _PATH.fullmatch(rest)
    if found is None:
        return None
    return PublisherModel(found.group(1), found.group(2), found.group(3))


def claims(methods: Collection[str], *, publisher: str | None = None) -> Callable[[str, str], bool]:
    """A prefix route's `claims`: the paths whose method is one of `methods` (and, given, whose publisher is
    `publisher`). The request's HTTP method is the handler's to refuse, in the door's own format."""

    def claimed(_method: str, rest: str) -> bool:
        found = publisher_model(rest)
        return found is not None and found.method in methods and (publisher is None or found.publisher == publisher)

    return claimed
