"""Each door's codec for the conversation log (conversation/codec.py): a request and an answer in the door's own
JSON (whole, and as its stream frames them) become the GenAI semantic conventions' messages; what does not parse
yields what could be read."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from babelgate import eventstream
from babelgate.conversation.codec import answer_events
from babelgate.frontends.anthropic_messages.conversation import CODEC as MESSAGES
from babelgate.frontends.embeddings_conversation import CODEC as EMBEDDINGS
from babelgate.frontends.gemini.conversation import CODEC as GEMINI
from babelgate.frontends.ollama.conversation import CODEC as OLLAMA
from babelgate.frontends.openai_chat.conversation import CODEC as CHAT
from babelgate.frontends.openai_completions.conversation import CODEC as COMPLETIONS
from babelgate.frontends.responses.conversation import CODEC as RESPONSES

PNG = "iVBORw0KGgo="


def sse(*events: Any, done: bool = False) -> list[bytes]:
    frames = [b"data: " + orjson.dumps(event) + b"\n\n" for event in events]
    return frames + ([b"data: [DONE]\n\n"] if done else [])


def named_sse(*events: dict[str, Any]) -> list[bytes]:
    return [b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n" for event in events]


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def test_answer_events_reads_every_framing() -> None:
    one = {"a": 1}
    assert answer_events([orjson.dumps(one)]) == [one]
    assert answer_events([b"[", orjson.dumps(one), b",", orjson.dumps(one), b"]"]) == [one, one]
    assert answer_events([b"[", orjson.dumps(one), b",\r\n", b'{"a": 2, "b"']) == [one]  # cut short
    assert answer_events(sse(one, one, done=True)) == [one, one]
    assert answer_events([orjson.dumps(one) + b"\n", orjson.dumps(one) + b"\n", b'{"cut']) == [one, one]
    assert answer_events([orjson.dumps(one), orjson.dumps({"b": 2})]) == [one, {"b": 2}]  # WebSocket messages
    assert answer_events([b"not json at all"]) == []
    framed = [eventstream.chunk(orjson.dumps(one)), eventstream.chunk(orjson.dumps({"b": 2}))]  # Bedrock's
    assert answer_events(framed) == [one, {"b": 2}]
    assert answer_events([framed[0], framed[1][:-3]]) == [one]  # cut inside its second frame


def test_chat_request_with_system_images_tools_and_results() -> None:
    document = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"x": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        ]
    }
    got = CHAT.request(document)
    assert got.system == [text("Be brief."), text("Use tools.")]
    assert got.input == [
        {
            "role": "user",
            "parts": [
                text("What is this?"),
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg", "mime_type": "image/*"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "look", "arguments": {"x": 1}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "a cat"}]},
    ]


def test_chat_answer_whole_and_streamed() -> None:
    whole = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Calling.",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
            }
        ]
    }
    expected = [
        {
            "role": "assistant",
            "parts": [text("Calling."), {"type": "tool_call", "id": "c1", "name": "f", "arguments": {}}],
            "finish_reason": "tool_calls",
        }
    ]
    assert CHAT.answer(answer_events([orjson.dumps(whole)])) == expected
    chunks = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Call"}}]},
        {"choices": [{"index": 0, "delta": {"content": "ing."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 1}},
        done=True,
    )
    assert CHAT.answer(answer_events(chunks)) == expected


def test_completions_and_embeddings() -> None:
    assert COMPLETIONS.request({"prompt": ["one", "two"]}).input == [
        {"role": "user", "parts": [text("one")]},
        {"role": "user", "parts": [text("two")]},
    ]
    chunks = sse(
        {"choices": [{"index": 0, "text": "Hel"}]}, {"choices": [{"index": 0, "text": "lo", "finish_reason": "stop"}]}
    )
    assert COMPLETIONS.answer(answer_events(chunks)) == [
        {"role": "assistant", "parts": [text("Hello")], "finish_reason": "stop"}
    ]
    assert EMBEDDINGS.request({"input": "embed me"}).input == [{"role": "user", "parts": [text("embed me")]}]
    assert EMBEDDINGS.request({"input": [[1, 2, 3]]}).input == []  # token ids are no text
    assert EMBEDDINGS.answer(answer_events([b'{"data": [{"embedding": [0.1]}]}'])) == []


def test_responses_request_items() -> None:
    document = {
        "instructions": "Be kind.",
        "input": [
            {"role": "developer", "content": "Prefer tools."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look"},
                    {"type": "input_image", "image_url": "https://x/y.png"},
                ],
            },
            {"type": "function_call", "call_id": "fc1", "name": "look", "arguments": '{"q": "y"}'},
            {"type": "function_call_output", "call_id": "fc1", "output": "seen"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]},
        ],
    }
    got = RESPONSES.request(document)
    assert got.system == [text("Be kind."), text("Prefer tools.")]
    assert got.input == [
        {
            "role": "user",
            "parts": [
                text("Look"),
                {"type": "uri", "modality": "image", "uri": "https://x/y.png", "mime_type": "image/*"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "fc1", "name": "look", "arguments": {"q": "y"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "fc1", "response": "seen"}]},
        {"role": "assistant", "parts": [text("Done.")]},
    ]
    assert RESPONSES.request({"input": "plain"}).input == [{"role": "user", "parts": [text("plain")]}]


def test_responses_answer_whole_streamed_socket_and_cut() -> None:
    item = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi there"}]}
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    response = {"object": "response", "status": "completed", "output": [item, call]}
    expected = [
        {
            "role": "assistant",
            "parts": [text("Hi there"), {"type": "tool_call", "id": "c", "name": "f", "arguments": {}}],
            "finish_reason": "completed",
        }
    ]
    assert RESPONSES.answer(answer_events([orjson.dumps(response)])) == expected
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"status": "in_progress", "output": []}},
        {"type": "response.output_text.delta", "delta": "Hi "},
        {"type": "response.output_text.delta", "delta": "there"},
        {"type": "response.output_item.done", "item": item},
        {"type": "response.completed", "response": response},
    ]
    assert RESPONSES.answer(answer_events(named_sse(*events))) == expected
    assert RESPONSES.answer(answer_events([orjson.dumps(event) for event in events])) == expected  # WebSocket
    cut = RESPONSES.answer(answer_events(named_sse(*events[:3])))
    assert cut == [{"role": "assistant", "parts": [text("Hi there")], "finish_reason": "in_progress"}]


def test_messages_request_blocks() -> None:
    document = {
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "See"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "tool_use", "id": "tu1", "name": "look", "input": {"q": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "tu1", "content": [{"type": "text", "text": "ok"}]},
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
    }
    got = MESSAGES.request(document)
    assert got.system == [text("Be brief.")]
    assert got.input == [
        {
            "role": "user",
            "parts": [text("See"), {"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG}],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "id": "tu1", "name": "look", "arguments": {"q": 1}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "tu1", "response": "ok"}]},
        {"role": "user", "parts": [text("and?")]},
    ]
    assert MESSAGES.request({"system": "plain", "messages": []}).system == [text("plain")]


def test_messages_answer_whole_and_streamed() -> None:
    whole = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
    }
    expected = [
        {
            "role": "assistant",
            "parts": [text("Let me look."), {"type": "tool_call", "id": "t", "name": "f", "arguments": {"a": 1}}],
            "finish_reason": "tool_use",
        }
    ]
    assert MESSAGES.answer(answer_events([orjson.dumps(whole)])) == expected
    events = named_sse(
        {"type": "message_start", "message": {"role": "assistant", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "look."}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
        {"type": "message_stop"},
    )
    assert MESSAGES.answer(answer_events(events)) == expected


def test_gemini_request_in_both_spellings() -> None:
    document = {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "See"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://b/v.mp4"}},
                ],
            },
            {"role": "model", "parts": [{"functionCall": {"name": "look", "args": {"q": 1}}}]},
            {"role": "user", "parts": [{"function_response": {"name": "look", "response": {"seen": True}}}]},
        ],
    }
    got = GEMINI.request(document)
    assert got.system == [text("Be brief.")]
    assert got.input == [
        {
            "role": "user",
            "parts": [
                text("See"),
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG},
                {"type": "uri", "modality": "video", "uri": "gs://b/v.mp4", "mime_type": "video/mp4"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "tool_call", "id": None, "name": "look", "arguments": {"q": 1}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "look", "response": {"seen": True}}]},
    ]


@pytest.mark.parametrize("framing", ["sse", "json-array", "whole"])
def test_gemini_answer(framing: str) -> None:
    pieces = [
        {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "thinking", "thought": True}]}}]},
        {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}]},
    ]
    if framing == "sse":
        chunks = sse(*pieces)
    elif framing == "json-array":
        chunks = [b"[" + b",\r\n".join(orjson.dumps(piece) for piece in pieces) + b"]"]
    else:
        chunks = [orjson.dumps(pieces[-1])]
    got = GEMINI.answer(answer_events(chunks))
    if framing == "whole":
        assert got == [{"role": "assistant", "parts": [text("lo")], "finish_reason": "STOP"}]
    else:
        assert got == [
            {
                "role": "assistant",
                "parts": [{"type": "reasoning", "content": "thinking"}, text("Hello")],
                "finish_reason": "STOP",
            }
        ]


def test_ollama_chat_and_generate() -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "See", "images": [PNG]},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "tool_name": "f", "content": "done"},
        ]
    }
    got = OLLAMA.request(chat)
    assert got.system == [text("Be brief.")]
    assert got.input == [
        {
            "role": "user",
            "parts": [text("See"), {"type": "blob", "modality": "image", "mime_type": "image/*", "content": PNG}],
        },
        {"role": "assistant", "parts": [{"type": "tool_call", "id": None, "name": "f", "arguments": {"a": 1}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "f", "response": "done"}]},
    ]
    lines = [
        orjson.dumps({"message": {"role": "assistant", "content": "Hel"}, "done": False}) + b"\n",
        orjson.dumps({"message": {"role": "assistant", "content": "lo"}, "done": True, "done_reason": "stop"}) + b"\n",
    ]
    assert OLLAMA.answer(answer_events(lines)) == [
        {"role": "assistant", "parts": [text("Hello")], "finish_reason": "stop"}
    ]
    generate = OLLAMA.request({"prompt": "Why?", "system": "Be brief."})
    assert generate.system == [text("Be brief.")] and generate.input == [{"role": "user", "parts": [text("Why?")]}]
    answer = [orjson.dumps({"response": "Because", "done": True, "done_reason": "stop"})]
    assert OLLAMA.answer(answer_events(answer)) == [
        {"role": "assistant", "parts": [text("Because")], "finish_reason": "stop"}
    ]


@pytest.mark.parametrize("codec", [CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, MESSAGES, GEMINI, OLLAMA])
@pytest.mark.parametrize("document", [None, [], "text", {"messages": "nope", "contents": 3, "input": {"x": 1}}])
def test_a_request_of_the_wrong_shape_yields_nothing_and_never_raises(codec: Any, document: Any) -> None:
    got = codec.request(document)
    assert isinstance(got.system, list) and isinstance(got.input, list)
    assert codec.answer(answer_events([b"garbage"])) == []
    codec.answer([1, "x", None, {"choices": 3, "candidates": "x", "content": 5, "output": 1, "message": []}])
