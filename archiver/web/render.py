"""Pure helpers for the browsing pages: safe Markdown, branch navigation, search snippets,
charts. Conversation text is untrusted input: everything here escapes it."""

import re
from datetime import datetime, timezone

from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code, language, attrs):
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes it itself
    return highlight(code, lexer, _FORMATTER)


# html=False: raw HTML in a message is shown as text, never parsed. markdown-it's own link
# validation refuses javascript:, vbscript:, file: and data: URLs. Images are not loaded
# (a message could carry a tracking pixel): they stay text.
_MD = (
    MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    .enable(["table", "strikethrough"])
    .disable("image")
)


_VALIDATE_LINK = _MD.validateLink


def _safe_link(url):
    """markdown-it's own check, which lets data:image/... links through, minus every data: URL
    (control characters and spaces ignored, as a browser ignores them in a scheme)."""
    scheme = re.sub(r"[\x00-\x20]", "", url).lower()
    return _VALIDATE_LINK(url) and not scheme.startswith("data:")


_MD.validateLink = _safe_link


def markdown(text):
    return Markup(_MD.render(text or ""))


def pygments_css():
    return _FORMATTER.get_style_defs(".md pre")


def children_of(rows):
    """node id -> child node ids, in sibling order (child_index, then time, then id)."""
    children = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row)
    return {
        parent: [
            r["node_id"]
            for r in sorted(
                kids,
                key=lambda r: (
                    r["child_index"] if r["child_index"] is not None else 1 << 30,
                    r["create_time"] or 0,
                    r["node_id"],
                ),
            )
        ]
        for parent, kids in children.items()
    }


def newest_leaf(node, children):
    """Follow the last (newest) child down to a leaf, as ChatGPT shows a fresh branch."""
    seen = set()
    while children.get(node) and node not in seen:
        seen.add(node)
        node = children[node][-1]
    return node


def branch(rows, leaf):
    """The transcript for the branch ending at ``leaf``: a list of
    ``(row, siblings, position)`` from the root down, where ``siblings`` are the node ids at
    that fork (one when there is no choice) and ``position`` is this node's index there.
    An interior ``leaf`` is followed down to its newest leaf."""
    by_id = {r["node_id"]: r for r in rows}
    children = children_of(rows)
    if leaf not in by_id:
        return []
    leaf = newest_leaf(leaf, children)
    path, seen, node = [], set(), leaf
    while node in by_id and node not in seen:
        seen.add(node)
        path.append(by_id[node])
        node = by_id[node]["parent_id"]
    path.reverse()
    out = []
    for row in path:
        siblings = children.get(row["parent_id"], [row["node_id"]])
        out.append((row, siblings, siblings.index(row["node_id"]) if row["node_id"] in siblings else 0))
    return out


def switch_targets(siblings, position, children):
    """Leaves to link to for '< k/n >': the previous and next sibling's newest leaf."""
    prev_leaf = newest_leaf(siblings[position - 1], children) if position > 0 else None
    next_leaf = newest_leaf(siblings[position + 1], children) if position + 1 < len(siblings) else None
    return prev_leaf, next_leaf


_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"


def highlighted_snippet(snippet):
    """An FTS5 snippet() made with \\x02/\\x03 around matches -> escaped HTML with <mark>."""
    text = str(escape(snippet or ""))
    return Markup(text.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>"))


def fts_query(q):
    """A user's search words as a safe FTS5 query: each word quoted, all required."""
    words = re.findall(r"\w[\w'-]*", q or "")
    return " ".join('"{}"'.format(w.replace('"', "")) for w in words)


def when(epoch):
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def bar_chart(series, *, width=720, height=200, label="count"):
    """An inline SVG bar chart for ``[(label, value), ...]`` (no JavaScript needed)."""
    if not series:
        return Markup('<p class="empty">Nothing archived yet.</p>')
    top = max(v for _, v in series) or 1
    gap = 2
    bar = max(1, (width - gap * len(series)) / len(series))
    plot = height - 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(label)} per month</title>'
    ]
    for i, (name, value) in enumerate(series):
        h = plot * value / top
        x = i * (bar + gap)
        parts.append(
            f'<rect x="{x:.1f}" y="{plot - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(name)}: {value} {escape(label)}</title></rect>"
        )
        if len(series) <= 24 or i % max(1, len(series) // 12) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 12}" text-anchor="middle">{escape(name)}</text>'
            )
    parts.append(f'<text x="0" y="12" class="max">{top}</text></svg>')
    return Markup("".join(parts))


def fill_months(series):
    """``[("2024-01", n), ("2024-04", m)]`` -> every month in between, empty ones as 0."""
    if not series:
        return []
    counts = dict(series)
    (year, month), end = map(int, series[0][0].split("-")), series[-1][0]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, counts.get(key, 0)))
        if key >= end:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
