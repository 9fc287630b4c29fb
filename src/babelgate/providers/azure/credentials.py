"""Entra ID tokens for Azure OpenAI and Foundry, from azure-identity, Microsoft's own library:
- an app's client secret (`tenant_id`, `client_id`, `client_secret`: ClientSecretCredential);
- workload identity federation (AKS and other OIDC issuers: the federated token file the platform mounts,
  `AZURE_FEDERATED_TOKEN_FILE`, exchanged for the app's token: WorkloadIdentityCredential);
- a managed identity (Azure VMs, App Service, Container Apps: ManagedIdentityCredential, `client_id` for
  a user-assigned one).

`options.credential` names one (`client_secret`, `workload_identity`, `managed_identity`); unset, a client
secret decides for the first, a federated token file in the environment for the second, else the third.
`options.authority_host` is Entra's host (sovereign clouds; azure-identity also reads
`AZURE_AUTHORITY_HOST`); one that is not Microsoft's own skips MSAL's instance discovery, which asks
login.microsoftonline.com about it.

azure-identity is synchronous and imported here only, when a provider of type `azure` without an API key
is built; its calls run in a worker thread ahead of expiry (providers/tokens.py).
"""

from __future__ import annotations

import os
from typing import Any, Final

from babelgate.config.models import ProviderConfig
from babelgate.providers.tokens import CredentialsError, Fetch, Token

CREDENTIALS: Final = ("client_secret", "workload_identity", "managed_identity")
_MICROSOFT_HOSTS: Final = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
)


def kind_of(config: ProviderConfig) -> str:
    chosen = config.options.get("credential")
    if chosen is not None:
        if chosen not in CREDENTIALS:
            raise ValueError(f"options.credential: expected one of {', '.join(CREDENTIALS)}")
        return str(chosen)
    if config.client_secret:
        return "client_secret"
    if config.options.get("federated_token_file") or os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload_identity"
    return "managed_identity"


def source_of(kind: str, config: ProviderConfig) -> str:
    """Where the credentials come from, as a credentials error names it (ids, never the secret)."""
    if kind == "client_secret":
        return f"Entra ID client secret of app {config.client_id} in tenant {config.tenant_id}"
    if kind == "workload_identity":
        return "Entra ID workload identity"
    return "Azure managed identity"


def check(kind: str, config: ProviderConfig, name: str) -> None:
    """What a credential kind needs, at build time: a config without it is refused with its reason."""
    if kind == "client_secret" and not (config.tenant_id and config.client_id and config.client_secret):
        raise ValueError(
            f"provider {name!r} (type azure): a client secret needs tenant_id, client_id and client_secret"
        )


def file_problem(kind: str, config: ProviderConfig) -> str | None:
    """What is wrong with the credential's files, found without the network: workload identity's federated
    token file (`options.federated_token_file`, else AZURE_FEDERATED_TOKEN_FILE) that cannot be read."""
    if kind != "workload_identity":
        return None
    token_file = config.options.get("federated_token_file") or os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
    if not token_file:
        return (
            "workload identity needs a federated token file (options.federated_token_file, AZURE_FEDERATED_TOKEN_FILE)"
        )
    if not os.access(str(token_file), os.R_OK):
        return f"the federated token file {token_file} cannot be read"
    return None


def entra_fetch(kind: str, config: ProviderConfig, scope: str) -> Fetch:
    """A fetch of an access token for `scope`; the credential object is built on the first fetch (in the
    worker thread) and kept: it holds MSAL's token cache and the app's connection pool."""
    held: list[Any] = []

    def fetch(refused: bool) -> Token:
        from azure.core.exceptions import AzureError

        try:
            if refused:
                # MSAL would hand out the cached token the upstream just refused until its expiry: a new
                # credential, with an empty cache, asks Entra for a new one.
                held.clear()
            if not held:
                held.append(_credential(kind, config))
            token = held[0].get_token(scope)
        except AzureError as error:
            raise CredentialsError(_first_line(error)) from None
        return Token(token.token, float(token.expires_on))

    return fetch


def _credential(kind: str, config: ProviderConfig) -> Any:
    from azure import identity

    authority = config.options.get("authority_host") or os.environ.get("AZURE_AUTHORITY_HOST")
    common: dict[str, Any] = {}
    if authority:
        common["authority"] = authority
        host = str(authority).removeprefix("https://").split("/")[0]
        common["disable_instance_discovery"] = host not in _MICROSOFT_HOSTS
    if kind == "client_secret":
        return identity.ClientSecretCredential(
            str(config.tenant_id), str(config.client_id), str(config.client_secret), **common
        )
    if kind == "workload_identity":
        token_file = config.options.get("federated_token_file")
        return identity.WorkloadIdentityCredential(
            tenant_id=config.tenant_id,
            client_id=config.client_id,
            token_file_path=str(token_file) if token_file else None,
            **common,
        )
    return identity.ManagedIdentityCredential(client_id=config.client_id)


def _first_line(error: BaseException) -> str:
    # azure-identity's messages start with the credential and Entra's AADSTS code and words ("AADSTS7000215:
    # Invalid client secret provided"); the trace and correlation ids that follow say nothing more.
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
