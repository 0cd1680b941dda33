"""Pure: one message's content (every known content_type) -> searchable text.

ChatGPT's content is a discriminated union on ``content_type`` that grows every few months.
Each known type gets a rendering a person would want to read and search; anything unknown
still yields the strings it contains (so it is findable) and is reported back to the caller,
which counts it so format drift is visible.
"""

import json
import re

# Types we render on purpose. Some (tether_browsing_code, computer_output, sonic_webpage,
# app_pairing_content) have no published shape: they are known by name and rendered by the
# generic string walk, so they are not reported as drift.
KNOWN_CONTENT_TYPES = frozenset(
    {
        "text",
        "multimodal_text",
        "code",
        "execution_output",
        "tether_browsing_display",
        "tether_quote",
        "tether_browsing_code",
        "system_error",
        "user_editable_context",
        "model_editable_context",
        "thoughts",
        "reasoning_recap",
        "computer_output",
        "sonic_webpage",
        "app_pairing_content",
        "image_asset_pointer",
    }
)

KNOWN_PART_TYPES = frozenset(
    {
        "image_asset_pointer",
        "audio_asset_pointer",
        "audio_transcription",
        "real_time_user_audio_video_asset_pointer",
        "video_container_asset_pointer",
    }
)

# 2024+ web-search answers wrap citations in Private Use Area characters:
# \ue200cite\ue202turn0search1\ue201 (a citation), \ue203 ... \ue204 (the cited span).
_PUA_MARKER = re.compile("\ue200[^\ue201]*\ue201")
_PUA_CHARS = re.compile("[\ue200-\ue206]")

# Keys whose string values are identifiers or plumbing, not words anyone searches for.
_SKIP_KEYS = frozenset({"content_type", "asset_pointer", "tether_id", "id", "decoding_id"})


def render_content(content, *, recipient=None, metadata=None):
    """Return ``(text, unknown_types)`` for a message's ``content``.

    ``unknown_types`` lists content and part types this module does not know, so the
    caller can store the content raw and count the drift. Never raises on odd input.
    """
    metadata = metadata if isinstance(metadata, dict) else {}
    if not isinstance(content, dict):
        return _strings(content), []
    unknown = []
    try:
        return _render(content, recipient, metadata, unknown), unknown
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError):
        # A known type in a shape no renderer expects (a capture is untrusted): every string
        # in it still becomes searchable text, and the shape is counted as drift.
        return _strings(content), [*unknown, f"malformed:{_type_name(content.get('content_type'))}"]


def _type_name(value):
    """A type field as text: what a capture puts there need not be a string (nor hashable)."""
    return value if value is None or isinstance(value, str) else type(value).__name__


def _render(content, recipient, metadata, unknown):
    ctype = _type_name(content.get("content_type"))
    render = _RENDERERS.get(ctype)
    if render is None:
        if ctype not in KNOWN_CONTENT_TYPES:
            unknown.append(str(ctype))
        text = _strings(content)
    else:
        text = render(content, metadata, unknown)
    if ctype == "text" and isinstance(recipient, str) and recipient.startswith("canmore."):
        text = _canvas(text)
    text = _with_citations(text, metadata)
    report = deep_research_report(metadata)
    if report:
        text = _join([text, _with_citations(report[0], report[1])])
    results = search_results(metadata)
    if results:
        text = _join([text, "Search results:\n" + "\n".join(
            _join([_source(r), r["snippet"]]) for r in results)])
    return text


def _text(content, metadata, unknown):
    return _parts(content.get("parts"), unknown)


def _parts(parts, unknown):
    if not isinstance(parts, list):
        return _strings(parts)
    return _join(_part(p, unknown) for p in parts)


def _part(part, unknown):
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return _strings(part)
    ptype = _type_name(part.get("content_type"))
    if ptype == "audio_transcription":
        return _str(part.get("text"))
    if ptype in ("image_asset_pointer", "audio_asset_pointer", "video_container_asset_pointer"):
        return asset_placeholder(part)
    if ptype == "real_time_user_audio_video_asset_pointer":
        nested = [part.get("audio_asset_pointer"), part.get("video_container_asset_pointer")]
        frames = part.get("frames_asset_pointers")
        nested += frames if isinstance(frames, list) else []
        return _join(asset_placeholder(p) for p in nested if isinstance(p, dict))
    if ptype not in KNOWN_PART_TYPES:
        unknown.append(f"part:{ptype}")
    pointer = asset_placeholder(part) if part.get("asset_pointer") else ""
    return _join([pointer, _strings(part)])


