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
from typing import Final, NamedTuple

# What the app hands a prefix route: the path without `/v1`, so `/v1/projects/…` arrives as `/projects/…`;
# `/v1beta1/` (google-genai's default version in Vertex mode) is kept.
PREFIXES: Final = ("/projects/", "/v1beta1/projects/")
EXPRESS: Final = ("/publishers/", "/v1beta1/publishers/")


class PublisherModel(NamedTuple):
    """One `publishers/{publisher}/models/{model}:{method}` path. A tuple: made in C, once per request."""

    publisher: str
    model: str
    method: str


def publisher_model(rest: str) -> PublisherModel | None:
    """The path's rest after a project prefix, or None when it is no publisher model's method. String methods in C,
    not a regular expression, and one split: the door's handler reads the path once per request."""
    try:
        project, locations, location, publishers, publisher, models, model_method = rest.split("/", 6)
    except ValueError:  # fewer parts than a publisher model's path has
        return None
    if locations != "locations" or publishers != "publishers" or not (project and location):
        return None
    return _model_method(publisher, models, model_method)


def express_model(rest: str) -> PublisherModel | None:
    """`{publisher}/models/{model}:{method}`: the rest after an express prefix."""
    try:
        publisher, models, model_method = rest.split("/", 2)
    except ValueError:
        return None
    return _model_method(publisher, models, model_method)


def _model_method(publisher: str, models: str, model_method: str) -> PublisherModel | None:
    """`{model}:{method}` under `{publisher}/models/`: the method is what follows the last colon, and is letters."""
    model, colon, method = model_method.rpartition(":")
    if models != "models" or not (publisher and model and colon and method.isalpha() and method.isascii()):
        return None
    return PublisherModel(publisher, model, method)


def claims(methods: Collection[str], *, publisher: str | None = None) -> Callable[[str, str], bool]:
    """A prefix route's `claims` under a project's prefix, which two doors share: the paths that ask for one of
    `methods` (what follows the last colon) and, given `publisher`, name that publisher's models. Only which door
    a request is for is decided here, with a search and a lookup in C: the door's handler reads the whole path
    (publisher_model) and refuses one of another shape, as it refuses any path it does not serve (404, in its
    format). The request's HTTP method is the handler's to refuse too."""
    names = frozenset(methods)
    marker = f"/publishers/{publisher}/models/" if publisher is not None else None

    def claimed(_method: str, rest: str) -> bool:
        return rest[rest.rfind(":") + 1 :] in names and (marker is None or marker in rest)

    return claimed
