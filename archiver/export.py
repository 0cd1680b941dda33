"""Exports: ChatGPT's own JSON shape (one conversation, or JSONL of them all) and a folder of
Markdown notes (an Obsidian-style vault). One export module for every face: the transcript
page's downloads, the CLI and MCP all call these.

Titles, file names and ids come from captures, so they are untrusted: every name written
under the export folder is reduced to a safe, single path component first.
"""

import hashlib
import json
import os
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from .tree import branch, children_of, current_leaf, leaves

DEFAULT_BASE_URL = "http://127.0.0.1:8001"
MANIFEST = ".chatgpt-archiver-export.json"
ASSETS = "assets"
# Bump when the Markdown layout changes, so the next run rewrites every note.
LAYOUT_VERSION = 1
MAX_NAME = 120  # characters of a title kept in a file name (file systems allow ~255 bytes)

MESSAGE_FIELDS = (
    "id, node_id, parent_id, child_index, create_time, author_role, author_name, content_type,"
    " text, model, status, is_hidden, recipient, message_json"
)


class ExportError(Exception):
    pass


# ---- reading -------------------------------------------------------------------------


def _dicts(cursor):
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def load_conversation(conn, conversation_id):
    """(conversation row, message rows) or (None, []) from a sqlite3 connection."""
    found = _dicts(conn.execute("SELECT * FROM chatgpt_conversation WHERE id = ?", [conversation_id]))
    if not found:
        return None, []
    rows = _dicts(conn.execute(
        f"SELECT {MESSAGE_FIELDS} FROM chatgpt_message WHERE conversation_id = ?", [conversation_id]))
    return found[0], rows


def load_assets(conn, conversation_id):
    """node id -> [{file_id, name, mime_type, size, sha256}] for a conversation's files."""
    files = {}
    for row in _dicts(conn.execute(
        "SELECT l.node_id, l.file_id, f.name, a.mime_type, a.size, a.sha256 FROM chatgpt_message_asset l"
        " JOIN chatgpt_asset_file f ON f.file_id = l.file_id JOIN chatgpt_asset a ON a.sha256 = f.sha256"
        " WHERE l.conversation_id = ? GROUP BY l.node_id, l.file_id ORDER BY l.node_id, l.file_id",
        [conversation_id],
    )):
        files.setdefault(row["node_id"], []).append(row)
    return files


# ---- ChatGPT's own shape -------------------------------------------------------------


def reshape_chatgpt_json(conversation, rows):
    """The conversation in ChatGPT's own shape, rebuilt from every node ever captured."""
    data = json.loads(conversation["conversation_json"] or "{}")
    mapping = {}
    children = children_of(rows)
    for row in rows:
        mapping[row["node_id"]] = {
            "id": row["node_id"],
            "message": json.loads(row["message_json"]) if row["message_json"] else None,
            "parent": row["parent_id"],
            "children": children.get(row["node_id"], []),
        }
    data["mapping"] = mapping
    data["current_node"] = conversation["current_node"] or conversation["current_leaf"]
    return data


def export_jsonl(conn, out, *, progress=None):
    """Write every conversation as one line of ChatGPT-shaped JSON to the text stream
    ``out``, newest first. Returns how many were written."""
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM chatgpt_conversation ORDER BY coalesce(update_time, create_time) DESC, id")]
    for n, cid in enumerate(ids, 1):
        conversation, rows = load_conversation(conn, cid)
        if conversation is None:  # gone since the list was read
            continue
        out.write(json.dumps(reshape_chatgpt_json(conversation, rows), ensure_ascii=False))
        out.write("\n")
        if progress:
            progress(n, len(ids))
    return len(ids)


# ---- Markdown ------------------------------------------------------------------------


def iso(epoch):
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def transcript_link(base_url, conversation_id, node_id=None):
    link = f"{base_url.rstrip('/')}/-/c/{quote(conversation_id, safe='')}"
    return f"{link}#m-{quote(node_id, safe='')}" if node_id else link


