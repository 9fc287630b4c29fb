"""Token counts between Gemini's `usageMetadata` (per modality) and OpenAI's realtime `usage`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _by_modality(details: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in details if isinstance(details, list) else ():
        if isinstance(item, dict):
            modality = str(item.get("modality", "")).upper()
            count = item.get("tokenCount", item.get("token_count", 0))
            out[modality] = out.get(modality, 0) + (count if isinstance(count, int) else 0)
    return out


def _count(metadata: dict[str, Any], camel: str, snake: str) -> int:
    value = metadata.get(camel, metadata.get(snake, 0))
    return value if isinstance(value, int) else 0


@dataclass(slots=True)
class Usage:
    """Tokens of one response or of a whole session; `add` sums them."""

    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached: int = 0
    output_text: int = 0
    output_audio: int = 0

    @property
    def input_tokens(self) -> int:
        return self.input_text + self.input_audio + self.input_image

    @property
    def output_tokens(self) -> int:
        return self.output_text + self.output_audio

    def add(self, other: Usage) -> None:
        self.input_text += other.input_text
        self.input_audio += other.input_audio
        self.input_image += other.input_image
        self.cached += other.cached
        self.output_text += other.output_text
        self.output_audio += other.output_audio

    def minus(self, other: Usage) -> Usage:
        return Usage(
            input_text=max(self.input_text - other.input_text, 0),
            input_audio=max(self.input_audio - other.input_audio, 0),
            input_image=max(self.input_image - other.input_image, 0),
            cached=max(self.cached - other.cached, 0),
            output_text=max(self.output_text - other.output_text, 0),
            output_audio=max(self.output_audio - other.output_audio, 0),
        )

    @classmethod
    def from_gemini(cls, metadata: dict[str, Any]) -> Usage:
        """Gemini's counts; tokens the details leave out (thoughts, tool-use prompts) count as text."""
        prompt = _count(metadata, "promptTokenCount", "prompt_token_count") + _count(
            metadata, "toolUsePromptTokenCount", "tool_use_prompt_token_count"
        )
        # Vertex's Live API names the response's tokens as generateContent does (`candidates…`; GEM
        # `_UsageMetadata_from_vertex`).
        response = (
            _count(metadata, "responseTokenCount", "response_token_count")
            or _count(metadata, "candidatesTokenCount", "candidates_token_count")
        ) + _count(metadata, "thoughtsTokenCount", "thoughts_token_count")
        prompt_by = _by_modality(metadata.get("promptTokensDetails", metadata.get("prompt_tokens_details")))
        response_by = _by_modality(
            metadata.get("responseTokensDetails", metadata.get("response_tokens_details"))
            or metadata.get("candidatesTokensDetails", metadata.get("candidates_tokens_details"))
        )
        audio_in = prompt_by.get("AUDIO", 0)
        image_in = prompt_by.get("IMAGE", 0) + prompt_by.get("VIDEO", 0)
        audio_out = response_by.get("AUDIO", 0)
        return cls(
            input_text=max(prompt - audio_in - image_in, 0),
            input_audio=audio_in,
            input_image=image_in,
            cached=_count(metadata, "cachedContentTokenCount", "cached_content_token_count"),
            output_text=max(response - audio_out, 0),
            output_audio=audio_out,
        )

    def openai(self) -> dict[str, Any]:
        """The `usage` of an OpenAI `response.done`."""
        return {
            "total_tokens": self.input_tokens + self.output_tokens,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "input_token_details": {
                "text_tokens": self.input_text,
                "audio_tokens": self.input_audio,
                "image_tokens": self.input_image,
                "cached_tokens": self.cached,
            },
            "output_token_details": {"text_tokens": self.output_text, "audio_tokens": self.output_audio},
        }

    @classmethod
    def from_openai(cls, usage: dict[str, Any]) -> Usage:
        inputs = usage.get("input_token_details") or {}
        outputs = usage.get("output_token_details") or {}
        input_audio, input_image = inputs.get("audio_tokens") or 0, inputs.get("image_tokens") or 0
        output_audio = outputs.get("audio_tokens") or 0
        return cls(
            input_text=inputs.get("text_tokens", max((usage.get("input_tokens") or 0) - input_audio - input_image, 0)),
            input_audio=input_audio,
            input_image=input_image,
            cached=inputs.get("cached_tokens") or 0,
            output_text=outputs.get("text_tokens", max((usage.get("output_tokens") or 0) - output_audio, 0)),
            output_audio=output_audio,
        )

    def gemini(self) -> dict[str, Any]:
        """A Gemini `usageMetadata`."""
        prompt = [("TEXT", self.input_text), ("AUDIO", self.input_audio), ("IMAGE", self.input_image)]
        response = [("TEXT", self.output_text), ("AUDIO", self.output_audio)]
        metadata: dict[str, Any] = {
            "promptTokenCount": self.input_tokens,
            "responseTokenCount": self.output_tokens,
            "totalTokenCount": self.input_tokens + self.output_tokens,
            "promptTokensDetails": [{"modality": name, "tokenCount": count} for name, count in prompt if count],
            "responseTokensDetails": [{"modality": name, "tokenCount": count} for name, count in response if count],
        }
        if self.cached:
            metadata["cachedContentTokenCount"] = self.cached
        return metadata
