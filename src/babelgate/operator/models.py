"""`babelgate models`: what routes where (`GET /admin/models`): every model and alias with its
deployments and their health, fallbacks, context window and prices; then the providers' state."""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text

from babelgate.operator.client import Gateway, run_admin
from babelgate.operator.render import CIRCUIT_STYLE, STATE_STYLE, count, literal, ms, out, print_json, styled, table


def add_models(commands: Any, admin: argparse.ArgumentParser) -> None:
    models = commands.add_parser(
        "models", parents=[admin], help="what routes where, and its health (admin API)", description=__doc__
    )
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
        deployments = literal("\n").join(_deployment(d, len(model["deployments"]) > 1) for d in model["deployments"])
        pricing = model.get("pricing") or {}
        fallbacks = [*model["fallbacks"], *model["context_window_fallbacks"], *model["content_policy_fallbacks"]]
        drawn.add_row(
            literal(model["id"], "bold"),
            literal(kind),
            deployments,
            literal(", ".join(fallbacks) or "-"),
            count(model.get("context_window")),
            _price(pricing.get("input")),
            _price(pricing.get("output")),
        )
    out.print(drawn)
    out.print()
    providers = table("Provider", "Type", "State", "Keys")
    for provider in answer["providers"]:
        keys = literal(", ").join(
            literal(f"{key['key']} ").append_text(styled(key["state"], STATE_STYLE))
            for key in provider.get("keys") or []
        ) or literal("-")
        state = styled(provider["state"], STATE_STYLE)
        providers.add_row(literal(provider["name"], "bold"), literal(provider["type"]), state, keys)
    out.print(providers)


def _deployment(deployment: dict[str, Any], weighted: bool) -> Text:
    """`label [weight w] circuit [(reopens in s)] [latency]`, the circuit's state coloured."""
    circuit = deployment["circuit"]
    line = literal(deployment["label"])
    if weighted:
        line.append(f" weight {deployment['weight']:g}", style="dim")
    line.append(" ").append_text(styled(circuit, CIRCUIT_STYLE))
    if circuit == "open":
        line.append(f" (reopens in {deployment['reopens_in_s']:.0f} s)", style="dim")
    if deployment.get("latency_ms") is not None:
        line.append(f" {ms(deployment['latency_ms'])}", style="dim")
    return line


def _price(value: float | None) -> str:
    return "-" if value is None else f"${value:,.3f}" if value < 1 else f"${value:,.2f}"
