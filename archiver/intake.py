"""What the live API writes, behind the checks every live write passes: the archive's privacy
settings, the account a conversation belongs to, and, for what arrives about a conversation
(files, canvas documents), that the archive holds the conversation. Each function runs inside
the caller's one transaction and raises before it writes anything."""

import gzip

from .accounts import check_account, record_account
from .assets import is_named_by, save_live_asset
from .db import save_received
from .privacy import Refused, held_refusal, refusal
from .textdocs import save_textdocs


class NotArchived(Exception):
    """Something about a conversation (or a file no message of it names) the archive does not hold."""


def save_admitted_received(conn, received, *, token_name, account_id):
    """The server's quick path (db.save_received: the raw capture kept and marked pending, its
    rows derived after the answer) behind the settings and account checks, judged by
    the capture's top-level fields before anything is written. Returns (capture id,
    duplicate, pending)."""
    reason = refusal(conn, received.conversation)
    if reason:
        raise Refused(reason)
    check_account(conn, received.conversation_id, account_id)
    capture_id, duplicate, pending = save_received(conn, received, source="api", token_name=token_name)
    # On the capture now; on the conversation now if it has rows, else when they are derived.
    record_account(conn, received.conversation_id, capture_id, account_id)
    return capture_id, duplicate, pending


def admit_part(conn, conversation_id):
    """What arrives about a conversation is kept only beside a conversation the archive holds
    and the settings allow (else a refused temporary chat's canvas would be kept after all)."""
    reason = held_refusal(conn, conversation_id)
    if reason:
        raise Refused(reason)
    if not _held(conn, conversation_id):
        raise NotArchived(f"conversation {conversation_id} is not in the archive; post it first")


def admit_file(conn, conversation_id, file_id):
    """Only a file a message of that conversation names is stored: a token holder could
    otherwise plant arbitrary files, and the link from a conversation naming the file is what
    makes it visible (and published, when the conversation is)."""
    admit_part(conn, conversation_id)
    if not (is_named_by(conn, conversation_id, file_id) or _named_by_capture(conn, conversation_id, file_id)):
        raise NotArchived(f"no message of conversation {conversation_id} names {file_id}; post the conversation first")


# A capture is kept before (and whether or not) its rows are derived: what arrives about a
# conversation may come between the two, so the raw captures count as well.
RAW_CAPTURES_CHECKED = 3


def _held(conn, conversation_id):
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM chatgpt_conversation WHERE id = ?1)"
        " OR EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = ?1)", [conversation_id]).fetchone()[0]


def _named_by_capture(conn, conversation_id, file_id):
    """Does one of the newest raw captures of the conversation name the file id?"""
    needle = file_id.encode()
    for (body,) in conn.execute("SELECT body FROM chatgpt_capture WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
                                [conversation_id, RAW_CAPTURES_CHECKED]):
        if needle in gzip.decompress(body):
            return True
    return False


def save_admitted_asset(conn, conversation_id, file_id, upload, *, name, declared_mime):
    """Returns True when the bytes were already held for this file id (nothing written)."""
    admit_file(conn, conversation_id, file_id)  # again in the write: a forget may have come between
    duplicate, _ = save_live_asset(conn, upload, file_id=file_id, name=name, declared_mime=declared_mime)
    return duplicate


def save_admitted_textdocs(conn, conversation_id, rows):
    admit_part(conn, conversation_id)
    return save_textdocs(conn, rows)
