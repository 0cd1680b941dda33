"""API tokens: shown once, stored as SHA-256, checked in constant time, revocable at once.

A token is 32 random bytes, so a fast hash is enough (nothing to brute-force); the hash
only keeps a copy of the database from being a copy of the keys.
"""

import hashlib
import secrets

from .db import now_iso

PREFIX = "cga_"
# How stale `last_used_at` may get before a request writes it again: one write a minute,
# not one per request.
LAST_USED_RESOLUTION_SECONDS = 60


# A token either writes (captures, the insert API, assets) or reads (MCP, for AI tools),
# never both: a token handed to an AI client must not be able to change the archive, and a
# browser's capture token must not be able to read it.
WRITE, READ = "write", "read"
SCOPES = (WRITE, READ)


class TokenError(Exception):
    pass


class WrongScope(Exception):
    """A valid token used for what its scope does not allow."""

    def __init__(self, name, scope, wanted):
        super().__init__(f"token {name!r} is a {scope} token; this needs a {wanted} token")
        self.name, self.scope, self.wanted = name, scope, wanted


def _hash(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(db, name, scope=WRITE):
    """Store a new token named ``name`` and return its secret (the only time it is seen)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    if scope not in SCOPES:
        raise TokenError(f"a token's scope is one of {', '.join(SCOPES)}, not {scope!r}")
    row = db.execute("SELECT revoked_at FROM archiver_token WHERE name = ?", [name]).fetchone()
    if row and row[0] is None:
        raise TokenError(f"a token named {name!r} exists; revoke it first or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    db.execute(
        "INSERT OR REPLACE INTO archiver_token (name, token_hash, created_at, last_used_at, revoked_at, scope)"
        " VALUES (?, ?, ?, NULL, NULL, ?)",
        [name, _hash(token), now_iso(), scope],
    )
    return token


def revoke_token(db, name):
    cursor = db.execute(
        "UPDATE archiver_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        [now_iso(), name],
    )
    if cursor.rowcount == 0:
        raise TokenError(f"no active token named {name!r}")


def list_tokens(db):
    return [
        dict(zip(("name", "scope", "created_at", "last_used_at", "revoked_at"), row))
        for row in db.execute(
            "SELECT name, scope, created_at, last_used_at, revoked_at FROM archiver_token ORDER BY created_at"
        )
    ]


def check_token(conn, token, scope=WRITE):
    """The name of the active token ``token`` is, or None; WrongScope if it is a token of
    another scope. Takes a sqlite3 connection so it can run on any of Datasette's read
    connections."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        return None
    presented = _hash(token)
    found = None
    # Compare against every active hash, so timing says nothing about which, if any, matched.
    for candidate, stored, has in conn.execute(
        "SELECT name, token_hash, scope FROM archiver_token WHERE revoked_at IS NULL"
    ):
        if secrets.compare_digest(presented, stored):
            found = (candidate, has)
    if found is None:
        return None
    if found[1] != scope:
        raise WrongScope(found[0], found[1], scope)
    return found[0]


def bearer_token(authorization):
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def touch_token(conn, name):
    """Record use, at most once a minute per token."""
    conn.execute(
        "UPDATE archiver_token SET last_used_at = ?1 WHERE name = ?2 AND (last_used_at IS NULL"
        " OR julianday(?1) - julianday(last_used_at) > ?3 / 86400.0)",
        [now_iso(), name, LAST_USED_RESOLUTION_SECONDS],
    )