_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def yaml_str(value):
    """A YAML double-quoted scalar. Control and line-separator characters are escaped, so
    no title can end the front matter or add a key of its own."""
    out = []
    for ch in str(value):
        if ch in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch == "\ufeff":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _front_matter(conversation, *, base_url, leaf, all_branches):
    fields = [
        ("id", conversation["id"]),
        ("title", conversation["title"] or "Untitled conversation"),
        ("created", iso(conversation["create_time"])),
        ("updated", iso(conversation["update_time"])),
        ("model", conversation["default_model_slug"]),
        ("project", conversation["project_id"] or _project_of(conversation)),
        ("archive", transcript_link(base_url, conversation["id"])),
        ("branch", "all" if all_branches else leaf),
    ]
    lines = ["---"]
    for key, value in fields:
        if value is not None:
            lines.append(f"{key}: {yaml_str(value)}")
    lines += ["tags:", "  - chatgpt", "---", ""]
    return lines


def _project_of(conversation):
    # Project conversations carry their project as a g-p-… gizmo.
    gizmo = conversation.get("gizmo_id") or ""
    return gizmo if gizmo.startswith("g-p-") else None


def _fence(text):
    """A code fence longer than any backtick run in the text, so nothing breaks out of it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _turn(row, *, base_url, conversation_id, files):
    who = (row["author_role"] or "node").capitalize()
    if row["author_name"]:
        who += f" ({row['author_name']})"
    if row["model"]:
        who += f" · {row['model']}"
    when = iso(row["create_time"])
    link = transcript_link(base_url, conversation_id, row["node_id"])
    lines = [f"### {who}", "", f"*{when} · [in archive]({link})*" if when else f"*[in archive]({link})*", ""]
    text = row["text"] or ""
    if row["content_type"] in ("code", "execution_output") and text:
        fence = _fence(text)
        lines += [fence, text, fence]
    else:
        lines.append(text)
    for f in files.get(row["node_id"], []):
        target = quote(f["path"])
        image = (f["mime_type"] or "").startswith("image/") and f["mime_type"] != "image/svg+xml"
        lines += ["", f"{'!' if image else ''}[{_link_text(f['name'])}]({target})"]
    lines.append("")
    return lines


def _link_text(name):
    return re.sub(r"[\[\]\n\r]", " ", name or "file")


def _visible(row):
    return row["author_role"] is not None and not row["is_hidden"]


def reshape_markdown(conversation, rows, *, base_url=DEFAULT_BASE_URL, leaf=None, all_branches=False,
                     files=None):
    """One conversation as a Markdown note: YAML front matter, then the branch ending at
    ``leaf`` (the current one by default). ``all_branches`` adds every other branch after
    it, each from the point where it forks. ``files``: node id -> [{"name", "path",
    "mime_type"}], linked under the messages that name them. Pure."""
    files = files or {}
    leaf = leaf or current_leaf(conversation, rows)
    cid = conversation["id"]
    title = conversation["title"] or "Untitled conversation"
    lines = _front_matter(conversation, base_url=base_url, leaf=leaf, all_branches=all_branches)
    lines += [f"# {title}", ""]
    shown = set()
    path = branch(rows, leaf) if leaf else []
    for row, _, _ in path:
        shown.add(row["node_id"])
        if _visible(row):
            lines += _turn(row, base_url=base_url, conversation_id=cid, files=files)
    if all_branches:
        others = [end for end in leaves(rows) if end not in shown]
        for n, end in enumerate(others, 2):
            rest = [row for row, _, _ in branch(rows, end) if row["node_id"] not in shown]
            if not rest:
                continue
            fork = rest[0]["parent_id"]
            lines += [f"## Branch {n} of {len(others) + 1}", "",
                      f"*Forks after [this message]({transcript_link(base_url, cid, fork)}); "
                      f"[open this branch]({transcript_link(base_url, cid)}?leaf={end}).*", ""]
            for row in rest:
                shown.add(row["node_id"])
                if _visible(row):
                    lines += _turn(row, base_url=base_url, conversation_id=cid, files=files)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- file names ----------------------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|#^\[\]]+')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def safe_name(text, *, fallback="Untitled"):
    """A title as one file-name component: no separators, no characters Obsidian or Windows
    refuse, no leading dots, no reserved device names, at most MAX_NAME characters."""
    text = unicodedata.normalize("NFC", str(text or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    text = _UNSAFE.sub(" ", text)
    text = re.sub(r"\s+", " ", text).lstrip(". ").strip()
    text = text[:MAX_NAME].rstrip(" .")
    if not text or _WINDOWS_RESERVED.match(text):
        text = f"{fallback} {text}".strip() if text else fallback
    return text


def _inside(root, name):
    """root/name, refusing anything that would not be a direct child of root."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ExportError(f"unsafe file name {name!r}")
    path = root / name
    if path.parent.resolve() != root.resolve():
        raise ExportError(f"unsafe file name {name!r}")
    return path


