"""The identity part: callers presenting the identity provider's JWTs (auth.jwt: its key set, read now and then
every `refresh` seconds, kept across reloads while its issuer and URL stay) and people signing in to the
dashboard (auth.oidc). PyJWT and `cryptography` load only when configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from babelgate.assembly.governance import GovernancePart
from babelgate.assembly.part import Closer
from babelgate.config.models import Config

if TYPE_CHECKING:
    from babelgate.identity.jwks import Jwks
    from babelgate.identity.jwt_callers import JwtCallers
    from babelgate.identity.oidc import OidcClient


class IdentityPart:
    def __init__(self, config: Config, governance: GovernancePart) -> None:
        """`governance`: whose directory of users and teams JWT callers are found in."""
        self._governance = governance
        self.started = False
        self.jwks: Jwks | None = None
        self.jwt: JwtCallers | None = None
        self.oidc: OidcClient | None = None
        self.reload(config)

    def start(self, lifespan: bool) -> None:
        self.started = True
        if self.jwks is not None:
            self.jwks.start()

    def reload(self, config: Config) -> Sequence[Closer]:
        settings = config.auth.jwt
        old = self.jwks
        if settings is None:
            self.jwks = None
        elif old is None or (old.issuer, old.configured_url) != (settings.issuer, settings.jwks_url):
            from babelgate.identity.jwks import Jwks

            self.jwks = Jwks(
                settings.issuer, settings.jwks_url, refresh=settings.refresh, min_refresh=settings.min_refresh
            )
        closers: Sequence[Closer] = ()
        if self.started and self.jwks is not old:
            if old is not None:
                closers = (old.close,)
            if self.jwks is not None:
                self.jwks.start()
        self.jwt = self._callers(config)
        self.oidc = None
        if config.auth.oidc is not None:
            from babelgate.identity.oidc import OidcClient

            self.oidc = OidcClient(config.auth.oidc)
        return closers

    async def aclose(self) -> None:
        if self.jwks is not None:
            await self.jwks.close()

    def _callers(self, config: Config) -> JwtCallers | None:
        settings = config.auth.jwt
        if settings is None or self.jwks is None:
            return None
        from babelgate.identity.jwt_callers import JwtCallers

        oidc = config.auth.oidc
        return JwtCallers(
            settings,
            self.jwks,
            roles=oidc.roles if oidc is not None else None,
            teams=config.teams,
            directory=self._governance.directory,
        )
