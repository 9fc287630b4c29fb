"""The public model a Bedrock runtime `{modelId}` names, for the doors that speak Bedrock's runtime API (Converse,
and Claude's InvokeModel): one resolution for both, so that an AWS application's model id means the same model
at either.

AWS applications name models as Bedrock does: a foundation model's id (`anthropic.claude-3-5-haiku-20241022-v1:0`,
`amazon.nova-pro-v1:0`), a cross-Region inference profile's (the same with a geography before it:
`us.anthropic.claude-sonnet-4-20250514-v1:0`, `eu.amazon.nova-pro-v1:0`, `global.…`), or the ARN of either. The
gateway answers to its own public names, so `public_model` looks, in this order, for:

1. the name itself, then an ARN's resource: a configured model, an alias or any name routing resolves wins, so
   an operator who configured the exact id (an application inference profile's ARN, say) decides what it means;
2. a configured model whose deployment on a provider that relays Converse upstream (Bedrock) has that upstream id,
   or the same foundation model under another geography or none (`us.anthropic.X` finds a model configured as
   `eu.anthropic.X` or `anthropic.X`): the exact id before the same model elsewhere, in the config's order;
3. the model's own name at its publisher's API, the id without geography, publisher and revision
   (`anthropic.claude-sonnet-4-20250514-v1:0` → `claude-sonnet-4-20250514`), when that is unambiguous: the
   name is a configured model or alias, or routing's model families send it to the provider named after the
   publisher (a `claude-*` name to `anthropic`). An id without a revision (`-v1`, `-v2:0`) is not mapped.

A name none of these finds is returned as it was (an ARN as its resource): routing then refuses it as it refuses
any unknown model (Bedrock's `ResourceNotFoundException`).

Only the first step runs for a request naming a public model (one lookup in routing's cache); the others run
for an id the gateway does not know, a dozen dictionary reads per configured model.
"""

from __future__ import annotations

import re
from typing import Final

from babelgate.errors import ModelNotFound
from babelgate.routing.registry import ModelRegistry

# The resource types of a Bedrock ARN whose rest may name a model.
_ARN_RESOURCES: Final = ("foundation-model/", "inference-profile/", "application-inference-profile/", "custom-model/")
# The geographies of Bedrock's cross-Region inference profiles (the first label of their ids); `global` routes
# to any commercial Region.
GEOGRAPHIES: Final = frozenset({"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"})
# A foundation model's revision at the end of its id: `-v1`, `-v2:0`.
_REVISION: Final = re.compile(r"-v\d+(?::\d+)?$")
# What relays Converse upstream serves Bedrock's model ids.
_CONVERSE: Final = "converse"


def arn_resource(given: str) -> str:
    """`given`, or the resource of an ARN (`arn:aws:bedrock:…:foundation-model/openai/gpt-4o` → `openai/gpt-4o`)."""
    if given.startswith("arn:"):
        for resource in _ARN_RESOURCES:
            at = given.find(resource)
            if at >= 0:
                return given[at + len(resource) :]
    return given


def foundation_model(model_id: str) -> str | None:
    """The foundation model's id in a Bedrock model id, without its geography (`us.anthropic.X` →
    `anthropic.X`); None when `model_id` is not `publisher.model` (a public name like `gpt-4o` or `openai/gpt-4o`)."""
    if "/" in model_id:
        return None
    first, dot, rest = model_id.partition(".")
    if dot and first in GEOGRAPHIES and "." in rest:
        return rest
    return model_id if dot and first and rest else None


def public_model(registry: ModelRegistry, given: str) -> str:
    """The public model name to route `given` by (the module's docstring has the order)."""
    if _resolves(registry, given):
        return given
    name = arn_resource(given)
    if name != given and _resolves(registry, name):
        return name
    foundation = foundation_model(name)
    if foundation is None:
        return name
    return _served_by_converse(registry, name, foundation) or _publishers_name(registry, foundation) or name


def _resolves(registry: ModelRegistry, name: str) -> bool:
    try:
        registry.route(name)
    except ModelNotFound:
        return False
    return True


def _served_by_converse(registry: ModelRegistry, name: str, foundation: str) -> str | None:
    """The first configured model with a Converse-relaying deployment of `name` itself, else of `foundation` under
    any geography."""
    same_model: str | None = None
    for public in registry.configured:
        for deployment in registry.route(public).deployments:
            if _CONVERSE not in deployment.provider.capabilities.relays:
                continue
            upstream = arn_resource(deployment.model)
            if upstream == name:
                return public
            if same_model is None and foundation_model(upstream) == foundation:
                same_model = public
    return same_model


def _publishers_name(registry: ModelRegistry, foundation: str) -> str | None:
    """The publisher's own name of the model, when the gateway resolves it unambiguously."""
    publisher, _, model = foundation.partition(".")
    named = _REVISION.sub("", model)
    if named == model or not named:
        return None
    if named in registry.configured or named in registry.aliases:
        return named
    try:
        deployment = registry.resolve(named)
    except ModelNotFound:
        return None
    # A model family routed it: right only when the family is the publisher's (a `claude-*` name at Anthropic's),
    # not another maker's pattern that happens to match.
    return named if deployment.provider.name == publisher else None
