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
, "account_id" TEXT, "missing_since" TEXT);
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
   "message_rest" TEXT
, message_json TEXT GENERATED ALWAYS AS (replace(replace(message_rest, char(1), coalesce(content, 'null')), char(2), coalesce(metadata, 'null'))) VIRTUAL);
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
, "account_id" TEXT);
CREATE UNIQUE INDEX "idx_chatgpt_capture_conversation_id_sha256"
    ON "chatgpt_capture" ("conversation_id", "sha256");
CREATE TABLE "archiver_token" (
   "name" TEXT PRIMARY KEY,
   "token_hash" TEXT,
   "created_at" TEXT,
   "last_used_at" TEXT,
   "revoked_at" TEXT
, "scope" TEXT NOT NULL DEFAULT 'write');
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
, "conversation_id" TEXT, "textdoc_id" TEXT, "version" INTEGER, "textdoc_type" TEXT);
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
CREATE VIRTUAL TABLE [chatgpt_message_trigram] USING fts5([text], tokenize='trigram', content='chatgpt_message');
CREATE TABLE 'chatgpt_message_trigram_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'chatgpt_message_trigram_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'chatgpt_message_trigram_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'chatgpt_message_trigram_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER [chatgpt_message_trigram_ai] AFTER INSERT ON [chatgpt_message] BEGIN
              INSERT INTO [chatgpt_message_trigram] (rowid, [text]) VALUES (new.rowid, new.[text]);
            END;
CREATE TRIGGER [chatgpt_message_trigram_ad] AFTER DELETE ON [chatgpt_message] BEGIN
              INSERT INTO [chatgpt_message_trigram] ([chatgpt_message_trigram], rowid, [text]) VALUES ('delete', old.rowid, old.[text]);
            END;
CREATE TRIGGER [chatgpt_message_trigram_au] AFTER UPDATE OF [text] ON [chatgpt_message]
            WHEN old.[text] IS NOT new.[text]
            BEGIN
              INSERT INTO [chatgpt_message_trigram] ([chatgpt_message_trigram], rowid, [text]) VALUES ('delete', old.rowid, old.[text]);
              INSERT INTO [chatgpt_message_trigram] (rowid, [text]) VALUES (new.rowid, new.[text]);
            END;
