"""The OpenAPI description of the ingest API (served at /api/openapi.json). Datasette's own
endpoints, including the insert API, are described by Datasette, not here."""

from . import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_ID = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^\\S"}


def _errors(*statuses):
    text = {400: "Malformed JSON", 401: "Missing, wrong or revoked token",
            403: "A read-scope token: it may read over MCP, never write", 413: "Body over the size limit",
            422: "Valid JSON that is not what this endpoint takes",
            503: "The archive cannot be written right now (disk full, read-only); retry later"}
    return {str(s): {"description": text[s], "content": {"application/json": {"schema": _ERROR}}} for s in statuses}


def _ok(schema, description, status="200"):
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


SAVED = {
    "type": "object",
    "required": ["ok", "conversation_id", "capture_id", "duplicate", "messages", "new_messages",
                 "unknown_content_types"],
    "properties": {
        "ok": {"const": True}, "conversation_id": {"type": "string"}, "capture_id": {"type": "integer"},
        "duplicate": {"type": "boolean"}, "messages": {"type": "integer"}, "new_messages": {"type": "integer"},
        "unknown_content_types": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
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
            "responses": {**_ok(SAVED, "Stored", "201"), **_ok(SAVED, "Identical bytes already stored"),
                          **_errors(400, 401, 403, 413, 422, 503)},
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
            "responses": {**_ok({"type": "object", "required": ["ok", "conversations", "messages"]}, "Counts"),
                          **_errors(401, 403)},
        }},
        "/api/health": {"get": {
            "summary": "Liveness", "security": [],
            "responses": _ok({"type": "object", "required": ["ok", "version"]}, "Alive"),
        }},
    },
}
