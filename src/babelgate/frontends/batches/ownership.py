"""Whose files and batches a caller sees: its key's own; a key whose user is a team admin, its team's too; an
admin user's key or the master key, everyone's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelgate.call import Call
from babelgate.governance.gateway_keys import fingerprint
from babelgate.store.batch_records import Scope

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


def scope_of(runtime: Runtime, call: Call) -> Scope:
    key = call.virtual_key
    master = runtime.config.server.master_key
    if master and call.key_id == fingerprint(master.encode()):
        return Scope(owner=call.key_id, everyone=True)
    if key is not None and key.user is not None:
        user = runtime.directory.users.get(key.user)
        role = user.role if user is not None else None
        if role == "admin":
            return Scope(owner=call.key_id, everyone=True)
        if role == "team_admin" and key.team is not None:
            return Scope(owner=call.key_id, team=key.team)
    return Scope(owner=call.key_id)


def team_of(call: Call) -> str | None:
    key = call.virtual_key
    return key.team if key is not None else None
