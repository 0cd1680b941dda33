"""Canvas documents ("textdocs") captured live from ChatGPT's
``GET /backend-api/conversation/<id>/textdocs``: every version of every document, in the
``chatgpt_textdoc`` table (and its search index) the export importer fills from textdocs/.

The endpoint answers a JSON array of documents, each ``{id, version, title, textdoc_type,
content, ...}``. Earlier versions, where a document carries them (``versions`` or
``previous_versions``, a list of the same objects), are kept as rows of their own, each keyed
``live/<conversation id>/<textdoc id>/v<version>``.
"""

import hashlib

from .db import now_iso
from .reshape import to_json


class NotTextdocs(ValueError):
    pass


def reshape_textdocs(conversation_id, data):
    """Pure: the endpoint's array -> chatgpt_textdoc rows, or NotTextdocs."""
    if not isinstance(data, list):
        raise NotTextdocs("expected the textdocs endpoint's JSON array")
    rows = {}
    for position, doc in enumerate(data):
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not 0 < len(doc["id"]) <= 200:
            raise NotTextdocs(f"item {position} is not a canvas document (an object with a string id)")
        earlier = []
        for key in ("versions", "previous_versions"):
            if isinstance(doc.get(key), list):
                earlier += [v for v in doc[key] if isinstance(v, dict)]
        for version in [doc, *earlier]:
            row = _row(conversation_id, doc, version)
            rows[row["path"]] = row
    return list(rows.values())


def _row(conversation_id, doc, version):
    merged = {**doc, **version}
    number = merged.get("version")
    number = number if isinstance(number, int) and not isinstance(number, bool) else None
    own = {k: v for k, v in version.items() if k not in ("versions", "previous_versions")}
    raw = to_json(own)
    tail = f"v{number}" if number is not None else hashlib.sha256(raw.encode()).hexdigest()[:16]
    text = lambda value: value if isinstance(value, str) else None  # noqa: E731
    content = merged.get("content")
    return {
        "path": f"live/{conversation_id}/{doc['id']}/{tail}",
        "conversation_id": conversation_id,
        "textdoc_id": doc["id"],
        "version": number,
        "textdoc_type": text(merged.get("textdoc_type") or merged.get("type")),
        "title": text(merged.get("title") or merged.get("name")),
        "content": content if isinstance(content, str) else (None if content is None else to_json(content)),
        "raw": raw,
    }


def export_textdoc_columns(doc):
    """The columns a live capture fills, from an export's textdocs/ file where it says them."""
    doc = doc if isinstance(doc, dict) else {}
    text = lambda key: doc[key] if isinstance(doc.get(key), str) else None  # noqa: E731
    version = doc.get("version")
    return {"conversation_id": text("conversation_id"), "textdoc_id": text("id"),
            "version": version if isinstance(version, int) and not isinstance(version, bool) else None,
            "textdoc_type": text("textdoc_type") or text("type")}


def save_textdocs(conn, rows):
    """Upsert the rows (a version already held is replaced only if it changed, so its
    search entry is not rewritten for nothing). Returns how many rows were given."""
    now = now_iso()
    for row in rows:
        conn.execute(
            "INSERT INTO chatgpt_textdoc (path, conversation_id, textdoc_id, version, textdoc_type, title,"
            " content, raw, imported_at) VALUES (:path, :conversation_id, :textdoc_id, :version, :textdoc_type,"
            " :title, :content, :raw, :imported_at) ON CONFLICT(path) DO UPDATE SET title = excluded.title,"
            " content = excluded.content, raw = excluded.raw, textdoc_type = excluded.textdoc_type,"
            " imported_at = excluded.imported_at WHERE chatgpt_textdoc.raw IS NOT excluded.raw",
            {**row, "imported_at": now},
        )
    return len(rows)
