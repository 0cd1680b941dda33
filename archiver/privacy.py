"""What the archive agrees to keep, enforced by the server for every face (live API, import,
and, through triggers, Datasette's insert API), so no snippet or old userscript can bypass it.

* Settings (``archiver_setting``): temporary chats are not archived unless turned on (the user
  chose a chat ChatGPT itself does not keep); "do not remember" chats are archived unless turned
  off (that flag keeps a chat out of ChatGPT's memory, not out of the user's history, which still
  shows it).
* Exclusions (``archiver_exclusion``): projects, GPTs and conversation ids never stored.
* ``forget``: the one deletion there is, of one conversation and everything only it uses.
"""

import json
from dataclasses import dataclass

from .db import now_iso

SETTINGS = {
    # name: (default, what "on" keeps)
    "archive-temporary-chats": ("off", "temporary chats, which ChatGPT itself deletes"),
    "archive-do-not-remember-chats": ("on", "chats marked \"do not remember\" (kept out of ChatGPT's memory,"
                                            " not out of its history)"),
}
SETTING_VALUES = ("on", "off")
EXCLUSION_KINDS = ("project", "gpt", "conversation")


class PrivacyProblem(Exception):
    """A setting or exclusion that does not exist or cannot be set."""


class Refused(Exception):
    """The archive's privacy settings keep this conversation out (answered as a 2xx skip)."""


def get_settings(conn):
    stored = dict(conn.execute("SELECT key, value FROM archiver_setting").fetchall())
    return {name: stored.get(name, default) for name, (default, _) in SETTINGS.items()}


def set_setting(conn, name, value):
    if name not in SETTINGS:
        raise PrivacyProblem(f"no setting {name!r}; settings are: {', '.join(SETTINGS)}")
    if value not in SETTING_VALUES:
        raise PrivacyProblem(f"{name} takes on or off, not {value!r}")
    conn.execute("INSERT OR REPLACE INTO archiver_setting (key, value) VALUES (?, ?)", [name, value])


def _check_kind(kind):
    if kind not in EXCLUSION_KINDS:
        raise PrivacyProblem(f"no kind {kind!r}; kinds are: {', '.join(EXCLUSION_KINDS)}")


def add_exclusion(conn, kind, value):
    """Returns how many conversations the archive already holds that this matches."""
    _check_kind(kind)
    if conn.execute("SELECT 1 FROM archiver_exclusion WHERE kind = ? AND value = ?", [kind, value]).fetchone():
        raise PrivacyProblem(f"{kind} {value} is already excluded")
    conn.execute("INSERT INTO archiver_exclusion (kind, value, added_at) VALUES (?, ?, ?)", [kind, value, now_iso()])
    column = {"conversation": "id = ?1", "gpt": "gizmo_id = ?1",
              "project": "?1 IN (project_id, gizmo_id, conversation_template_id)"}[kind]
    return conn.execute(f"SELECT count(*) FROM chatgpt_conversation WHERE {column}", [value]).fetchone()[0]


def remove_exclusion(conn, kind, value):
    _check_kind(kind)
    if conn.execute("DELETE FROM archiver_exclusion WHERE kind = ? AND value = ?", [kind, value]).rowcount == 0:
        raise PrivacyProblem(f"{kind} {value} is not excluded")


def list_exclusions(conn):
    return [
        {"kind": k, "id": v, "added_at": a}
        for k, v, a in conn.execute("SELECT kind, value, added_at FROM archiver_exclusion ORDER BY kind, value")
    ]


def refusal(conn, conversation):
    """Why the settings keep this conversation (a reshaped ``chatgpt_conversation`` row) out,
    or None when it may be stored."""
    return Judge(conn)(conversation)


class Judge:
    """``refusal`` for many conversations: the settings and exclusions read once (an import
    judges a batch of conversations in one transaction; reading them per conversation was
    two queries each)."""

    def __init__(self, conn):
        self.settings = get_settings(conn)
        self.excluded = {}
        for kind, value in conn.execute("SELECT kind, value FROM archiver_exclusion"):
            self.excluded.setdefault(kind, set()).add(value)

    def __call__(self, conversation):
        gizmo = conversation.get("gizmo_id")
        # In the order of the insert trigger's checks (m021): the conversation, its GPT, its project.
        for kind, values in (("conversation", [conversation["id"]]), ("gpt", [gizmo]),
                             ("project", [conversation.get("project_id"), gizmo,
                                          conversation.get("conversation_template_id")])):
            for value in values:
                if value is not None and str(value) in self.excluded.get(kind, ()):
                    return f"{kind} {value} is excluded from the archive"
        settings = self.settings
        if conversation.get("is_temporary_chat") == 1 and settings["archive-temporary-chats"] == "off":
            return "temporary chats are not archived (setting archive-temporary-chats is off)"
        if settings["archive-do-not-remember-chats"] == "off" and _do_not_remember(conversation):
            return "\"do not remember\" chats are not archived (setting archive-do-not-remember-chats is off)"
        return None


def _do_not_remember(conversation):
    try:
        fields = json.loads(conversation.get("conversation_json") or "{}")
    except ValueError:
        return False
    # As the insert trigger judges it (json_extract(...) = 1): true, 1 and 1.0 alike. Judged
    # differently, a flag of 1 passed here and the trigger then stopped the whole import.
    flag = fields.get("is_do_not_remember") if isinstance(fields, dict) else None
    return isinstance(flag, (bool, int, float)) and flag == 1