CREATE VIRTUAL TABLE [chatgpt_conversation_trigram] USING fts5([title], tokenize='trigram', content='chatgpt_conversation');
CREATE TABLE 'chatgpt_conversation_trigram_data'(id INTEGER PRIMARY KEY, block BLOB);
CREATE TABLE 'chatgpt_conversation_trigram_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
CREATE TABLE 'chatgpt_conversation_trigram_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
CREATE TABLE 'chatgpt_conversation_trigram_config'(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE TRIGGER [chatgpt_conversation_trigram_ai] AFTER INSERT ON [chatgpt_conversation] BEGIN
              INSERT INTO [chatgpt_conversation_trigram] (rowid, [title]) VALUES (new.rowid, new.[title]);
            END;
CREATE TRIGGER [chatgpt_conversation_trigram_ad] AFTER DELETE ON [chatgpt_conversation] BEGIN
              INSERT INTO [chatgpt_conversation_trigram] ([chatgpt_conversation_trigram], rowid, [title]) VALUES ('delete', old.rowid, old.[title]);
            END;
CREATE TRIGGER [chatgpt_conversation_trigram_au] AFTER UPDATE OF [title] ON [chatgpt_conversation]
            WHEN old.[title] IS NOT new.[title]
            BEGIN
              INSERT INTO [chatgpt_conversation_trigram] ([chatgpt_conversation_trigram], rowid, [title]) VALUES ('delete', old.rowid, old.[title]);
              INSERT INTO [chatgpt_conversation_trigram] (rowid, [title]) VALUES (new.rowid, new.[title]);
            END;
CREATE TRIGGER chatgpt_conversation_times_insert BEFORE INSERT ON chatgpt_conversation
                WHEN new.create_time IS NOT NULL AND (typeof(new.create_time) NOT IN ('integer', 'real') OR new.create_time < 0 OR new.create_time > (julianday('now') - 2440587.5) * 86400.0 + 660) OR new.update_time IS NOT NULL AND (typeof(new.update_time) NOT IN ('integer', 'real') OR new.update_time < 0 OR new.update_time > (julianday('now') - 2440587.5) * 86400.0 + 660)
                BEGIN
                  SELECT RAISE(ABORT, 'create_time and update_time must be Unix seconds, from 1970 to now');
                END;
CREATE TRIGGER chatgpt_conversation_times_update BEFORE UPDATE ON chatgpt_conversation
                WHEN new.create_time IS NOT NULL AND (typeof(new.create_time) NOT IN ('integer', 'real') OR new.create_time < 0 OR new.create_time > (julianday('now') - 2440587.5) * 86400.0 + 660) OR new.update_time IS NOT NULL AND (typeof(new.update_time) NOT IN ('integer', 'real') OR new.update_time < 0 OR new.update_time > (julianday('now') - 2440587.5) * 86400.0 + 660)
                BEGIN
                  SELECT RAISE(ABORT, 'create_time and update_time must be Unix seconds, from 1970 to now');
                END;
CREATE TRIGGER chatgpt_message_times_insert BEFORE INSERT ON chatgpt_message
                WHEN new.create_time IS NOT NULL AND (typeof(new.create_time) NOT IN ('integer', 'real') OR new.create_time < 0 OR new.create_time > (julianday('now') - 2440587.5) * 86400.0 + 660) OR new.update_time IS NOT NULL AND (typeof(new.update_time) NOT IN ('integer', 'real') OR new.update_time < 0 OR new.update_time > (julianday('now') - 2440587.5) * 86400.0 + 660)
                BEGIN
                  SELECT RAISE(ABORT, 'create_time and update_time must be Unix seconds, from 1970 to now');
                END;
CREATE TRIGGER chatgpt_message_times_update BEFORE UPDATE ON chatgpt_message
                WHEN new.create_time IS NOT NULL AND (typeof(new.create_time) NOT IN ('integer', 'real') OR new.create_time < 0 OR new.create_time > (julianday('now') - 2440587.5) * 86400.0 + 660) OR new.update_time IS NOT NULL AND (typeof(new.update_time) NOT IN ('integer', 'real') OR new.update_time < 0 OR new.update_time > (julianday('now') - 2440587.5) * 86400.0 + 660)
                BEGIN
                  SELECT RAISE(ABORT, 'create_time and update_time must be Unix seconds, from 1970 to now');
                END;
CREATE TRIGGER chatgpt_message_keeps_identity BEFORE UPDATE ON chatgpt_message
        WHEN NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = 'capture_writing') AND (new.id IS NOT old.id OR (old.conversation_id IS NOT NULL AND new.conversation_id IS NOT old.conversation_id) OR (old.node_id IS NOT NULL AND new.node_id IS NOT old.node_id) OR new.[is_current] IS NOT old.[is_current] OR new.[is_hidden] IS NOT old.[is_hidden] OR new.[parent_id] IS NOT old.[parent_id] OR new.[child_index] IS NOT old.[child_index] OR new.[parent_derived] IS NOT old.[parent_derived])
        BEGIN
          SELECT RAISE(ABORT, 'a stored message keeps its id, conversation_id, node_id, branch and visibility (is_current, is_hidden, parent_id, child_index): only a capture changes them');
        END;
