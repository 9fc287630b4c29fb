"""Every message in every language is in that language: the English phrases the code puts into messages
(`expected="a string"`, `detail=f"expected one of {…}"`, a timeout's phase, a limit's holder) are rendered
through the language's phrase catalogue (i18n.py, locales/<language>.phrases.json), and every message key
renders in German without English words.

The phrases are found in the source itself (every value the code passes as a phrase parameter, through the
error classes or the helpers that build them), so a new English phrase without a German one fails here."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import babelgate
from babelgate import errors
from babelgate.errors import GatewayError
from babelgate.i18n import PHRASE_PARAMS, SUPPORTED, _catalog, render_message, translate_phrase

SOURCE = Path(babelgate.__file__).parent

# Helpers that take a phrase and pass it on into an error: function name → (position, parameter).
WRAPPERS: dict[str, tuple[int, str]] = {
    "require": (2, "capability"),  # pipeline.py
    "unsupported": (1, "feature"),  # anthropic_messages/translate_content.py
    "_optional": (3, "expected"),  # ollama/validate.py
    "no_image": (0, "reason"),  # gemini/images.py
    "_Refused": (0, "detail"),  # media.py: why a media URL is not fetched
    "Refused": (0, "detail"),  # destinations.py: why the gateway does not connect where a client named
    "read": (0, "phase"),
    "readany": (0, "phase"),
    "wait": (0, "phase"),
    "check_deadline": (0, "phase"),
    "invalid": (1, "reason"),  # frontends/batches/jsonl.py: why a batch file's line is refused
}

# Phrases made at run time from code values, as the code makes them (the scan sees only their pieces).
MADE_AT_RUN_TIME = [
    ("expected", "an integer"),
    ("expected", "a number"),  # openai_validation.py
    ("detail", "expected one of function_call, message"),  # responses/validate.py `_one_of`
    ("detail", "one read of a compressed body inflates past 64 MiB"),  # http/connection.py
    ("detail", "the media is larger than the gateway's limit of 20971520 bytes"),  # media.py `_too_large`
    ("phase", "body"),
    ("phase", "stream"),
    ("phase", "connect"),
    ("phase", "first byte"),  # http/connection.py
    ("who", "this API key"),
    ("who", "team 'research'"),
    ("who", "model 'gpt-4o'"),  # rate_limits.py, budgets.py
    ("period", "day"),
    ("period", "week"),
    ("period", "month"),
    ("period", "all time"),  # budgets.py
    ("reason", "none given"),
    ("reason", "no finish reason"),  # gemini/images.py, gemini/audio.py
    # pipeline.py: orjson's words for a body that is not JSON (what is left of them before a ':'), as orjson 3
    # says them for '{x', '', ' ', '[1,', '[1]]', '[1 2]', '{"a" 1}', 'NaN', '01', and bad escapes, controls
    # characters, surrogates and UTF-8 in strings
    ("detail", "unexpected character, expected a string key"),
    ("detail", "Input is a zero-length, empty document"),
    ("detail", "input data is empty"),
    ("detail", "unexpected end of data"),
    ("detail", "unexpected content after document"),
    ("detail", "unexpected character, expected ',' or ']'"),
    ("detail", "unexpected character, expected ',' or '}'"),
    ("detail", "unexpected character, expected '"),
    ("detail", "unexpected character, expected a JSON value"),
    ("detail", "number with leading zero is not allowed"),
    ("detail", "invalid escaped sequence in string"),
    ("detail", "unexpected control character in string"),
    ("detail", "no low surrogate in string"),
    ("detail", "str is not valid UTF-8"),
]

# Words an English phrase is made of and a German sentence never is; API values (`auto`, `none`, `json_schema`)
# and names pass.
ENGLISH = frozenset(
    {
        "the",
        "is",
        "are",
        "not",
        "of",
        "or",
        "and",
        "expected",
        "must",
        "only",
        "value",
        "from",
        "with",
        "has",
        "have",
        "no",
        "be",
        "this",
        "that",
        "for",
        "than",
        "more",
        "string",
        "integer",
        "number",
        "object",
        "boolean",
        "body",
        "answer",
        "event",
        "field",
        "send",
        "given",
        "takes",
        "accepts",
        "time",
        "unexpected",
        "invalid",
        "character",
        "provider",
        "blocks",
        "may",
        "appear",
        "messages",
        "which",
        "where",
        "without",
        "larger",
        "once",
        "one",
        "empty",
    }
)


def _error_classes() -> frozenset[str]:
    found, pending = set(), [GatewayError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return frozenset(found)


ERROR_CLASSES = _error_classes()


def _constant_strings(node: ast.expr, constants: dict[str, str]) -> Iterator[str]:
    """The phrase(s) an argument can be: a literal, an f-string's template (`{}` for each value), both
    branches of a conditional, the literal operands of `x or "…"`, a module constant."""
    match node:
        case ast.Constant(value=str(text)):
            yield text
        case ast.JoinedStr(values=parts):
            yield "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in parts)
        case ast.IfExp(body=body, orelse=orelse):
            yield from _constant_strings(body, constants)
            yield from _constant_strings(orelse, constants)
        case ast.BoolOp(values=values):
            for value in values:
                if isinstance(value, ast.Constant | ast.JoinedStr):
                    yield from _constant_strings(value, constants)
        case ast.Name(id=name) if name in constants:
            yield constants[name]


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def code_phrases() -> list[tuple[str, str, str]]:
    """(parameter, phrase, where) for every phrase the source passes into a message."""
    found: list[tuple[str, str, str]] = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        }
        where = str(path.relative_to(SOURCE))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in WRAPPERS:
                name = WRAPPERS[node.name][1]
                arguments = (
                    node.args.args[1:] if node.args.args[:1] and node.args.args[0].arg == "self" else node.args.args
                )
                defaults = (
                    dict(zip([a.arg for a in arguments][-len(node.args.defaults) :], node.args.defaults, strict=True))
                    if node.args.defaults
                    else {}
                )
                if name in defaults:
                    found += [(name, text, where) for text in _constant_strings(defaults[name], constants)]
            if not isinstance(node, ast.Call):
                continue
            if _callee(node) not in ERROR_CLASSES and _callee(node) not in WRAPPERS:
                continue  # `reason=` of a log or a metric is not a message's
            arguments = [(keyword.arg, keyword.value) for keyword in node.keywords if keyword.arg in PHRASE_PARAMS]
            wrapped = WRAPPERS.get(_callee(node))
            if wrapped is not None and len(node.args) > wrapped[0]:
                arguments.append((wrapped[1], node.args[wrapped[0]]))
            found += [
                (str(name), text, where) for name, value in arguments for text in _constant_strings(value, constants)
            ]
    return found


def _is_code_value(text: str) -> bool:
    """An API value or identifier (`item_reference`, `SAFETY`, `top_logprobs`), or only values put together
    (`{} '{}'`: its words are the values'), not words: left as it is."""
    if not re.search(r"[A-Za-z]{2,}", text.replace("{}", "")):  # `{} '{}'`, `n > 1`
        return True
    return re.fullmatch(r"[\w.\-/*]+", text) is not None and (not text.isalpha() or text.isupper())


def _sample(template: str) -> str:
    """A phrase as the code makes it: each `{}` filled with a code value."""
    return template.replace("{}", "x_1")


PHRASES = sorted({(name, text) for name, text, _ in code_phrases()} | set(MADE_AT_RUN_TIME))


def test_the_scan_finds_the_phrases_of_every_kind() -> None:
    names = {name for name, _ in PHRASES}
    assert names == set(PHRASE_PARAMS)
    assert ("expected", "a value from {} to {}") in PHRASES and ("capability", "custom tools") in PHRASES
    assert ("feature", "file ids") in PHRASES and ("phase", "HTTP {}") in PHRASES  # a helper's, and an f-string


@pytest.mark.parametrize(("name", "phrase"), PHRASES)
def test_every_phrase_of_the_code_has_its_german(name: str, phrase: str) -> None:
    if _is_code_value(phrase):
        return
    text = _sample(phrase)
    german = translate_phrase(text, "de")
    assert german != text, f"no German for the {name} phrase {phrase!r}"
    assert translate_phrase(text, "en") == text


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _english_words(text: str) -> set[str]:
    quoted = re.sub(r"'[^']*'|`[^`]*`", "", text)  # names and values the message quotes
    # A token such as `json_object` or `multipart/form-data` is an API value, not words.
    return {word for word in re.findall(r"[A-Za-z][\w\-/.]*", quoted) if word.lower() in ENGLISH}


def test_every_message_key_renders_in_german_without_english_words() -> None:
    by_param: dict[str, list[str]] = {}
    for name, phrase in PHRASES:
        by_param.setdefault(name, []).append(_sample(phrase))
    checked = 0
    for key, template in _catalog("en").items():
        fields = _placeholders(template)
        varying = [field for field in fields if field in by_param] or [""]
        for field in varying:
            for value in by_param.get(field, ["x_1"]):
                params = {name: (value if name == field else "x_1") for name in fields if name != "param"}
                error = GatewayError(key, param="x_1", **params)
                german = render_message(error, "de")
                assert not _english_words(german), (key, field, value, german)
                checked += 1
    assert checked > len(_catalog("en"))


def test_the_phrase_catalogues_hold_the_same_placeholders_in_every_language() -> None:
    for language in SUPPORTED:
        for english, translated in _phrase_catalogue(language).items():
            assert english.count("{}") == len(re.findall(r"\{\d*\}", translated)), (language, english)


def _phrase_catalogue(language: str) -> dict[str, str]:
    import json

    path = SOURCE / "locales" / f"{language}.phrases.json"
    loaded: dict[str, str] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return loaded


def test_every_error_class_renders_its_default_message_in_german() -> None:
    classes: list[type[GatewayError]] = [errors.GatewayError]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        assert cls.default_key in _catalog("de")
