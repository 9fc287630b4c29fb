"""Other SDKs' dialects of Chat Completions, made OpenAI's on the fast path (docs/decisions.md, "Profile
edits on the fast path" and "Nothing changed silently").

The mistralai SDK speaks Chat Completions with Mistral's own words: `tool_choice: "any"` for
"required", `random_seed` for `seed`, `safe_prompt` and `prompt_mode` (Mistral's guardrail prompt and
reasoning mode), `prefix` on every assistant message, `index` on every tool call and `name` on every tool
message of a tool round trip. OpenAI-compatible upstreams refuse most of them. On the fast path (the body
relayed with `model` rewritten, never to Mistral: the Mistral provider takes the typed road, where its
translator speaks Mistral) each is translated or dropped and listed in `x-babelgate-adjusted-params`;
the typed road reads `tool_choice: "any"` and `random_seed` in the OpenAI codec, and each provider's
translator drops and lists what it cannot send.

What this costs a request that has none of them (the fast path's CPU is measured,
tests/integration/test_hot_path_budget.py): one set test over the top-level keys, one dict lookup, and a walk
of the parsed messages' keys that stops at the first field to edit (`in` tests, no call per message): unlike
searching the raw bytes, its cost does not grow with the size of an agent's long conversation.
"""

from __future__ import annotations

from typing import Any, Final

# Mistral's top-level request fields that OpenAI's API does not have.
MISTRAL_FIELDS: Final = frozenset({"safe_prompt", "random_seed", "prompt_mode"})


def needs_edits(body: dict[str, Any]) -> bool:
    """Whether `make_openai` has anything to do: a top-level field above, `tool_choice: "any"`, or a message's
    `prefix`, a tool call's `index`, a tool message's `name` (the body is validated: messages are dicts and
    `tool_calls` lists)."""
    if not MISTRAL_FIELDS.isdisjoint(body) or body.get("tool_choice") == "any":
        return True
    messages = body.get("messages")
    if messages.__class__ is not list:
        return False
    for message in messages:
        if message.__class__ is not dict:
            continue
        if "prefix" in message or ("name" in message and message.get("role") == "tool"):
            return True
        if "tool_calls" in message:
            for call in message["tool_calls"] or ():
                if call.__class__ is dict and "index" in call:
                    return True
    return False


def make_openai(body: dict[str, Any], adjusted: list[str]) -> None:
    """The edits the module docstring lists, in place, each listed in `adjusted`."""
    if body.get("tool_choice") == "any":
        body["tool_choice"] = "required"
        adjusted.append("tool_choice=renamed:required")
    if "random_seed" in body:
        seed = body.pop("random_seed")
        if "seed" not in body and seed is not None:
            body["seed"] = seed
            adjusted.append("random_seed=renamed:seed")
        else:
            adjusted.append("random_seed=dropped")
    for name in ("safe_prompt", "prompt_mode"):
        if name in body:
            del body[name]
            adjusted.append(f"{name}=dropped")
    messages = body.get("messages")
    if isinstance(messages, list):
        _messages(messages, adjusted)


def _messages(messages: list[Any], adjusted: list[str]) -> None:
    # One entry per kind of field, not per message: a long tool loop would otherwise fill the header.
    dropped: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant":
            if "prefix" in message:
                del message["prefix"]
                dropped.add("messages.prefix")
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict) and "index" in call:
                    del call["index"]
                    dropped.add("messages.tool_calls.index")
        elif role == "tool" and "name" in message:
            del message["name"]
            dropped.add("messages.name")
    adjusted += [f"{name}=dropped" for name in sorted(dropped)]
