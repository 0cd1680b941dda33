"""Pure: a message's citation markers -> numbered links and a list of its sources.

Three generations of markers (format reference §7.4), each resolved through the message's
own metadata:
- 2023 ``【3:0†source】``, whose span ``metadata.citations[].start_ix/end_ix`` gives;
- 2024+ Private Use Area markers ``\\ue200cite\\ue202turn0search1\\ue201``, matched through
  ``metadata.content_references[].matched_text`` or, failing that, by their ``turn0search1``
  ids against ``metadata.search_result_groups``;
- ``\\ue203…\\ue204`` around a cited span, which only needs removing.

Markers become placeholders before Markdown runs (so Markdown cannot mangle them) and links
after. Titles and URLs are untrusted: only http(s) URLs become links, everything is escaped.
"""

import re
from urllib.parse import urlsplit

from markupsafe import Markup

from ..content import search_results

# Our placeholder: two Private Use code points ChatGPT does not use, stripped from the input
# first, so a message cannot forge one.
_OPEN, _CLOSE = "\uf8f0", "\uf8f1"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_OLD_MARKER = re.compile(r"【\d+(?::\d+)?†[^】\n]{0,40}】")
_PUA_MARKER = re.compile("\ue200([^\ue200\ue201]*)\ue201")
_PUA_CHARS = re.compile("[\ue200-\ue206]")


def _dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value):
    return value if isinstance(value, str) else ""


def safe_url(url):
    """``url`` if it is an absolute http(s) URL, else None (no javascript:, data:, …)."""
    url = _str(url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not re.search(r"[\s<>\"'`]", url):
        return url
    return None


def domain_of(url):
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


class Sources:
    """The numbered sources of one message, in order of first citation."""

    def __init__(self):
        self.items = []
        self._index = {}

    def add(self, ref):
        title, url = _str(ref.get("title")).strip(), _str(ref.get("url")).strip()
        if not (title or url):
            return None
        key = url or title
        if key not in self._index:
            self.items.append({
                "n": len(self.items) + 1, "title": title or domain_of(url) or url, "url": safe_url(url),
                "shown_url": url, "domain": _str(ref.get("attribution")) or domain_of(url),
                "snippet": _str(ref.get("snippet")),
            })
            self._index[key] = len(self.items)
        return self._index[key]


def _marks(numbers):
    return "".join(f"{_OPEN}{n}{_CLOSE}" for n in numbers if n)


def mark_citations(text, metadata, sources=None, earlier_results=()):
    """Return ``(text with placeholders, Sources)``; run :func:`link_citations` on the HTML.
    Pass ``sources`` to number on from an earlier text of the same message, and
    ``earlier_results``: search results of the tool messages this answer follows (``web.run``
    keeps them there, not on the answer)."""
    metadata = metadata if isinstance(metadata, dict) else {}
    text = (text or "").replace(_OPEN, "").replace(_CLOSE, "")
    sources = sources if sources is not None else Sources()
    text = _tether_og(text, _dicts(metadata.get("citations")), sources)
    text = _content_references(text, _dicts(metadata.get("content_references")), sources)
    by_ref = {r["ref"]: r for r in [*earlier_results, *search_results(metadata)] if r["ref"]}

    def pua(match):
        ids = [p for p in match.group(1).split("\ue202")[1:] if p]
        return _marks(sources.add(by_ref[i]) for i in ids if i in by_ref)

    if "\ue200" in text:
        text = _PUA_MARKER.sub(pua, text)
    text = _PUA_CHARS.sub("", text)
    return _OLD_MARKER.sub("", text), sources


def _tether_og(text, citations, sources):
    """2023: each citation's span holds its ``【…】`` marker. Spans that do not hold one
    (other offset units) fall back to pairing markers and citations in order."""
    spans = sorted(
        (c for c in citations if isinstance(c.get("start_ix"), int) and isinstance(c.get("end_ix"), int)),
        key=lambda c: c["start_ix"],
    )
    if not spans:
        return text
    if all(0 <= c["start_ix"] < c["end_ix"] <= len(text) and _OLD_MARKER.fullmatch(text[c["start_ix"]:c["end_ix"]])
           for c in spans):
        located = [(c["start_ix"], c["end_ix"], c) for c in spans]
    else:
        located = [(m.start(), m.end(), c) for m, c in zip(_OLD_MARKER.finditer(text), spans)]
    numbers = [sources.add(c.get("metadata") if isinstance(c.get("metadata"), dict) else c) for _, _, c in located]
    out, last = [], 0
    for (start, end, _), n in zip(located, numbers):
        if start < last:
            continue  # overlapping spans: keep the first
        out += [text[last:start], _marks([n])]
        last = end
    return "".join(out) + text[last:]


def _content_references(text, refs, sources):
    """2024+: each reference names the marker text it replaces."""
    for ref in sorted(refs, key=lambda r: r.get("start_idx") if isinstance(r.get("start_idx"), int) else 0):
        matched = ref.get("matched_text")
        kind = ref.get("type")
        if kind == "sources_footnote":
            for item in _dicts(ref.get("sources")):
                sources.add(item)
            continue
        if not isinstance(matched, str) or not _PUA_CHARS.search(matched) or matched not in text:
            continue
        if kind == "hidden":
            replacement = ""
        elif kind == "webpage":
            replacement = _marks([sources.add(ref)])
        elif kind in ("grouped_webpages", "grouped_webpages_model_predicted_fallback"):
            replacement = _marks(sources.add(item) for item in _dicts(ref.get("items")))
        else:
            replacement = _str(ref.get("alt"))  # Markdown ChatGPT would show instead
        text = text.replace(matched, replacement, 1)
    return text


def link_citations(html, sources):
    """Placeholders in rendered HTML -> superscript numbered links (escaped throughout)."""
    by_number = {s["n"]: s for s in sources.items}

    def link(match):
        source = by_number.get(int(match.group(1)))
        if source is None:
            return ""
        if source["url"]:
            return Markup('<sup class="cite"><a href="{}" title="{}" rel="noopener noreferrer nofollow"'
                          ' target="_blank">{}</a></sup>').format(source["url"], source["title"], source["n"])
        return Markup('<sup class="cite" title="{}">{}</sup>').format(source["title"], source["n"])

    html = _PLACEHOLDER.sub(lambda m: str(link(m)), str(html))
    return Markup(html.replace(_OPEN, "").replace(_CLOSE, ""))
