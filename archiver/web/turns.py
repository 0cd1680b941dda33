"""Pure: the messages of one branch -> what the transcript page shows, the way ChatGPT shows
them. User text as typed, assistant Markdown with math and numbered citations, reasoning,
tool calls and tool output as collapsible blocks, images inline or a "not archived" card,
the hidden plumbing (system, context, empty placeholders) out of the way, and the branch
switcher on the message where the conversation forks.

Every string from a message is untrusted: it reaches HTML only through markdown() (raw
HTML off) or Markup.format (escaped)."""

import json
import re
from urllib.parse import quote

from markupsafe import Markup, escape

from ..content import deep_research_report, file_id, search_results
from .citations import Sources, domain_of, link_citations, mark_citations, safe_url
from .render import branch, children_of, human_time, markdown, switch_targets

# Kinds a person reads in ChatGPT's own view; the others are collapsible blocks.
MAIN_KINDS = ("user", "assistant", "image")
_SEARCH_TOOLS = ("web", "web.run", "web.search", "browser", "web.open_url")


def _dict(value):
    return value if isinstance(value, dict) else {}


def _str(value):
    return value if isinstance(value, str) else ""


def _list(value):
    """A list field, or nothing: a string there would otherwise be walked letter by letter."""
    return value if isinstance(value, list) else []


def branch_rows(rows, leaf):
    """The rows of the branch ending at ``leaf``, root first, each with what its branch
    switcher needs: ``siblings``, ``position`` (1-based), the leaves to switch to and the
    sibling (``prev_fork``/``next_fork``) the page should land on after switching."""
    children = children_of(rows)
    out = []
    for row, siblings, position in branch(rows, leaf):
        prev_leaf, next_leaf = switch_targets(siblings, position, children)
        out.append(dict(row, siblings=len(siblings), position=position + 1, prev_leaf=prev_leaf, next_leaf=next_leaf,
                        prev_fork=siblings[position - 1] if prev_leaf else None,
                        next_fork=siblings[position + 1] if next_leaf else None))
    return out


def build_turns(path, files, *, asset_url, target=None, page=None):
    """``path``: rows of the branch (root first) with ``siblings``/``position``/``prev_leaf``/
    ``next_leaf``/``prev_fork``/``next_fork``; ``files``: node id -> archived files. Returns
    one view per message (the root and other message-less nodes are skipped)."""
    by_file = {f["file_id"]: f for node_files in files.values() for f in node_files}
    views, pending, results = [], [], []
    for row in path:
        if row["author_role"] is None:
            continue
        if row["author_role"] == "user":
            results = []  # citation ids (turn0search3) count from the user's last message
        view = _view(row, files.get(row["node_id"], []), by_file, asset_url, results)
        results = results + view.pop("found", [])
        if view["kind"] == "recap":
            if views and views[-1]["kind"] == "reasoning" and not views[-1]["timed"]:
                views[-1]["label"] = view["label"]  # "Thought for 12s" names the thoughts above it
            if views and views[-1]["kind"] == "reasoning":
                view["shown"] = False  # folded into the block above; listed with the hidden rows
            else:  # thoughts not captured: the line alone
                view["kind"], view["shown"] = "reasoning", True
        if row["node_id"] == target and view["kind"] != "empty":
            view["shown"], view["open"] = True, True
        if row["siblings"] > 1:
            pending.append(_switcher(row, page))
        if pending and view["shown"] and view["kind"] in MAIN_KINDS:
            view["switchers"], pending = pending, []
        views.append(view)
    if pending:  # the fork's own branch shows nothing yet: put it on the last message shown
        main = [v for v in views if v["shown"] and v["kind"] in MAIN_KINDS]
        if main:
            main[-1]["switchers"] += pending
    return views


def _switcher(row, page):
    def href(leaf, fork):
        if not leaf:
            return None
        extra = f"&page={page}" if page else ""
        return f"?leaf={quote(leaf, safe='')}{extra}#m-{quote(fork or leaf, safe='')}"

    return {"position": row["position"], "count": row["siblings"],
            "prev": href(row["prev_leaf"], row.get("prev_fork")),
            "next": href(row["next_leaf"], row.get("next_fork"))}


