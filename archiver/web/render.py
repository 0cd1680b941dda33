"""Pure helpers for the browsing pages: safe Markdown (with math), branch navigation, search
snippets, charts, dates. Conversation text is untrusted input: everything here escapes it."""

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from functools import lru_cache

from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin
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


# latex2mathml passes \text{<script>} through as markup and turns \href and \style into
# attributes, so its output is parsed and rebuilt from an allowlist: MathML elements and
# presentation attributes only, every text node escaped. Anything else becomes its text.
_MATH_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mover munder"
    " munderover mtable mtr mtd mstyle mpadded mphantom menclose mfenced merror mmultiscripts"
    " mprescripts none semantics annotation".split()
)
_MATH_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator separators lspace rspace accent accentunder"
    " columnalign columnspacing columnlines rowalign rowspacing rowlines frame framespacing"
    " equalrows equalcolumns displaystyle scriptlevel linethickness largeop movablelimits"
    " symmetric minsize maxsize form width height depth voffset notation mathsize open close"
    " align".split()
)
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


def _rebuild(element, out):
    tag = element.tag.removeprefix(_MATHML_NS)
    if tag in _MATH_ELEMENTS:
        attrs = "".join(
            Markup(' {}="{}"').format(name, value)
            for name, value in sorted(element.attrib.items())
            if name in _MATH_ATTRIBUTES
        )
        out.append(f"<{tag}{attrs}>")
        out.append(str(escape(element.text or "")))
        for child in element:
            _rebuild(child, out)
        out.append(f"</{tag}>")
    else:
        out.append(str(escape("".join(element.itertext()))))
    out.append(str(escape(element.tail or "")))


@lru_cache(maxsize=4096)  # formulas repeat (x, n, \alpha); converting one costs about a millisecond
def math_html(latex, display=False, in_paragraph=False):
    """LaTeX -> inert MathML; LaTeX that does not convert is shown as its source. Display
    math inside a paragraph is wrapped in a span (a div would end the paragraph)."""
    kind = "block" if display else "inline"
    try:
        tree = ET.fromstring(latex_to_mathml(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds of error on malformed input
        tree = None
    if tree is None or tree.tag.removeprefix(_MATHML_NS) != "math":
        return Markup('<code class="math-source {}">{}</code>').format(kind, latex)
    out = []
    _rebuild(tree, out)
    body = "".join(out).replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1)
    tag = "div" if display and not in_paragraph else "span"
    return Markup(f'<{tag} class="math {kind}">{body}</{tag}>')


def _math_rule(display, in_paragraph):
    def render(self, tokens, idx, options, env):
        html = str(math_html(tokens[idx].content.strip(), display, in_paragraph))
        return html if in_paragraph else html + "\n"
    return render


# html=False: raw HTML in a message is shown as text, never parsed. markdown-it's own link
# validation refuses javascript:, vbscript:, file: and data: URLs. Images are not loaded
# (a message could carry a tracking pixel): they stay text. Math: $…$ and $$…$$
# (dollarmath; "$5 and $10" stays text) and \(…\), \[…\] (texmath's "brackets").
_MD = (
    MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    .enable(["table", "strikethrough"])
    .disable("image")
    .use(texmath_plugin, delimiters="brackets")
    .use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
)


def _bracket_display_inline(state, silent):
    """\\[…\\] inside a paragraph or list item (texmath only knows it as a block of its own)."""
    if not state.src.startswith("\\[", state.pos):
        return False
    end = state.src.find("\\]", state.pos + 2)
    if end < 0:
        return False
    if not silent:
        state.push("math_inline_double", "math", 0).content = state.src[state.pos + 2:end]
    state.pos = end + 2
    return True


_MD.inline.ruler.before("escape", "math_bracket_display", _bracket_display_inline)
for _name, _display, _inline in (
    ("math_inline", False, True), ("math_single", False, True), ("math_inline_double", True, True),
    ("math_block", True, False), ("math_block_eqno", True, False), ("math_block_label", True, False),
):
    _MD.add_render_rule(_name, _math_rule(_display, _inline))


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


def pygments_dark_css():
    """Code colours for the dark theme (the default style's blues vanish on a dark block)."""
    css = HtmlFormatter(nowrap=True, style="github-dark").get_style_defs(".archiver-transcript .md pre")
    rules = [line for line in css.splitlines() if not line.lstrip().startswith(("pre {", "td.", "span.linenos"))]
    return Markup("@media (prefers-color-scheme: dark) {\n" + "\n".join(rules) + "\n}")


def switch_targets(siblings, position, children):
    """Leaves to link to for '< k/n >': the previous and next sibling's newest leaf."""
    prev_leaf = newest_leaf(siblings[position - 1], children) if position > 0 else None
    next_leaf = newest_leaf(siblings[position + 1], children) if position + 1 < len(siblings) else None
    return prev_leaf, next_leaf


def when(epoch):
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def human_time(value):
    """An epoch or ISO-8601 time -> ``<time>`` reading "3 Mar 2025, 14:02" (UTC), the exact
    ISO time in its title. Anything unparseable is shown as it came, escaped."""
    if value is None or value == "":
        return Markup("")
    try:
        if isinstance(value, (int, float)):
            moment = datetime.fromtimestamp(value, timezone.utc)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return Markup("<time>{}</time>").format(value)
    iso = moment.isoformat(timespec="seconds")  # made here, from numbers: nothing to escape
    return Markup(f'<time datetime="{iso}" title="{iso}">{moment.day} {moment:%b %Y, %H:%M}</time>')


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
