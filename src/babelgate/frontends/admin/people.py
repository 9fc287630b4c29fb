"""`/admin/users` and `/admin/teams` (and `/{id}` under each): one set of handlers for both kinds of
thing the directory keeps (governance/directory.py), each described by a `Collection`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babelgate.answer import Answer, json_answer
from babelgate.errors import MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize, refuse
from babelgate.frontends.admin.audit import note
from babelgate.frontends.admin.keys import read_body

if TYPE_CHECKING:
    from babelgate.governance.directory import Directory
    from babelgate.identity.roles import Principal
    from babelgate.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Collection:
    name: str  # users, teams: the path and the audit's action prefix
    noun: str  # user, team
    items: Callable[[Directory], Mapping[str, Any]]
    view: Callable[[Directory, Any], dict[str, Any]]
    order: Callable[[Any], Any]
    create: Callable[[Directory, dict[str, Any]], Awaitable[Any]]
    update: Callable[[Directory, str, dict[str, Any]], Awaitable[tuple[Any, Any]]]
    delete: Callable[[Directory, str], Awaitable[Any]]
    # Roles (identity/roles.py): reading takes `read`; creating and deleting an admin; a change an admin,
    # or whoever `may_change(principal, id, fields)` lets (a team admin, their own team's members and limits).
    read: str = "team_admin"
    may_change: Callable[[Principal, str, dict[str, Any]], bool] = lambda principal, item_id, fields: False
    # What a body may name must exist (a team's guardrails): refused with a 400 before anything is written.
    check: Callable[[Runtime, dict[str, Any]], None] = lambda runtime, fields: None


async def listing(collection: Collection, runtime: Runtime, exchange: Exchange) -> Answer:
    """POST creates, GET lists."""
    method = exchange.scope["method"]
    await authorize(runtime, exchange, "admin" if method == "POST" else collection.read)  # type: ignore[arg-type]
    directory = runtime.directory
    if method == "POST":
        exchange.call.route = f"admin.{collection.name}.create"
        fields = await read_body(runtime, exchange)
        collection.check(runtime, fields)
        made = await collection.create(directory, fields)
        view = collection.view(directory, made)
        note(runtime, exchange, f"{collection.name}.create", collection.noun, made.id, None, view, 201)
        return json_answer(view, 201)
    elif method in ("GET", "HEAD"):
        exchange.call.route = f"admin.{collection.name}.list"
        await directory.refresh()
        listed = sorted(collection.items(directory).values(), key=collection.order)
        return json_answer({"object": "list", "data": [collection.view(directory, i) for i in listed]})
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def one(collection: Collection, runtime: Runtime, exchange: Exchange, item_id: str) -> Answer:
    """GET reads, PATCH changes, DELETE deletes."""
    method = exchange.scope["method"]
    principal = await authorize(runtime, exchange, collection.read)  # type: ignore[arg-type]
    directory = runtime.directory
    if "/" in item_id:
        raise NotFound(method=method, path=exchange.scope["path"])
    action = f"{collection.name}.{ {'PATCH': 'update', 'DELETE': 'delete'}.get(method, 'read') }"
    if method == "PATCH":
        exchange.call.route = f"admin.{action}"
        fields = await read_body(runtime, exchange)
        if principal.role != "admin" and not collection.may_change(principal, item_id, fields):
            refuse(principal, exchange)
        collection.check(runtime, fields)
        before, after = await collection.update(directory, item_id, fields)
        note(runtime, exchange, action, collection.noun, item_id, before.public(), after.public())
        return json_answer(collection.view(directory, after))
    elif method == "DELETE":
        exchange.call.route = f"admin.{action}"
        if principal.role != "admin":
            refuse(principal, exchange)
        gone = await collection.delete(directory, item_id)
        note(runtime, exchange, action, collection.noun, item_id, gone.public(), None)
        return json_answer({**gone.public(), "deleted": True})
    elif method in ("GET", "HEAD"):
        await directory.refresh()
        found = collection.items(directory).get(item_id)
        if found is None:
            code = f"{collection.noun}_not_found"
            named: dict[str, Any] = {f"{collection.noun}_id": item_id}  # the message's parameter
            raise NotFound(code, code=code, **named)
        return json_answer(collection.view(directory, found))
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
