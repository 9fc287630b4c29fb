"""`babelgate keys create|list|update|revoke`: virtual keys through the admin API (`/admin/keys`)."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from rich.panel import Panel

from babelgate.operator.client import Gateway, run_admin
from babelgate.operator.render import STATE_STYLE, compose, count, literal, out, print_json, styled, table, usd
from babelgate.operator.state import print_store

_LIMITS = (
    ("--label", str),
    ("--team", str),
    ("--user", str),
    ("--rpm", int),
    ("--tpm", int),
    ("--max-concurrent", int),
    ("--budget-usd", float),
    ("--budget-period", str),
    ("--expires-at", str),
)


def add_keys(commands: Any, admin: argparse.ArgumentParser, admin_below: argparse.ArgumentParser) -> None:
    """`admin`: the options on `keys` itself; `admin_below`: the same on each action, without defaults."""
    keys = commands.add_parser(
        "keys", parents=[admin], help="create, list, update or revoke virtual keys (admin API)", description=__doc__
    )
    admin = admin_below
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", parents=[admin], help="create a key; its secret is printed this once")
    update = actions.add_parser("update", parents=[admin], help="change a key's fields")
    update.add_argument("id")
    for parser in (create, update):
        for flag, kind in _LIMITS:
            parser.add_argument(flag, type=kind)
        parser.add_argument("--models", help="comma-separated model names or patterns (gpt-4o*, claude-*)")
        parser.add_argument(
            "--mcp", help="comma-separated MCP servers or server/tool patterns the key may use (github, docs/search_*)"
        )
    create.add_argument(
        "--aws",
        action="store_true",
        help="issue AWS-style credentials too (an access key id and secret an AWS SDK signs Bedrock requests with)",
    )
    listing = actions.add_parser("list", parents=[admin], help="list keys (never their secrets)")
    listing.add_argument("--active", action="store_true", help="leave out revoked keys")
    revoke = actions.add_parser("revoke", parents=[admin], help="revoke a key at once, on every instance")
    revoke.add_argument("id")
    for parser in (create, update, listing, revoke):
        parser.set_defaults(func=run_admin, command_func=run_keys)


def run_keys(args: argparse.Namespace, gateway: Gateway) -> None:
    base = "/admin/keys"
    if args.action == "list":
        keys = gateway.call("GET", base).body
        if args.active:
            keys["data"] = [key for key in keys["data"] if not key["revoked"]]
        if args.json:
            print_json(keys)
        else:
            _print_keys(keys["data"])
            print_store(gateway)
        return
    if args.action == "create":
        answer = gateway.call("POST", base, {**_fields(args), **({"aws_credentials": True} if args.aws else {})}).body
    elif args.action == "update":
        answer = gateway.call("PATCH", f"{base}/{args.id}", _fields(args)).body
    else:
        answer = gateway.call("DELETE", f"{base}/{args.id}").body
    if args.json:
        print_json(answer)
        return
    if args.action == "create":
        secret = compose(
            literal(answer["key"], "bold"), "\n\n[yellow]Shown once: store it now.[/] The gateway keeps only its hash."
        )
        if answer.get("aws_secret_access_key"):
            secret = compose(
                literal(answer["key"], "bold"),
                "\n\naws_access_key_id      ",
                literal(answer["aws_access_key_id"], "bold"),
                "\naws_secret_access_key  ",
                literal(answer["aws_secret_access_key"], "bold"),
                "\n\n[yellow]Shown once: store them now.[/] The gateway keeps a hash and the AWS secret sealed.",
            )
        out.print(Panel(secret, title=f"key {answer['id']} created", title_align="left", expand=False))
    else:
        done = "revoked" if args.action == "revoke" else "updated"
        out.print(literal(f"key {answer['id']} ({answer['prefix']}) {done}"))
    _print_keys([answer])
    print_store(gateway)  # a key made or revoked here is made or revoked for every gateway sharing the store


def _print_keys(keys: list[dict[str, Any]]) -> None:
    if not keys:
        out.print("[dim]no virtual keys[/]")
        return
    # The AWS access key id (no secret: AWS shows its own the same way), where any key has one.
    aws = any(key.get("aws_access_key_id") for key in keys)
    columns = ("Id", "Key", *(("AWS access key id",) if aws else ()), "Label", "Team", "Models", "Limits")
    drawn = table(*columns, "Budget", "Expires", "State")
    for key in keys:
        limits = (
            ", ".join(
                f"{count(key[name])} {unit}"
                for name, unit in (("rpm", "rpm"), ("tpm", "tpm"), ("max_concurrent", "at once"))
                if key.get(name)
            )
            or "-"
        )
        budget = (
            usd(key["budget_usd"]) + (f"/{key['budget_period']}" if key.get("budget_period") else "")
            if key.get("budget_usd") is not None
            else "-"
        )
        drawn.add_row(
            literal(key["id"]),
            literal(key["prefix"]),
            *((literal(key.get("aws_access_key_id") or "-"),) if aws else ()),
            literal(key["label"] or "-"),
            literal(key["team"] or "-"),
            literal(",".join(key["models"]) or "*"),
            limits,
            budget,
            _date(key.get("expires_at")),
            styled("revoked" if key["revoked"] else "active", STATE_STYLE),
        )
    out.print(drawn)


def _date(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M")


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    names = [flag[2:].replace("-", "_") for flag, _ in _LIMITS]
    fields = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.models is not None:
        fields["models"] = [item.strip() for item in args.models.split(",") if item.strip()]
    if args.mcp is not None:
        fields["mcp"] = [item.strip() for item in args.mcp.split(",") if item.strip()]
    return fields