CREATE TRIGGER chatgpt_message_keeps_capture BEFORE UPDATE ON chatgpt_message
        WHEN NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = 'capture_writing') AND (EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = old.conversation_id) AND ((old.[id] IS NOT NULL AND new.[id] IS NOT old.[id]) OR (old.[conversation_id] IS NOT NULL AND new.[conversation_id] IS NOT old.[conversation_id]) OR (old.[author_role] IS NOT NULL AND new.[author_role] IS NOT old.[author_role]) OR (old.[author_metadata] IS NOT NULL AND new.[author_metadata] IS NOT old.[author_metadata]) OR (old.[create_time] IS NOT NULL AND new.[create_time] IS NOT old.[create_time]) OR (old.[content] IS NOT NULL AND new.[content] IS NOT old.[content]) OR (old.[end_turn] IS NOT NULL AND new.[end_turn] IS NOT old.[end_turn]) OR (old.[weight] IS NOT NULL AND new.[weight] IS NOT old.[weight]) OR (old.[metadata] IS NOT NULL AND new.[metadata] IS NOT old.[metadata]) OR (old.[recipient] IS NOT NULL AND new.[recipient] IS NOT old.[recipient]) OR (old.[node_id] IS NOT NULL AND new.[node_id] IS NOT old.[node_id]) OR (old.[message_id] IS NOT NULL AND new.[message_id] IS NOT old.[message_id]) OR (old.[parent_id] IS NOT NULL AND new.[parent_id] IS NOT old.[parent_id]) OR (old.[parent_derived] IS NOT NULL AND new.[parent_derived] IS NOT old.[parent_derived]) OR (old.[child_index] IS NOT NULL AND new.[child_index] IS NOT old.[child_index]) OR (old.[is_current] IS NOT NULL AND new.[is_current] IS NOT old.[is_current]) OR (old.[is_hidden] IS NOT NULL AND new.[is_hidden] IS NOT old.[is_hidden]) OR (old.[author_name] IS NOT NULL AND new.[author_name] IS NOT old.[author_name]) OR (old.[content_type] IS NOT NULL AND new.[content_type] IS NOT old.[content_type]) OR (old.[text] IS NOT NULL AND new.[text] IS NOT old.[text]) OR (old.[model] IS NOT NULL AND new.[model] IS NOT old.[model]) OR (old.[status] IS NOT NULL AND new.[status] IS NOT old.[status]) OR (old.[channel] IS NOT NULL AND new.[channel] IS NOT old.[channel]) OR (old.[update_time] IS NOT NULL AND new.[update_time] IS NOT old.[update_time]) OR (old.[unknown_types] IS NOT NULL AND new.[unknown_types] IS NOT old.[unknown_types]) OR (old."message_rest" IS NOT NULL AND new."message_rest" IS NOT old."message_rest")))
        BEGIN
          SELECT RAISE(ABORT, 'this message came from a capture: only a capture changes it (empty columns may be filled in)');
        END;
CREATE TRIGGER chatgpt_message_insert_keeps_rows BEFORE INSERT ON chatgpt_message
        WHEN NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = 'capture_writing') AND (EXISTS (SELECT 1 FROM chatgpt_message m WHERE (m.id = new.id AND ( EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = m.conversation_id) OR (new.conversation_id IS NOT NULL AND new.conversation_id IS NOT m.conversation_id) OR (new.node_id IS NOT NULL AND new.node_id IS NOT m.node_id) OR (new.[is_current] IS NOT NULL AND new.[is_current] IS NOT m.[is_current]) OR (new.[is_hidden] IS NOT NULL AND new.[is_hidden] IS NOT m.[is_hidden]) OR (new.[parent_id] IS NOT NULL AND new.[parent_id] IS NOT m.[parent_id]) OR (new.[child_index] IS NOT NULL AND new.[child_index] IS NOT m.[child_index]) OR (new.[parent_derived] IS NOT NULL AND new.[parent_derived] IS NOT m.[parent_derived]))) OR (m.conversation_id = new.conversation_id AND m.node_id = coalesce(new.node_id, new.id) AND m.id IS NOT new.id)))
        BEGIN
          SELECT RAISE(ABORT, 'a stored message cannot be replaced or moved through the insert API, and one a capture wrote cannot be upserted: use its row update to fill in empty columns');
        END;