def _view(row, node_files, by_file, asset_url, earlier_results=()):
    try:
        message = json.loads(row["message_json"]) if row["message_json"] else {}
    except ValueError:
        message = {}
    message = _dict(message)
    content, metadata = _dict(message.get("content")), _dict(message.get("metadata"))
    content = dict(content, content_type=_str(content.get("content_type")))
    view = {
        "node_id": row["node_id"], "role": row["author_role"], "model": row["model"],
        "when": human_time(row["create_time"]), "kind": _kind(row, content, metadata),
        "label": "", "html": Markup(""), "media": [], "sources": [], "results": [],
        "note": _status_note(row, metadata), "voice": False, "switchers": [], "open": False, "timed": False,
        "earlier": earlier_results, "found": search_results(metadata),
    }
    _RENDER[view["kind"]](view, row, content, metadata)
    del view["earlier"]
    view["media"] = _media(row, content, metadata, node_files, by_file, asset_url, view)
    if view["kind"] == "tool" and view["media"]:
        view["kind"] = "image"  # code-interpreter plots and the like: shown, as ChatGPT does
    empty = not (str(view["html"]).strip() or view["media"] or view["results"])
    if empty and view["kind"] in ("user", "assistant", "image", "tool", "call", "context", "reasoning"):
        view["kind"] = "empty"
    view["shown"] = view["kind"] not in ("context", "empty", "recap")
    return view


def _kind(row, content, metadata):
    ctype, role = content.get("content_type"), row["author_role"]
    if metadata.get("is_visually_hidden_from_conversation") is True:
        return "context"
    if ctype in ("user_editable_context", "model_editable_context") or role == "system":
        return "context"
    if deep_research_report(metadata):
        return "assistant"  # a Deep Research report, whichever message carries it
    if ctype == "thoughts":
        return "reasoning"
    if ctype == "reasoning_recap":
        return "recap"
    if role == "tool" and ctype == "text" and (metadata.get("finished_text") or metadata.get("initial_text")):
        return "reasoning"  # early-2025 o3-mini reasoning: a tool message with an obfuscated name
    if role == "assistant" and row["recipient"] not in (None, "all"):
        return "call"
    if role == "tool":
        if _has_image_part(content):
            return "image"
        return "tool"
    return "user" if role == "user" else "assistant"


def _has_image_part(content):
    return any(_dict(p).get("content_type") == "image_asset_pointer" for p in _list(content.get("parts")))


def _part_texts(content, view):
    out = []
    for part in _list(content.get("parts")):
        if isinstance(part, str):
            out.append(part)
        elif _dict(part).get("content_type") == "audio_transcription":
            out.append(_str(part.get("text")))
            view["voice"] = True
    return [t for t in out if t.strip()]


def _message_text(row, content, view):
    if content.get("content_type") in ("text", "multimodal_text"):
        return "\n\n".join(_part_texts(content, view))
    if content.get("content_type") == "image_asset_pointer":
        return ""
    return row["text"] or ""  # other types: the searchable rendering from content.py


def _plain(text):
    """Text exactly as written (escaped; the page keeps its line breaks)."""
    return Markup(f'<div class="plain">{escape(text)}</div>') if text.strip() else Markup("")


def _user(view, row, content, metadata):
    text = _message_text(row, content, view)
    view["html"] = _plain(text)


def _assistant(view, row, content, metadata):
    sources = Sources()
    text, sources = mark_citations(_message_text(row, content, view), metadata, sources, view["earlier"])
    html = link_citations(markdown(text), sources) if text.strip() else Markup("")
    report = deep_research_report(metadata)
    if report:
        body, sources = mark_citations(report[0], report[1], sources, view["earlier"])
        html += Markup('<div class="report">{}</div>').format(link_citations(markdown(body), sources))
    view["html"] = html
    view["sources"] = sources.items
    results = search_results(metadata)
    if results and not sources.items:
        view["results"] = _results(results)


def _results(results):
    return [dict(r, url=safe_url(r["url"]), shown_url=r["url"], domain=r["domain"] or domain_of(r["url"]))
            for r in results]