def _write_atomic(path, data):
    """Write through a temporary file and rename: a symlink planted at ``path`` is replaced,
    never followed, and an interrupted run leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def assign_names(conversations, previous):
    """id -> note file name (with .md), unique case-insensitively and stable: a conversation
    keeps the name it had while its title is unchanged; a title two conversations share gets
    the id's first characters added. ``conversations``: [(id, title)] oldest first;
    ``previous``: id -> {"name", "title"} from the last run."""
    names, taken = {}, set()
    # Names given before go first, so a newcomer never takes an existing note's name.
    for cid, title in conversations:
        old = previous.get(cid)
        if old and old.get("title") == title and old.get("name") and old["name"].lower() not in taken:
            names[cid] = old["name"]
            taken.add(old["name"].lower())
    for cid, title in conversations:
        if cid in names:
            continue
        base = safe_name(title, fallback="Untitled")
        candidate = f"{base}.md"
        if candidate.lower() in taken:
            short = safe_name(cid, fallback="id")[:8]
            candidate = f"{base} ({short}).md"
            n = 2
            while candidate.lower() in taken:
                candidate = f"{base} ({short}-{n}).md"
                n += 1
        names[cid] = candidate
        taken.add(candidate.lower())
    return names


# ---- the vault -----------------------------------------------------------------------


def _signatures(conn):
    """id -> a cheap fingerprint of everything a note shows, from one pass over the tables."""
    sigs = {}
    for cid, title, update_time, current, captured, count, size, latest in conn.execute(
        "SELECT c.id, c.title, c.update_time, coalesce(c.current_leaf, c.current_node), c.last_captured_at,"
        " count(m.id), total(length(m.text)), max(coalesce(m.update_time, m.create_time))"
        " FROM chatgpt_conversation c LEFT JOIN chatgpt_message m ON m.conversation_id = c.id GROUP BY c.id"
    ):
        sigs[cid] = json.dumps([title, update_time, current, captured, count, size, latest])
    return sigs


def _read_manifest(root):
    try:
        data = json.loads((root / MANIFEST).read_text())
        return data if isinstance(data, dict) and isinstance(data.get("notes"), dict) else {"notes": {}}
    except (OSError, ValueError):
        return {"notes": {}}


def export_markdown(conn, directory, *, base_url=DEFAULT_BASE_URL, all_branches=False, progress=None):
    """Write one note per conversation into ``directory`` (created if missing), with their
    files in ``directory/assets``. Incremental: a conversation whose rows, options and note
    are unchanged since the last run is skipped. Returns {"written", "unchanged", "removed",
    "assets"}."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ExportError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    (root / ASSETS).mkdir(exist_ok=True)
    if (root / ASSETS).is_symlink() or not (root / ASSETS).is_dir():
        raise ExportError(f"{root / ASSETS} must be a folder")
    manifest = _read_manifest(root)
    previous = manifest["notes"]
    options = json.dumps([LAYOUT_VERSION, base_url, bool(all_branches)])
    conversations = conn.execute(
        "SELECT id, title FROM chatgpt_conversation ORDER BY coalesce(create_time, update_time), id").fetchall()
    names = assign_names([(cid, title or "") for cid, title in conversations], previous)
    sigs = _signatures(conn)
    notes, written, unchanged, assets = {}, 0, 0, 0
    for n, (cid, title) in enumerate(conversations, 1):
        name = names[cid]
        path = _inside(root, name)
        signature = hashlib.sha256(f"{options}\n{sigs.get(cid)}".encode()).hexdigest()
        old = previous.get(cid) or {}
        entry = {"name": name, "title": title or "", "signature": signature}
        if old.get("signature") == signature and old.get("name") == name and path.is_file() \
                and not path.is_symlink():
            unchanged += 1
            notes[cid] = dict(entry, files=old.get("files", []))
        else:
            conversation, rows = load_conversation(conn, cid)
            files, copied = _copy_assets(conn, root, cid)
            assets += copied
            text = reshape_markdown(conversation, rows, base_url=base_url, all_branches=all_branches, files=files)
            data = text.encode("utf-8", "surrogatepass")
            if path.is_symlink() or not path.is_file() or path.read_bytes() != data:
                _write_atomic(path, data)
                written += 1
            else:
                unchanged += 1
            notes[cid] = dict(entry, files=sorted({f["path"] for fs in files.values() for f in fs}))
        if old.get("name") and old["name"] != name:
            _remove_note(root, old["name"])
        if progress:
            progress(n, len(conversations))
    removed = 0
    for cid, old in previous.items():
        if cid not in notes and isinstance(old, dict) and old.get("name"):
            removed += _remove_note(root, old["name"])
    # Files only a removed (or changed) note linked go too; names come from our manifest.
    kept = {f for note in notes.values() for f in note.get("files", [])}
    for old in previous.values():
        for f in (old.get("files", []) if isinstance(old, dict) else []):
            if f not in kept and isinstance(f, str) and f.startswith(f"{ASSETS}/"):
                try:
                    stale = _inside(root / ASSETS, f[len(ASSETS) + 1:])
                except ExportError:
                    continue
                if stale.is_file() or stale.is_symlink():
                    stale.unlink()
    _write_atomic(root / MANIFEST, json.dumps({"version": LAYOUT_VERSION, "notes": notes}, indent=1).encode())
    return {"written": written, "unchanged": unchanged, "removed": removed, "assets": assets}


