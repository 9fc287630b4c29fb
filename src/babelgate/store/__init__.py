"""Storage for Responses-API conversation state, so `previous_response_id` works across requests and restarts."""

from babelgate.store.base import ResponseStore, StoredResponse
from babelgate.store.cached import CachedStore
from babelgate.store.open import open_cached_store, open_store

__all__ = ["CachedStore", "ResponseStore", "StoredResponse", "open_cached_store", "open_store"]