def _fence(code, language=""):
    """A fenced code block that ``code``'s own backticks cannot close."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code}\n{ticks}"


def _code_of(row, content):
    if content.get("content_type") == "code":
        language = _str(content.get("language"))
        return _str(content.get("text")), "" if language == "unknown" else language
    return "\n".join(p for p in _list(content.get("parts")) if isinstance(p, str)) or row["text"] or "", ""


def _call(view, row, content, metadata):
    recipient = row["recipient"] or ""
    code, language = _code_of(row, content)
    if recipient == "python":
        view["label"], body = "Ran Python", _fence(code, language or "python")
    elif recipient in _SEARCH_TOOLS or recipient.startswith(("web.", "browser.")):
        query = re.match(r'\s*search\(\s*"(.*)"\s*\)\s*$', code, re.S)
        view["label"] = f"Searched the web: {query.group(1)}" if query else "Used the browser"
        body = _fence(code)
    elif recipient.startswith("canmore."):
        view["label"], body = _canvas_call(recipient, code)
    elif recipient == "bio":
        view["label"], body = "Updated saved memory", _fence(code)
    else:
        view["label"], body = f"Called {recipient}", _fence(code, language)
    view["html"] = markdown(body) if code.strip() else Markup("")


def _canvas_call(recipient, code):
    try:
        doc = _dict(json.loads(code))
    except ValueError:
        doc = {}
    if recipient == "canmore.update_textdoc" or "updates" in doc:
        updates = [_dict(u) for u in _list(doc.get("updates"))]
        return "Edited the canvas", "\n\n".join(_fence(_str(u.get("replacement"))) for u in updates) or _fence(code)
    name, kind, body = _str(doc.get("name")), _str(doc.get("type")), _str(doc.get("content"))
    label = f"Canvas: {name}" if name else "Canvas"
    if kind.startswith("code/"):
        return label, _fence(body, kind.removeprefix("code/"))
    return label, body or _fence(code)


def _tool(view, row, content, metadata):
    ctype, name = content.get("content_type"), row["author_name"] or "tool"
    results = search_results(metadata)
    text = row["text"] or ""
    if results:
        view["label"] = f"Searched the web · {len(results)} result{'s' if len(results) != 1 else ''}"
        view["results"] = _results(results)
        return
    if ctype == "execution_output":
        result = _dict(metadata.get("aggregate_result"))
        status = _str(result.get("status"))
        view["label"] = "Python output" + (f" ({status.replace('_', ' ')})" if status not in ("", "success") else "")
        view["html"] = markdown(_fence(_str(content.get("text")))) if _str(content.get("text")).strip() else Markup("")
        return
    browsed = _browsing_results(content, metadata) if ctype == "tether_browsing_display" else []
    if browsed:
        view["label"] = f"Searched the web · {len(browsed)} result{'s' if len(browsed) != 1 else ''}"
        view["results"] = _results(browsed)
        return
    if ctype == "system_error":
        view["label"] = f"Error from {name}"
    elif ctype == "tether_quote":
        view["label"] = f"Quoted {_str(content.get('title')) or _str(content.get('domain')) or 'a page'}"
    elif ctype == "tether_browsing_display":
        view["label"] = "Read search results" if "search" in _str(metadata.get("command")) else "Browsed"
    elif name.startswith("canmore."):
        title = _str(_dict(metadata.get("canvas")).get("title"))
        view["label"] = f"Canvas updated: {title}" if title else "Canvas updated"
    elif name == "bio":
        view["label"] = "Memory updated"
    else:
        view["label"] = f"Output of {name}"
    view["html"] = _plain(text)


_BROWSER_RESULT = re.compile(r"^#? ?【(\d+)†([^†】\n]*)(?:†([^】\n]*))?】\n?(.*?)(?=^#? ?【\d+†|\Z)", re.M | re.S)


def _browsing_results(content, metadata):
    """2023 browser search results are a text listing (``# 【0†title†domain】`` then the
    snippet); their URLs are in ``metadata._cite_metadata.metadata_list``, by position."""
    listing = _str(content.get("result"))
    pages = [_dict(m) for m in _list(_dict(metadata.get("_cite_metadata")).get("metadata_list"))]
    out = []
    for match in _BROWSER_RESULT.finditer(listing):
        index, title, domain, snippet = int(match.group(1)), match.group(2), match.group(3) or "", match.group(4)
        page = pages[index] if index < len(pages) and _str(pages[index].get("title")) == title else {}
        out.append({"title": title, "url": _str(page.get("url")), "snippet": snippet.strip(), "domain": domain})
    return out


def _image(view, row, content, metadata):
    text = _message_text(row, content, view)
    view["label"] = _str(metadata.get("image_gen_title")) or "Image"
    view["html"] = _plain(text)


def _reasoning(view, row, content, metadata):
    seconds = metadata.get("finished_duration_sec")
    if content.get("content_type") == "thoughts":
        pieces = []
        for thought in _list(content.get("thoughts")):
            thought = _dict(thought)
            if _str(thought.get("summary")).strip():
                pieces.append(f"**{_str(thought['summary']).strip()}**")
            pieces.append(_str(thought.get("content")))
        body = "\n\n".join(p for p in pieces if p.strip())
        label = "Thinking"
    else:
        body = row["text"] or ""
        label = _str(metadata.get("finished_text")) or _str(metadata.get("initial_text")) or "Reasoning"
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
        label, view["timed"] = f"Thought for {_duration(seconds)}", True
    view["label"] = label
    view["html"] = markdown(body) if body.strip() else Markup("")


def _recap(view, row, content, metadata):
    view["label"] = _str(content.get("content")) or "Thought"


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m {seconds % 60}s"


def _context(view, row, content, metadata):
    ctype = content.get("content_type")
    view["label"] = {
        "user_editable_context": "Custom instructions",
        "model_editable_context": "Saved memory",
    }.get(ctype, f"{(row['author_role'] or 'hidden').capitalize()} message (hidden in ChatGPT)")
    text = row["text"] or ""
    view["html"] = _plain(text)


_RENDER = {
    "user": _user, "assistant": _assistant, "call": _call, "tool": _tool, "image": _image,
    "reasoning": _reasoning, "recap": _recap, "context": _context,
}


def _status_note(row, metadata):
    finish = _str(_dict(metadata.get("finish_details")).get("type"))
    status = row["status"] or ""
    if finish == "interrupted":
        return "Stopped before it finished (the reply was interrupted)."
    if finish == "max_tokens":
        return "Cut off at the length limit (ChatGPT offered “Continue generating”)."
    if finish == "content_filter":
        return "Stopped by ChatGPT's content filter."
    if status == "in_progress":
        return "Unfinished: the reply was still being written, or was stopped, when it was captured."
    if status == "finished_partial_completion":
        return "Partial reply: ChatGPT did not finish this answer."
    return None


# --- images, audio and files ---------------------------------------------------------------

_KINDS = {"image_asset_pointer": "image", "audio_asset_pointer": "audio", "video_container_asset_pointer": "video"}


def _pointers(content, metadata):
    """``[(kind, pointer, part)]`` for every asset this message's content points at, in order."""
    found = []

    def add(part):
        part = _dict(part)
        kind = _KINDS.get(_str(part.get("content_type")))
        if kind and isinstance(part.get("asset_pointer"), str):
            found.append((kind, part["asset_pointer"], part))
        elif part.get("content_type") == "real_time_user_audio_video_asset_pointer":
            for inner in [part.get("audio_asset_pointer"), part.get("video_container_asset_pointer"),
                          *_list(part.get("frames_asset_pointers"))]:
                add(inner)

    if content.get("content_type") == "image_asset_pointer":
        add(content)
    for part in _list(content.get("parts")):
        add(part)
    screenshot = content.get("screenshot")
    if screenshot:
        add(screenshot)
    for m in _list(_dict(metadata.get("aggregate_result")).get("messages")):
        if isinstance(_dict(m).get("image_url"), str):
            found.append(("image", m["image_url"], m))
    for a in _list(metadata.get("attachments")):
        a = _dict(a)
        if isinstance(a.get("id"), str):
            kind = "image" if _str(a.get("mime_type")).startswith("image/") else "file"
            found.append((kind, a["id"], a))
    return found


