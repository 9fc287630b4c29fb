"""The upstream HTTP client: pooled keep-alive HTTP/1.1, timeouts, transport failures as GatewayErrors.

One client serves every provider (connections are pooled per origin). `client.py` sends,
`pool.py` keeps the connections of one origin, `connection.py` is one socket and its answer,
`body.py` reads bodies, `decoding.py` undoes their content coding, `timeouts.py` says how long
each phase may take, `proxy.py` which forward proxy an origin goes through (and the CONNECT
tunnel), `tls.py` a provider's own TLS settings.
"""

from babelgate.http.body import drain, iter_body, let_go, read_body
from babelgate.http.client import UpstreamClient
from babelgate.http.connection import UpstreamResponse
from babelgate.http.timeouts import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Timeouts

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Timeouts",
    "UpstreamClient",
    "UpstreamResponse",
    "drain",
    "iter_body",
    "let_go",
    "read_body",
]
