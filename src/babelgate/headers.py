"""The names of the gateway's own response headers that more than one floor reads: set by the conductor
(the cache, the router), read back by the ledger when it builds a request's row."""

from typing import Final

CACHE: Final = b"x-babelgate-cache"  # hit, miss (response_cache.py)
ATTEMPTS: Final = b"x-babelgate-attempts"  # upstream attempts the answer took (routing/router.py)
