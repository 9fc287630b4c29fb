"""An OpenAI realtime session's settings (`session.update`, GA or beta shape) and the Gemini Live `setup` they
make. Gemini takes its setup once, when the socket opens: `Settings.changed` names what a later update would
change that only a setup sets, so the caller can refuse it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final

from babelgate.realtime.gemini_live.audio import PCM24K, AudioFormat, AudioFormatError, openai_format
from babelgate.realtime.gemini_live.events import Dialect, Event
from babelgate.realtime.gemini_live.voices import gemini_voice

# OpenAI's default server VAD, which a session has until it says otherwise.
DEFAULT_TURN_DETECTION: Final[dict[str, Any]] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
# Session fields read for what they mean here, or that are only the client's bookkeeping.
_GA_KEYS: Final = frozenset(
    {"type", "model", "instructions", "output_modalities", "audio", "tools", "tool_choice", "max_output_tokens"}
)
_BETA_KEYS: Final = frozenset(
    {
        "modalities",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "turn_detection",
        "input_audio_transcription",
        "temperature",
        "max_response_output_tokens",
    }
)
_ACCEPTED: Final = frozenset({"id", "object", "expires_at", "tracing", "include"})  # nothing for Gemini to do
_VAD_KEYS: Final = frozenset(
    {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response"}
)
_SEMANTIC_KEYS: Final = frozenset({"type", "eagerness", "create_response", "interrupt_response"})


@dataclass(slots=True)
class Settings:
    """What an OpenAI realtime session asked for, in one shape whichever dialect it came in."""

    model: str
    instructions: str | None = None
    output_modalities: tuple[str, ...] = ("audio",)
    voice: str | None = None
    input_format: AudioFormat = PCM24K
    output_format: AudioFormat = PCM24K
    turn_detection: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_TURN_DETECTION))
    transcription: dict[str, Any] | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: Any = "auto"
    max_output_tokens: int | None = None
    temperature: float | None = None

    @property
    def audio_out(self) -> bool:
        return "audio" in self.output_modalities

    @property
    def server_vad(self) -> bool:
        return self.turn_detection is not None

    def update(self, session: dict[str, Any]) -> tuple[Settings, list[str]]:
        """These settings with a `session.update`'s `session` applied, and what in it could not be read."""
        out = dataclasses.replace(self)
        problems: list[str] = []
        unknown = sorted(set(session) - _GA_KEYS - _BETA_KEYS - _ACCEPTED)
        if unknown:
            problems.append(f"session fields not supported on Gemini Live, ignored: {', '.join(unknown)}")
        if session.get("type") not in (None, "realtime"):
            problems.append(f"session.type {session.get('type')!r} is not supported (only 'realtime')")
        if isinstance(session.get("model"), str):
            out.model = session["model"]
        if "instructions" in session:
            out.instructions = session["instructions"] or None
        for key in ("output_modalities", "modalities"):
            if isinstance(session.get(key), list):
                out.output_modalities = _modalities(session[key], problems)
        out._audio(session, problems)
        if "tools" in session:
            out.tools = tuple(_tools(session["tools"] or [], problems))
        if "tool_choice" in session:
            out.tool_choice = session["tool_choice"]
        for key in ("max_output_tokens", "max_response_output_tokens"):
            if key in session:
                value = session[key]
                out.max_output_tokens = value if isinstance(value, int) and not isinstance(value, bool) else None
        if "temperature" in session:
            out.temperature = session["temperature"]
        return out, problems

    def _audio(self, session: dict[str, Any], problems: list[str]) -> None:
        audio = _object(session.get("audio"))
        inputs, outputs = _object(audio.get("input")), _object(audio.get("output"))
        for where, value in (("input", inputs.get("format")), ("input", session.get("input_audio_format"))):
            if value is not None:
                self.input_format = _format(value, where, problems, self.input_format)
        for where, value in (("output", outputs.get("format")), ("output", session.get("output_audio_format"))):
            if value is not None:
                self.output_format = _format(value, where, problems, self.output_format)
        for holder, key in ((inputs, "turn_detection"), (session, "turn_detection")):
            if key in holder:
                self.turn_detection = dict(holder[key]) if isinstance(holder[key], dict) else None
        for holder, key in ((inputs, "transcription"), (session, "input_audio_transcription")):
            if key in holder:
                self.transcription = dict(holder[key]) if isinstance(holder[key], dict) else None
        voice = outputs.get("voice", session.get("voice"))
        if isinstance(voice, dict):
            problems.append("custom voices ({'id': ...}) are not available on Gemini Live; the voice is unchanged")
        elif isinstance(voice, str):
            self.voice = voice
        for key in sorted(set(inputs) - {"format", "turn_detection", "transcription"}):
            problems.append(f"audio.input.{key} is not supported on Gemini Live, ignored")
        for key in sorted(set(outputs) - {"format", "voice"}):
            problems.append(f"audio.output.{key} is not supported on Gemini Live, ignored")

    def changed(self, other: Settings) -> list[str]:
        """The fields `other` sets differently that only a Gemini setup can set (the audio formats are converted
        here, so they may change at any time)."""
        local = {"input_format", "output_format"}
        return [
            item.name
            for item in dataclasses.fields(self)
            if item.name not in local and getattr(self, item.name) != getattr(other, item.name)
        ]

    def setup(self) -> tuple[Event, list[str]]:
        """The Gemini Live `setup` message, and what of these settings it cannot carry."""
        problems: list[str] = []
        generation: dict[str, Any] = {"responseModalities": ["AUDIO" if self.audio_out else "TEXT"]}
        if self.voice is not None:
            voice = {"prebuiltVoiceConfig": {"voiceName": gemini_voice(self.voice)}}
            generation["speechConfig"] = {"voiceConfig": voice}
        if self.temperature is not None:
            generation["temperature"] = self.temperature
        if self.max_output_tokens is not None:
            generation["maxOutputTokens"] = self.max_output_tokens
        model = self.model if self.model.startswith(("models/", "projects/", "publishers/")) else f"models/{self.model}"
        setup: dict[str, Any] = {"model": model, "generationConfig": generation}
        if self.instructions:
            setup["systemInstruction"] = {"parts": [{"text": self.instructions}]}
        declarations = self._declarations(problems)
        if declarations:
            setup["tools"] = [{"functionDeclarations": declarations}]
        setup["realtimeInputConfig"] = self._input_config(problems)
        if self.transcription is not None:
            setup["inputAudioTranscription"] = {}
            ignored = sorted(set(self.transcription) - {"model"})
            if ignored:
                problems.append(f"input transcription settings not supported, Gemini transcribes: {', '.join(ignored)}")
        if self.audio_out:
            setup["outputAudioTranscription"] = {}  # an OpenAI client always gets the transcript of the audio
        if len(self.output_modalities) > 1:
            problems.append("Gemini Live answers in one modality: audio (with its transcript) is used")
        return {"setup": setup}, problems

    def _declarations(self, problems: list[str]) -> list[dict[str, Any]]:
        choice = self.tool_choice
        if choice == "none":
            return []  # Gemini Live's setup has no tool config: no declarations is what "none" means
        if isinstance(choice, dict) or choice == "required":
            problems.append(f"tool_choice {choice!r} is not supported on Gemini Live; the model chooses (auto)")
        declarations = []
        for tool in self.tools:
            declaration: dict[str, Any] = {"name": tool["name"]}
            if tool.get("description"):
                declaration["description"] = tool["description"]
            if tool.get("parameters"):
                declaration["parametersJsonSchema"] = tool["parameters"]  # JSON Schema as is, as in generateContent
            declarations.append(declaration)
        return declarations

    def _input_config(self, problems: list[str]) -> dict[str, Any]:
        detection = self.turn_detection
        if detection is None:
            return {"automaticActivityDetection": {"disabled": True}}
        activity: dict[str, Any] = {"disabled": False}
        config: dict[str, Any] = {"automaticActivityDetection": activity}
        kind = detection.get("type", "server_vad")
        if kind == "server_vad":
            threshold = detection.get("threshold")
            if isinstance(threshold, int | float) and threshold != 0.5:
                # A higher OpenAI threshold wants louder speech before a turn starts: Gemini's low sensitivity.
                activity["startOfSpeechSensitivity"] = (
                    "START_SENSITIVITY_LOW" if threshold > 0.5 else "START_SENSITIVITY_HIGH"
                )
            for key, name in (("prefix_padding_ms", "prefixPaddingMs"), ("silence_duration_ms", "silenceDurationMs")):
                if isinstance(detection.get(key), int):
                    activity[name] = detection[key]
            extra = set(detection) - _VAD_KEYS
        elif kind == "semantic_vad":
            eagerness = detection.get("eagerness", "auto")
            if eagerness in ("high", "low"):
                activity["endOfSpeechSensitivity"] = f"END_SENSITIVITY_{eagerness.upper()}"
            extra = set(detection) - _SEMANTIC_KEYS
        else:
            problems.append(f"turn_detection type {kind!r} is not supported; Gemini's own detection is used")
            extra = set()
        if extra:
            problems.append(f"turn_detection settings not supported on Gemini Live: {', '.join(sorted(extra))}")
        if detection.get("create_response") is False:
            problems.append("turn_detection.create_response false: Gemini Live always answers a detected turn")
        if detection.get("interrupt_response") is False:
            config["activityHandling"] = "NO_INTERRUPTION"
        return config

    def openai(self, session_id: str, dialect: Dialect) -> dict[str, Any]:
        """The session object of `session.created` / `session.updated`."""
        if dialect == "beta":
            beta: dict[str, Any] = {
                "id": session_id,
                "object": "realtime.session",
                "model": self.model,
                "modalities": ["audio", "text"] if self.audio_out else ["text"],
                "instructions": self.instructions or "",
                "input_audio_format": self.input_format.beta(),
                "output_audio_format": self.output_format.beta(),
                "input_audio_transcription": self.transcription,
                "turn_detection": self.turn_detection,
                "tools": list(self.tools),
                "tool_choice": self.tool_choice,
                "max_response_output_tokens": "inf" if self.max_output_tokens is None else self.max_output_tokens,
            }
            if self.voice is not None:
                beta["voice"] = self.voice
            if self.temperature is not None:
                beta["temperature"] = self.temperature
            return beta
        output: dict[str, Any] = {"format": self.output_format.openai()}
        if self.voice is not None:
            output["voice"] = self.voice
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": self.model,
            "output_modalities": list(self.output_modalities),
            "instructions": self.instructions or "",
            "audio": {
                "input": {
                    "format": self.input_format.openai(),
                    "transcription": self.transcription,
                    "turn_detection": self.turn_detection,
                },
                "output": output,
            },
            "tools": list(self.tools),
            "tool_choice": self.tool_choice,
            "max_output_tokens": "inf" if self.max_output_tokens is None else self.max_output_tokens,
        }


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _modalities(value: list[Any], problems: list[str]) -> tuple[str, ...]:
    kept = tuple(item for item in value if item in ("audio", "text"))
    if len(kept) != len(value):
        problems.append(f"output modalities other than audio and text ignored: {value!r}")
    if "audio" in kept:
        return ("audio",)  # beta's ["audio", "text"] is audio with its transcript, which is what Gemini sends
    return kept or ("audio",)


def _format(value: Any, where: str, problems: list[str], current: AudioFormat) -> AudioFormat:
    try:
        return openai_format(value)
    except AudioFormatError as error:
        problems.append(f"{where} audio format: {error}; keeping {current.mime()}")
        return current


def _tools(tools: list[Any], problems: list[str]) -> list[dict[str, Any]]:
    kept = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type", "function") == "function" and isinstance(tool.get("name"), str):
            kept.append(tool)
        else:
            kind = tool.get("type") if isinstance(tool, dict) else type(tool).__name__
            problems.append(f"tool of type {kind!r} is not supported on Gemini Live, left out")
    return kept