def _media(row, content, metadata, node_files, by_file, asset_url, view):
    out, seen = [], set()
    archived_here = {f["file_id"]: f for f in node_files}
    for kind, pointer, part in _pointers(content, metadata):
        fid = file_id(pointer)
        if fid in seen:
            continue
        seen.add(fid)
        archived = archived_here.get(fid) or by_file.get(fid)
        out.append(_asset_html(kind, pointer, part, archived, asset_url, voice=view["voice"]))
    for f in node_files:
        if f["file_id"] not in seen:
            seen.add(f["file_id"])
            out.append(_asset_html("file", f["file_id"], {}, f, asset_url))
    return out


def _asset_html(kind, pointer, part, archived, asset_url, voice=False):
    name = _str(part.get("name")) or (archived or {}).get("name") or pointer
    size = ""
    if part.get("width") and part.get("height"):
        size = f"{part['width']}×{part['height']}"
    if archived:
        url = asset_url(archived["file_id"])
        mime = archived.get("mime_type") or ""
        if mime.startswith("image/") and mime != "image/svg+xml":
            return Markup('<a class="asset image" href="{}"><img src="{}" alt="{}" loading="lazy"></a>').format(
                url, url, name)
        if mime.startswith("audio/"):
            return Markup('<span class="asset audio"><audio controls preload="none" src="{}"></audio></span>').format(url)
        return Markup('<a class="asset file" href="{}">{} <small>({:,} bytes)</small></a>').format(
            url, archived.get("name") or name, archived.get("size") or 0)
    if kind == "audio" and voice:
        return Markup('<span class="asset voice-marker" title="{}">audio not archived</span>').format(pointer)
    what = {"image": "Image", "audio": "Audio", "video": "Video"}.get(kind, "File")
    prompt = _str(_dict(_dict(part.get("metadata")).get("dalle")).get("prompt"))
    details = " · ".join(d for d in (size, prompt) if d)
    return Markup('<div class="asset missing" title="{}"><strong>{}</strong> not archived{}</div>').format(
        pointer, what if kind != "file" else f"File {name}", f" · {details}" if details else "")
