"""A provider's own TLS settings as an `ssl.SSLContext`: a CA bundle (a corporate CA, a private
upstream's), a client certificate (mutual TLS), and verification, which is on unless turned off.

One context per distinct setting: the client keys its connection pools by context (client.py), so
providers with the same settings share connections, providers with different ones never do, and a
reload that changes nothing keeps the pools it had. The files' size and modification time are part
of the setting, so a renewed certificate is read again on the next reload.
"""

from __future__ import annotations

import logging
import os
import ssl
from typing import Final

log = logging.getLogger("babelgate.http")

_CACHED: Final = 64
# Derived from files, not configuration state: a cache, bounded, shared by every client in the
# process (a reload builds a new runtime but keeps the client and its pools).
_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}
_warned: set[tuple[str, tuple[object, ...]]] = set()


def tls_context(
    *,
    provider: str,
    verify: bool = True,
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    """Raises ValueError naming the setting (`ca_bundle`, `client_cert`, `client_key`) that could not
    be read."""
    key = (verify, _state("ca_bundle", ca_bundle), _state("client_cert", client_cert), _state("client_key", client_key))
    context = _contexts.get(key)
    if context is None:
        context = _build(verify=verify, ca_bundle=ca_bundle, client_cert=client_cert, client_key=client_key)
        if len(_contexts) >= _CACHED:
            _contexts.clear()
        _contexts[key] = context
    if not verify and (provider, key) not in _warned:
        # Once per provider and setting: not again for the same setting at a reload or when the
        # CLI builds the gateway a second time in its worker.
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
