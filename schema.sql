CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE TABLE "chatgpt_conversation" (
   "id" TEXT PRIMARY KEY,
   "title" TEXT,
   "create_time" REAL,
   "moderation_results" TEXT,
   "current_node" TEXT,
   "plugin_ids" TEXT,
   "update_time" REAL,
   "current_leaf" TEXT,
   "default_model_slug" TEXT,
   "gizmo_id" TEXT,
   "gizmo_type" TEXT,
   "project_id" TEXT,
   "conversation_template_id" TEXT,
   "is_archived" INTEGER,
   "is_starred" INTEGER,
   "is_temporary_chat" INTEGER,
   "conversation_origin" TEXT,
   "async_status" INTEGER,
   "shape" TEXT,
   "message_count" INTEGER,
   "last_captured_at" TEXT,
   "conversation_json" TEXT
);
CREATE TABLE "chatgpt_message" (
   "id" TEXT PRIMARY KEY,
   "conversation_id" TEXT REFERENCES "chatgpt_conversation"("id"),
   "author_role" TEXT,
   "author_metadata" TEXT,
   "create_time" REAL,
   "content" TEXT,
   "end_turn" INTEGER,
   "weight" REAL,
   "metadata" TEXT,
   "recipient" TEXT,
   "node_id" TEXT,
   "message_id" TEXT,
   "parent_id" TEXT,
   "parent_derived" INTEGER,
   "child_index" INTEGER,
   "is_current" INTEGER,
   "is_hidden" INTEGER,
   "author_name" TEXT,
   "content_type" TEXT,
   "text" TEXT,
   "model" TEXT,
   "status" TEXT,
   "channel" TEXT,
   "update_time" REAL,
   "unknown_types" TEXT,
   "message_json" TEXT
);
CREATE UNIQUE INDEX "idx_chatgpt_message_conversation_id_node_id"
    ON "chatgpt_message" ("conversation_id", "node_id");
CREATE INDEX "idx_chatgpt_conversation_update_time"
    ON "chatgpt_conversation" ("update_time");
CREATE TABLE "chatgpt_capture" (
   "id" INTEGER PRIMARY KEY,
   "conversation_id" TEXT,
   "received_at" TEXT,
   "last_received_at" TEXT,
   "times_received" INTEGER,
   "source" TEXT,
   "token_name" TEXT,
   "sha256" TEXT,
   "size" INTEGER,
   "update_time" REAL,
   "shape" TEXT,
   "body" BLOB
);
CREATE UNIQUE INDEX "idx_chatgpt_capture_conversation_id_sha256"
    ON "chatgpt_capture" ("conversation_id", "sha256");
CREATE TABLE "archiver_token" (
   "name" TEXT PRIMARY KEY,
   "token_hash" TEXT,
   "created_at" TEXT,
   "last_used_at" TEXT,
   "revoked_at" TEXT
);
CREATE TABLE "archiver_meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TRIGGER chatgpt_message_text_from_content AFTER INSERT ON chatgpt_message
        WHEN new.text IS NULL AND json_valid(new.content)
        BEGIN
          UPDATE chatgpt_message SET node_id = coalesce(new.node_id, new.id), 
    text = CASE WHEN json_valid(new.content) THEN coalesce(
      (SELECT group_concat(value, char(10)) FROM json_each(new.content, '$.parts')
       WHERE type = 'text'),
      json_extract(new.content, '$.text')) END,
    content_type = coalesce(new.content_type,
      CASE WHEN json_valid(new.content) THEN json_extract(new.content, '$.content_type') END)

          WHERE id = new.id;
        END;
CREATE VIRTUAL TABLE "chatgpt_message_fts" USING FTS5 (
    "text",
    tokenize='porter',
    content="chatgpt_message"
);
CREATE TABLE 'chatgpt_message_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'chatgpt_message_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'chatgpt_message_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'chatgpt_message_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER "chatgpt_message_ai" AFTER INSERT ON "chatgpt_message" BEGIN
  INSERT INTO "chatgpt_message_fts" (rowid, "text") VALUES (new.rowid, new."text");
END;
CREATE TRIGGER "chatgpt_message_ad" AFTER DELETE ON "chatgpt_message" BEGIN
  INSERT INTO "chatgpt_message_fts" ("chatgpt_message_fts", rowid, "text") VALUES('delete', old.rowid, old."text");
END;
CREATE TRIGGER [chatgpt_message_au] AFTER UPDATE OF [text] ON [chatgpt_message]
            WHEN old.[text] IS NOT new.[text]
            BEGIN
              INSERT INTO [chatgpt_message_fts] ([chatgpt_message_fts], rowid, [text])
                VALUES('delete', old.rowid, old.[text]);
              INSERT INTO [chatgpt_message_fts] (rowid, [text]) VALUES (new.rowid, new.[text]);
            END;
