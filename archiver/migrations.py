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
