"""Datasette plugin: our API tokens also authorise Datasette's own insert API.

A token's actor may insert and update rows in the two tables of the 2023 design and do
nothing else (no reading, no SQL, no other table): it gets the grant below, and the actor's
``_r`` restriction list caps it at exactly that, whatever else the configuration allows.
Registered through the ``datasette`` entry point, so it also works under ``datasette serve``.
"""

import time

from datasette import hookimpl
from datasette.permissions import PermissionSQL

from ..tokens import (
    PREFIX,
    LAST_USED_RESOLUTION_SECONDS,
    WRITE,
    WrongScope,
    bearer_token,
    check_token,
    touch_token,
)

PLUGIN = "chatgpt-archiver"
WRITABLE_TABLES = ("chatgpt_conversation", "chatgpt_message")
TOKEN_ACTIONS = ("insert-row", "update-row")

_last_touched = {}


def archive_database(datasette):
    name = (datasette.plugin_config(PLUGIN) or {}).get("database")
    if name:
        return datasette.get_database(name)
    return datasette.get_database()  # the first attached database


def token_actor(name, database):
    tables = {t: list(TOKEN_ACTIONS) for t in WRITABLE_TABLES}
    return {"id": f"token:{name}", "archiver_token": name, "_r": {"r": {database: tables}}}


async def authenticate(db, token, scope=WRITE):
    """Token -> token name (or None), noting its use at most once a minute. A valid token of
    another scope raises WrongScope (a read token never writes, a write token never reads)."""
    name = await db.execute_fn(lambda conn: check_token(conn, token, scope))
    if name is not None:
        key = (db.path, name)
        if time.monotonic() - _last_touched.get(key, -1e9) > LAST_USED_RESOLUTION_SECONDS:
            _last_touched[key] = time.monotonic()
            await db.execute_write_fn(lambda conn: touch_token(conn, name), block=False)
    return name


@hookimpl
def actor_from_request(datasette, request):
    token = bearer_token(request.headers.get("authorization"))
    if not token or not token.startswith(PREFIX):
        return None

    async def inner():
        db = archive_database(datasette)
        try:
            name = await authenticate(db, token)
        except WrongScope:
            return None  # a read token gets no actor: Datasette's insert API refuses it
        return None if name is None else token_actor(name, db.name)

    return inner


@hookimpl
def permission_resources_sql(datasette, actor, action):
    if action not in TOKEN_ACTIONS or not actor or "archiver_token" not in actor:
        return None
    database = archive_database(datasette).name
    selects = " UNION ALL ".join(
        f"SELECT :db AS parent, :t{i} AS child, 1 AS allow, 'archiver token' AS reason"
        for i in range(len(WRITABLE_TABLES))
    )
    params = {"db": database} | {f"t{i}": t for i, t in enumerate(WRITABLE_TABLES)}
    return PermissionSQL(sql=selects, params=params)
