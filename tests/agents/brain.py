"""A scripted model for the coding agents, speaking each provider's own streaming format.

It reads what the agent sent through the gateway, in the upstream's format: when the agent offers its
shell tool (Claude Code's `Bash`, Codex's `exec_command`, Gemini CLI's and Qwen Code's
`run_shell_command`, opencode's, Kilo's and Copilot CLI's `bash`, Cline's `run_commands`) and no result
of it came back yet, the model calls it with a command that writes a file; once the result is in the
conversation, it answers with a text that quotes the result. Any other request (an agent's side query: a
title, a summary) is left to the fake's default answer. The agent really runs the command: the file
proves the loop closed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes import openai_upstream as oai
from tests.fakes.scripted import Received, Reply

JSON = dict[str, Any]
# Each agent's shell tool and the argument that holds the command line.
# (Qwen Code's is Gemini CLI's `run_shell_command`; opencode's, Kilo's and Copilot CLI's is `bash`; Cline's
# `run_commands` takes a list of command lines.)
SHELL_TOOLS: Final = {
    "Bash": "command",
    "exec_command": "cmd",
    "run_shell_command": "command",
    "bash": "command",
    "run_commands": "commands",
}
FINAL_PREFIX: Final = "All done. The command printed: "
CLAUDE_THOUGHT: Final = "The user wants a file: run the command."


def claude_signature(calls: int) -> str:
    """The signature of the thinking before the brain's `calls`-th tool call, on Anthropic."""
    return f"EqSignedThinking{calls}=="


@dataclass(frozen=True)
class Turn:
    """What the conversation holds, as far as the brain cares."""

    shell: str | None  # the shell tool on offer, if any
    result: str | None  # the last message's shell result, if it is one
    streaming: bool


@dataclass
class Brain:
    command: str  # what the model runs (it writes the proof file and prints its content)
    calls: int = 0  # how many tool calls it made
    answers: int = 0  # how many final answers it gave

    def arguments(self, shell: str) -> JSON:
        arguments: JSON = {SHELL_TOOLS[shell]: [self.command] if shell == "run_commands" else self.command}
        if shell in ("Bash", "bash"):
            arguments["description"] = "Write the proof file"
        return arguments

    def decide(self, turn: Turn) -> tuple[str, JSON] | str | None:
        """A tool call (name, arguments), a final text, or None (the fake's default answer)."""
        if turn.shell is None or not turn.streaming:
            return None
        if turn.result is None:
            self.calls += 1
            return turn.shell, self.arguments(turn.shell)
        self.answers += 1
        return FINAL_PREFIX + turn.result.strip()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(part.get("text", part.get("content", ""))) for part in content if isinstance(part, dict))
    return json.dumps(content)


def _shell(names: list[str]) -> str | None:
    return next((name for name in names if name in SHELL_TOOLS), None)


# -- each provider's request → Turn ---------------------------------------------------------------------


def chat_turn(body: JSON) -> Turn:
    """OpenAI-compatible and Mistral chat bodies."""
    names = [tool["function"]["name"] for tool in body.get("tools") or () if tool.get("type") == "function"]
    last = (body.get("messages") or [{}])[-1]
    result = _text(last.get("content")) if last.get("role") == "tool" else None
    return Turn(_shell(names), result, bool(body.get("stream")))


def anthropic_turn(body: JSON) -> Turn:
    names = [tool["name"] for tool in body.get("tools") or () if "input_schema" in tool]
    last = (body.get("messages") or [{}])[-1]
    results = (
        [block for block in last.get("content") or () if isinstance(block, dict) and block.get("type") == "tool_result"]
        if last.get("role") == "user"
        else []
    )
    return Turn(_shell(names), _text(results[-1].get("content")) if results else None, bool(body.get("stream")))


