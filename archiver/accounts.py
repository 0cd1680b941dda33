"""Which ChatGPT account (personal, or a Team/Business workspace) a conversation belongs to,
and which of an account's conversations ChatGPT no longer lists.

Conversation ids are ChatGPT's own, so the same id under two accounts is either a capture that
named the wrong account or a token holder planting rows: the first account recorded keeps it,
and a capture naming another is refused (409) without writing anything. A capture naming no
account (an export import, an older userscript) merges as before and leaves the account alone.
"""

import json
import re

from .db import now_iso

ACCOUNT_ID = re.compile(r"[\x21-\x7e]{1,200}")  # printable, no spaces: ChatGPT's ids are uuids or account-…
MAX_LISTED = 200_000


class AccountConflict(Exception):
    pass


def check_account_id(value):
    """A query parameter's account id: None when absent or empty, else it must look like one."""
    if value in (None, ""):
        return None
    if not ACCOUNT_ID.fullmatch(value):
        raise ValueError("account_id must be 1-200 printable characters without spaces")
    return value


def check_account(conn, conversation_id, account_id):
    """Refuse a capture of a conversation the archive holds under another account."""
    if account_id is None:
        return
    row = conn.execute("SELECT account_id FROM chatgpt_conversation WHERE id = ?", [conversation_id]).fetchone()
    if row is None:  # kept, its rows not derived yet: the account its first capture came with
        row = conn.execute("SELECT account_id FROM chatgpt_capture WHERE conversation_id = ? AND account_id IS NOT NULL"
                           " ORDER BY id LIMIT 1", [conversation_id]).fetchone()
    if row and row[0] is not None and row[0] != account_id:
        raise AccountConflict(
            f"conversation {conversation_id} is archived under another account; workspaces never merge")


def record_account(conn, conversation_id, capture_id, account_id):
    """Note the account on the conversation (the first one named) and on this capture."""
    if account_id is None:
        return
    conn.execute("UPDATE chatgpt_conversation SET account_id = ? WHERE id = ? AND account_id IS NULL",
                 [account_id, conversation_id])
    conn.execute("UPDATE chatgpt_capture SET account_id = ? WHERE id = ? AND account_id IS NULL",
                 [account_id, capture_id])


def save_listing(conn, account_id, ids):
    """ChatGPT's complete list of an account's conversations: those of the account the archive
    holds but the list lacks are marked ``missing_since`` (once, so it says since when); listed
    ones are unmarked. Nothing is deleted. Returns (missing now, newly missing)."""
    listed = json.dumps(ids)
    now = now_iso()
    newly = conn.execute(
        "UPDATE chatgpt_conversation SET missing_since = ? WHERE account_id = ? AND missing_since IS NULL"
        " AND id NOT IN (SELECT value FROM json_each(?))", [now, account_id, listed]).rowcount
    conn.execute(
        "UPDATE chatgpt_conversation SET missing_since = NULL WHERE account_id = ? AND missing_since IS NOT NULL"
        " AND id IN (SELECT value FROM json_each(?))", [account_id, listed])
    missing = conn.execute(
        "SELECT count(*) FROM chatgpt_conversation WHERE account_id = ? AND missing_since IS NOT NULL",
        [account_id]).fetchone()[0]
    return missing, newly
