"""How a Realtime caller signs in, on the WebSocket and for a WebRTC call alike: a client secret (`ek_…`) stands for
the key that made it, claimed for the one session it opens; any other key is identified as on every route."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from babelgate import pipeline
from babelgate.errors import AuthenticationFailed
from babelgate.governance.gateway_keys import credentials
from babelgate.realtime.secrets import Grant, is_client_secret

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.runtime import Runtime


async def sign_in(runtime: Runtime, record: Call) -> tuple[Grant, bytes] | None:
    """Identifies the caller on `record`. Answers the client secret's grant and the secret (to give it back if the
    session is refused before it opens), when one was presented."""
    presented = credentials(record.header, record.query)
    token = presented[7:].strip() if presented is not None and presented[:7].lower() == b"bearer " else b""
    if not is_client_secret(token):
        await pipeline.identify(runtime, record)
        return None
    grant = runtime.realtime.secrets.claim(token)
    try:
        record.key_id, record.virtual_key = grant.key_id, _still_live(runtime, grant)
    except AuthenticationFailed:
        runtime.realtime.secrets.give_back(token, grant)  # refused for its key, not spent (it stays refused)
        raise
    return grant, token


def _still_live(runtime: Runtime, grant: Grant) -> VirtualKey | None:
    """The virtual key a client secret was made by, as it is now: a key revoked or expired since takes its secrets
    with it, and a changed one's limits apply."""
    made_by = grant.virtual_key
    if made_by is None:
        return None
    key = runtime.key_ring.keys.get(made_by.id)
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= time.time()):
        raise AuthenticationFailed(key_id=made_by.id)
    return key