CREATE VIRTUAL TABLE "chatgpt_conversation_fts" USING FTS5 (
    "title",
    tokenize='porter',
    content="chatgpt_conversation"
);
CREATE TABLE 'chatgpt_conversation_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'chatgpt_conversation_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'chatgpt_conversation_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'chatgpt_conversation_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER "chatgpt_conversation_ai" AFTER INSERT ON "chatgpt_conversation" BEGIN
  INSERT INTO "chatgpt_conversation_fts" (rowid, "title") VALUES (new.rowid, new."title");
END;
CREATE TRIGGER "chatgpt_conversation_ad" AFTER DELETE ON "chatgpt_conversation" BEGIN
  INSERT INTO "chatgpt_conversation_fts" ("chatgpt_conversation_fts", rowid, "title") VALUES('delete', old.rowid, old."title");
END;
CREATE TRIGGER [chatgpt_conversation_au] AFTER UPDATE OF [title] ON [chatgpt_conversation]
            WHEN old.[title] IS NOT new.[title]
            BEGIN
              INSERT INTO [chatgpt_conversation_fts] ([chatgpt_conversation_fts], rowid, [title])
                VALUES('delete', old.rowid, old.[title]);
              INSERT INTO [chatgpt_conversation_fts] (rowid, [title]) VALUES (new.rowid, new.[title]);
            END;
CREATE TABLE "chatgpt_public" (
   "conversation_id" TEXT PRIMARY KEY REFERENCES "chatgpt_conversation"("id"),
   "published_at" TEXT
);
CREATE VIEW "public_conversations" AS 
        SELECT c.id, c.title, c.create_time, c.update_time, c.message_count, p.published_at
        FROM chatgpt_public p JOIN chatgpt_conversation c ON c.id = p.conversation_id;
CREATE VIEW "public_messages" AS 
        SELECT m.conversation_id, m.node_id, m.parent_id, m.author_role, m.create_time,
               m.content_type, m.model, m.text
        FROM chatgpt_message m JOIN chatgpt_public p ON p.conversation_id = m.conversation_id
        WHERE m.is_hidden = 0 AND m.is_current = 1;
CREATE TABLE "chatgpt_asset" (
   "sha256" TEXT PRIMARY KEY,
   "size" INTEGER,
   "mime_type" TEXT,
   "data" BLOB
);
CREATE TABLE "chatgpt_asset_file" (
   "path" TEXT PRIMARY KEY,
   "file_id" TEXT,
   "name" TEXT,
   "sha256" TEXT REFERENCES "chatgpt_asset"("sha256")
);
CREATE INDEX "idx_chatgpt_asset_file_file_id"
    ON "chatgpt_asset_file" ("file_id");
CREATE TABLE "chatgpt_message_asset" (
   "conversation_id" TEXT REFERENCES "chatgpt_conversation"("id"),
   "node_id" TEXT,
   "pointer" TEXT,
   "file_id" TEXT
);
CREATE UNIQUE INDEX "idx_chatgpt_message_asset_conversation_id_node_id_pointer"
    ON "chatgpt_message_asset" ("conversation_id", "node_id", "pointer");
CREATE INDEX "idx_chatgpt_message_asset_file_id"
    ON "chatgpt_message_asset" ("file_id");
CREATE TABLE "chatgpt_textdoc" (
   "path" TEXT PRIMARY KEY,
   "title" TEXT,
   "content" TEXT,
   "raw" TEXT,
   "imported_at" TEXT
);
CREATE VIRTUAL TABLE "chatgpt_textdoc_fts" USING FTS5 (
    "title", "content",
    tokenize='porter',
    content="chatgpt_textdoc"
);
CREATE TABLE 'chatgpt_textdoc_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'chatgpt_textdoc_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'chatgpt_textdoc_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'chatgpt_textdoc_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER "chatgpt_textdoc_ai" AFTER INSERT ON "chatgpt_textdoc" BEGIN
  INSERT INTO "chatgpt_textdoc_fts" (rowid, "title", "content") VALUES (new.rowid, new."title", new."content");
END;
CREATE TRIGGER "chatgpt_textdoc_ad" AFTER DELETE ON "chatgpt_textdoc" BEGIN
  INSERT INTO "chatgpt_textdoc_fts" ("chatgpt_textdoc_fts", rowid, "title", "content") VALUES('delete', old.rowid, old."title", old."content");
END;
CREATE TRIGGER "chatgpt_textdoc_au" AFTER UPDATE ON "chatgpt_textdoc" BEGIN
  INSERT INTO "chatgpt_textdoc_fts" ("chatgpt_textdoc_fts", rowid, "title", "content") VALUES('delete', old.rowid, old."title", old."content");
  INSERT INTO "chatgpt_textdoc_fts" (rowid, "title", "content") VALUES (new.rowid, new."title", new."content");
END;
CREATE TABLE "chatgpt_capture_pending" (
   "capture_id" INTEGER PRIMARY KEY REFERENCES "chatgpt_capture"("id"),
   "failed_at" TEXT,
   "error" TEXT
);