def gemini_turn(body: JSON, path: str) -> Turn:
    names = [
        declaration["name"]
        for tool in body.get("tools") or ()
        for declaration in tool.get("functionDeclarations") or ()
    ]
    last = (body.get("contents") or [{}])[-1]
    responses = [part["functionResponse"] for part in last.get("parts") or () if "functionResponse" in part]
    result = None
    if responses:
        response = responses[-1].get("response") or {}
        result = _text(response.get("output", response.get("result", response)))
    return Turn(_shell(names), result, "streamGenerateContent" in path)


# -- a decision → each provider's stream ---------------------------------------------------------------


def openai_reply(decision: tuple[str, JSON] | str, calls: int, body: JSON) -> Reply:
    if isinstance(decision, str):
        return Reply(stream=oai.text_stream([decision[:20], decision[20:]], include_usage=True))
    name, arguments = decision
    events = oai.tool_call_stream([(f"call_{calls}", name, [json.dumps(arguments)])])
    return Reply(stream=[*events, oai.usage_chunk()])


def anthropic_reply(decision: tuple[str, JSON] | str, calls: int, body: JSON) -> Reply:
    if isinstance(decision, str):
        return Reply(stream=ant.text_events([decision[:20], decision[20:]]))
    name, arguments = decision
    # With thinking on, Claude thinks (signed) before a tool call, and wants that block back next turn.
    thinking = (body.get("thinking") or {}).get("type") not in (None, "disabled")
    return Reply(
        stream=ant.tool_events(
            [(f"toolu_0{calls}", name, [json.dumps(arguments)])],
            thinking=CLAUDE_THOUGHT if thinking else None,
            signature=claude_signature(calls),
        )
    )


def gemini_reply(decision: tuple[str, JSON] | str, calls: int, body: JSON) -> Reply:
    if isinstance(decision, str):
        return Reply(stream=gem.text_chunks([decision[:20], decision[20:]]))
    name, arguments = decision
    # Gemini 3 signs the first call of a step; the agent must carry the signature back (in the call id).
    signature = base64.b64encode(f"signed step {calls}".encode()).decode()
    return Reply(stream=gem.function_call_chunks([(name, arguments, f"fc_{calls}", signature)]))


def mistral_reply(decision: tuple[str, JSON] | str, calls: int, body: JSON) -> Reply:
    if isinstance(decision, str):
        return Reply(stream=mis.text_stream([decision[:20], decision[20:]]))
    name, arguments = decision
    return Reply(stream=mis.tool_call_stream([(f"call{calls:05d}", name, json.dumps(arguments))]))


Responder = Callable[[Any, str], Reply | None]


# Each provider's request format → Turn (the path tells Gemini's streaming from its plain calls).
READERS: Final[dict[str, Callable[[JSON, str], Turn]]] = {
    "openai": lambda body, _: chat_turn(body),
    "mistral": lambda body, _: chat_turn(body),
    "anthropic": lambda body, _: anthropic_turn(body),
    "gemini": gemini_turn,
    # Claude on Bedrock: Anthropic's body through InvokeModel, streamed when the path says so.
    "bedrock": lambda body, path: anthropic_turn({**body, "stream": path.endswith("/invoke-with-response-stream")}),
}


def shell_results(provider: str, received: list[Received]) -> list[str]:
    """The shell results the upstream was sent back, read in `provider`'s format, in arrival order."""
    found = []
    for request in received:
        if request.method == "POST" and isinstance(request.json, dict):
            result = READERS[provider](request.json, request.path).result
            if result is not None:
                found.append(result)
    return found


def responder(brain: Brain, provider: str) -> Responder:
    """The fake upstream's responder for `provider` ("openai", "anthropic", "gemini", "mistral", "bedrock")."""
    read = READERS[provider]
    write = {
        "openai": openai_reply,
        "anthropic": anthropic_reply,
        "gemini": gemini_reply,
        "mistral": mistral_reply,
        "bedrock": anthropic_reply,  # the fake Bedrock wraps each Anthropic event in a `chunk` frame
    }[provider]

    def respond(body: Any, path: str) -> Reply | None:
        if not isinstance(body, dict):
            return None
        decision = brain.decide(read(body, path))
        return None if decision is None else write(decision, brain.calls, body)

    return respond
