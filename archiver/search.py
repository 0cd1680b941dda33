"""Search the archive: one plain function over a sqlite3 connection, shared by every face
(the search page, the MCP server, semantic search later).

    search_archive(conn, "pipeline", since=..., role="user", sort="newest")

finds titles, message text on every branch and canvas documents, and answers conversations,
best first, each with its matching messages. Two indexes back it: the stemmed one
(`*_fts`, porter: "pipelines" finds "pipeline") and a trigram one (`*_trigram`, m010: any
part of a word, e.g. "AuthorizationCode" inside "GoogleAuthorizationCodeFlow", and text
written without spaces, such as Chinese or Japanese). The trigram index answers when the
stemmed one finds nothing, or when asked (mode="substring").

Snippets are plain text (Markdown stripped) with highlights as [start, end) offsets, never
markup: a caller escapes the text and adds its own tags, so nothing stored in a message can
ever become a tag. Any query string gets an answer: one the indexes cannot use comes back
with no results and a `notice` saying why.
"""

import re
import secrets
import sqlite3

from .indexing import trigram_behind

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
# How many best message matches are grouped into conversations: ten per conversation shown
# (more for later pages), bounded so a word in every message costs about what a rarer one does.
MESSAGE_CAP = 200
TITLE_CAP = 200
SNIPPET_CHARS = 220
SORTS = ("relevance", "newest")
MODES = ("auto", "words", "substring")


