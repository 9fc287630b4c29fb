"""`/admin/keys` and `/admin/keys/{id}`: virtual keys, created, listed, changed and revoked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize, refuse
from babelgate.frontends.admin.audit import note
from babelgate.frontends.admin.guardrail_names import known_guardrails
from babelgate.frontends.body_schema import OBJECT, STRING, any_of, array, enum, nullable
from babelgate.frontends.route import Operation
from babelgate.governance.virtual_keys import PERIODS, VirtualKey
from babelgate.identity.roles import Principal
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def keys(runtime: Runtime, exchange: Exchange) -> Answer:
    """`/admin/keys`: create (POST) or list (GET); each role sees and makes only the keys it may (`mine`)."""
    principal = await authorize(runtime, exchange, "member")
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if method == "POST":
        exchange.call.route = "admin.keys.create"
        fields = await read_body(runtime, exchange)
        owner = None
        if principal.role != "admin":
            # A team admin makes keys for their teams, a member for themself in one of theirs.
            fields.setdefault("team", principal.teams[0] if principal.teams else None)
            _check_fields(principal, exchange, fields)
            owner = principal.user
        aws = fields.pop(AWS_CREDENTIALS, False)
        if not isinstance(aws, bool):
            raise InvalidRequest("wrong_type", param=AWS_CREDENTIALS, expected="true or false")
        known_guardrails(runtime, fields)
        shown: dict[str, Any] = {}
        if aws:
            # Signed requests (governance/sigv4.py): the access key id is the key's; the secret is shown this once.
            key, secret, aws_secret = await ring.create_with_aws(fields, user=owner)
            shown["aws_secret_access_key"] = aws_secret
        else:
            key, secret = await ring.create(fields, user=owner)
        note(runtime, exchange, "keys.create", "key", key.id, None, key.public(), 201)
        return json_answer({**key.public(), "key": secret, **shown}, 201)
    elif method in ("GET", "HEAD"):
        exchange.call.route = "admin.keys.list"
        await ring.refresh()
        listed = sorted((key for key in ring.keys.values() if mine(principal, key)), key=lambda key: key.created_at)
        return json_answer({"object": "list", "data": [key.public() for key in listed]})
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def key(runtime: Runtime, exchange: Exchange, key_id: str) -> Answer:
    """`/admin/keys/{id}`: read (GET), change (PATCH) or revoke (DELETE). A key the caller may not see is
    "not found" to them, as an unknown one is (nothing to probe other teams' keys with)."""
    principal = await authorize(runtime, exchange, "member")
    method = exchange.scope["method"]
    ring = runtime.key_ring
    if "/" in key_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    if method in ("GET", "HEAD", "PATCH", "DELETE"):
        await ring.refresh()
        found = ring.keys.get(key_id)
        if found is None or not mine(principal, found):
            raise NotFound("key_not_found", code="key_not_found", key_id=key_id)
    if method == "PATCH":
        exchange.call.route = "admin.keys.update"
        fields = await read_body(runtime, exchange)
        if principal.role != "admin":
            _check_fields(principal, exchange, _changes(fields, ring.keys[key_id]))
        known_guardrails(runtime, fields)
        before = ring.keys[key_id]
        updated = await ring.update(key_id, fields)
        note(runtime, exchange, "keys.update", "key", key_id, before.public(), updated.public())
        return json_answer(updated.public())
    elif method == "DELETE":
        exchange.call.route = "admin.keys.revoke"
        revoked = await ring.revoke(key_id)
        note(runtime, exchange, "keys.revoke", "key", key_id, None, {"revoked_at": revoked.revoked_at})
        return json_answer(revoked.public())
    elif method in ("GET", "HEAD"):
        return json_answer(ring.keys[key_id].public())
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


def mine(principal: Principal, key: VirtualKey) -> bool:
    """Whether the principal may see and manage the key: an admin every key, a team admin their teams'
    keys and their own, a member their own."""
    if principal.role == "admin":
        return True
    if key.user == principal.user:
        return True
    return principal.role == "team_admin" and key.team is not None and key.team in principal.teams


# What a member may set on their own keys: not their limits or budget (their team admin's to set).
MEMBER_FIELDS: Final = frozenset({"label", "models", "expires_at", "metadata", "team"})


def _changes(fields: dict[str, Any], key: VirtualKey) -> dict[str, Any]:
    """The fields of an update that change the key: the dashboard's form sends every field, a member's
    unchanged (empty) limits among them."""
    changed = {}
    for name, value in fields.items():
        now = getattr(key, name, None)
        if isinstance(value, list):
            value = tuple(value)
        if value == now or (value is None and now in (None, (), "")) or (value == {} and now == {}):
            continue
        changed[name] = value
    return changed


def _check_fields(principal: Principal, exchange: Exchange, fields: dict[str, Any]) -> None:
    team = fields.get("team")
    # No team only for someone of no team; else one of theirs.
    if "team" in fields and (team not in principal.teams if team is not None else bool(principal.teams)):
        refuse(principal, exchange)  # a key of no team, or of a team not theirs, escapes their team's limits
    if principal.role == "member" and any(name not in MEMBER_FIELDS for name in fields):
        refuse(principal, exchange)


async def read_body(runtime: Runtime, exchange: Exchange) -> dict[str, Any]:
    raw = await exchange.read_body(runtime.max_body_bytes)
    if not raw.strip():
        return {}
    body = parse_json_object(raw)
    if not body and exchange.scope["method"] == "PATCH":
        raise InvalidRequest("invalid_value", param="body", detail="nothing to change")
    return body


# A create body's option (not a key's field): issue the key with AWS-style credentials too.
AWS_CREDENTIALS: Final = "aws_credentials"
# A key's editable fields (virtual_keys.checked_fields), as /openapi.json publishes them; null
# sets a field back to its default.
POSITIVE: Final = {"type": "integer", "minimum": 1}
KEY_FIELDS: Final = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: nullable(schema)
        for name, schema in {
            "label": STRING,
            "team": STRING,
            "user": STRING,
            "models": array({"type": "string", "minLength": 1}),
            "rpm": POSITIVE,
            "tpm": POSITIVE,
            "max_concurrent": POSITIVE,
            "budget_usd": {"type": "number", "minimum": 0},
            "budget_period": enum(PERIODS),
            "expires_at": any_of(STRING, {"type": "number"}),
            "metadata": OBJECT,
            "end_user_limits": OBJECT,
            "guardrails": array({"type": "string", "minLength": 1}),
        }.items()
    },
}

# What a create body may hold: the fields, and the option to issue AWS-style credentials.
CREATE_FIELDS: Final = {
    **KEY_FIELDS,
    "properties": {**KEY_FIELDS["properties"], AWS_CREDENTIALS: {"type": "boolean"}},  # type: ignore[dict-item]
}

PREFIX: Final = "/admin/keys/"
KEY_OPERATIONS: Final = {"": (Operation("GET"), Operation("PATCH", body=KEY_FIELDS), Operation("DELETE"))}
