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

from ..tree import branch, children_of, newest_leaf  # noqa: F401  (the pages import them from here)

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


def markdown(text):
    return Markup(_MD.render(text or ""))


def pygments_css():
    return _FORMATTER.get_style_defs(".md pre")


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