def allowed_items(conn, items):
    """Of ChatGPT's conversation list items, those the settings would let in: so the userscript
    is never asked to fetch what the archive will refuse. (Items name their GPT or project and
    flags as a conversation does; what an item does not say is judged when it arrives.)"""
    kept, judge = [], Judge(conn)
    for item in items:
        ids = {k: item.get(k) if isinstance(item.get(k), str) else None
               for k in ("gizmo_id", "conversation_template_id")}
        project = next((p for p in ids.values() if p and p.startswith("g-p-")), None)
        row = {"id": item["id"], **ids, "project_id": project,
               "is_temporary_chat": 1 if item.get("is_temporary_chat") is True else None,
               "conversation_json": json.dumps({"is_do_not_remember": item.get("is_do_not_remember") is True})}
        if judge(row) is None:
            kept.append(item)
    return kept


def held_refusal(conn, conversation_id):
    """For what arrives about a conversation (files, canvas documents): why it is kept out.
    By id alone when the archive does not hold it; by the held row's project, GPT and flags
    otherwise."""
    row = conn.execute(
        "SELECT id, gizmo_id, project_id, conversation_template_id, is_temporary_chat, conversation_json"
        " FROM chatgpt_conversation WHERE id = ?", [conversation_id]).fetchone()
    if row is None:
        row = (conversation_id, None, None, None, None, None)
    keys = ("id", "gizmo_id", "project_id", "conversation_template_id", "is_temporary_chat", "conversation_json")
    return refusal(conn, dict(zip(keys, row)))


@dataclass
class Forgotten:
    conversations: int = 0
    messages: int = 0
    captures: int = 0
    textdocs: int = 0
    asset_links: int = 0
    files: int = 0
    assets: int = 0
    asset_bytes: int = 0
    other: int = 0  # rows of other tables naming it (an export's feedback and share lists, ...)

    def describe(self):
        counts = [(self.conversations, "conversation"), (self.messages, "message"), (self.captures, "capture"),
                  (self.textdocs, "canvas document"), (self.asset_links, "file link"), (self.files, "file"),
                  (self.assets, "stored blob")]
        listed = ", ".join(f"{n} {what}{'' if n == 1 else 's'}" for n, what in counts)
        other = f", {self.other} other row{'' if self.other == 1 else 's'}" if self.other else ""
        return f"{listed} ({self.asset_bytes:,} bytes){other}"


class NothingToForget(Exception):
    pass


def forget_conversation(conn, conversation_id):
    """Delete one conversation: its row, messages (the search index follows through the
    triggers), captures, canvas documents, publication, message-file links, and the files and
    bytes no other conversation uses. Call inside one transaction."""
    run = lambda sql, *args: conn.execute(sql, args).rowcount  # noqa: E731
    gone = Forgotten()
    # Files only this conversation names; bytes only those files hold.
    only_mine = [r[0] for r in conn.execute(
        "SELECT DISTINCT file_id FROM chatgpt_message_asset WHERE conversation_id = ?1 AND file_id NOT IN"
        " (SELECT file_id FROM chatgpt_message_asset WHERE conversation_id IS NOT ?1 AND file_id IS NOT NULL)",
        [conversation_id])]
    ids = json.dumps(only_mine)
    gone.asset_links = run("DELETE FROM chatgpt_message_asset WHERE conversation_id = ?", conversation_id)
    blobs = [r[0] for r in conn.execute(
        "SELECT DISTINCT sha256 FROM chatgpt_asset_file WHERE file_id IN (SELECT value FROM json_each(?))", [ids])]
    gone.files = run("DELETE FROM chatgpt_asset_file WHERE file_id IN (SELECT value FROM json_each(?))", ids)
    gone.asset_bytes = conn.execute(
        "SELECT coalesce(sum(size), 0) FROM chatgpt_asset WHERE sha256 IN (SELECT value FROM json_each(?1))"
        " AND sha256 NOT IN (SELECT sha256 FROM chatgpt_asset_file)", [json.dumps(blobs)]).fetchone()[0]
    gone.assets = run("DELETE FROM chatgpt_asset WHERE sha256 IN (SELECT value FROM json_each(?1))"
                      " AND sha256 NOT IN (SELECT sha256 FROM chatgpt_asset_file)", json.dumps(blobs))
    gone.textdocs = run("DELETE FROM chatgpt_textdoc WHERE conversation_id = ?", conversation_id)
    gone.messages = run("DELETE FROM chatgpt_message WHERE conversation_id = ?", conversation_id)
    run("DELETE FROM chatgpt_capture_pending WHERE capture_id IN"
        " (SELECT id FROM chatgpt_capture WHERE conversation_id = ?)", conversation_id)
    gone.captures = run("DELETE FROM chatgpt_capture WHERE conversation_id = ?", conversation_id)
    run("DELETE FROM chatgpt_public WHERE conversation_id = ?", conversation_id)
    for table in _other_tables(conn):
        gone.other += run(f"DELETE FROM [{table}] WHERE conversation_id = ?", conversation_id)
    gone.conversations = run("DELETE FROM chatgpt_conversation WHERE id = ?", conversation_id)
    if not (gone.conversations or gone.messages or gone.captures or gone.textdocs):
        raise NothingToForget(f"no conversation {conversation_id!r} in the archive")
    return gone


_FORGOTTEN_ABOVE = {"chatgpt_message", "chatgpt_capture", "chatgpt_message_asset", "chatgpt_textdoc", "chatgpt_public"}


def _other_tables(conn):
    """Every other table with a ``conversation_id`` column (an export's message_feedback and
    shared_conversations tables, and whatever later versions add): forgetting is thorough."""
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    return [n for n in names if n not in _FORGOTTEN_ABOVE and any(
        c[1] == "conversation_id" for c in conn.execute(f"PRAGMA table_info([{n}])"))]
