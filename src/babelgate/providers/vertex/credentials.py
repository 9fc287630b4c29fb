"""Google's credentials for Vertex AI, found the way Google's tools find them (google-auth): a
service-account JSON key (`credentials_file`), else application default credentials
(`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's user credentials, workload identity federation, and on
Google Cloud the metadata server, GKE workload identity included).

google-auth is synchronous and imported here only, when a provider of type `vertex` is built (a
gateway without one never loads it). Its calls run in a worker thread (providers/tokens.py), which keeps
the current token for the request path and renews it ahead of expiry.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC
from typing import Any

from babelgate.providers.tokens import CredentialsError, Fetch, Token
from babelgate.providers.vertex.wire import SCOPE

# When google-auth knows no expiry (it always does for these credentials): an hour, Google's usual.
DEFAULT_LIFETIME = 3600.0


def source_of(credentials_file: str | None) -> str:
    """Where the credentials come from, as a credentials error names it."""
    if credentials_file:
        return f"service-account key file {credentials_file}"
    return "application default credentials"


def google_fetch(credentials_file: str | None) -> Fetch:
    """A fetch of an access token for the cloud-platform scope. The credentials object is loaded on the
    first fetch (in the worker thread: the metadata server may be slow to answer) and kept, so its own
    state (a service account's signer) is built once."""
    lock = threading.Lock()
    held: list[Any] = []

    def fetch(refused: bool) -> Token:  # google-auth keeps no token of its own: every refresh is a new one
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        with lock:
            try:
                if not held:
                    held.append(_load(credentials_file))
                credentials = held[0]
                credentials.refresh(Request())
            except exceptions.DefaultCredentialsError as error:
                raise CredentialsError(
                    "no application default credentials were found (set credentials_file, or "
                    "GOOGLE_APPLICATION_CREDENTIALS, or run where a Google metadata server answers): "
                    + _first_line(error)
                ) from None
            except exceptions.RefreshError as error:
                raise CredentialsError(f"the token endpoint refused: {_first_line(error)}") from None
            except exceptions.TransportError as error:
                raise CredentialsError(f"the token endpoint did not answer: {_first_line(error)}") from None
            token, expiry = credentials.token, credentials.expiry
        if not isinstance(token, str) or not token:
            raise CredentialsError("google-auth returned no access token")
        expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry is not None else time.time() + DEFAULT_LIFETIME
        return Token(token, expires_at)

    return fetch


def file_problem(credentials_file: str | None) -> str | None:
    """What is wrong with the credentials file, found without the network: a `credentials_file` that cannot
    be read or is not a service-account key (parsed as a request would, private key included), or a
    GOOGLE_APPLICATION_CREDENTIALS that names no readable file. None: nothing found (or no file to check)."""
    if credentials_file:
        try:
            _load(credentials_file)
        except CredentialsError as error:
            return str(error)
        return None
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if named and not os.access(named, os.R_OK):
        return f"GOOGLE_APPLICATION_CREDENTIALS names {named}, which cannot be read"
    return None


def _load(credentials_file: str | None) -> Any:
    import google.auth
    from google.oauth2 import service_account

    if credentials_file is None:
        credentials, _ = google.auth.default(scopes=[SCOPE])
        return credentials
    try:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            credentials_file, scopes=[SCOPE]
        )
    except OSError as error:
        raise CredentialsError(
            f"the service-account key file {credentials_file} cannot be read: {error.strerror}"
        ) from None
    except (ValueError, KeyError) as error:
        # google-auth's words name the missing field ("Service account info was not in the expected
        # format, missing fields token_uri, client_email"), never the key itself.
        raise CredentialsError(f"{credentials_file} is not a service-account JSON key: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    # RefreshError's args are (message, the token endpoint's parsed answer): the message says it.
    first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    return first.strip().splitlines()[0][:300] if first.strip() else type(error).__name__
