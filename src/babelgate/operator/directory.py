"""`babelgate users …` and `babelgate teams …`: users and teams through the admin API (`/admin/users`,
`/admin/teams`): create, list, show, update, delete; and `babelgate audit`: the admin actions."""

from __future__ import annotations

import argparse
import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from babelgate.operator.client import Gateway, run_admin
from babelgate.operator.render import count, literal, out, print_json, table, usd

_LIMITS = (("--rpm", int), ("--tpm", int), ("--max-concurrent", int), ("--budget-usd", float), ("--budget-period", str))


@dataclass(frozen=True)
class _Kind:
    command: str  # users, teams
    noun: str  # user, team
    fields: tuple[tuple[str, Any], ...]  # single-valued options
    lists: tuple[str, ...]  # comma-separated options
    flags: tuple[str, ...] = ()  # --disabled / --enabled


USERS = _Kind(
    "users", "user", (("--email", str), ("--name", str), ("--role", str), *_LIMITS), ("--teams",), ("disabled",)
)
TEAMS = _Kind("teams", "team", _LIMITS, ("--members", "--admins", "--models", "--guardrails"))


def add_directory(commands: Any, admin: argparse.ArgumentParser, admin_below: argparse.ArgumentParser) -> None:
    for kind in (USERS, TEAMS):
        _add(commands, kind, admin, admin_below)
    audit = commands.add_parser("audit", parents=[admin], help="the admin actions: who, when, what, from where")
    for name in ("since", "until", "actor", "action", "target-type", "target-id"):
        audit.add_argument(f"--{name}")
    audit.add_argument("--limit", type=int, default=50)
    audit.set_defaults(func=run_admin, command_func=run_audit)


def _add(commands: Any, kind: _Kind, admin: argparse.ArgumentParser, below: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        kind.command, parents=[admin], help=f"create, list, show, update or delete {kind.command} (admin API)"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", parents=[below], help=f"create a {kind.noun}")
    update = actions.add_parser("update", parents=[below], help=f"change a {kind.noun}'s fields")
    for changing in (create, update):
        changing.add_argument("id")
        for flag, type_ in kind.fields:
            changing.add_argument(flag, type=type_)
        for flag in kind.lists:
            changing.add_argument(flag, help="comma-separated")
        for flag in kind.flags:
            changing.add_argument(f"--{flag}", dest=flag, action="store_true", default=None)
            changing.add_argument(f"--not-{flag}", dest=flag, action="store_false")
    listing = actions.add_parser("list", parents=[below], help=f"list {kind.command}")
    show = actions.add_parser("show", parents=[below], help=f"one {kind.noun}")
    delete = actions.add_parser("delete", parents=[below], help=f"delete a {kind.noun}")
    for one in (show, delete):
        one.add_argument("id")
    for each in (create, update, listing, show, delete):
        each.set_defaults(func=run_admin, command_func=_runner(kind))


def _runner(kind: _Kind) -> Any:
    def run(args: argparse.Namespace, gateway: Gateway) -> None:
        base = f"/admin/{kind.command}"
        if args.action == "list":
            answer = gateway.call("GET", base).body
            rows = answer["data"]
        elif args.action == "create":
            answer = gateway.call("POST", base, {"id": args.id, **_fields(args, kind)}).body
            rows = [answer]
        elif args.action == "update":
            answer = gateway.call("PATCH", f"{base}/{args.id}", _fields(args, kind)).body
            rows = [answer]
        elif args.action == "show":
            answer = gateway.call("GET", f"{base}/{args.id}").body
            rows = [answer]
        else:
            answer = gateway.call("DELETE", f"{base}/{args.id}").body
            if not args.json:
                out.print(literal(f"{kind.noun} {args.id} deleted"))
                return
            rows = []
        if args.json:
            print_json(answer)
        else:
            _print(kind, rows)

    return run


def _fields(args: argparse.Namespace, kind: _Kind) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for flag, _ in kind.fields:
        name = flag[2:].replace("-", "_")
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    for flag in kind.lists:
        name = flag[2:]
        value = getattr(args, name)
        if value is not None:
            fields[name] = [item.strip() for item in value.split(",") if item.strip()]
    for flag in kind.flags:
        if getattr(args, flag) is not None:
            fields[flag] = getattr(args, flag)
    return fields


def _limits(item: dict[str, Any]) -> str:
    shown = [
        f"{count(item[name])} {unit}"
        for name, unit in (("rpm", "rpm"), ("tpm", "tpm"), ("max_concurrent", "at once"))
        if item.get(name)
    ]
    if item.get("budget_usd") is not None:
        shown.append(usd(item["budget_usd"]) + (f"/{item['budget_period']}" if item.get("budget_period") else ""))
    return ", ".join(shown) or "-"


def _print(kind: _Kind, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print(f"[dim]no {kind.command}[/]")
        return
    if kind is USERS:
        drawn = table("Id", "Email", "Name", "Role", "Teams", "Limits", "Source", "State")
        for user in rows:
            drawn.add_row(
                literal(user["id"]),
                literal(user.get("email") or "-"),
                literal(user.get("name") or "-"),
                literal(user.get("role") or "-"),
                literal(",".join(user.get("teams") or []) or "-"),
                _limits(user),
                literal(user.get("source") or "-"),
                "disabled" if user.get("disabled") else "active",
            )
    else:
        drawn = table("Id", "Members", "Admins", "Models", "Limits", "Source")
        for team in rows:
            drawn.add_row(
                literal(team["id"]),
                literal(",".join(team.get("members") or []) or "-"),
                literal(",".join(team.get("admins") or []) or "-"),
                literal(",".join(team.get("models") or []) or "*"),
                _limits(team),
                literal(team.get("source") or "-"),
            )
    out.print(drawn)


def run_audit(args: argparse.Namespace, gateway: Gateway) -> None:
    query = {
        name: getattr(args, name.replace("-", "_"))
        for name in ("since", "until", "actor", "action", "target-type", "target-id")
        if getattr(args, name.replace("-", "_")) is not None
    }
    query["limit"] = str(args.limit)
    path = "/admin/audit?" + urlencode({name.replace("-", "_"): value for name, value in query.items()})
    answer = gateway.call("GET", path).body
    if args.json:
        print_json(answer)
        return
    drawn = table("When", "Actor", "Action", "Target", "From", "Changed")
    for entry in answer["data"]:
        when = datetime.datetime.fromtimestamp(entry["ts"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        drawn.add_row(
            when,
            literal(entry["actor"]),
            literal(entry["action"]),
            literal(f"{entry['target_type']} {entry.get('target_id') or ''}".strip()),
            literal(entry.get("address") or "-"),
            literal(", ".join(entry.get("changes") or {}) or "-"),
        )
    out.print(drawn)
