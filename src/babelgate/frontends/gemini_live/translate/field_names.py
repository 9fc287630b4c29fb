"""Both spellings of the Gemini Live client messages' fields: the Gemini door's message shapes
(frontends/gemini/field_names.py) with the Live messages around them, and a walk that renames snake_case keys
to camelCase only where the shape knows the field, so that user data (a function's `args` or `response`, a JSON
schema's property names) is never touched."""

from __future__ import annotations

from typing import Any, Final

from babelgate.frontends.gemini.field_names import CONTENT, GENERATION_CONFIG, LEAF, PART, TOOL, Each, Message

_SPEECH: Final[Message] = {
    "languageCode": LEAF,
    "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": LEAF}},
    "multiSpeakerVoiceConfig": LEAF,
}
_ACTIVITY: Final[Message] = dict.fromkeys(
    ("disabled", "startOfSpeechSensitivity", "endOfSpeechSensitivity", "prefixPaddingMs", "silenceDurationMs"), LEAF
)
SETUP: Final[Message] = {
    "model": LEAF,
    "generationConfig": {**GENERATION_CONFIG, "speechConfig": _SPEECH},
    "systemInstruction": CONTENT,
    "tools": Each(TOOL),
    "realtimeInputConfig": {"automaticActivityDetection": _ACTIVITY, "activityHandling": LEAF, "turnCoverage": LEAF},
    "inputAudioTranscription": LEAF,
    "outputAudioTranscription": LEAF,
    "sessionResumption": LEAF,
    "contextWindowCompression": LEAF,
    "proactivity": LEAF,
    "explicitVadSignal": LEAF,
}
LIVE_CLIENT_MESSAGE: Final[Message] = {
    "setup": SETUP,
    "clientContent": {"turns": Each(CONTENT), "turnComplete": LEAF},
    "realtimeInput": {
        "audio": PART["inlineData"],
        "video": PART["inlineData"],
        "mediaChunks": Each(PART["inlineData"]),
        "audioStreamEnd": LEAF,
        "text": LEAF,
        "activityStart": LEAF,
        "activityEnd": LEAF,
    },
    "toolResponse": {"functionResponses": Each(PART["functionResponse"])},
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_case(value: Any, message: Message = LIVE_CLIENT_MESSAGE) -> Any:
    """`value` (a Live client message) with its known snake_case fields renamed; a field written both ways keeps
    its camelCase value, as the Gemini door does."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name, item in value.items():
        camel = _camel(name) if "_" in name else name
        if camel != name and (camel not in message or camel in value):
            camel = name
        held = message.get(camel, LEAF)
        if isinstance(held, Each):
            if held.keyed and isinstance(item, dict):
                item = {key: camel_case(each, held.message) for key, each in item.items()}
            elif isinstance(item, list):
                item = [camel_case(each, held.message) for each in item]
            else:
                item = camel_case(item, held.message)
        elif held is not LEAF:
            item = camel_case(item, held)
        out[camel] = item
    return out
