"""The OpenAPI description of the ingest API (served at /api/openapi.json). Datasette's own
endpoints, including the insert API, are described by Datasette, not here."""

from . import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
# Not blank: starts with a character Python does not strip as whitespace (which includes the
# separators \x1c-\x1f and \x85 that JSON Schema's \s leaves out).
_ID = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\s\\x1c-\\x1f\\x85]"}


def _errors(*statuses):
    text = {400: "Malformed JSON", 401: "Missing, wrong or revoked token",
            403: "A read-scope token: it may read over MCP, never write", 413: "Body over the size limit",
            409: "Conflicts with what the archive holds (another account; a conversation or file not archived yet)",
            422: "Valid JSON that is not what this endpoint takes",
            503: "The archive cannot be written right now (disk full, read-only); retry later"}
    return {str(s): {"description": text[s], "content": {"application/json": {"schema": _ERROR}}} for s in statuses}


def _ok(schema, description, status="200"):
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


# The answer comes once the raw capture is committed (durable); the rows are derived right
# after, so what only they tell (message counts, unknown content types) is not known yet.
_UNKNOWN_AT_ANSWER = {"nullable": True, "description": "Always null: rows are derived after the answer"}
SAVED = {
    "type": "object",
    "required": ["ok", "conversation_id", "capture_id", "duplicate", "derived", "messages", "new_messages",
                 "unknown_content_types"],
    "properties": {
        "ok": {"const": True}, "conversation_id": {"type": "string"}, "capture_id": {"type": "integer"},
        "duplicate": {"type": "boolean"},
        "derived": {"type": "boolean", "description": "Whether this capture's rows are in the archive yet:"
                    " false for a new capture (they follow within moments, in capture order; /api/stats"
                    " counts captures_pending and captures_failed)"},
        "messages": {"type": "integer", **_UNKNOWN_AT_ANSWER},
        "new_messages": {"type": "integer", **_UNKNOWN_AT_ANSWER},
        "unknown_content_types": {"type": "object", "additionalProperties": {"type": "integer"},
                                  **_UNKNOWN_AT_ANSWER},
    },
}

SKIPPED = {
    "type": "object", "required": ["ok", "skipped", "reason"],
    "properties": {"ok": {"const": True}, "skipped": {"const": True}, "reason": {"type": "string"}},
}
_SKIPPED = {"description": "Not stored: the archive's privacy settings keep it out (do not retry)",
            "content": {"application/json": {"schema": SKIPPED}}}