def asset_placeholder(part):
    """A readable stand-in for an image/audio pointer, naming the asset so it can be found."""
    kind = {
        "image_asset_pointer": "image",
        "audio_asset_pointer": "audio",
        "video_container_asset_pointer": "video",
    }.get(part.get("content_type"), "file")
    details = []
    if part.get("width") and part.get("height"):
        details.append(f"{part['width']}x{part['height']}")
    if part.get("format"):
        details.append(str(part["format"]))
    meta = part.get("metadata") if isinstance(part.get("metadata"), dict) else {}
    if isinstance(meta.get("dalle"), dict) and meta["dalle"].get("prompt"):
        details.append(f"prompt: {meta['dalle']['prompt']}")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"[{kind}: {part.get('asset_pointer') or 'unknown asset'}{suffix}]"


def _code(content, metadata, unknown):
    language = content.get("language")
    label = "" if language in (None, "unknown") else str(language)
    body = _str(content.get("text"))
    return f"```{label}\n{body}\n```" if body else ""


def _execution_output(content, metadata, unknown):
    images = []
    result = metadata.get("aggregate_result")
    if isinstance(result, dict) and isinstance(result.get("messages"), list):
        for m in result["messages"]:
            if isinstance(m, dict) and m.get("image_url"):
                images.append(f"[image: {m['image_url']}]")
    return _join([_str(content.get("text"))] + images)


def _browsing_display(content, metadata, unknown):
    return _join([_str(content.get("summary")), _str(content.get("result"))])


def _quote(content, metadata, unknown):
    source = " ".join(s for s in (_str(content.get("title")), _str(content.get("url"))) if s)
    return _join([source, _str(content.get("text"))])


def _system_error(content, metadata, unknown):
    name, text = _str(content.get("name")), _str(content.get("text"))
    return f"{name}: {text}" if name and text else name or text


def _user_context(content, metadata, unknown):
    return _join([_str(content.get("user_profile")), _str(content.get("user_instructions"))])


def _thoughts(content, metadata, unknown):
    out = []
    thoughts = content.get("thoughts")
    for t in thoughts if isinstance(thoughts, list) else [thoughts]:
        if isinstance(t, dict):
            out += [_str(t.get("summary")), _str(t.get("content"))]
        else:
            out.append(_strings(t))
    return _join(out)


def _recap(content, metadata, unknown):
    return _str(content.get("content")) or _strings(content)


def _top_level_pointer(content, metadata, unknown):
    return asset_placeholder(content)


_RENDERERS = {
    "text": _text,
    "multimodal_text": _text,
    "code": _code,
    "execution_output": _execution_output,
    "tether_browsing_display": _browsing_display,
    "tether_quote": _quote,
    "system_error": _system_error,
    "user_editable_context": _user_context,
    "thoughts": _thoughts,
    "reasoning_recap": _recap,
    "image_asset_pointer": _top_level_pointer,
}


def _canvas(text):
    """Canvas tool calls carry a JSON document as their only part: show its name and body."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if not isinstance(doc, dict):
        return text
    if isinstance(doc.get("updates"), list):
        return _join(
            _join([_str(u.get("pattern")), _str(u.get("replacement"))])
            for u in doc["updates"]
            if isinstance(u, dict)
        )
    header = f"[canvas: {_str(doc.get('name'))} ({_str(doc.get('type'))})]"
    return _join([header, _str(doc.get("content"))])


def _with_citations(text, metadata):
    """Make cited answers readable and their sources searchable."""
    sources = []
    for ref in _dicts(metadata.get("content_references")):
        matched = ref.get("matched_text")
        # Only marker spans are swapped for their readable form; a footnote's matched_text
        # can be a plain space.
        if isinstance(matched, str) and _PUA_CHARS.search(matched) and matched in text:
            text = text.replace(matched, _str(ref.get("alt")), 1)
        sources.append(_source(ref))
        for item in _dicts(ref.get("items")) + _dicts(ref.get("sources")):
            sources.append(_source(item))
    for cite in _dicts(metadata.get("citations")):
        sources.append(_source(cite.get("metadata") if isinstance(cite.get("metadata"), dict) else cite))
    if not text.isascii():  # the markers are non-ASCII; most text is ASCII, skip the regexes
        text = _PUA_CHARS.sub("", _PUA_MARKER.sub("", text))
    seen, lines = set(), []
    for s in sources:
        if s and s not in seen:
            seen.add(s)
            lines.append(f"- {s}")
    if lines:
        text = _join([text, "Sources:\n" + "\n".join(lines)])
    return text


def search_results(metadata):
    """The web-search results a message carries (``metadata.search_result_groups``, the
    only place ``web.run`` keeps them): ``[{title, url, snippet, domain, ref}, ...]``, where
    ``ref`` is ``"turn0search3"``-style, as the answer's citation markers name them."""
    metadata = metadata if isinstance(metadata, dict) else {}
    out = []
    for group in _dicts(metadata.get("search_result_groups")):
        for entry in _dicts(group.get("entries")):
            ref = entry.get("ref_id") if isinstance(entry.get("ref_id"), dict) else {}
            key = ""
            if isinstance(ref.get("turn_index"), int) and isinstance(ref.get("ref_index"), int):
                key = f"turn{ref['turn_index']}{_str(ref.get('ref_type')) or 'search'}{ref['ref_index']}"
            out.append({
                "title": _str(entry.get("title")), "url": _str(entry.get("url")),
                "snippet": _str(entry.get("snippet")), "domain": _str(group.get("domain")), "ref": key,
            })
    return [r for r in out if r["title"] or r["url"] or r["snippet"]]


