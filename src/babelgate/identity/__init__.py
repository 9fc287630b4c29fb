"""Who is calling, when it is not a gateway key (docs/decisions.md, "Identity: JWT callers and sign-in"):
JWT callers verified against the identity provider's keys (jwt_callers.py, jwks.py), people signed in to the dashboard
with OpenID Connect (oidc.py), and the roles that decide what each may do on the admin API (roles.py)."""