_FILE_ID = {"type": "string", "pattern": "^file[-_][A-Za-z0-9_-]{1,200}$"}
# Ids in query strings: printable ASCII without spaces (ChatGPT's are uuids and account-… ids).
_QUERY_ID = {"type": "string", "pattern": "^[!-~]{1,200}$"}
_CONVERSATION_ID = {"name": "conversation_id", "in": "query", "required": True, "schema": _QUERY_ID}
STORED_FILE = {
    "type": "object", "required": ["ok", "file_id", "sha256", "size", "duplicate"],
    "properties": {"ok": {"const": True}, "file_id": {"type": "string"}, "sha256": {"type": "string"},
                   "size": {"type": "integer"}, "duplicate": {"type": "boolean"}},
}

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "chatgpt-archiver ingest API", "version": __version__},
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object", "required": ["ok", "error", "status"],
                "properties": {"ok": {"const": False}, "error": {"type": "string"}, "status": {"type": "integer"}},
            },
        },
    },
    "security": [{"token": []}],
    "paths": {
        "/api/conversations": {"post": {
            "summary": "Archive one conversation as ChatGPT returned it",
            "description": "A full tree (GET /backend-api/conversation/<id>), an export element, or a paged read.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object",
                # An id (live API: conversation_id; export: id) and a tree or a page of messages.
                "allOf": [{"anyOf": [{"required": ["conversation_id"]}, {"required": ["id"]}]},
                          {"anyOf": [{"required": ["mapping"]}, {"required": ["messages"]}]}],
                # Other fields are ChatGPT's to change: any value is stored raw, none rejected.
                "properties": {"conversation_id": _ID, "id": _ID,
                               "mapping": {"type": "object"}, "messages": {"type": "array"}},
            }}}},
            "parameters": [{"name": "account_id", "in": "query", "required": False,
                            "description": "The ChatGPT account or workspace it belongs to",
                            "schema": _QUERY_ID}],
            "responses": {**_ok(SAVED, "Kept: the raw capture is committed and survives a crash; its rows"
                                " are derived after the answer", "201"),
                          "200": {"description": "Identical bytes already stored, or skipped by the privacy"
                                  " settings", "content": {"application/json": {"schema": {"oneOf": [SAVED, SKIPPED]}}}},
                          **_errors(400, 401, 403, 409, 413, 422, 503)},
        }},
        "/api/conversations/listed": {"post": {
            "summary": "An account's complete conversation list: held conversations it lacks get missing_since",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["account_id", "complete", "ids"],
                "properties": {"account_id": _QUERY_ID,
                               "complete": {"type": "boolean", "enum": [True]},
                               "ids": {"type": "array", "maxItems": 200000, "items": {"type": "string"}}},
            }}}},
            "responses": {**_ok({"type": "object", "required": ["ok", "missing", "newly_missing"], "properties": {
                "ok": {"const": True}, "missing": {"type": "integer"}, "newly_missing": {"type": "integer"}}},
                "Marked"), **_errors(400, 401, 403, 413, 422, 503)},
        }},
        "/api/assets/wanted": {"post": {
            "summary": "Which of these file ids the archive holds no bytes for (order kept, duplicates dropped)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["file_ids"],
                "properties": {"file_ids": {"type": "array", "maxItems": 10000, "items": _FILE_ID}},
            }}}},
            "responses": {**_ok({"type": "object", "required": ["ok", "wanted"], "properties": {
                "ok": {"const": True}, "wanted": {"type": "array", "items": {"type": "string"}}}}, "Wanted ids"),
                **_errors(400, 401, 403, 413, 422, 503)},
        }},
        "/api/assets": {"post": {
            "summary": "Archive one file a message of an archived conversation names (body: its bytes)",
            "parameters": [
                {"name": "file_id", "in": "query", "required": True, "schema": _FILE_ID},
                _CONVERSATION_ID,
                {"name": "name", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 255}},
            ],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
                "type": "string", "format": "binary"}}}},
            "responses": {**_ok(STORED_FILE, "Stored", "201"),
                          "200": {"description": "These bytes were already stored for this file id, or skipped"
                                  " by the privacy settings", "content": {"application/json": {"schema": {
                                      "oneOf": [STORED_FILE, SKIPPED]}}}},
                          **_errors(401, 403, 409, 413, 422, 503)},
        }},
        "/api/textdocs": {"post": {
            "summary": "Archive a conversation's canvas documents (GET /backend-api/conversation/<id>/textdocs)",
            "parameters": [_CONVERSATION_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "array", "items": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string", "minLength": 1}, "version": {"type": "integer"},
                    "title": {"type": "string"}, "content": {"type": "string"}}}}}}},
            "responses": {**_ok({"type": "object", "required": ["ok", "stored"], "properties": {
                "ok": {"const": True}, "stored": {"type": "integer"}}}, "Stored", "201"),
                "200": _SKIPPED, **_errors(400, 401, 403, 409, 413, 422, 503)},
        }},
        "/api/conversations/wanted": {"post": {
            "summary": "Which of these conversations the archive lacks or holds at an older update_time",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["conversations"],
                "properties": {"conversations": {"type": "array", "items": {
                    "type": "object", "required": ["id"],
                    "properties": {"id": {"type": "string"},
                                   "update_time": {"oneOf": [{"type": "string"}, {"type": "number"}],
                                                   "nullable": True}}}}},
            }}}},
            "responses": {**_ok({"type": "object", "required": ["ok", "wanted"], "properties": {
                "ok": {"const": True}, "wanted": {"type": "array", "items": {"type": "string"}}}}, "Wanted ids"),
                **_errors(400, 401, 403, 413, 422, 503)},
        }},
        "/api/stats": {"get": {
            "summary": "Counts, and content types the archiver did not recognise",
            "responses": {**_ok({"type": "object", "required": ["ok", "conversations", "messages", "captures",
                                                                "captures_pending", "captures_failed"]}, "Counts"),
                          **_errors(401, 403)},
        }},
        "/api/health": {"get": {
            "summary": "Liveness", "security": [],
            "responses": _ok({"type": "object", "required": ["ok", "version"]}, "Alive"),
        }},
    },
}
