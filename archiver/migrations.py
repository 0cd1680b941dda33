"""The schema, as sqlite-utils migrations: appended, never edited once released.

schema.sql at the top of the repository is what these produce; tests/test_schema.py keeps
the two equal (regenerate it with ``chatgpt-archiver schema > schema.sql``).
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("chatgpt-archiver")

# m001's column sets. Frozen here rather than read from reshape.py, so later changes to the
# reshaper cannot silently change what an already-released migration does.
_CONVERSATION = {
    "id": str,
    "title": str,
    "create_time": float,
    "moderation_results": str,
    "current_node": str,
    "plugin_ids": str,
    "update_time": float,
    "current_leaf": str,
    "default_model_slug": str,
    "gizmo_id": str,
    "gizmo_type": str,
    "project_id": str,
    "conversation_template_id": str,
    "is_archived": int,
    "is_starred": int,
    "is_temporary_chat": int,
    "conversation_origin": str,
    "async_status": int,
    "shape": str,
    "message_count": int,
    "last_captured_at": str,
    "conversation_json": str,
}
_MESSAGE = {
    "id": str,
    "conversation_id": str,
    "author_role": str,
    "author_metadata": str,
    "create_time": float,
    "content": str,
    "end_turn": int,
    "weight": float,
    "metadata": str,
    "recipient": str,
    "node_id": str,
    "message_id": str,
    "parent_id": str,
    "parent_derived": int,
    "child_index": int,
    "is_current": int,
    "is_hidden": int,
    "author_name": str,
    "content_type": str,
    "text": str,
    "model": str,
    "status": str,
    "channel": str,
    "update_time": float,
    "unknown_types": str,
    "message_json": str,
}


def _ensure_table(db, name, columns, **kwargs):
    """Create the table, or, for an archive made by the 2023 design (same table names, fewer
    columns), add what is missing, so old archives open without an export/import."""
    table = db[name]
    if not table.exists():
        table.create(columns, **kwargs)
        return
    have = set(table.columns_dict)
    for column, kind in columns.items():
        if column not in have:
            table.add_column(column, kind)


@migrations()
def m001_initial(db):
    _ensure_table(db, "chatgpt_conversation", _CONVERSATION, pk="id")
    _ensure_table(
        db,
        "chatgpt_message",
        _MESSAGE,
        pk="id",
        foreign_keys=[("conversation_id", "chatgpt_conversation", "id")],
    )
    # Rows from the 2023 design are their own nodes, and get searchable text.
    db.execute(
        f"UPDATE chatgpt_message SET node_id = id, {_TEXT_FROM_CONTENT.format(row='chatgpt_message')}"
        " WHERE node_id IS NULL"
    )
    db["chatgpt_message"].create_index(["conversation_id", "node_id"], unique=True)
    db["chatgpt_conversation"].create_index(["update_time"])

    # Every accepted capture, exactly as posted (gzip), so derived rows can be rebuilt.
    db["chatgpt_capture"].create(
        {
            "id": int,
            "conversation_id": str,
            "received_at": str,
            "last_received_at": str,
            "times_received": int,
            "source": str,
            "token_name": str,
            "sha256": str,
            "size": int,
            "update_time": float,
            "shape": str,
            "body": bytes,
        },
        pk="id",
    )
    db["chatgpt_capture"].create_index(["conversation_id", "sha256"], unique=True)

    db["archiver_token"].create(
        {"name": str, "token_hash": str, "created_at": str, "last_used_at": str, "revoked_at": str},
        pk="name",
    )
    db["archiver_meta"].create({"key": str, "value": str}, pk="key")

    # Clients of the 2023 design insert rows with only `content` (JSON) through Datasette's
    # insert API; derive the searchable text and content type for them in the database.
    # Created before the FTS triggers on purpose: SQLite fires triggers newest first, and
    # this one must run after the FTS insert trigger has indexed the row it then updates.
    db.execute(
        """
        CREATE TRIGGER chatgpt_message_text_from_content AFTER INSERT ON chatgpt_message
        WHEN new.text IS NULL AND json_valid(new.content)
        BEGIN
          UPDATE chatgpt_message SET node_id = coalesce(new.node_id, new.id), {}
          WHERE id = new.id;
        END
        """.format(_TEXT_FROM_CONTENT.format(row="new"))
    )

    for table, column in (("chatgpt_message", "text"), ("chatgpt_conversation", "title")):
        db[table].enable_fts([column], fts_version="FTS5", create_triggers=True, tokenize="porter")
        # sqlite-utils' update trigger re-indexes a row whenever any column changes; ours
        # only when the indexed text does (re-captures update flags far more than text).
        db.execute(f"DROP TRIGGER [{table}_au]")
        db.execute(
            f"""
            CREATE TRIGGER [{table}_au] AFTER UPDATE OF [{column}] ON [{table}]
            WHEN old.[{column}] IS NOT new.[{column}]
            BEGIN
              INSERT INTO [{table}_fts] ([{table}_fts], rowid, [{column}])
                VALUES('delete', old.rowid, old.[{column}]);
              INSERT INTO [{table}_fts] (rowid, [{column}]) VALUES (new.rowid, new.[{column}]);
            END
            """
        )


# The text of a 2023-style row: its content's string parts, or content.text.
_TEXT_FROM_CONTENT = """
    text = CASE WHEN json_valid({row}.content) THEN coalesce(
      (SELECT group_concat(value, char(10)) FROM json_each({row}.content, '$.parts')
       WHERE type = 'text'),
      json_extract({row}.content, '$.text')) END,
    content_type = coalesce({row}.content_type,
      CASE WHEN json_valid({row}.content) THEN json_extract({row}.content, '$.content_type') END)
