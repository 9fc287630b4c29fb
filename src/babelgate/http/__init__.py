"""The upstream HTTP client: pooled keep-alive HTTP/1.1, timeouts, transport failures as GatewayErrors.

One client serves every provider (connections are pooled per origin). `client.py` sends,
`pool.py` keeps the connections of one origin, `connection.py` is one socket and its answer,
`body.py` reads bodies, `decoding.py` undoes their content coding, `timeouts.py` says how long
each phase may take, `proxy.py` which forward proxy an origin goes through (and the CONNECT
tunnel), `tls.py` a provider's own TLS settings. `seam.py` says what the providers use of the
client and of its answers: protocols, which a test's stubs satisfy as well.
"""

from babelgate.http.body import drain, iter_body, let_go, read_body
from babelgate.http.client import UpstreamClient
from babelgate.http.seam import Sender, UpstreamResponse
from babelgate.http.timeouts import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Timeouts

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Sender",
    "Timeouts",
    "UpstreamClient",
    "UpstreamResponse",
    "drain",
    "iter_body",
    "let_go",
    "read_body",
]