CREATE TRIGGER chatgpt_conversation_keeps_capture BEFORE UPDATE ON chatgpt_conversation
        WHEN NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = 'capture_writing') AND (new.id IS NOT old.id OR (EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = old.id) AND ((old.[id] IS NOT NULL AND new.[id] IS NOT old.[id]) OR (old.[title] IS NOT NULL AND new.[title] IS NOT old.[title]) OR (old.[create_time] IS NOT NULL AND new.[create_time] IS NOT old.[create_time]) OR (old.[moderation_results] IS NOT NULL AND new.[moderation_results] IS NOT old.[moderation_results]) OR (old.[current_node] IS NOT NULL AND new.[current_node] IS NOT old.[current_node]) OR (old.[plugin_ids] IS NOT NULL AND new.[plugin_ids] IS NOT old.[plugin_ids]) OR (old.[update_time] IS NOT NULL AND new.[update_time] IS NOT old.[update_time]) OR (old.[current_leaf] IS NOT NULL AND new.[current_leaf] IS NOT old.[current_leaf]) OR (old.[default_model_slug] IS NOT NULL AND new.[default_model_slug] IS NOT old.[default_model_slug]) OR (old.[gizmo_id] IS NOT NULL AND new.[gizmo_id] IS NOT old.[gizmo_id]) OR (old.[gizmo_type] IS NOT NULL AND new.[gizmo_type] IS NOT old.[gizmo_type]) OR (old.[project_id] IS NOT NULL AND new.[project_id] IS NOT old.[project_id]) OR (old.[conversation_template_id] IS NOT NULL AND new.[conversation_template_id] IS NOT old.[conversation_template_id]) OR (old.[is_archived] IS NOT NULL AND new.[is_archived] IS NOT old.[is_archived]) OR (old.[is_starred] IS NOT NULL AND new.[is_starred] IS NOT old.[is_starred]) OR (old.[is_temporary_chat] IS NOT NULL AND new.[is_temporary_chat] IS NOT old.[is_temporary_chat]) OR (old.[conversation_origin] IS NOT NULL AND new.[conversation_origin] IS NOT old.[conversation_origin]) OR (old.[async_status] IS NOT NULL AND new.[async_status] IS NOT old.[async_status]) OR (old.[shape] IS NOT NULL AND new.[shape] IS NOT old.[shape]) OR (old.[message_count] IS NOT NULL AND new.[message_count] IS NOT old.[message_count]) OR (old.[last_captured_at] IS NOT NULL AND new.[last_captured_at] IS NOT old.[last_captured_at]) OR (old.[conversation_json] IS NOT NULL AND new.[conversation_json] IS NOT old.[conversation_json]))))
        BEGIN
          SELECT RAISE(ABORT, 'this conversation came from a capture: only a capture changes it (empty columns may be filled in)');
        END;
CREATE TRIGGER chatgpt_conversation_insert_keeps_rows BEFORE INSERT ON chatgpt_conversation
        WHEN NOT EXISTS (SELECT 1 FROM archiver_meta WHERE key = 'capture_writing') AND (EXISTS (SELECT 1 FROM chatgpt_conversation c WHERE c.id = new.id AND EXISTS (SELECT 1 FROM chatgpt_capture WHERE conversation_id = c.id)))
        BEGIN
          SELECT RAISE(ABORT, 'this conversation came from a capture: it cannot be replaced or upserted through the insert API');
        END;
CREATE INDEX "idx_chatgpt_conversation_account_id"
    ON "chatgpt_conversation" ("account_id");
CREATE INDEX "idx_chatgpt_textdoc_conversation_id"
    ON "chatgpt_textdoc" ("conversation_id");
CREATE TABLE "archiver_setting" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TABLE "archiver_exclusion" (
   "kind" TEXT,
   "value" TEXT,
   "added_at" TEXT,
   PRIMARY KEY ("kind", "value")
);
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
        END;
CREATE TRIGGER archiver_refuse_excluded_message BEFORE INSERT ON chatgpt_message
        WHEN EXISTS (SELECT 1 FROM archiver_exclusion WHERE kind = 'conversation' AND value = new.conversation_id)
          AND NOT EXISTS (SELECT 1 FROM chatgpt_conversation WHERE id = new.conversation_id)
        BEGIN
          SELECT RAISE(ABORT, 'refused by the archive''s privacy settings');
        END;
CREATE TABLE "chatgpt_capture_pending" (
   "capture_id" INTEGER PRIMARY KEY REFERENCES "chatgpt_capture"("id"),
   "failed_at" TEXT,
   "error" TEXT
);
CREATE TABLE chatgpt_embedding (
          id INTEGER PRIMARY KEY,
          message_id TEXT NOT NULL UNIQUE REFERENCES chatgpt_message(id),
          bits BLOB NOT NULL,
          vector BLOB NOT NULL,
          scale REAL NOT NULL
        );
CREATE TRIGGER chatgpt_message_embedding_stale AFTER UPDATE OF text, is_hidden ON chatgpt_message
        WHEN old.text IS NOT new.text OR old.is_hidden IS NOT new.is_hidden
        BEGIN
          DELETE FROM chatgpt_embedding WHERE message_id = old.id;
        END;
CREATE TRIGGER chatgpt_message_embedding_gone AFTER DELETE ON chatgpt_message
        BEGIN
          DELETE FROM chatgpt_embedding WHERE message_id = old.id;
        END;
CREATE TRIGGER chatgpt_embedding_deleted AFTER DELETE ON chatgpt_embedding
        BEGIN
          INSERT INTO archiver_meta (key, value) VALUES ('embedding_deletions', '1')
            ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
        END;