def _remove_note(root, name):
    """Remove a note this export wrote earlier (its name came from our own manifest, which a
    user could edit: it is checked like any other name)."""
    try:
        path = _inside(root, name)
    except ExportError:
        return 0
    if path.suffix == ".md" and (path.is_file() or path.is_symlink()):
        path.unlink()
        return 1
    return 0


def _copy_assets(conn, root, cid):
    """Copy a conversation's files to root/assets (once each, by content), and return
    node id -> [{"name", "path", "mime_type"}] with paths relative to root."""
    out, copied = {}, 0
    for node, items in load_assets(conn, cid).items():
        for f in items:
            stem = safe_name(f["name"] or f["file_id"], fallback="file")
            name = f"{safe_name(f['sha256'], fallback='x')[:12]} {stem}"
            target = _inside(root / ASSETS, name)
            if not target.is_file() or target.is_symlink() or target.stat().st_size != f["size"]:
                (data,) = conn.execute("SELECT data FROM chatgpt_asset WHERE sha256 = ?", [f["sha256"]]).fetchone()
                _write_atomic(target, data or b"")
                copied += 1
            out.setdefault(node, []).append(
                {"name": f["name"] or f["file_id"], "path": f"{ASSETS}/{name}", "mime_type": f["mime_type"]})
    return out, copied
