"""`babelgate keys create|list|update|revoke`: the admin API's virtual keys from a terminal.

A client of the running gateway's `/admin/keys` (DECISIONS 17: what the CLI does, a script can do
with the same routes), authenticated with the master key from `$BABELGATE_MASTER_KEY`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

_LIMITS = (("--label", str), ("--team", str), ("--rpm", int), ("--tpm", int), ("--max-concurrent", int),
           ("--budget-usd", float), ("--budget-period", str), ("--expires-at", str))


def add_keys_command(commands: Any) -> None:
    keys = commands.add_parser("keys", help="create, list, update or revoke virtual keys (the admin API)")
    keys.add_argument("--url", default=os.environ.get("BABELGATE_URL", "http://127.0.0.1:8080"),
                      help="the gateway (default: $BABELGATE_URL, else http://127.0.0.1:8080)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; its secret is printed this once")
    update = actions.add_parser("update", help="change a key's fields")
    update.add_argument("id")
    for parser in (create, update):
        for flag, kind in _LIMITS:
            parser.add_argument(flag, type=kind)
        parser.add_argument("--models", help="comma-separated model names or patterns (gpt-4o*, claude-*)")
    actions.add_parser("list", help="list keys (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key at once, on every instance")
    revoke.add_argument("id")
    keys.set_defaults(func=run_keys)


def run_keys(args: argparse.Namespace) -> int:
    master = os.environ.get("BABELGATE_MASTER_KEY")
    if not master:
        print("set BABELGATE_MASTER_KEY to the gateway's master key", file=sys.stderr)
        return 2
    base = args.url.rstrip("/") + "/admin/keys"
    try:
        if args.action == "create":
            print(json.dumps(_call("POST", base, master, _fields(args)), indent=2))
        elif args.action == "update":
            print(json.dumps(_call("PATCH", f"{base}/{args.id}", master, _fields(args)), indent=2))
        elif args.action == "revoke":
            print(json.dumps(_call("DELETE", f"{base}/{args.id}", master, None), indent=2))
        else:
            for key in _call("GET", base, master, None)["data"]:
                state = "revoked" if key["revoked"] else "active"
                models = ",".join(key["models"]) or "*"
                print(f"{key['id']}  {key['prefix']}  {state:<7}  {key['label'] or '-'}  team={key['team'] or '-'}"
                      f"  models={models}")
    except _Failed as failed:
        print(failed, file=sys.stderr)
        return 1
    return 0


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, _ in _LIMITS}
    fields = {name: value for name, value in fields.items() if value is not None}
    if args.models is not None:
        fields["models"] = [item.strip() for item in args.models.split(",") if item.strip()]
    return fields


class _Failed(Exception):
    pass


def _call(method: str, url: str, master: str, body: dict[str, Any] | None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {master}", "Content-Type": "application/json"})
    # Straight to the gateway: an http_proxy in the environment must not capture an admin call.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        raise _Failed(f"the gateway answered {error.code}: {message}") from None
    except OSError as error:
        raise _Failed(f"cannot reach the gateway at {url}: {error}") from None
