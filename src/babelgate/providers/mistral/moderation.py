"""Mistral's `/v1/moderations` ↔ OpenAI's (pure).

Mistral answers nine categories of its own per text; OpenAI's clients read OpenAI's thirteen. The mapping
(docs/rerank.md, "Moderations"): `sexual` → `sexual`, `hate_and_discrimination` → `hate`,
`violence_and_threats` → `violence`, `dangerous_and_criminal_content` → `illicit`, `selfharm` → `self-harm`;
OpenAI's categories Mistral has no word for are false with a score of 0, and Mistral's own that OpenAI has none
for (`health`, `financial`, `law`, `pii`) stay in each result under `extra_categories` and
`extra_category_scores`, where a client that knows of them finds them.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest, UpstreamProtocolError

# Every category an OpenAI moderation result names, in OpenAI's order.
OPENAI_CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Mistral's category → OpenAI's.
TO_OPENAI: Final = {
    "sexual": "sexual",
    "hate_and_discrimination": "hate",
    "violence_and_threats": "violence",
    "dangerous_and_criminal_content": "illicit",
    "selfharm": "self-harm",
}
DEFAULT_MODEL: Final = "mistral-moderation-latest"


def moderation_to_wire(body: dict[str, Any], model: str) -> dict[str, Any]:
    """OpenAI's `{input, model}` → Mistral's: text only (a multimodal input's text parts; an image is refused)."""
    given = body.get("input")
    if isinstance(given, str):
        return {"model": model, "input": given}
    if not isinstance(given, list):
        raise InvalidRequest("wrong_type", param="input", expected="a string or an array")
    texts = []
    for index, item in enumerate(given):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            texts.append(item["text"])
        else:
            raise InvalidRequest(
                "invalid_value", param=f"input[{index}]", detail="Mistral's moderation reads text only"
            )
    return {"model": model, "input": texts}


def moderation_from_wire(parsed: dict[str, Any], provider: str) -> dict[str, Any]:
    """Mistral's answer in OpenAI's `ModerationCreateResponse` shape."""
    results = parsed.get("results")
    if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
        raise UpstreamProtocolError(provider=provider, detail="the moderation answer has no results")
    return {
        "id": str(parsed.get("id") or "modr-mistral"),
        "model": str(parsed.get("model") or DEFAULT_MODEL),
        "results": [_result(result) for result in results],
    }


def _result(result: dict[str, Any]) -> dict[str, Any]:
    given = result.get("categories")
    flags: dict[str, Any] = given if isinstance(given, dict) else {}
    given_scores = result.get("category_scores")
    scores: dict[str, Any] = given_scores if isinstance(given_scores, dict) else {}
    categories = dict.fromkeys(OPENAI_CATEGORIES, False)
    category_scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0)
    extra: dict[str, bool] = {}
    extra_scores: dict[str, float] = {}
    for name, flagged in flags.items():
        score = scores.get(name)
        value = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else 0.0
        mapped = TO_OPENAI.get(name)
        if mapped is None:
            extra[name], extra_scores[name] = flagged is True, value
        else:
            categories[mapped], category_scores[mapped] = flagged is True, value
    return {
        "flagged": any(categories.values()) or any(extra.values()),
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": {name: ["text"] for name in OPENAI_CATEGORIES},
        "extra_categories": extra,
        "extra_category_scores": extra_scores,
    }