def deep_research_report(metadata):
    """A Deep Research report, which lives in ``metadata.chatgpt_sdk.widget_state`` (a JSON
    string, sometimes an object) as ``report_message``: ``(text, report_metadata)`` or None.
    The report's citations are in its own metadata or next to it in the widget state."""
    metadata = metadata if isinstance(metadata, dict) else {}
    sdk = metadata.get("chatgpt_sdk")
    state = sdk.get("widget_state") if isinstance(sdk, dict) else None
    if isinstance(state, str):
        try:
            state = json.loads(state)
        except ValueError:
            return None
    if not isinstance(state, dict):
        return None
    report = state.get("report_message")
    if isinstance(report, str):
        text, report_meta = report, {}
    elif isinstance(report, dict):
        content = report.get("content")
        report_meta = report.get("metadata") if isinstance(report.get("metadata"), dict) else {}
        if isinstance(content, dict):
            text = _parts(content.get("parts"), []) or _str(content.get("text"))
        else:
            text = _str(content) or _str(report.get("text"))
    else:
        return None
    if not text.strip():
        return None
    if not report_meta.get("content_references") and _dicts(state.get("content_references")):
        report_meta = dict(report_meta, content_references=state["content_references"])
    return text, report_meta


def _source(ref):
    parts = [_str(ref.get("title")), _str(ref.get("url"))]
    return " — ".join(p for p in parts if p)


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value):
    return value if isinstance(value, str) else ""


def _join(pieces):
    return "\n".join(p for p in pieces if p)


def _strings(value, limit=200_000):
    """Best-effort text for shapes we do not know: every string inside, in order.

    Iterative, so arbitrarily deep nesting cannot hit the recursion limit.
    """
    out, size, stack = [], 0, [value]
    while stack and size < limit:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                out.append(item)
                size += len(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in reversed(list(item.items())) if k not in _SKIP_KEYS)
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return "\n".join(out)


def asset_pointers(content, metadata, content_json=None):
    """Every asset a message names: ``[(pointer, file_id), ...]`` from image/audio pointers
    anywhere in its content, code-interpreter images and attachments in its metadata.
    ``content_json``: the content as JSON text, if at hand: content whose text has no
    ``"asset_pointer"`` key is not walked (most messages; the walk was a tenth of reshaping)."""
    found = []
    stack = [content] if content_json is None or '"asset_pointer"' in content_json else []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("asset_pointer"), str):
                found.append(item["asset_pointer"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    metadata = metadata if isinstance(metadata, dict) else {}
    result = metadata.get("aggregate_result")
    if isinstance(result, dict):
        found += [m["image_url"] for m in _dicts(result.get("messages")) if isinstance(m.get("image_url"), str)]
    found += [a["id"] for a in _dicts(metadata.get("attachments")) if isinstance(a.get("id"), str)]
    out, seen = [], set()
    for pointer in found:
        if pointer not in seen:
            seen.add(pointer)
            out.append((pointer, file_id(pointer)))
    return out


def file_id(pointer):
    """``file-service://file-abc`` -> ``file-abc``; ``sediment://<hash>#file_00ab`` -> ``file_00ab``."""
    tail = pointer.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return tail or None
