"""A provider's own TLS settings as an `ssl.SSLContext`: a CA bundle (a corporate CA, a private
upstream's), a client certificate (mutual TLS), and verification, which is on unless turned off.

One context per distinct setting (`TlsContexts`, one per gateway): the client keys its connection pools by
context (client.py), so providers with the same settings share connections, providers with different ones
never do, and a reload that changes nothing keeps the pools it had. The files' size and modification time
are part of the setting, so a renewed certificate is read again on the next reload.
"""

from __future__ import annotations

import logging
import os
import ssl
from typing import Final

log = logging.getLogger("babelgate.http")

_CACHED: Final = 64
# The settings whose lack of verification was logged, by provider. The log is the process's, and so is what
# it already said: `babelgate serve` builds its gateway twice in one process (to check the config, then in
# its worker), and says this once. It holds names and file states, nothing of a gateway.
_warned: set[tuple[str, tuple[object, ...]]] = set()


class TlsContexts:
    """One gateway's contexts, one per distinct setting, bounded; kept across reloads with the client whose
    pools are keyed by them. A context holds a client certificate's key: it is never another gateway's."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[object, ...], ssl.SSLContext] = {}

    def get(
        self,
        *,
        provider: str,
        verify: bool = True,
        ca_bundle: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> ssl.SSLContext:
        """Raises ValueError naming the setting (`ca_bundle`, `client_cert`, `client_key`) that could not
        be read."""
        key = (
            verify,
            _state("ca_bundle", ca_bundle),
            _state("client_cert", client_cert),
            _state("client_key", client_key),
        )
        context = self._contexts.get(key)
        if context is None:
            context = _build(verify=verify, ca_bundle=ca_bundle, client_cert=client_cert, client_key=client_key)
            if len(self._contexts) >= _CACHED:
                self._contexts.clear()
            self._contexts[key] = context
        if not verify and (provider, key) not in _warned:
            # Once per provider and setting: not again for the same setting at a reload.
            _warned.add((provider, key))
            log.warning(
                "provider %s: TLS verification is off; anyone on the path can read and change its traffic", provider
            )
        return context


def _state(name: str, path: str | None) -> tuple[str, int, int] | None:
    """The file as the cache knows it: absolute path, size, modification time."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ValueError(f"tls.{name}: cannot read {path!r} ({exc.strerror or type(exc).__name__})") from None
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


def _build(*, verify: bool, ca_bundle: str | None, client_cert: str | None, client_key: str | None) -> ssl.SSLContext:
    try:
        # A bundle replaces the system's CAs, as curl's --cacert and requests' verify=PATH do.
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"tls.ca_bundle: cannot read {ca_bundle!r} as PEM certificates ({type(exc).__name__})"
        ) from None
    if client_cert is not None:
        try:
            # Without a password callback OpenSSL would ask for an encrypted key's on the terminal.
            context.load_cert_chain(client_cert, client_key, password=_no_password)
        except _EncryptedKey:
            raise ValueError(
                f"tls.{'client_key' if client_key else 'client_cert'}: the private key is encrypted; "
                "give it unencrypted, in a file only the gateway can read"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"tls.client_cert: cannot load {client_cert!r} with its key ({type(exc).__name__})"
            ) from None
    elif client_key is not None:
        raise ValueError("tls.client_key: set client_cert too (the key alone is no certificate)")
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    raise _EncryptedKey
