"""`/admin/users` and `/admin/users/{id}`: people, created by an admin (or by sign-in and JWT callers
through the directory's `ensure_user`), listed, changed and deleted (governance/directory.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.admin.keys import POSITIVE
from babelgate.frontends.admin.people import Collection, listing, one
from babelgate.frontends.body_schema import OBJECT, STRING, array, enum, nullable
from babelgate.frontends.route import JSON, Operation
from babelgate.governance.directory import ROLES
from babelgate.governance.virtual_keys import PERIODS

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


USERS: Final = Collection(
    name="users",
    noun="user",
    items=lambda directory: directory.users,
    view=lambda directory, user: directory.user_view(user),
    order=lambda user: user.created_at,
    create=lambda directory, fields: directory.create_user(fields),
    update=lambda directory, user_id, fields: directory.update_user(user_id, fields),
    delete=lambda directory, user_id: directory.delete_user(user_id),
)


async def users(runtime: Runtime, exchange: Exchange) -> Answer:
    """`/admin/users`: create (POST) or list (GET)."""
    return await listing(USERS, runtime, exchange)


async def user(runtime: Runtime, exchange: Exchange, user_id: str) -> Answer:
    """`/admin/users/{id}`: read (GET), change (PATCH) or delete (DELETE)."""
    return await one(USERS, runtime, exchange, user_id)


NAMES: Final = array({"type": "string", "minLength": 1})
LIMITS: Final = {
    "rpm": POSITIVE,
    "tpm": POSITIVE,
    "max_concurrent": POSITIVE,
    "budget_usd": {"type": "number", "minimum": 0},
    "budget_period": enum(PERIODS),
}
USER_FIELDS: Final[JSON] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: nullable(schema)
        for name, schema in {
            "id": STRING,
            "email": STRING,
            "name": STRING,
            "role": enum(ROLES),
            "teams": NAMES,
            "disabled": {"type": "boolean"},
            "metadata": OBJECT,
            **LIMITS,
        }.items()
    },
}
PREFIX: Final = "/admin/users/"
USER_OPERATIONS: Final[dict[str, tuple[Operation, ...]]] = {
    "": (Operation("GET"), Operation("PATCH", body=USER_FIELDS), Operation("DELETE"))
}
