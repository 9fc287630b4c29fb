"""The pure parts of rerank, moderations and search pricing: the shared rerank wire reader
(providers/rerank.py), Mistral's moderation mapping (providers/mistral/moderation.py) and `per_search` prices."""

from __future__ import annotations

import pytest

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.model_facts import Price
from babelgate.providers import rerank
from babelgate.providers.mistral.moderation import OPENAI_CATEGORIES, moderation_from_wire, moderation_to_wire
from babelgate.schema.chat import Usage
from babelgate.schema.rerank import RerankRequest

REQUEST = RerankRequest(model="m", query="q", documents=["a", "b", "c"], top_n=2)


def test_results_are_sorted_best_first_and_cut_at_top_n() -> None:
    parsed = {
        "results": [
            {"index": 0, "relevance_score": 0.1},
            {"index": 2, "relevance_score": 0.9},
            {"index": 1, "relevance_score": 0.9},
        ],
        "usage": {"total_tokens": 12},
    }
    answer = rerank.read_answer(parsed, REQUEST, "p")
    assert [(r.index, r.relevance_score) for r in answer.results] == [(1, 0.9), (2, 0.9)]
    assert answer.usage == Usage(prompt_tokens=12, total_tokens=12)


def test_search_units_come_from_cohere_or_from_the_document_count() -> None:
    cohere = {"results": [], "meta": {"billed_units": {"search_units": 3}}}
    assert rerank.read_answer(cohere, REQUEST, "p").usage == Usage(search_units=3)
    many = RerankRequest(model="m", query="q", documents=["d"] * 250)
    assert rerank.read_answer({"results": []}, many, "p").usage == Usage(search_units=3)


@pytest.mark.parametrize(
    "item",
    [
        {"index": 3, "relevance_score": 0.5},
        {"index": True, "relevance_score": 0.5},
        {"index": 0, "relevance_score": "x"},
        {"index": 0, "relevance_score": float("nan")},
        "nope",
    ],
)
def test_a_result_that_names_no_document_or_has_no_score_is_a_protocol_error(item: object) -> None:
    with pytest.raises(UpstreamProtocolError):
        rerank.read_answer({"results": [item]}, REQUEST, "p")


def test_voyage_names_top_n_top_k() -> None:
    body = rerank.cohere_body(REQUEST, "rerank-2.5", top="top_k")
    assert body == {"model": "rerank-2.5", "query": "q", "documents": ["a", "b", "c"], "top_k": 2}


def test_a_search_price_is_per_thousand_searches_plus_any_tokens() -> None:
    price = Price(0.05, 0.0, per_search=2.0)
    assert price.cost(Usage(search_units=1)) == pytest.approx(0.002)
    assert price.cost(Usage(search_units=2, prompt_tokens=1_000_000)) == pytest.approx(0.004 + 0.05)
    assert Price(0.05, 0.0).cost(Usage(prompt_tokens=100)) == pytest.approx(100 * 0.05 / 1e6)


def test_mistral_categories_map_to_openais_and_keep_the_rest() -> None:
    answer = moderation_from_wire(
        {
            "id": "m1",
            "model": "mistral-moderation-2411",
            "results": [
                {
                    "categories": {"hate_and_discrimination": True, "selfharm": False, "pii": True},
                    "category_scores": {"hate_and_discrimination": 0.8, "selfharm": 0.1, "pii": 0.7},
                }
            ],
        },
        "mistral",
    )
    result = answer["results"][0]
    assert set(result["categories"]) == set(OPENAI_CATEGORIES)
    assert result["categories"]["hate"] is True and result["category_scores"]["self-harm"] == 0.1
    assert result["categories"]["harassment"] is False and result["category_scores"]["harassment"] == 0.0
    assert result["extra_categories"] == {"pii": True} and result["extra_category_scores"] == {"pii": 0.7}
    assert result["flagged"] is True and answer["model"] == "mistral-moderation-2411"


def test_mistral_takes_text_only() -> None:
    assert moderation_to_wire({"input": ["a", {"type": "text", "text": "b"}]}, "m") == {
        "model": "m",
        "input": ["a", "b"],
    }
    with pytest.raises(InvalidRequest):
        moderation_to_wire({"input": [{"type": "image_url", "image_url": {"url": "u"}}]}, "m")
    with pytest.raises(UpstreamProtocolError):
        moderation_from_wire({"results": "x"}, "mistral")
