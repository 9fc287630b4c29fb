"""A provider's own TLS settings as an `ssl.SSLContext`: a CA bundle (a corporate CA, a private
upstream's), a client certificate (mutual TLS), and verification, which is on unless turned off."""

from __future__ import annotations

import logging
import ssl

log = logging.getLogger("babelgate.http")


def tls_context(*, provider: str, verify: bool = True, ca_bundle: str | None = None,
                client_cert: str | None = None, client_key: str | None = None) -> ssl.SSLContext:
    """Raises ValueError naming the setting (`ca_bundle`, `client_cert`) that could not be read."""
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"tls.ca_bundle: cannot read {ca_bundle!r} as PEM certificates ({type(exc).__name__})"
                         ) from None
    if client_cert is not None:
        try:
            context.load_cert_chain(client_cert, client_key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"tls.client_cert: cannot load {client_cert!r} with its key "
                             f"({type(exc).__name__})") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning("provider %s: TLS verification is off; anyone on the path can read and change its traffic",
                    provider)
    return context
