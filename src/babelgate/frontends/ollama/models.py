"""Ollama's model routes `/api/tags` and `/api/show` (the probes `/api/ps`, `/api/version` and `/` are
routes.py's own).

The gateway's models live upstream, so the fields Ollama fills from a local GGUF file are filled as
Ollama fills them for its own cloud models: size 0, no format or quantization, `remote_model` the
upstream's id. `family` is the provider's name, and `digest` a hash of the name (stable, so that
clients which watch digests for changes see none).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer, json_answer
from babelgate.errors import ModelNotFound
from babelgate.exchange import Exchange
from babelgate.frontends.models import known_models
from babelgate.frontends.ollama import wire
from babelgate.frontends.ollama.translate import OPTION_FIELDS
from babelgate.frontends.ollama.validate import validate_show
from babelgate.frontends.ollama.wire import JSON
from babelgate.pipeline import parse_json_object
from babelgate.providers.base import Capabilities
from babelgate.routing.registry import Deployment
from babelgate.schema.models import ModelInfo

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

LATEST: Final = ":latest"
# Chat defaults of a configured model, shown as Ollama's `parameters` under Ollama's option names.
_PARAMETER_NAMES: Final = {
    **{field: option for option, field in OPTION_FIELDS.items()},
    "max_completion_tokens": "num_predict",
}
# Names that mark an embedding model (Ollama lists `embedding` instead of `completion` for them).
_EMBEDDING_MARKERS: Final = ("embed",)


def routable(runtime: Runtime, name: str) -> str:
    """The name to route `name` by. Ollama treats `model` and `model:latest` as one model and its
    clients add the tag freely, while no other upstream knows it: a name with `:latest` is routed
    without it when that resolves (even to a model family), else as it is (a configured name may
    carry it)."""
    if name.endswith(LATEST):
        bare = name.removesuffix(LATEST)
        try:
            runtime.registry.resolve(bare)
        except ModelNotFound:
            return name
        return bare
    return name


def resolve(runtime: Runtime, name: str) -> Deployment:
    """The deployment for `name` (see `routable`)."""
    return runtime.registry.resolve(routable(runtime, name))


async def tags(runtime: Runtime, exchange: Exchange) -> Answer:
    models = await known_models(runtime)
    return json_answer({"models": [_summary(runtime, info) for info in models.values()]})


async def show(runtime: Runtime, exchange: Exchange) -> Answer:
    name = validate_show(parse_json_object(await exchange.read_body(runtime.max_body_bytes)))
    deployment, info = await _known(runtime, name)
    exchange.call.provider, exchange.call.model = deployment.provider.name, deployment.public_name
    family = deployment.provider.name
    body: JSON = {
        "modelfile": f"# {name} is served by babelgate: provider {family}, upstream model {deployment.model}\n"
        f"FROM {name}\n",
        "parameters": _parameters(deployment),
        "template": "{{ .Prompt }}",
        "details": _details(family),
        "remote_model": deployment.model,
        "model_info": {
            "general.architecture": family,
            "general.basename": name,
            "babelgate.provider": family,
            "babelgate.upstream_model": deployment.model,
        },
        "capabilities": capabilities(name, deployment.provider.capabilities),
        "modified_at": _modified(runtime, info),
    }
    return json_answer(body)


def capabilities(name: str, declared: Capabilities) -> list[str]:
    """What `/api/show` lists. Per-model facts are unknown upstream, so this follows the provider's
    declared capabilities; `thinking` is left out because not every model of a provider thinks, and
    clients that see it send `think`, which a model without reasoning refuses."""
    if declared.embeddings and any(marker in name.lower() for marker in _EMBEDDING_MARKERS):
        return ["embedding"]
    out = ["completion"]
    if declared.tools:
        out.append("tools")
    if declared.images_in:
        out.append("vision")
    return out


async def _known(runtime: Runtime, name: str) -> tuple[Deployment, ModelInfo | None]:
    """A model `/v1/models` lists, or one routing resolves whose provider lists no models (then
    nothing more can be known); otherwise 404, as Ollama answers for a model it has not pulled."""
    models = await known_models(runtime)
    deployment = resolve(runtime, name)
    info = models.get(name) or models.get(name.removesuffix(LATEST))
    if info is None:
        provider = deployment.provider.name
        info = models.get(f"{provider}/{deployment.model}")
        listed = bool((await runtime.catalog.listings()).get(provider))
        if info is None and listed:
            raise ModelNotFound(model=name, providers=", ".join(sorted(runtime.providers)) or "none", param="model")
    return deployment, info


def _summary(runtime: Runtime, info: ModelInfo) -> JSON:
    try:
        deployment: Deployment | None = runtime.registry.resolve(info.id)
    except ModelNotFound:
        deployment = None
    family = deployment.provider.name if deployment is not None else info.owned_by
    summary: JSON = {"name": info.id, "model": info.id}
    if deployment is not None:
        summary["remote_model"] = deployment.model
    summary.update(
        {
            "modified_at": _modified(runtime, info),
            "size": 0,
            "digest": hashlib.sha256(info.id.encode()).hexdigest(),
            "details": _details(family),
        }
    )
    return summary


def _details(family: str) -> JSON:
    return {
        "parent_model": "",
        "format": "",
        "family": family,
        "families": [family],
        "parameter_size": "",
        "quantization_level": "",
    }


def _modified(runtime: Runtime, info: ModelInfo | None) -> str:
    created = info.created if info is not None and info.created else runtime.created
    return wire.created_at(created * 1_000_000_000)


def _parameters(deployment: Deployment) -> str:
    """Ollama's Modelfile parameter lines (`name<padding> value`, one `stop` line per sequence)."""
    lines = []
    for field, value in {**deployment.defaults, **deployment.overrides}.items():
        option = _PARAMETER_NAMES.get(field)
        if option is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            text = orjson.dumps(item).decode() if isinstance(item, str) else str(item)
            lines.append(f"{option:<30} {text}")
    return "\n".join(lines)
