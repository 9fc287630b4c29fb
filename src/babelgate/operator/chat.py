"""`babelgate chat`: a smoke test of a deployment from the terminal. Sends a prompt through the
gateway's OpenAI route, prints the answer as it streams (reasoning dimmed, tool calls as they
arrive), then what served it: the model, the route (`x-babelgate-route`), the request id, tokens,
cost and timings. Exits 1 with the error's message when anything fails."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from babelgate.operator.client import Failed, Gateway, UsageError, gateway_url, parsed
from babelgate.operator.render import compose, count, err, literal, ms, out, print_json, problem, usd


@dataclass
class Reply:
    """What the answer said and how it went, filled as it arrives."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    model: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    first_token_at: float | None = None

    def summary(self, started: float, ended: float) -> dict[str, Any]:
        cost = self.headers.get("x-babelgate-cost-usd")
        return {
            "answer": self.text,
            "reasoning": self.reasoning or None,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "route": self.headers.get("x-babelgate-route"),
            "request_id": self.headers.get("x-request-id"),
            "usage": self.usage,
            "cost_usd": float(cost) if cost is not None else None,
            "ttft_ms": round((self.first_token_at - started) * 1000, 1) if self.first_token_at else None,
            "total_ms": round((ended - started) * 1000, 1),
        }


def add_chat(commands: Any, common: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
        "chat", parents=[common], help="send a prompt through a gateway and show what served it", description=__doc__
    )
    chat.add_argument("prompt", nargs="*", help="the prompt (default: read from stdin; '-' reads stdin too)")
    chat.add_argument("--host", help="the gateway's host (with --port, instead of --url)")
    chat.add_argument("--port", type=int, help="the gateway's port")
    chat.add_argument(
        "-m", "--model", default=os.environ.get("BABELGATE_MODEL"), help="the model to ask (default: $BABELGATE_MODEL)"
    )
    chat.add_argument("-s", "--stream", action="store_true", help="stream the answer as it is written")
    chat.add_argument(
        "--key",
        default=os.environ.get("BABELGATE_API_KEY"),
        help="a gateway key, when the gateway needs one (default: $BABELGATE_API_KEY)",
    )
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--max-tokens", type=int, help="the most tokens the answer may have")
    chat.set_defaults(func=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    if not args.model:
        problem("name a model: --model NAME (or set BABELGATE_MODEL)")
        return 2
    try:
        gateway = Gateway(gateway_url(args.url, args.host, args.port), key=args.key)
    except UsageError as wrong:
        problem(str(wrong))
        return 2
    if args.prompt and args.prompt != ["-"]:
        prompt = " ".join(args.prompt)
    else:
        if sys.stdin.isatty():
            err.print("[dim]reading the prompt from stdin (end it with Ctrl-D)[/]")
        prompt = sys.stdin.read()
    if not prompt.strip():
        problem("no prompt: give one as an argument or on stdin")
        return 2
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": prompt}
    ]
    body: dict[str, Any] = {"model": args.model, "messages": messages}
    if args.max_tokens is not None:
        body["max_tokens"] = args.max_tokens
    reply, show = Reply(), not args.json
    started = time.perf_counter()
    try:
        if args.stream:
            _stream(gateway, body, reply, show)
        else:
            _complete(gateway, body, reply, show)
    except (Failed, KeyboardInterrupt) as stopped:
        if show and (reply.text or reply.reasoning or reply.tool_calls):
            out.print()
        if isinstance(stopped, KeyboardInterrupt):
            problem("interrupted")
            return 130
        problem(str(stopped))
        return 1
    summary = reply.summary(started, time.perf_counter())
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
    return 0


