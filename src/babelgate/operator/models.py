"""`babelgate models`: what routes where (`GET /admin/models`): every model and alias with its
deployments and their health, fallbacks, context window and prices; then the providers' state."""

from __future__ import annotations

import argparse
from typing import Any

from babelgate.operator.client import Gateway, run_admin
from babelgate.operator.render import CIRCUIT_STYLE, STATE_STYLE, count, escape, out, print_json, styled, table


def add_models(commands: Any, admin: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[admin], help="what routes where, and its health (admin API)",
                                 description=__doc__)
    models.add_argument("--all", action="store_true", help="also the providers' own listings (provider/id)")
    models.set_defaults(func=run_admin, command_func=run_models)


def run_models(args: argparse.Namespace, gateway: Gateway) -> None:
    answer = gateway.call("GET", "/admin/models" + ("" if args.all else "?listed=false")).body
    if args.json:
        print_json(answer)
        return
    drawn = table("Model", "Kind", "Deployments", "Falls back to", ">Context", ">In / 1M", ">Out / 1M")
    for model in answer["data"]:
        kind = f"alias → {model['target']}" if model["kind"] == "alias" else model["kind"]
        deployments = "\n".join(_deployment(d, len(model["deployments"]) > 1) for d in model["deployments"])
        pricing = model.get("pricing") or {}
        fallbacks = [*model["fallbacks"], *model["context_window_fallbacks"], *model["content_policy_fallbacks"]]
        drawn.add_row(f"[bold]{escape(model['id'])}[/]", kind, deployments, ", ".join(fallbacks) or "-",
                      count(model.get("context_window")), _price(pricing.get("input")), _price(pricing.get("output")))
    out.print(drawn)
    out.print()
    providers = table("Provider", "Type", "State", "Keys")
    for provider in answer["providers"]:
        keys = ", ".join(f"{key['key']} {key['state']}" for key in provider.get("keys") or []) or "-"
        state = styled(provider["state"], STATE_STYLE)
        providers.add_row(f"[bold]{provider['name']}[/]", provider["type"], state, keys)
    out.print(providers)


def _deployment(deployment: dict[str, Any], weighted: bool) -> str:
    circuit = deployment["circuit"]
    state = styled(circuit, CIRCUIT_STYLE)
    if circuit == "open":
        state += f" [dim](reopens in {deployment['reopens_in_s']:.0f} s)[/]"
    weight = f" [dim]weight {deployment['weight']:g}[/]" if weighted else ""
    return f"{escape(deployment['label'])}{weight} {state}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}" if value < 1 else f"${value:,.2f}"