"""


@migrations()
def m002_public(db):
    """Sharing on purpose: published conversation ids, and views exposing only those."""
    db["chatgpt_public"].create(
        {"conversation_id": str, "published_at": str},
        pk="conversation_id",
        foreign_keys=[("conversation_id", "chatgpt_conversation", "id")],
    )
    db.create_view(
        "public_conversations",
        """
        SELECT c.id, c.title, c.create_time, c.update_time, c.message_count, p.published_at
        FROM chatgpt_public p JOIN chatgpt_conversation c ON c.id = p.conversation_id
        """,
    )
    db.create_view(
        "public_messages",
        """
        SELECT m.conversation_id, m.node_id, m.parent_id, m.author_role, m.create_time,
               m.content_type, m.model, m.text
        FROM chatgpt_message m JOIN chatgpt_public p ON p.conversation_id = m.conversation_id
        WHERE m.is_hidden = 0 AND m.is_current = 1
        """,
    )


@migrations()
def m003_assets(db):
    """Files from exports, stored once by content hash, and which messages name them."""
    db["chatgpt_asset"].create(
        {"sha256": str, "size": int, "mime_type": str, "data": bytes}, pk="sha256"
    )
    db["chatgpt_asset_file"].create(
        {"path": str, "file_id": str, "name": str, "sha256": str},
        pk="path",
        foreign_keys=[("sha256", "chatgpt_asset", "sha256")],
    )
    db["chatgpt_asset_file"].create_index(["file_id"])
    db["chatgpt_message_asset"].create(
        {"conversation_id": str, "node_id": str, "pointer": str, "file_id": str},
        foreign_keys=[("conversation_id", "chatgpt_conversation", "id")],
    )
    db["chatgpt_message_asset"].create_index(["conversation_id", "node_id", "pointer"], unique=True)
    db["chatgpt_message_asset"].create_index(["file_id"])
    # Canvas documents from an export's textdocs/ folder, searchable.
    db["chatgpt_textdoc"].create(
        {"path": str, "title": str, "content": str, "raw": str, "imported_at": str}, pk="path"
    )
    db["chatgpt_textdoc"].enable_fts(["title", "content"], fts_version="FTS5", create_triggers=True, tokenize="porter")


@migrations()
def m004_secret_out_of_the_archive(db):
    """The cookie-signing secret moved to a file beside the archive (readable by its owner
    only): on loopback anyone may run SQL on the archive, and must not read the secret."""
    if db["archiver_meta"].exists():
        db.execute("DELETE FROM archiver_meta WHERE key = 'datasette_secret'")


@migrations()
def m010_trigram_search(db):
    """Trigram indexes beside the stemmed ones, so search finds part of a word
    ("AuthorizationCode" in "GoogleAuthorizationCodeFlow") and text written without spaces
    (Chinese, Japanese), which the stemmed index only knows as whole runs."""
    for table, column in (("chatgpt_message", "text"), ("chatgpt_conversation", "title")):
        index = f"{table}_trigram"
        db.execute(
            f"CREATE VIRTUAL TABLE [{index}] USING fts5([{column}], tokenize='trigram', content='{table}')"
        )
        db.execute(f"INSERT INTO [{index}] ([{index}]) VALUES ('rebuild')")
        # Named {index}_a? like the stemmed index's triggers, so a bulk load pauses both.
        db.execute(
            f"""
            CREATE TRIGGER [{index}_ai] AFTER INSERT ON [{table}] BEGIN
              INSERT INTO [{index}] (rowid, [{column}]) VALUES (new.rowid, new.[{column}]);
            END
            """
        )
        db.execute(
            f"""
            CREATE TRIGGER [{index}_ad] AFTER DELETE ON [{table}] BEGIN
              INSERT INTO [{index}] ([{index}], rowid, [{column}]) VALUES ('delete', old.rowid, old.[{column}]);
            END
            """
        )
        db.execute(
            f"""
            CREATE TRIGGER [{index}_au] AFTER UPDATE OF [{column}] ON [{table}]
            WHEN old.[{column}] IS NOT new.[{column}]
            BEGIN
              INSERT INTO [{index}] ([{index}], rowid, [{column}]) VALUES ('delete', old.rowid, old.[{column}]);
              INSERT INTO [{index}] (rowid, [{column}]) VALUES (new.rowid, new.[{column}]);
            END
            """
        )


# Times are Unix seconds from 1970 to shortly after now. Captures are clamped on the way in
# (reshape.to_epoch, db.bound_times); these triggers hold every other writer (the insert API,
# a 2023-design client) to the same range, so no page meets a time it cannot show. The bound
# is db.TRUST_MARGIN (600 s) past now, plus a minute for SQLite's millisecond clock.
_TIME_OUT_OF_RANGE = (
    "new.{c} IS NOT NULL AND (typeof(new.{c}) NOT IN ('integer', 'real') OR new.{c} < 0"
    " OR new.{c} > (julianday('now') - 2440587.5) * 86400.0 + 660)"
)


@migrations()
def m015_times_in_range(db):
    """Old archives may hold times in milliseconds, negative, or far in the future (a forged
    capture): milliseconds become seconds, the rest is cleared (the raw capture keeps it)."""
    for table in ("chatgpt_conversation", "chatgpt_message"):
        for column in ("create_time", "update_time"):
            db.execute(
                f"UPDATE {table} SET {column} = CASE"
                f" WHEN typeof({column}) IN ('integer', 'real') AND {column} >= 1e11 AND {column} < 1e14"
                f" AND {column} / 1000.0 <= (julianday('now') - 2440587.5) * 86400.0 + 660"
                f" THEN {column} / 1000.0 ELSE NULL END"
                f" WHERE {column} IS NOT NULL AND (typeof({column}) NOT IN ('integer', 'real')"
                f" OR {column} < 0 OR {column} > (julianday('now') - 2440587.5) * 86400.0 + 660)"
            )
        check = " OR ".join(_TIME_OUT_OF_RANGE.format(c=c) for c in ("create_time", "update_time"))
        for event in ("INSERT", "UPDATE"):
            db.execute(
                f"""
                CREATE TRIGGER {table}_times_{event.lower()} BEFORE {event} ON {table}
                WHEN {check}
                BEGIN
                  SELECT RAISE(ABORT, 'create_time and update_time must be Unix seconds, from 1970 to now');
                END
                """
            )


# Set by db.save_rows for the length of its own writes, inside the caller's transaction and
# removed before it commits: no other writer ever sees it. With it absent (the insert API,
# any other client) the guards below hold.
CAPTURE_WRITING = "capture_writing"
_NOT_A_CAPTURE = f"NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = '{CAPTURE_WRITING}')"
_CAPTURED = "EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = {})"
_STRUCTURE = ("is_current", "is_hidden", "parent_id", "child_index", "parent_derived")


def _guard(db, name, event, table, when, message):
    db.execute(
        f"""
        CREATE TRIGGER {name} BEFORE {event} ON {table}
        WHEN {_NOT_A_CAPTURE} AND ({when})
        BEGIN
          SELECT RAISE(ABORT, '{message}');
        END
        """
    )


@migrations()
def m016_insert_api_cannot_take_rows(db):
    """What writers other than a capture (Datasette's insert API with a token) may do to rows
    that exist: never move a message to another conversation or node, never change which
    messages are shown (current branch, hidden, tree), and leave what a capture wrote alone
    (row update may only fill in its empty columns). Creating rows stays open."""
    captured_changed = " OR ".join(
        f"(old.[{c}] IS NOT NULL AND new.[{c}] IS NOT old.[{c}])" for c in _MESSAGE
    )
    _guard(db, "chatgpt_message_keeps_identity", "UPDATE", "chatgpt_message",
           "new.id IS NOT old.id"
           " OR (old.conversation_id IS NOT NULL AND new.conversation_id IS NOT old.conversation_id)"
           " OR (old.node_id IS NOT NULL AND new.node_id IS NOT old.node_id)"
           + "".join(f" OR new.[{c}] IS NOT old.[{c}]" for c in _STRUCTURE),
           "a stored message keeps its id, conversation_id, node_id, branch and visibility"
           " (is_current, is_hidden, parent_id, child_index): only a capture changes them")
    _guard(db, "chatgpt_message_keeps_capture", "UPDATE", "chatgpt_message",
           f"{_CAPTURED.format('old.conversation_id')} AND ({captured_changed})",
           "this message came from a capture: only a capture changes it (empty columns may be filled in)")
    # INSERT covers upsert and replace, which would overwrite or delete the stored row.
    _guard(db, "chatgpt_message_insert_keeps_rows", "INSERT", "chatgpt_message",
           "EXISTS (SELECT 1 FROM chatgpt_message m WHERE (m.id = new.id AND ("
           f" {_CAPTURED.format('m.conversation_id')}"
           " OR (new.conversation_id IS NOT NULL AND new.conversation_id IS NOT m.conversation_id)"
           " OR (new.node_id IS NOT NULL AND new.node_id IS NOT m.node_id)"
           + "".join(f" OR (new.[{c}] IS NOT NULL AND new.[{c}] IS NOT m.[{c}])" for c in _STRUCTURE)
           + ")) OR (m.conversation_id = new.conversation_id AND m.node_id = coalesce(new.node_id, new.id)"
           " AND m.id IS NOT new.id))",
           "a stored message cannot be replaced or moved through the insert API, and one a capture"
           " wrote cannot be upserted: use its row update to fill in empty columns")
    conversation_changed = " OR ".join(
        f"(old.[{c}] IS NOT NULL AND new.[{c}] IS NOT old.[{c}])" for c in _CONVERSATION
    )
    _guard(db, "chatgpt_conversation_keeps_capture", "UPDATE", "chatgpt_conversation",
           f"new.id IS NOT old.id OR ({_CAPTURED.format('old.id')} AND ({conversation_changed}))",
           "this conversation came from a capture: only a capture changes it (empty columns may be filled in)")
    _guard(db, "chatgpt_conversation_insert_keeps_rows", "INSERT", "chatgpt_conversation",
           f"EXISTS (SELECT 1 FROM chatgpt_conversation c WHERE c.id = new.id AND {_CAPTURED.format('c.id')})",
           "this conversation came from a capture: it cannot be replaced or upserted through the insert API")


@migrations()
def m020_accounts(db):
    """Which ChatGPT account (personal or a Team workspace) each conversation and capture came
    from, so two workspaces' conversations never merge; and since when a conversation has been
    missing from its account's complete list (deleted on ChatGPT, kept here)."""
    db["chatgpt_conversation"].add_column("account_id", str)
    db["chatgpt_conversation"].add_column("missing_since", str)
    db["chatgpt_capture"].add_column("account_id", str)
    db["chatgpt_conversation"].create_index(["account_id"])


@migrations()
def m021_textdoc_versions(db):
    """Canvas documents captured live: every version of every document of a conversation."""
    for column, kind in (("conversation_id", str), ("textdoc_id", str), ("version", int), ("textdoc_type", str)):
        db["chatgpt_textdoc"].add_column(column, kind)
    db["chatgpt_textdoc"].create_index(["conversation_id"])


@migrations()
def m022_privacy(db):
    """Privacy controls the server enforces: archive settings, and an exclusion list of
    projects, GPTs and conversations that are never stored."""
    db["archiver_setting"].create({"key": str, "value": str}, pk="key")
    db["archiver_exclusion"].create({"kind": str, "value": str, "added_at": str}, pk=("kind", "value"))
    # The insert API (clients of the 2023 design) writes rows without our checks: these
    # triggers refuse a new conversation the exclusion list or the settings keep out, and
    # messages of an excluded conversation id. Rows already held are not affected (a later
    # exclusion stops new captures; `forget` removes what is held), so rebuild still works.
    db.execute(
        """
        CREATE TRIGGER archiver_refuse_excluded_conversation BEFORE INSERT ON chatgpt_conversation
        WHEN NOT EXISTS (SELECT 1 FROM chatgpt_conversation WHERE id = new.id) AND (
          EXISTS (SELECT 1 FROM archiver_exclusion WHERE
            (kind = 'conversation' AND value = new.id)
            OR (kind = 'project' AND value IN (new.project_id, new.gizmo_id, new.conversation_template_id))
            OR (kind = 'gpt' AND value = new.gizmo_id))
          OR (new.is_temporary_chat = 1 AND coalesce(
            (SELECT value FROM archiver_setting WHERE key = 'archive-temporary-chats'), 'off') = 'off')
          OR (json_valid(new.conversation_json)
            AND json_extract(new.conversation_json, '$.is_do_not_remember') = 1
            AND coalesce((SELECT value FROM archiver_setting WHERE key = 'archive-do-not-remember-chats'),
                         'on') = 'off'))
        BEGIN
          SELECT RAISE(ABORT, 'refused by the archive''s privacy settings');
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER archiver_refuse_excluded_message BEFORE INSERT ON chatgpt_message
        WHEN EXISTS (SELECT 1 FROM archiver_exclusion WHERE kind = 'conversation' AND value = new.conversation_id)
          AND NOT EXISTS (SELECT 1 FROM chatgpt_conversation WHERE id = new.conversation_id)
        BEGIN
          SELECT RAISE(ABORT, 'refused by the archive''s privacy settings');
        END
        """
    )


@migrations()
def m025_capture_pending(db):
    """Captures the server has kept but not yet reshaped into rows. The server answers a
    capture once its raw bytes are committed, with a row here in the same transaction; the
    rows are derived right after, and the row here goes with them (same transaction). What
    is left at start-up (the server was killed) is derived before anything else. A capture
    that cannot be reshaped stays, with its error, counted in /api/stats."""
    db["chatgpt_capture_pending"].create(
        {"capture_id": int, "failed_at": str, "error": str},
        pk="capture_id",
        foreign_keys=[("capture_id", "chatgpt_capture", "id")],
    )


@migrations()
def m030_token_scopes(db):
    """Tokens get a scope: ``write`` (what every token could do so far) or ``read`` (MCP)."""
    db["archiver_token"].add_column("scope", str, not_null_default="write")


@migrations()
def m031_embeddings(db):
    """Message embeddings for offline semantic search (archiver/semantic.py): sign bits for
    the in-memory search, int8 values and a scale for re-ranking. A message whose text
    changes, or that is deleted, loses its embedding here, so a catch-up embeds it again;
    deletions are counted so a search process knows to reload its in-memory copy."""
    db.execute(
        """
        CREATE TABLE chatgpt_embedding (
          id INTEGER PRIMARY KEY,
          message_id TEXT NOT NULL UNIQUE REFERENCES chatgpt_message(id),
          bits BLOB NOT NULL,
          vector BLOB NOT NULL,
          scale REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TRIGGER chatgpt_message_embedding_stale AFTER UPDATE OF text, is_hidden ON chatgpt_message
        WHEN old.text IS NOT new.text OR old.is_hidden IS NOT new.is_hidden
        BEGIN
          DELETE FROM chatgpt_embedding WHERE message_id = old.id;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER chatgpt_message_embedding_gone AFTER DELETE ON chatgpt_message
        BEGIN
          DELETE FROM chatgpt_embedding WHERE message_id = old.id;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER chatgpt_embedding_deleted AFTER DELETE ON chatgpt_embedding
        BEGIN
          INSERT INTO archiver_meta (key, value) VALUES ('embedding_deletions', '1')
            ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
        END
        """
    )


# The virtual column's expression: the stored rest with the content and metadata columns put
# back where reshape.CONTENT_MARK and METADATA_MARK stand (char(1), char(2)). A row stored
# whole (before m035, or by the insert API) has no marks and reads back as it is.
MESSAGE_JSON = ("replace(replace(message_rest, char(1), coalesce(content, 'null')),"
                " char(2), coalesce(metadata, 'null'))")


@migrations()
def m035_message_json_spliced(db):
    """``message_json`` becomes a virtual column, computed when read, from ``message_rest``
    (the message without its content and metadata) and those two columns: the same text for
    every reader (Datasette, SQL, the transcript, exports), a quarter fewer bytes to write.
    Renaming keeps every stored value (and rewrites the triggers that named the column), so
    an old archive needs no rewrite; ``rebuild`` stores its rows the new, smaller way. (SQLite
    renames the column in every view and trigger that names it, the owner's own included: such
    a view then shows ``message_rest``, marks and all.)"""
    db.execute("ALTER TABLE chatgpt_message RENAME COLUMN message_json TO message_rest")
    db.execute(f"ALTER TABLE chatgpt_message ADD COLUMN message_json TEXT"
               f" GENERATED ALWAYS AS ({MESSAGE_JSON}) VIRTUAL")
