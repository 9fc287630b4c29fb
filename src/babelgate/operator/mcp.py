"""`babelgate mcp add|list|remove`: the upstream MCP servers behind `/mcp`, through the admin API
(`/admin/mcp/servers`). Secrets are best given as `env:VAR` references (resolved by the gateway from
its own environment, and kept as references in the store)."""

from __future__ import annotations

import argparse
from typing import Any

from babelgate.operator.client import Gateway, run_admin
from babelgate.operator.render import literal, out, print_json, styled, table

BASE = "/admin/mcp/servers"
STATES = {"ready": "green", "idle": "dim", "connecting": "yellow", "down": "red", "closed": "dim"}


def add_mcp(commands: Any, admin: argparse.ArgumentParser, admin_below: argparse.ArgumentParser) -> None:
    mcp = commands.add_parser(
        "mcp", parents=[admin], help="add, list or remove upstream MCP servers (admin API)", description=__doc__
    )
    actions = mcp.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[admin_below], help="add a server (streamable HTTP, SSE or stdio)")
    add.add_argument("name")
    add.add_argument("target", help="the server's URL, or a stdio server's command")
    add.add_argument(
        "--arg", action="append", default=[], dest="command_args", help="a stdio server's argument (repeat)"
    )
    add.add_argument("--transport", choices=("streamable_http", "sse"), help="how the URL is spoken")
    add.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="sent to the server (env:VAR for secrets)"
    )
    add.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a stdio server's environment")
    add.add_argument("--timeout", type=float, help="seconds a call may take")
    add.add_argument("--max-result-bytes", type=int, help="largest tool result passed on")
    listing = actions.add_parser("list", parents=[admin_below], help="list servers, their state and tools")
    remove = actions.add_parser("remove", parents=[admin_below], help="remove a server added through the API")
    remove.add_argument("name")
    for parser in (add, listing, remove):
        parser.set_defaults(func=run_admin, command_func=run_mcp)


def run_mcp(args: argparse.Namespace, gateway: Gateway) -> None:
    if args.action == "list":
        answer = gateway.call("GET", BASE).body
        if args.json:
            print_json(answer)
        else:
            _print(answer["data"])
        return
    if args.action == "add":
        answer = gateway.call("POST", BASE, _fields(args)).body
    else:
        answer = gateway.call("DELETE", f"{BASE}/{args.name}").body
    if args.json:
        print_json(answer)
        return
    if args.action == "add":
        out.print(literal(f"MCP server {answer['name']} added ({answer['transport']})"))
        _print([answer])
    else:
        out.print(literal(f"MCP server {answer['name']} removed"))


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": args.name}
    if args.target.startswith(("http://", "https://")):
        fields["url"] = args.target
    else:
        fields["command"] = args.target
        fields["args"] = list(args.command_args)
    for flag, name in ((args.header, "headers"), (args.env, "env")):
        pairs = dict(item.split("=", 1) for item in flag if "=" in item)
        if pairs:
            fields[name] = pairs
    for name in ("transport", "timeout", "max_result_bytes"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    return fields


def _print(servers: list[dict[str, Any]]) -> None:
    if not servers:
        out.print("[dim]no MCP servers[/]")
        return
    drawn = table("Name", "Transport", "Target", "State", "Tools", "Source")
    for server in servers:
        target = server.get("url") or " ".join([server.get("command") or "", *server.get("args", [])])
        tools = server.get("tools")
        drawn.add_row(
            literal(server["name"]),
            literal(server["transport"]),
            literal(target),
            styled(server.get("state", "idle"), STATES),
            literal(", ".join(tools) if tools else "-"),
            literal(server.get("source", "")),
        )
    out.print(drawn)
