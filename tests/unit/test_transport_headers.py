"""A key's headers with a request's on top (providers/transport.py `merged_headers`): read-only mappings a
provider keeps merge once, into the same read-only mapping every request (the client renders its lines once:
http/client.py), kept by the key pool; anything else is merged afresh."""

from __future__ import annotations

from types import MappingProxyType

from babelgate.providers.key_pool import MergedHeaders
from babelgate.providers.transport import merged_headers


def test_kept_mappings_merge_once_with_the_request_on_top() -> None:
    kept: MergedHeaders = {}
    own = MappingProxyType({"x-api-key": "k", "anthropic-version": "2023-06-01"})
    extra = MappingProxyType({"anthropic-beta": "b", "anthropic-version": "2024-01-01"})
    first = merged_headers(own, extra, kept)
    assert dict(first) == {"x-api-key": "k", "anthropic-version": "2024-01-01", "anthropic-beta": "b"}
    assert merged_headers(own, extra, kept) is first and type(first) is MappingProxyType
    other = MappingProxyType({"x-api-key": "k2"})
    assert merged_headers(other, extra, kept) is not first and merged_headers(other, extra, kept)["x-api-key"] == "k2"
    assert merged_headers(own, extra, {}) is not first  # another pool's merges are its own


def test_a_plain_mapping_is_merged_every_time() -> None:
    own = MappingProxyType({"x-api-key": "k"})
    extra = {"authorization": "Bearer t"}
    kept: MergedHeaders = {}
    first = merged_headers(own, extra, kept)
    assert first == {"x-api-key": "k", "authorization": "Bearer t"} and type(first) is dict
    extra["authorization"] = "Bearer u"
    assert merged_headers(own, extra, kept)["authorization"] == "Bearer u" and not kept
