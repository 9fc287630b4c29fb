"""`babelgate serve` and `babelgate check-config`; the operator commands (`chat`, `models`, `keys`,
`usage`) are in operator/."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from babelgate.app import VERSION, Gateway, create_app
from babelgate.collector import PacedCollector
from babelgate.config.load import ConfigError, load_config
from babelgate.config.models import Config
from babelgate.observability import worker_metrics
from babelgate.observability.logging import Scrubber, configure_logging, secrets_of
from babelgate.providers import PROVIDER_TYPES
from babelgate.server_protocol import UVICORN_OPTIONS, Limits, set_limits

CONFIG_ENV = "BABELGATE_CONFIG"
LOG_LEVEL_ENV = "BABELGATE_LOG_LEVEL"  # --log-level, handed to worker processes
LISTEN_ENV = "BABELGATE_LISTENING"  # host:port `serve` binds, for the workers' log of their access mode
log = logging.getLogger("babelgate")


def _load(path: str | None) -> Config:
    return load_config(path, os.environ, available_types=PROVIDER_TYPES)


def _checked(path: str | None, *, reloadable: bool = False) -> Gateway:
    """A gateway for the config at `path`, or ConfigError naming what does not fit; `reloadable`
    ones read the file again on SIGHUP."""
    config = _load(path)
    try:
        return create_app(config, reload=(lambda: _load(path)) if reloadable else None)
    except ValueError as exc:
        where, _, problem = str(exc).partition(": ")
        raise ConfigError(path or "<environment>", [(where, problem)]) from None


def worker_app() -> Gateway:
    """The uvicorn factory for `serve` (also each worker process's entry with --workers > 1)."""
    app = _checked(os.environ.get(CONFIG_ENV) or None, reloadable=True)
    config = app.runtime.config
    server = config.server
    set_limits(
        Limits(
            header_timeout=server.header_timeout,
            body_timeout=server.body_timeout,
            max_header_bytes=server.max_header_bytes,
        )
    )
    configure_logging(
        os.environ.get(LOG_LEVEL_ENV) or config.server.log_level, Scrubber(secrets_of(config)), config.server.log_format
    )
    # Everything built so far lives as long as the process: keep it out of the collector's full
    # passes, which otherwise pause the loop for ~17 ms every few thousand requests.
    gc.collect()
    gc.freeze()
    app.telemetry.collector = PacedCollector()  # and from the start on, by the clock (collector.py)
    app.governance.listening = os.environ.get(LISTEN_ENV) or _address(server.host, server.port)
    return app


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # an IPv6 address in brackets


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    try:
        gateway = _checked(os.environ.get(CONFIG_ENV) or None)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    server = gateway.runtime.config.server
    host = args.host or server.host
    port = args.port if args.port is not None else server.port
    if not _is_loopback(host) and not gateway.runtime.keys.enabled and not args.allow_unauthenticated:
        print(
            f"refusing to listen on {host} without gateway keys: set BABELGATE_API_KEYS (or server.api_keys), "
            "or pass --allow-unauthenticated",
            file=sys.stderr,
        )
        return 2
    log_level = args.log_level or os.environ.get(LOG_LEVEL_ENV) or server.log_level
    os.environ[LOG_LEVEL_ENV] = log_level
    os.environ[LISTEN_ENV] = _address(host, port)
    # The supervisor of several workers logs too; each worker sets the same up again.
    configure_logging(log_level, Scrubber(secrets_of(gateway.runtime.config)), server.log_format)
    metrics_dir = None
    if args.workers > 1:  # each worker's counts, for every worker's /metrics (observability/worker_metrics.py)
        metrics_dir = tempfile.mkdtemp(prefix="babelgate-metrics-")
        os.environ[worker_metrics.ENV] = metrics_dir
    try:
        _run(uvicorn, args, host, port, log_level, server.shutdown_timeout)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _run(uvicorn: Any, args: argparse.Namespace, host: str, port: int, log_level: str, shutdown_timeout: float) -> None:
    uvicorn.run(
        "babelgate.cli:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_level=log_level,
        loop="uvloop",
        lifespan="on",
        **{**UVICORN_OPTIONS, "access_log": args.access_log},
        # X-Forwarded-For only matters to the access log (the gateway itself never reads the client's
        # address); parsing it costs ~2 % of a fast-path request.
        proxy_headers=args.access_log,
        # SIGTERM: stop accepting, let what is in flight finish this long, then the lifespan's
        # shutdown flushes the ledger and stores (app.py aclose).
        timeout_graceful_shutdown=shutdown_timeout,
    )


def check_config(args: argparse.Namespace) -> int:
    try:
        gateway = _checked(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    runtime = gateway.runtime
    if runtime.credential_problems:
        for name, problem in runtime.credential_problems.items():
            print(f"{args.file}: providers.{name} ({runtime.providers[name].type}): {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    print(f"providers: {', '.join(f'{n} ({p.type})' for n, p in runtime.providers.items()) or 'none'}")
    rows = runtime.registry.table()
    if rows:
        width = max(len(name) for name, _, _ in rows)
        print("models:")
        for name, provider, model in rows:
            print(f"  {name:<{width}}  →  {provider}: {model}")
    print("prefixes: " + ", ".join(f"{name}/<model>" for name in runtime.providers))
    return 0


# Options whose value may begin with "-" (a stdio MCP server's `--arg -y`): argparse would take the value
# for an option of its own, so `--arg -y` is read as `--arg=-y`.
OPTION_LIKE_VALUES = frozenset({"--arg"})


def build_parser(*, operator: bool = True) -> argparse.ArgumentParser:
    """Every command's parser; `operator` False leaves out the clients of a running gateway."""
    parser = argparse.ArgumentParser(prog="babelgate", description="OpenAI-compatible LLM API gateway")
    parser.add_argument("--version", action="version", version=f"babelgate {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the gateway")
    run.add_argument("--config", help="YAML config file (default: $BABELGATE_CONFIG, else the environment alone)")
    run.add_argument("--host", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default 8080)")
    run.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    run.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    run.add_argument("--access-log", action="store_true", help="log every request (costs CPU)")
    run.add_argument(
        "--allow-unauthenticated", action="store_true", help="allow a non-loopback address without gateway keys"
    )
    run.set_defaults(func=serve)
    check = commands.add_parser("check-config", help="validate a config and print the model table")
    check.add_argument("file")
    check.set_defaults(func=check_config)
    if operator:
        # chat, models, keys, usage, launch: clients of a running gateway. Not loaded by the server's own
        # commands (nor by its workers, which import this module): their tables (rich) are ~2.5 MiB of a
        # server process's memory.
        from babelgate.operator.commands import add_operator_commands

        add_operator_commands(commands)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line as `main` reads it."""
    argv = list(argv)
    parser = build_parser(operator=argv[:1] not in (["serve"], ["check-config"]))
    # `launch AGENT [options] -- ARGS`: what follows the first `--` is the agent's, left unparsed.
    agent_args: list[str] = []
    if argv[:1] == ["launch"] and "--" in argv:
        argv, agent_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = parser.parse_args(_option_like_values_joined(argv))
    if args.command == "launch":
        args.agent_args = agent_args
    return args


def _option_like_values_joined(argv: list[str]) -> list[str]:
    joined: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            joined += [token, *tokens]
            break
        if token in OPTION_LIKE_VALUES:
            value = next(tokens, None)
            joined.append(token if value is None else f"{token}={value}")
            continue
        joined.append(token)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
