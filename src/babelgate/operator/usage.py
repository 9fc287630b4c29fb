"""`babelgate usage`: the ledger's summary for a period (`GET /admin/usage`), one row per group
(model by default), with a totals line: requests, errors, tokens (prompt, cached, completion), cost,
latency and time to first token percentiles."""

from __future__ import annotations

import argparse
import datetime
import time
import urllib.parse
from typing import Any

from babelgate.operator.client import Gateway, UsageError, run_admin
from babelgate.operator.render import count, literal, ms, out, percent, print_json, table, usd
from babelgate.operator.state import print_store

GROUPS = ("model", "provider", "key", "team", "status", "route", "model_requested", "session")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def add_usage(commands: Any, admin: argparse.ArgumentParser) -> None:
    usage = commands.add_parser(
        "usage", parents=[admin], help="a usage summary for a period (admin API)", description=__doc__
    )
    usage.add_argument(
        "--since", default="24h", help="start: RFC 3339, unix seconds, or a time ago such as 30m, 24h, 7d (default 24h)"
    )
    usage.add_argument("--until", help="end, in the same forms (default: now)")
    usage.add_argument("--by", default="model", help=f"group by, comma-separated: {', '.join(GROUPS)} (default model)")
    for name in ("key", "team", "model", "provider"):
        usage.add_argument(f"--{name}", dest=f"only_{name}", help=f"only this {name}")
    usage.set_defaults(func=run_admin, command_func=run_usage)


def run_usage(args: argparse.Namespace, gateway: Gateway) -> None:
    now = time.time()
    period = {"since": moment(args.since, now), "until": moment(args.until, now) if args.until else None}
    filters = {
        name: getattr(args, f"only_{name}")
        for name in ("key", "team", "model", "provider")
        if getattr(args, f"only_{name}")
    }
    groups = [name.strip() for name in args.by.split(",") if name.strip()]
    query = {**{k: v for k, v in period.items() if v is not None}, **filters}
    rows = gateway.call("GET", "/admin/usage?" + _encode({**query, "group_by": ",".join(groups)})).body
    totals = gateway.call("GET", "/admin/usage?" + _encode(query)).body
    if args.json:
        print_json({**rows, "totals": totals["data"][0] if totals["data"] else None})
        return
    since = datetime.datetime.fromtimestamp(rows["since"]).strftime("%Y-%m-%d %H:%M")
    until = datetime.datetime.fromtimestamp(rows["until"]).strftime("%Y-%m-%d %H:%M")
    drawn = table(
        *groups,
        ">Requests",
        ">Errors",
        ">Prompt",
        ">Cached",
        ">Completion",
        ">Cost",
        ">p50",
        ">p95",
        ">p99",
        ">TTFT p50",
        ">TTFT p99",
        title=f"usage {since} → {until}",
    )
    for row in rows["data"]:
        drawn.add_row(
            *(literal(str(row.get(name) if row.get(name) not in (None, "") else "-")) for name in groups),
            *_figures(row),
        )
    if totals["data"]:
        drawn.add_section()
        drawn.add_row(
            "[bold]total[/]", *([""] * (len(groups) - 1)), *(f"[bold]{cell}[/]" for cell in _figures(totals["data"][0]))
        )
    if not rows["data"]:
        out.print(f"[dim]no requests between {since} and {until}[/]")
    else:
        out.print(drawn)
    print_store(gateway)  # the ledger is the store's: the requests of every gateway sharing it


def _figures(row: dict[str, Any]) -> list[str]:
    errors = count(row["errors"]) + (f" ({percent(row['error_rate'])})" if row["errors"] else "")
    latency, ttft = row["latency_ms"], row["ttft_ms"]
    return [
        count(row["requests"]),
        errors,
        count(row["prompt_tokens"]),
        count(row["cached_tokens"]),
        count(row["completion_tokens"]),
        usd(row["cost_usd"]),
        ms(latency["p50"]),
        ms(latency["p95"]),
        ms(latency["p99"]),
        ms(ttft["p50"]),
        ms(ttft["p99"]),
    ]


def moment(text: str, now: float) -> float:
    """RFC 3339, unix seconds, or a time ago (`90m`, `24h`, `7d`, `2w`)."""
    value = text.strip()
    if value[:-1].replace(".", "", 1).isdigit() and value[-1:] in _UNITS:
        return now - float(value[:-1]) * _UNITS[value[-1]]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: use RFC 3339, unix seconds, or a time ago such as 24h or 7d"
        ) from None


def _encode(query: dict[str, Any]) -> str:
    return urllib.parse.urlencode(query)