def search_archive(conn, q, *, since=None, until=None, role=None, model=None, project=None,
                   current_only=False, sort="relevance", mode="auto", limit=20, offset=0,
                   per_conversation=3, account=None):
    """Conversations matching `q`, grouped, best first (or newest first).

    since/until: Unix seconds (messages created in that range; a title counts when its
    conversation was active in it). role: a message author role. model: the message's or the
    conversation's model. project: a project or custom GPT id (g-…). current_only: only
    messages on the branch ChatGPT shows. account: the ChatGPT account or workspace the
    conversation was captured from ("personal" or an account id; m020).

    Returns {"query", "mode", "notice", "total", "more_matches", "has_more", "conversations": [{
    "conversation_id", "title", "title_highlights", "create_time", "update_time", "model",
    "project_id", "gizmo_id", "is_archived", "message_count", "title_match", "match_count",
    "messages": [{"node_id", "role", "content_type", "create_time", "is_current", "snippet",
    "highlights"}]}],
    "documents": [{"path", "title", "snippet", "highlights"}]}.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    result = {"query": q or "", "mode": None, "notice": None, "total": 0, "more_matches": False, "has_more": False,
              "conversations": [], "documents": []}
    terms, notice = parse_query(q)
    if notice or not terms:
        result["notice"] = notice
        return result
    filters = Filters(since, until, role, model, project, current_only, account)
    try:
        if mode in ("auto", "words"):
            found = _search(conn, terms, filters, sort, "words", offset, limit)
            if any(found) or mode == "words":
                return _finish(conn, result, terms, found, "words", sort, limit, offset, per_conversation)
            result["notice"] = "No whole words matched; showing text that contains what you typed."
        short = [t for t in terms if len(t) < 3]
        if short:
            result["notice"] = ("No whole words matched. Parts of words need at least 3 characters:"
                                f" “{short[0]}” is too short.")
            result["mode"] = "substring"
            return result
        found = _search(conn, terms, filters, sort, "substring", offset, limit)
        if not any(found):
            result["notice"] = None
        behind = trigram_behind(conn)
        if behind:  # a bulk import's messages are indexed for this after it (archiver.indexing)
            result["notice"] = " ".join(filter(None, [result["notice"], (
                f"About {behind:,} recently imported messages are not indexed for parts of words yet"
                " (the server indexes them in the background); they are not searched this way.")]))
        return _finish(conn, result, terms, found, "substring", sort, limit, offset, per_conversation)
    except sqlite3.OperationalError as error:
        result["notice"] = f"The search index could not read that query ({error})."
        result["conversations"], result["documents"] = [], []
        return result


def parse_query(q):
    """A query -> (terms, notice). A term is a word, or a "quoted phrase" kept together."""
    q = q or ""
    if len(q) > MAX_QUERY_CHARS:
        return [], (f"That search is {len(q):,} characters long; searches are limited to"
                    f" {MAX_QUERY_CHARS:,} characters. Search for a few words you remember.")
    terms = []
    for phrase, word in re.findall(r'"([^"]*)"|([^\s"]+)', q):
        words = re.findall(r"\w+", phrase if phrase else word)
        if words:
            terms.append(" ".join(words))
    if len(terms) > MAX_TERMS:
        return [], (f"That search has {len(terms):,} words; searches are limited to {MAX_TERMS}."
                    " Search for a few words you remember.")
    if not terms and q.strip():
        return [], "Nothing to search for: type some words or part of a word."
    return terms, None


def fts_match(terms):
    """Terms -> an FTS5 query: each term a quoted phrase, all required. Terms are \\w runs
    joined by spaces, so no FTS5 syntax can reach the index."""
    return " ".join('"{}"'.format(t) for t in terms)


class Filters:
    def __init__(self, since, until, role, model, project, current_only, account=None):
        self.message, self.conversation, self.params = [], [], {}
        if since is not None:
            self.message.append("m.create_time >= :since")
            self.conversation.append("coalesce(c.update_time, c.create_time) >= :since")
            self.params["since"] = float(since)
        if until is not None:
            self.message.append("m.create_time < :until")
            self.conversation.append("c.create_time < :until")
            self.params["until"] = float(until)
        if role:
            self.message.append("m.author_role = :role")
            self.params["role"] = role
        self.joins_conversation = bool(model or project or account)
        if model:
            self.message.append("(m.model = :model OR c.default_model_slug = :model)")
            self.conversation.append("c.default_model_slug = :model")
            self.params["model"] = model
        if project:
            clause = "(c.project_id = :project OR c.gizmo_id = :project)"
            self.message.append(clause)
            self.conversation.append(clause)
            self.params["project"] = project
        if account:
            self.message.append("c.account_id = :account")
            self.conversation.append("c.account_id = :account")
            self.params["account"] = account
        if current_only:
            self.message.append("m.is_current = 1")
        # A title is not said by anyone: with a role filter only messages count.
        self.titles = not role
        self.any = bool(self.params) or current_only


def _tables(how):
    suffix = "fts" if how == "words" else "trigram"
    return f"chatgpt_message_{suffix}", f"chatgpt_conversation_{suffix}"


def _search(conn, terms, filters, sort, how, offset, limit):
    """-> (message hits, title hits, document hits), each a list of dicts in order."""
    message_fts, title_fts = _tables(how)
    match = fts_match(terms)
    params = {"q": match, "cap": max(MESSAGE_CAP, 10 * (offset + limit)), **filters.params}
    # Parts of words match far more rows than words do (four letters occur everywhere), and
    # ranking them all costs more than it tells: the newest stored matches are taken instead.
    rank = "f.rank" if how == "words" else "f.rowid DESC"
    order = rank if sort == "relevance" else "m.create_time DESC"
    columns = "m.rowid AS rowid, m.conversation_id, m.create_time"
    if not filters.any and sort == "relevance":
        # The index ranks on its own first; only the best rows are then looked up.
        # (Asking for rank at all makes FTS5 count every match for bm25: not for parts of words.)
        inner = "rank" if how == "words" else "rowid DESC"
        picked = "rowid, rank" if how == "words" else "rowid"
        sql = (f"WITH f AS MATERIALIZED (SELECT {picked} FROM {message_fts} WHERE {message_fts} MATCH :q"
               f" ORDER BY {inner} LIMIT :cap) SELECT {columns} FROM f JOIN chatgpt_message m ON m.rowid = f.rowid"
               f" ORDER BY {rank}")
    else:
        # The conversation is joined only when a filter needs it: on a million messages the
        # join costs more than the search.
        join = " JOIN chatgpt_conversation c ON c.id = m.conversation_id" if filters.joins_conversation else ""
        if sort == "newest":
            # Every match is looked up for its date; the index's rowids first, no ranking.
            where = " AND ".join([f"m.rowid IN (SELECT rowid FROM {message_fts} WHERE {message_fts} MATCH :q)",
                                  *filters.message])
            sql = f"SELECT {columns} FROM chatgpt_message m{join} WHERE {where} ORDER BY {order} LIMIT :cap"
        else:
            where = " AND ".join([f"{message_fts} MATCH :q", *filters.message])
            sql = (f"SELECT {columns} FROM {message_fts} f JOIN chatgpt_message m ON m.rowid = f.rowid{join}"
                   f" WHERE {where} ORDER BY {order} LIMIT :cap")
    messages = [dict(zip(("rowid", "conversation_id", "create_time"), row)) for row in conn.execute(sql, params)]
    titles = []
    if filters.titles:
        where = " AND ".join([f"{title_fts} MATCH :q", *filters.conversation])
        titles = [row[0] for row in conn.execute(
            f"SELECT c.id FROM {title_fts} t JOIN chatgpt_conversation c ON c.rowid = t.rowid"
            f" WHERE {where} ORDER BY t.rank LIMIT {TITLE_CAP}", params)]
    documents = []
    if filters.titles and not filters.any:  # canvas documents carry no date, model or project
        documents = _documents(conn, terms, how)
    return messages, titles, documents


def _documents(conn, terms, how):
    if how == "words":
        rows = conn.execute(
            "SELECT d.path, d.title, d.content FROM chatgpt_textdoc_fts f JOIN chatgpt_textdoc d"
            " ON d.rowid = f.rowid WHERE chatgpt_textdoc_fts MATCH :q ORDER BY f.rank LIMIT 20",
            {"q": fts_match(terms)}).fetchall()
        return [_document(path, title, content, terms, stemmed=True) for path, title, content in rows]
    # Canvas documents are few: a scan finds parts of words without a second index.
    where = " AND ".join("(instr(lower(d.title), ?) OR instr(lower(d.content), ?))" for _ in terms)
    params = [p for t in terms for p in (t.lower(), t.lower())]
    rows = conn.execute(f"SELECT d.path, d.title, d.content FROM chatgpt_textdoc d WHERE {where} LIMIT 20",
                        params).fetchall()
    return [_document(path, title, content, terms) for path, title, content in rows]


def _document(path, title, content, terms, stemmed=False):
    snippet, highlights = substring_snippet(content or "", terms, stemmed=stemmed)
    return {"path": path, "title": title, "snippet": snippet, "highlights": highlights}


def _finish(conn, result, terms, found, how, sort, limit, offset, per_conversation):
    messages, titles, documents = found
    result["mode"] = how
    groups = {}
    for position, hit in enumerate(messages):
        group = groups.setdefault(hit["conversation_id"], {"score": 0.0, "hits": [], "newest": None, "title": False})
        group["score"] += 1 / (5 + position)
        group["hits"].append(hit)
        if hit["create_time"] is not None and (group["newest"] is None or hit["create_time"] > group["newest"]):
            group["newest"] = hit["create_time"]
    for position, cid in enumerate(titles):
        group = groups.setdefault(cid, {"score": 0.0, "hits": [], "newest": None, "title": False})
        # A title match puts a conversation above those matched in messages only (a title is
        # what a person remembers); among title matches, more matching messages come first.
        group["score"] += 1 + 0.1 / (1 + position)
        group["title"] = True
    ids = list(groups)
    if sort == "newest":
        # A title match counts as new as its conversation's last change.
        changed = {cid: c["update_time"] for cid, c in _conversations(conn, titles).items()}

        def key(cid):
            group = groups[cid]
            times = [group["newest"]] + ([changed.get(cid)] if group["title"] else [])
            return -max((t for t in times if t is not None), default=0)
    else:
        def key(cid):
            return -groups[cid]["score"]
    ordered = sorted(ids, key=key)
    result["total"] = len(ordered)
    # Only the best messages were grouped: more conversations may match than were counted.
    result["more_matches"] = len(messages) >= max(MESSAGE_CAP, 10 * (offset + limit))
    page = ordered[offset:offset + limit]
    result["has_more"] = len(ordered) > offset + limit
    details = _conversations(conn, page)
    shown = {cid: groups[cid]["hits"][:per_conversation] for cid in page}
    snippets = _message_snippets(conn, [h["rowid"] for hits in shown.values() for h in hits], terms, how)
    title_marks = _title_highlights(conn, [details[cid]["rowid"] for cid in page if groups[cid]["title"]], terms, how)
    for cid in page:
        conversation = dict(details[cid])
        rowid = conversation.pop("rowid")
        conversation["title_highlights"] = title_marks.get(rowid, [])
        conversation["title_match"] = groups[cid]["title"]
        conversation["match_count"] = len(groups[cid]["hits"])
        conversation["messages"] = [snippets[h["rowid"]] for h in shown[cid] if h["rowid"] in snippets]
        result["conversations"].append(conversation)
    result["documents"] = documents
    return result


def _conversations(conn, ids):
    rows = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(
            "SELECT rowid, id, title, create_time, update_time, default_model_slug, project_id, gizmo_id,"
            f" is_archived, message_count FROM chatgpt_conversation WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            rows[row[1]] = dict(zip(("rowid", "conversation_id", "title", "create_time", "update_time", "model",
                                     "project_id", "gizmo_id", "is_archived", "message_count"), row))
    for cid in ids:  # a message whose conversation row is missing still shows
        rows.setdefault(cid, {"rowid": None, "conversation_id": cid, "title": None, "create_time": None,
                              "update_time": None, "model": None, "project_id": None, "gizmo_id": None,
                              "is_archived": None, "message_count": None})
    return rows


def _message_snippets(conn, rowids, terms, how):
    if not rowids:
        return {}
    marks = _Markers()
    placeholders = ",".join("?" * len(rowids))
    meta = {row[0]: row[1:] for row in conn.execute(
        f"SELECT rowid, node_id, author_role, content_type, create_time, is_current FROM chatgpt_message"
        f" WHERE rowid IN ({placeholders})", rowids)}
    if how == "words":
        texts = dict(conn.execute(
            "SELECT rowid, snippet(chatgpt_message_fts, 0, ?, ?, '…', 40) FROM chatgpt_message_fts"
            f" WHERE chatgpt_message_fts MATCH ? AND rowid IN ({placeholders})",
            [marks.open, marks.close, fts_match(terms), *rowids]).fetchall())
        snippets = {rowid: marks.parse(plain_text(text or "")) for rowid, text in texts.items()}
    else:
        texts = dict(conn.execute(
            f"SELECT rowid, text FROM chatgpt_message WHERE rowid IN ({placeholders})", rowids).fetchall())
        snippets = {rowid: substring_snippet(text or "", terms) for rowid, text in texts.items()}
    out = {}
    for rowid, (snippet, highlights) in snippets.items():
        node_id, role, content_type, create_time, is_current = meta[rowid]
        snippet, highlights = _clip(snippet, highlights)
        out[rowid] = {"node_id": node_id, "role": role, "content_type": content_type, "create_time": create_time,
                      "is_current": bool(is_current), "snippet": snippet, "highlights": highlights}
    return out


def _title_highlights(conn, rowids, terms, how):
    rowids = [r for r in rowids if r is not None]
    if not rowids:
        return {}
    if how == "substring":
        rows = conn.execute(f"SELECT rowid, title FROM chatgpt_conversation WHERE rowid IN"
                            f" ({','.join('?' * len(rowids))})", rowids).fetchall()
        return {rowid: _find_all(title or "", terms) for rowid, title in rows}
    marks = _Markers()
    rows = conn.execute(
        "SELECT rowid, highlight(chatgpt_conversation_fts, 0, ?, ?) FROM chatgpt_conversation_fts"
        f" WHERE chatgpt_conversation_fts MATCH ? AND rowid IN ({','.join('?' * len(rowids))})",
        [marks.open, marks.close, fts_match(terms), *rowids]).fetchall()
    return {rowid: marks.parse(text or "")[1] for rowid, text in rows}


class _Markers:
    """Highlight markers no stored text can contain: a fresh random token per search. The
    text between them is returned as offsets, so markers never reach a page."""

    def __init__(self):
        token = secrets.token_hex(16)
        self.open, self.close = f"\ue000{token}\ue001", f"\ue002{token}\ue003"

    def parse(self, marked):
        text, highlights, length = [], [], 0
        for i, chunk in enumerate(marked.split(self.open)):
            inside, _, after = chunk.partition(self.close) if i else ("", "", chunk)
            if inside:
                highlights.append([length, length + len(inside)])
            text += [inside, after]
            length += len(inside) + len(after)
        return "".join(text), _merge(highlights)


def _merge(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _find_all(text, terms):
    spans = []
    for term in terms:
        pattern = r"\W+".join(re.escape(w) for w in term.split())
        spans += [[m.start(), m.end()] for m in re.finditer(pattern, text, re.IGNORECASE)]
    return _merge(spans)


def substring_snippet(text, terms, *, stemmed=False):
    """A plain-text window of `text` around the first place a term occurs, with every
    occurrence highlighted. (With stemmed=True a term may match only in stemmed form: the
    window then starts at the beginning.)"""
    first = None
    for term in terms:
        pattern = r"\W+".join(re.escape(w) for w in term.split())
        found = re.search(pattern, text, re.IGNORECASE)
        if found and (first is None or found.start() < first):
            first = found.start()
    first = first or 0
    start = max(0, first - 400)
    window = plain_text(text[start:first + 1200])
    prefix = "…" if start else ""
    window = prefix + window
    return _clip(window, _find_all(window, terms))


def _clip(text, highlights, size=SNIPPET_CHARS):
    """Keep about `size` characters around the first highlight, cut at spaces."""
    if len(text) <= size:
        return text, highlights
    first = highlights[0][0] if highlights else 0
    start = max(0, first - size // 3)
    if start:
        space = text.find(" ", start, first)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", first + 1, end)
        end = space if space > first else end
    prefix, suffix = ("…" if start else ""), ("…" if end < len(text) else "")
    shift = start - len(prefix)
    spans = [[max(s, start) - shift, min(e, end) - shift] for s, e in highlights if e > start and s < end]
    return prefix + text[start:end] + suffix, spans


_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*$", re.M)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|(?<!\w)_{2,3}(?=\w))(\S(?:.*?\S)?)\1", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(markdown):
    """Message Markdown -> one line of plain text for a snippet: no fences, headings, list
    marks, emphasis, link targets, table rules or control characters."""
    text = _CONTROL.sub(" ", markdown)
    text = _FENCE.sub(" ", text)
    text = _TABLE_RULE.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("`", "").replace("|", " ")
    return re.sub(r"\s+", " ", text).strip()
