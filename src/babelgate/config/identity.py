"""The `auth:` section: callers who present a JWT of the company's identity provider (`auth.jwt`), and people who
sign in to the dashboard with it (`auth.oidc`)."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, field_validator

from babelgate.config.strict import Strict as _Strict
from babelgate.config.strict import as_list

ROLES: Final = ("admin", "team_admin", "member", "viewer")  # the most powerful first (identity/roles.py)
JWT_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class ClaimsConfig(_Strict):
    """Which claims of a caller's JWT say who it is (docs/decisions.md, "Identity: JWT callers and sign-in")."""

    user: str = Field(default="sub", min_length=1, description="the claim naming the user")
    teams: str | None = Field(default="groups", description="a claim listing the caller's teams (or groups)")
    role: str | None = Field(default=None, description="a claim naming the caller's role on /admin")
    models: str | None = Field(default=None, description="a claim listing the models the caller may use")


class RoleMapping(_Strict):
    """Identity-provider groups → a role; a person in groups of several roles gets the most powerful."""

    admin: tuple[str, ...] = ()
    team_admin: tuple[str, ...] = ()
    member: tuple[str, ...] = ()
    viewer: tuple[str, ...] = ()


class JwtConfig(_Strict):
    """`auth.jwt`: callers presenting a JWT of the company's identity provider instead of a gateway key."""

    issuer: str = Field(min_length=1)
    audience: tuple[str, ...] = Field(min_length=1)
    # Unset: the issuer's discovery document names it (`jwks_uri`).
    jwks_url: str | None = None
    claims: ClaimsConfig = Field(default_factory=ClaimsConfig)
    models: tuple[str, ...] = ()  # patterns allowed when the token names none; empty: every model
    algorithms: tuple[str, ...] = JWT_ALGORITHMS
    leeway: float = Field(default=30.0, ge=0, le=600, description="seconds of clock skew allowed on exp and nbf")
    refresh: float = Field(default=300.0, ge=5, description="seconds between background reads of the JWKS")
    min_refresh: float = Field(default=10.0, ge=0, description="seconds between reads caused by an unknown kid")
    # Without a `role` claim or a group in `auth.oidc.roles`: the role a JWT caller has on /admin.
    default_role: Literal["admin", "team_admin", "member", "viewer"] | None = "member"

    @field_validator("audience", mode="before")
    @classmethod
    def _audiences(cls, value: Any) -> Any:
        return as_list(value) if isinstance(value, str | list | tuple) else value

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in JWT_ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"expected some of {', '.join(JWT_ALGORITHMS)} (never HS256 or none)")
        return value


class OidcConfig(_Strict):
    """`auth.oidc`: people sign in to the dashboard and the admin API with the company's identity provider."""

    issuer: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: str | None = Field(default=None, repr=False)  # none: a public client (PKCE alone)
    redirect_url: str = Field(
        min_length=1, description="this gateway's /admin/oidc/callback, as the browser reaches it"
    )
    roles: RoleMapping = Field(default_factory=RoleMapping)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    groups_claim: str = "groups"  # where the ID token (or userinfo) lists the person's groups
    user_claim: str = "email"  # what names the person (falls back to `sub`)
    # Signed in, but in none of the mapped groups: this role, or (None) refused.
    default_role: Literal["admin", "team_admin", "member", "viewer"] | None = None
    session_seconds: int = Field(default=12 * 3600, ge=60)


class AuthConfig(_Strict):
    jwt: JwtConfig | None = None
    oidc: OidcConfig | None = None