def _complete(gateway: Gateway, body: dict[str, Any], reply: Reply, show: bool) -> None:
    # Not `Gateway.call`: its timeout would bound the whole answer, and connecting as well.
    reply.headers, lines = gateway.stream("/v1/chat/completions", body)
    data = parsed(b"".join(lines))
    reply.first_token_at = time.perf_counter()
    reply.model, reply.usage = data.get("model"), data.get("usage")
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    reply.finish_reason = choice.get("finish_reason")
    reply.reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    reply.text = message.get("content") or ""
    reply.tool_calls = [
        {
            "id": call.get("id", ""),
            "name": call["function"].get("name", ""),
            "arguments": call["function"].get("arguments", ""),
        }
        for call in message.get("tool_calls") or []
        if call.get("function")
    ]
    if show:
        if reply.reasoning:
            out.print(literal(reply.reasoning, "dim italic"))
        if reply.text:
            out.print(literal(reply.text))
        for call in reply.tool_calls:
            out.print(compose("[cyan]tool call[/] ", literal(call["name"], "bold"), " ", literal(call["arguments"])))


def _stream(gateway: Gateway, body: dict[str, Any], reply: Reply, show: bool) -> None:
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    reply.headers, lines = gateway.stream("/v1/chat/completions", body)
    writing = ""  # what the last piece printed was: "text", "reasoning" or "tool"
    for raw in lines:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        chunk = parsed(data, "the stream carried an event")
        if isinstance(chunk.get("error"), dict):  # the stream's error event: the answer is cut short
            raise Failed(
                f"the stream failed: {chunk['error'].get('message', 'unknown error')}", code=chunk["error"].get("code")
            )
        reply.model = chunk.get("model") or reply.model
        reply.usage = chunk.get("usage") or reply.usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if thinking:
                writing = _piece(show, writing, "reasoning", thinking, "dim italic")
                reply.reasoning += thinking
            if delta.get("content"):
                writing = _piece(show, writing, "text", delta["content"], "")
                reply.text += delta["content"]
            for call in delta.get("tool_calls") or []:
                writing = _tool_piece(show, writing, reply, call)
            if reply.first_token_at is None and (reply.text or reply.reasoning or reply.tool_calls):
                reply.first_token_at = time.perf_counter()
    if show and writing:
        out.print()


def _piece(show: bool, writing: str, kind: str, text: str, style: str) -> str:
    if show:
        if writing and writing != kind:
            out.print()
        out.print(literal(text, style), end="")
    return kind


def _tool_piece(show: bool, writing: str, reply: Reply, call: dict[str, Any]) -> str:
    index = call.get("index", len(reply.tool_calls))
    while len(reply.tool_calls) <= index:
        reply.tool_calls.append({"id": "", "name": "", "arguments": ""})
    current = reply.tool_calls[index]
    function = call.get("function") or {}
    if call.get("id"):
        current["id"] = call["id"]
    if function.get("name"):
        current["name"] += function["name"]
        if show:
            if writing:
                out.print()
            out.print(compose("[cyan]tool call[/] ", literal(function["name"], "bold"), " "), end="")
    if function.get("arguments"):
        current["arguments"] += function["arguments"]
        if show:
            out.print(literal(function["arguments"]), end="")
    return "tool"


def _print_summary(summary: dict[str, Any]) -> None:
    """One dimmed line on stderr (stdout keeps the answer alone, for a pipe)."""
    usage = summary["usage"] or {}
    parts = [compose("model ", literal(summary["model"] or "?", "bold"))]
    if summary["route"]:
        parts.append(literal(f"route {summary['route']}"))
    if usage:
        parts.append(
            literal(f"tokens {count(usage.get('prompt_tokens'))} in / {count(usage.get('completion_tokens'))} out")
        )
    if summary["cost_usd"] is not None:
        parts.append(literal(f"cost {usd(summary['cost_usd'])}"))
    if summary["ttft_ms"] is not None:
        parts.append(literal(f"first token {ms(summary['ttft_ms'])}"))
    parts.append(literal(f"total {ms(summary['total_ms'])}"))
    if summary["finish_reason"] and summary["finish_reason"] != "stop":
        parts.append(literal(f"finish {summary['finish_reason']}"))
    if summary["request_id"]:
        parts.append(literal(f"request {summary['request_id']}"))
    err.print(literal(" · ").join(parts), style="dim")
