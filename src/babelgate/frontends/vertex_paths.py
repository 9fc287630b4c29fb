"""Vertex AI's model paths, read once for every door that serves them: Claude's rawPredict
(anthropic_clouds/vertex.py) and Gemini's generateContent and its siblings (gemini/vertex.py) share the
prefix `/v1/projects/` (and `/v1beta1/projects/`), and each claims the requests whose method is its own.

After the prefix a path is `{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`.
`{project}` and `{location}` name nothing on the gateway and are not checked. `{model}` may hold slashes
(`openai/gpt-4o-mini`): the method is what follows the last colon. Vertex's express mode (an API key, no
project: google-genai with `vertexai=True` and `api_key`) names no project: `/v1/publishers/{publisher}/models/
{model}:{method}`, read by `express_model` (the `EXPRESS` prefixes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

# What the app hands a prefix route: the path without `/v1`, so `/v1/projects/…` arrives as `/projects/…`;
# `/v1beta1/` (google-genai's default version in Vertex mode) is kept.
PREFIXES: Final = ("/projects/", "/v1beta1/projects/")
EXPRESS: Final = ("/publishers/", "/v1beta1/publishers/")


@dataclass(frozen=True, slots=True)
class PublisherModel:
    """One `publishers/{publisher}/models/{model}:{method}` path."""

    publisher: str
    model: str
    method: str


def publisher_model(rest: str) -> PublisherModel | None:
    """The path's rest after a project prefix, or None when it is no publisher model's method. String methods in C,
    not a regular expression: every request under the prefix is read by each door's `claims`, then by its handler."""
    names = rest.split("/", 4)  # project, "locations", location, "publishers", the express path
    if len(names) != 5 or names[1] != "locations" or names[3] != "publishers" or not (names[0] and names[2]):
        return None
    return express_model(names[4])


def express_model(rest: str) -> PublisherModel | None:
    """`{publisher}/models/{model}:{method}`: the rest after an express prefix (and of a project's path)."""
    names = rest.split("/", 2)
    if len(names) != 3 or names[1] != "models":
        return None
    model, colon, method = names[2].rpartition(":")
    if not (names[0] and model and colon and method.isalpha() and method.isascii()):
        return None
    return PublisherModel(names[0], model, method)


def claims(methods: Collection[str], *, publisher: str | None = None) -> Callable[[str, str], bool]:
    """A prefix route's `claims` under a project's prefix, which two doors share: the paths whose method is one of
    `methods` (and, given, whose publisher is `publisher`). The request's HTTP method is the handler's to refuse,
    in the door's own format."""

    def claimed(_method: str, rest: str) -> bool:
        found = publisher_model(rest)
        return found is not None and found.method in methods and (publisher is None or found.publisher == publisher)

    return claimed
