"""A fake chatgpt.com for real-browser tests of the userscript.

Chromium is pointed at this server with --host-resolver-rules, so the page really has the origin
https://chatgpt.com (HSTS preload forces https, hence the self-signed certificate). The server
speaks the endpoints described in shared/docs/chatgpt-format.md (sections 1, 3-5, 8 and P.1-P.6);
every body it returns is synthetic. The page's /app.js plays the web app: it calls the API the way
chatgpt.com does (plural read when a chat opens, SSE send, then /conversations/batch), always
through the global fetch, so a userscript that patches window.fetch sees those calls.
"""

import asyncio
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import math
import ssl
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ACCESS_TOKEN = "fake-access-token"
CDN_HOST = "files.oaiusercontent.com"  # where signed download URLs point: another host name
CDN_KEY = b"fake-cdn-signing-key"
CHROMIUM = "/usr/bin/chromium"
CSP = "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'"
ROOT = "client-created-root"
# uuid5 ids: UUID-shaped (lowercase 8-4-4-4-12) and the same on every run.
NAMESPACE = uuid.UUID("6f1c0a52-5d3e-4c1b-9b8e-2a7d4e0f1a11")
NULL_KEYS = ("conversation_template_id gizmo_id gizmo_type is_starred atlas_mode_enabled "
             "conversation_origin is_read_only voice async_status context_scopes sugar_item_id "
             "pinned_time owner").split()


def make_certificate(directory):
    """Self-signed certificate for chatgpt.com; returns (certfile, keyfile)."""
    directory = Path(directory)
    certfile, keyfile = directory / "chatgpt.pem", directory / "chatgpt-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=chatgpt.com", "-addext", "subjectAltName=DNS:chatgpt.com,DNS:chat.openai.com",
         "-keyout", str(keyfile), "-out", str(certfile)],
        check=True, capture_output=True,
    )
    return str(certfile), str(keyfile)


def make_id(*parts):
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


def make_message(message_id, role, text, parent_id, create_time, **extra):
    """A legacy message object (section 5); the plural read returns these same objects."""
    message = {
        "id": message_id,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": create_time, "update_time": None,
        "content": {"content_type": "text", "parts": [text]},
        "status": "finished_successfully",
        "end_turn": True if role == "assistant" else None,
        "weight": 1.0,
        "metadata": {"parent_id": parent_id},
        "recipient": "all", "channel": "final" if role == "assistant" else None,
    }
    if role == "assistant":
        message["metadata"].update(finish_details={"type": "stop", "stop_tokens": [200002]},
                                   model_slug="gpt-5", is_complete=True)
    message.update(extra)
    return message


def _attach(mapping, message):
    """Add a node for `message` under its metadata.parent_id (node id == message id)."""
    node_id, parent = message["id"], message["metadata"]["parent_id"]
    mapping[node_id] = {"id": node_id, "message": message, "parent": parent, "children": []}
    mapping[parent]["children"].append(node_id)
    return message


def synthetic_conversation(conversation_id, turns=3, branch=False, update_time=1791000000.5,
                           title=None):
    """A full tree in the live shape of GET /backend-api/conversation/<id> (section 3.1).

    root -> hidden system -> user/assistant turns. With branch=True the first prompt has two
    answers (a regenerate); the second one is on the current branch, the first is a dead leaf.
    The first prompt carries the word marker-<first 8 chars of the id> for search tests.
    """
    start = update_time - 60.0 * (turns + 2)
    ids = (make_id(conversation_id, n) for n in itertools.count())
    mapping = {ROOT: {"id": ROOT, "message": None, "parent": None, "children": []}}
    system = make_message(next(ids), "system", "", ROOT, None, weight=0.0)
    system["metadata"]["is_visually_hidden_from_conversation"] = True
    parent = _attach(mapping, system)["id"]
    for turn in range(1, turns + 1):
        when = start + 60.0 * turn
        marker = f"marker-{conversation_id[:8]} " if turn == 1 else ""
        user = make_message(next(ids), "user", f"{marker}Question {turn} about trail maps", parent, when)
        _attach(mapping, user)
        variants = [" (first draft)", " (regenerated)"] if branch and turn == 1 else [""]
        for offset, variant in enumerate(variants, 1):
            answer = make_message(next(ids), "assistant", f"Answer {turn}{variant}: follow the blue markers",
                                  user["id"], when + 5.0 * offset)
            parent = _attach(mapping, answer)["id"]  # the last answer continues the current branch
    # The 2026 key set (section 3.1 + P.2), in that order; most keys are null in real data too.
    tree = {"title": title or f"Trail chat {conversation_id[:8]}", "create_time": start,
            "update_time": update_time, "mapping": mapping, "moderation_results": [],
            "current_node": parent, "plugin_ids": None, "conversation_id": conversation_id}
    tree.update(dict.fromkeys(NULL_KEYS), safe_urls=[], blocked_urls=[], disabled_tool_ids=[],
                is_archived=False, is_temporary_chat=False, is_do_not_remember=False,
                sugar_item_visible=False, is_study_mode=False, default_model_slug="gpt-5",
                memory_scope="global_enabled")
    return tree


def current_branch(tree):
    """Messages from the root to current_node, oldest first, without the message-less root."""
    mapping, node_id, chain = tree["mapping"], tree["current_node"], []
    while node_id in mapping:
        node = mapping[node_id]
        if node["message"] is not None:
            chain.append(node["message"])
        node_id = node["parent"]
    return chain[::-1]


def _iso(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _list_item(tree):
    # The list endpoint has ISO strings and mapping: null (section 8): not a snapshot.
    return {"id": tree["conversation_id"], "title": tree["title"],
            "create_time": _iso(tree["create_time"]), "update_time": _iso(tree["update_time"]),
            "mapping": None, "current_node": None, "gizmo_id": tree.get("gizmo_id"),
            "is_archived": tree.get("is_archived", False)}


def _sse(payload, event=None):
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


def fixed(body):
    async def endpoint(request):
        return JSONResponse(body)
    return endpoint


class _LogAndAuth:
    """ASGI middleware: logs every request, and answers 401 on /backend-api/* without the
    page's bearer token (a client that works proves it reused the page's auth headers)."""

    def __init__(self, app, fake):
        self.app, self.fake = app, fake

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry = {"method": scope["method"], "path": scope["path"],
                 "query": scope["query_string"].decode("latin-1"), "headers": headers,
                 "time": time.monotonic(), "status": None}
        # Appended on arrival (log order = arrival order); the status is filled in when the
        # response starts, i.e. before the client can see the response.
        self.fake.requests.append(entry)

        async def logging_send(message):
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        host = headers.get("host", "").split(":")[0]
        if host == CDN_HOST and not scope["path"].startswith(("/file/", "/blob/")):
            return await Response(status_code=404)(scope, receive, logging_send)
        if host != CDN_HOST and scope["path"].startswith(("/file/", "/blob/")):
            return await Response(status_code=404)(scope, receive, logging_send)
        if (scope["path"].startswith("/backend-api/")
                and headers.get("authorization") != f"Bearer {ACCESS_TOKEN}"):
            response = JSONResponse({"detail": "Unauthorized"}, status_code=401)
            return await response(scope, receive, logging_send)
        await self.app(scope, receive, logging_send)


class FakeChatGPT:
    """State and knobs of the fake; .app is the Starlette app."""

    def __init__(self, conversations=()):
        self.conversations = {}          # id -> full tree
        self.requests = []               # see _LogAndAuth
        self.singular_fails = set()      # ids whose singular read answers 500 (long chats do)
        self.rate_limit = None           # (burst, retry_after_seconds) for singular reads
        self.page_size = 4               # records per plural page
        self.stream_delay = 0.05         # seconds between SSE chunks
        self.archived = set()            # ids only listed with is_archived=true
        self.projects = {}               # gizmo id "g-p-..." -> list of conversation ids
        self.project_names = {}          # gizmo id -> display name
        self.files = {}                  # file id -> {"bytes", "name", "mime"}: uploads and outputs
        self.textdocs = {}               # conversation id -> canvas documents (GET .../textdocs)
        self.swap = {}                   # id -> other id: answer one conversation's URL with another's
        self.sidebar_fails = False       # the project sidebar answers 500 (a partial listing)
        self.download_base = None        # lookups point here instead of the CDN (a steered URL)
        self._singular_reads = []        # monotonic times of served singular reads
        self._new_ids = 0
        for tree in conversations:
            self.add(tree)
        self.app = Starlette(routes=self._routes(), middleware=[Middleware(_LogAndAuth, fake=self)])

    def add(self, tree, archived=False, project=None):
        """Store a tree; archived / project also set the tree's own flags. Returns the id."""
        cid = tree["conversation_id"]
        self.conversations[cid] = tree
        if archived:
            tree["is_archived"] = True
            self.archived.add(cid)
        if project:
            tree.update(gizmo_id=project, gizmo_type="snorlax")
            self.projects.setdefault(project, []).append(cid)
        return cid

    def add_file(self, file_id, data, name, mime):
        self.files[file_id] = {"bytes": data, "name": name, "mime": mime}
        return file_id

    def requests_to(self, path, method=None):
        """Logged requests whose path is `path`, or starts with it when it ends in '/'."""
        return [r for r in self.requests
                if (r["path"] == path or (path.endswith("/") and r["path"].startswith(path)))
                and (method is None or r["method"] == method)]

    def _routes(self):
        api = "/backend-api"
        return [
            Route("/", self.page), Route("/c/{cid}", self.page),
            Route("/plain/", self.page), Route("/plain/c/{cid}", self.page),
            Route("/app.js", lambda request: Response(APP_JS, media_type="text/javascript")),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            # Cookie-authenticated session: where the app (and a freshly loaded script) gets
            # the bearer token for /backend-api.
            Route("/api/auth/session", fixed({"accessToken": ACCESS_TOKEN, "expires": "2099-01-01T00:00:00Z",
                                              "user": {"id": "user-test", "name": "Test"}})),
            Route(f"{api}/conversations", self.list_conversations),
            Route(f"{api}/conversations/batch", self.batch, methods=["POST"]),
            Route(f"{api}/conversations/{{cid}}", self.plural),
            Route(f"{api}/conversations/{{cid}}/messages", self.plural),
            Route(f"{api}/f/conversation", self.send, methods=["POST"]),
            Route(f"{api}/conversation", self.send, methods=["POST"]),
            Route(f"{api}/conversation/init", self.init, methods=["POST"]),
            Route(f"{api}/conversation/gen_title/{{cid}}", fixed({"title": "x"}), methods=["GET", "POST"]),
            Route(f"{api}/conversation/{{cid}}", self.singular),
            # Sub-resources under /conversation/<id>/ that a capture hook must not take for a chat.
            Route(f"{api}/conversation/{{cid}}/textdocs", self.get_textdocs),
            Route(f"{api}/conversation/{{cid}}/attachment/{{fid}}/download", self.download_lookup),
            Route(f"{api}/files/download/{{fid}}", self.download_lookup),
            # The CDN, on another host name (same server, told apart by Host).
            Route("/file/{fid}", self.cdn_redirect),
            Route("/blob/{fid}", self.cdn_blob),
            Route(f"{api}/conversation/{{cid}}/stream_status", fixed({"status": "COMPLETE"})),
            Route(f"{api}/gizmos/snorlax/sidebar", self.sidebar),
            Route(f"{api}/gizmos/{{gid}}/conversations", self.project_conversations),
        ]

    # --- the page -------------------------------------------------------------------------

    async def page(self, request):
        html = ('<!doctype html><html><head><meta charset="utf-8"><title>ChatGPT</title>'
                '<script src="/app.js" defer></script></head>'
                '<body><main id="thread"></main></body></html>')
        # /plain/ has no CSP, for a test that pastes the userscript like a console snippet.
        headers = {} if request.url.path.startswith("/plain/") else {"Content-Security-Policy": CSP}
        return Response(html, media_type="text/html", headers=headers)

    # --- reads ----------------------------------------------------------------------------

    def _tree(self, request):
        return self.conversations.get(request.path_params["cid"])

    # --- files and canvas ---------------------------------------------------------------

    async def get_textdocs(self, request):
        return JSONResponse(self.textdocs.get(request.path_params["cid"], []))

    @staticmethod
    def _signature(path, expires):
        return hmac.new(CDN_KEY, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()

    def _signed(self, path):
        expires = int(time.time()) + 300
        return f"https://{CDN_HOST}{path}?se={expires}&sig={self._signature(path, expires)}"

    def _valid(self, request):
        query = request.query_params
        expires, sig = query.get("se", ""), query.get("sig", "")
        return (request.headers.get("host", "").split(":")[0] == CDN_HOST and expires.isdigit()
                and int(expires) >= time.time()
                and hmac.compare_digest(sig, self._signature(request.url.path, expires)))

    async def download_lookup(self, request):
        """ChatGPT's download-URL lookup (format notes, section 1): a short-lived signed URL."""
        meta = self.files.get(request.path_params["fid"])
        if meta is None:
            return JSONResponse({"detail": "File not found"}, status_code=404)
        url = self._signed(f"/file/{request.path_params['fid']}")
        if self.download_base:
            url = self.download_base + request.path_params["fid"]
        return JSONResponse({"status": "success", "download_url": url,
                             "file_name": meta["name"], "mime_type": meta["mime"],
                             "file_size_bytes": len(meta["bytes"]), "metadata": {}})

    async def cdn_redirect(self, request):
        """The signed URL answers with a redirect to the bytes, signed again (like a CDN)."""
        fid = request.path_params["fid"]
        if not self._valid(request) or fid not in self.files:
            return Response("AuthenticationFailed", status_code=403)
        return Response(status_code=302, headers={"Location": self._signed(f"/blob/{fid}")})

    async def cdn_blob(self, request):
        meta = self.files.get(request.path_params["fid"])
        if not self._valid(request) or meta is None:
            return Response("AuthenticationFailed", status_code=403)
        return Response(meta["bytes"], media_type=meta["mime"])

    async def singular(self, request):
        if self.rate_limit:
            burst, retry_after = self.rate_limit
            now = time.monotonic()
            # Only served reads count, so a client that waits Retry-After gets through again.
            self._singular_reads = [t for t in self._singular_reads if now - t < retry_after]
            if len(self._singular_reads) >= burst:
                return JSONResponse({"detail": "Too many requests"}, status_code=429,
                                    headers={"Retry-After": str(math.ceil(retry_after))})
            self._singular_reads.append(now)
        tree = self._tree(request)
        if request.path_params["cid"] in self.swap:  # a service worker could answer like this
            tree = self.conversations.get(self.swap[request.path_params["cid"]])
        if tree is None:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        if tree["conversation_id"] in self.singular_fails:
            return JSONResponse({"detail": "timeout"}, status_code=500)
        return JSONResponse(tree)

    def _page(self, tree, before):
        """One plural page of the current branch: the page_size records before index `before`."""
        records = current_branch(tree)
        end = len(records) if before is None else before
        start = max(0, end - self.page_size)
        page_info = {"start_cursor": f"cur-{start}", "end_cursor": f"cur-{max(end - 1, 0)}",
                     "has_previous_page": start > 0, "has_next_page": False}
        return {"messages": copy.deepcopy(records[start:end]), "page_info": page_info}

    async def plural(self, request):
        """GET /conversations/{id} (first page) and /conversations/{id}/messages (older pages).
        include_has_versions / num_turns are accepted in any order and ignored."""
        tree = self._tree(request)
        if tree is None:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        cursor = request.query_params.get("before")
        if cursor is not None and not (cursor.startswith("cur-") and cursor[4:].isdigit()):
            return JSONResponse({"detail": "bad cursor"}, status_code=400)
        page = self._page(tree, None if cursor is None else int(cursor[4:]))
        # Older pages carry only messages + page_info, also for P.1's "before= on the main path".
        if cursor is not None or request.url.path.endswith("/messages"):
            return JSONResponse(page)
        body = {k: v for k, v in tree.items() if k != "mapping"}
        body.update(context_truncation_continuation=None, **page)
        return JSONResponse(body)

    async def batch(self, request):
        ids = (await request.json()).get("conversation_ids", [])
        ids = [self.swap.get(i, i) for i in ids]
        return JSONResponse([self.conversations[i] for i in ids if i in self.conversations])

    async def init(self, request):
        cid = (await request.json() if await request.body() else {}).get("conversation_id")
        tree = self.conversations.get(cid) or synthetic_conversation(make_id("init"), turns=0)
        meta = {k: v for k, v in tree.items() if k != "mapping"}  # metadata only, no messages
        return JSONResponse(meta if cid in self.conversations else {**meta, "conversation_id": None})

    async def list_conversations(self, request):
        query = request.query_params
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 28))
        if limit > 100:
            return JSONResponse({"detail": "limit must be <= 100"}, status_code=422)
        archived = query.get("is_archived") == "true"
        in_projects = {cid for ids in self.projects.values() for cid in ids}
        trees = [t for cid, t in self.conversations.items()
                 if cid not in in_projects and (cid in self.archived) == archived]
        trees.sort(key=lambda t: t["update_time"], reverse=True)
        return JSONResponse({"items": [_list_item(t) for t in trees[offset:offset + limit]],
                             "total": len(trees), "limit": limit, "offset": offset,
                             "has_missing_conversations": False})

    async def sidebar(self, request):
        if self.sidebar_fails:
            return JSONResponse({"detail": "Internal error"}, status_code=500)
        items = [{"gizmo": {"gizmo": {"id": gid, "display": {"name": self.project_names.get(gid, gid)}}},
                  "conversations": {"items": []}} for gid in self.projects]
        return JSONResponse({"items": items, "cursor": None})

    async def project_conversations(self, request):
        gid = request.path_params["gid"]
        if gid not in self.projects:
            return JSONResponse({"detail": "Not found"}, status_code=404)
        trees = sorted((self.conversations[c] for c in self.projects[gid] if c in self.conversations),
                       key=lambda t: t["update_time"], reverse=True)
        return JSONResponse({"items": [_list_item(t) for t in trees], "cursor": None})

    # --- the send (SSE, delta encoding v1, section P.6) -------------------------------------

    async def send(self, request):
        body = await request.json()
        cid = body.get("conversation_id")
        if cid not in self.conversations:
            self._new_ids += 1
            cid = cid or make_id("new-conversation", self._new_ids)
            tree = synthetic_conversation(cid, turns=0, update_time=time.time(), title="New chat")
            self.add(tree)
        tree = self.conversations[cid]
        sent = body["messages"][0]
        text = "".join(p for p in sent["content"]["parts"] if isinstance(p, str))
        parent = body.get("parent_message_id")
        if parent not in tree["mapping"] or parent == ROOT:  # a new chat: continue after system
            parent = tree["current_node"]
        when = tree["update_time"] + 3.0
        user = make_message(sent.get("id") or make_id(cid, "user", when), "user", text, parent, when)
        reply_text = f"Reply to: {text}"
        reply = make_message(make_id(cid, "reply", user["id"]), "assistant", reply_text, user["id"],
                             when + 1.0)
        streaming = copy.deepcopy(reply)
        streaming.update(status="in_progress", end_turn=None, content={"content_type": "text", "parts": [""]})
        streaming["metadata"].pop("is_complete")
        half = len(reply_text) // 2
        chunks = [
            _sse('"v1"', "delta_encoding")
            + _sse({"type": "input_message", "input_message": user, "conversation_id": cid})
            + _sse({"v": {"message": streaming, "conversation_id": cid, "error": None}, "c": 0}, "delta"),
            _sse({"p": "/message/content/parts/0", "o": "append", "v": reply_text[:half]}, "delta"),
            _sse({"p": "/message/content/parts/0", "o": "append", "v": reply_text[half:]}, "delta"),
            _sse({"p": "", "o": "patch", "v": [
                {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
                {"p": "/message/end_turn", "o": "replace", "v": True},
                {"p": "/message/metadata", "o": "append", "v": {"is_complete": True, "can_save": True}}]},
                "delta"),
            _sse({"type": "message_stream_complete", "conversation_id": cid}) + _sse("[DONE]"),
        ]

        async def stream():
            for number, chunk in enumerate(chunks):
                if number:
                    await asyncio.sleep(self.stream_delay)
                if number == len(chunks) - 1:
                    # The turn is stored before the client can see the end of the stream.
                    _attach(tree["mapping"], user)
                    _attach(tree["mapping"], reply)
                    tree.update(current_node=reply["id"], update_time=when + 2.0)
                yield chunk.encode()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})


@contextlib.contextmanager
def serve_fake_chatgpt(fake, certfile, keyfile):
    """Serve fake.app over TLS on 127.0.0.1 in a background thread; yields the port."""
    # port=0: the kernel picks a free port, read back once listening. (Handing uvicorn a
    # pre-bound socket instead cost ~44 ms per request here: Nagle/delayed-ACK.)
    config = uvicorn.Config(fake.app, host="127.0.0.1", port=0, ssl_certfile=certfile,
                            ssl_keyfile=keyfile, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)  # signal handlers are skipped outside the main thread
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake chatgpt.com did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    ssl.get_server_certificate(("127.0.0.1", port), timeout=5)  # it answers TLS
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def chromium_args(port, *extra):
    """Flags for Debian's Chromium. A MAP target with a port replaces the port too (checked on
    Chromium 156): https://chatgpt.com/ (port 443) reaches 127.0.0.1:<port>, while the page keeps
    the origin https://chatgpt.com and sends Host: chatgpt.com. Without the port it goes to
    127.0.0.1:443. `extra` e.g. f"--ip-address-space-overrides=127.0.0.1:{port}=public" (LNA)."""
    rules = f"MAP chatgpt.com 127.0.0.1:{port},MAP chat.openai.com 127.0.0.1:{port}"
    return ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            f"--host-resolver-rules={rules}", *extra]


def launch(playwright, port, *extra_args):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=chromium_args(port, *extra_args))


def new_context(browser, **kw):
    """A context that accepts the self-signed certificate."""
    kw.setdefault("ignore_https_errors", True)
    return browser.new_context(**kw)


# The fake web app. It always calls the global `fetch` at call time (never a saved reference),
# because a userscript replaces window.fetch before this file runs. No innerHTML: only
# textContent, like a Trusted Types page.
APP_JS = r"""'use strict';
(function () {
  let HEADERS = {'Authorization': 'Bearer fake-access-token', 'ChatGPT-Account-Id': 'acct-test',
                 'OAI-Device-Id': 'device-test'};
  const base = location.pathname.startsWith('/plain/') ? '/plain' : '';
  const currentNode = {};
  const plural = id => `/backend-api/conversations/${id}?include_has_versions=true&num_turns=10`;

  function api(path, init) {
    init = init || {};
    return fetch(path, Object.assign({}, init, {headers: Object.assign({}, HEADERS, init.headers)}));
  }
  async function getText(path, init) { return (await api(path, init)).text(); }

  function render(messages) {
    const thread = document.getElementById('thread');
    thread.replaceChildren();
    for (const m of messages.filter(m => !m.metadata.is_visually_hidden_from_conversation)) {
      const div = thread.appendChild(document.createElement('div'));
      Object.assign(div, {className: 'message', textContent: m.content.parts.join('\n')});
      Object.assign(div.dataset, {role: m.author.role, messageId: m.id});
    }
  }

  const app = {
    // Switching workspace (or to the personal account: null) changes the headers of every
    // later request, as the real app does.
    switchAccount(account, project) {
      HEADERS = {'Authorization': 'Bearer fake-access-token', 'OAI-Device-Id': 'device-test'};
      if (account) HEADERS['ChatGPT-Account-Id'] = account;
      if (project) HEADERS['ChatGPT-Project-Id'] = project;
    },
    async open(id) {
      const path = `${base}/c/${id}`;
      if (location.pathname !== path) history.pushState(null, '', path);
      const response = await api(plural(id));
      const text = await response.text();
      if (response.ok) {
        const page = JSON.parse(text);
        currentNode[id] = page.current_node;
        render(page.messages);
      }
      await getText(`/backend-api/conversation/${id}/textdocs`);
      await getText(`/backend-api/conversation/${id}/stream_status`);
      return text;
    },
    async loadTree(id) {
      const text = await getText(`/backend-api/conversation/${id}`);
      try { currentNode[id] = JSON.parse(text).current_node || currentNode[id]; } catch (e) {}
      return text;
    },
    async send(id, text) {
      const body = {
        action: 'next', conversation_id: id || undefined,
        parent_message_id: (id && currentNode[id]) || 'client-created-root',
        messages: [{id: crypto.randomUUID(), author: {role: 'user'}, create_time: Date.now() / 1000,
                    content: {content_type: 'text', parts: [text]}, metadata: {}}],
        model: 'auto', timezone_offset_min: new Date().getTimezoneOffset(),
        conversation_mode: {kind: 'primary_assistant'}, supports_buffering: true,
        supported_encodings: ['v1'], paragen_cot_summary_display_override: 'allow',
      };
      const response = await api('/backend-api/f/conversation', {
        method: 'POST', body: JSON.stringify(body),
        headers: {'Content-Type': 'application/json', 'Accept': 'text/event-stream'}});
      // Read the stream chunk by chunk like the real app, to its end.
      const reader = response.body.getReader(), decoder = new TextDecoder();
      let sse = '';
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        sse += decoder.decode(chunk.value, {stream: true});
      }
      const cid = id || /"conversation_id": ?"([0-9a-f-]{36})"/.exec(sse)[1];
      // Like the real app: re-read the finished turn through the batch endpoint.
      await getText('/backend-api/conversations/batch', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({conversation_ids: [cid]})});
      return sse;
    },
    async fetchVariants(id) {
      const url = plural(id), texts = [];
      for (const target of [url, location.origin + url, new URL(url, location.origin)]) {
        texts.push(await (await fetch(target, {headers: HEADERS})).text());
      }
      texts.push(await (await fetch(new Request(url, {headers: HEADERS}))).text());
      return texts;
    },
    async timeFetches(id, n) {
      const durations = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await (await api(`/backend-api/conversation/${id}/stream_status`)).text();
        durations.push(performance.now() - started);
      }
      return durations;
    },
  };
  window.app = app;
  // Like the real app, a /c/<id> URL opens that chat by itself; tests can await app.ready.
  const match = /^(?:\/plain)?\/c\/([0-9a-f-]{36})$/.exec(location.pathname);
  app.ready = match ? app.open(match[1]).catch(e => String(e)) : Promise.resolve(null);
})();
"""


def conversation_with_files(conversation_id, fake, canvas=False, update_time=1791000000.5):
    """A tree whose messages point at files in the ways section 6.3/7.2/7.3 describe: an
    upload (file-service pointer + attachment), an attached PDF, a 4o generated image
    (sediment pointer, watermarked variant) and a code-interpreter plot. The bytes are put on
    the fake CDN. With canvas=True a canmore textdoc is created and served at .../textdocs.
    Returns (tree, {file_id: bytes})."""
    tree = synthetic_conversation(conversation_id, turns=2, update_time=update_time)
    tag = conversation_id[:8]
    files = {
        f"file-up{tag}": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "trail.png", "image/png"),
        f"file-doc{tag}": (b"%PDF-1.4 synthetic " * 100, "notes.pdf", "application/pdf"),
        f"file_00gen{tag}": (b"RIFF\x00\x00WEBPsynthetic-generated" * 50, None, "image/webp"),
        f"file-plot{tag}": (b"\x89PNG plot" * 300, None, "image/png"),
    }
    for file_id, (data, name, mime) in files.items():
        fake.add_file(file_id, data, name or f"{file_id}.bin", mime)
    messages = [tree["mapping"][n]["message"] for n in tree["mapping"] if tree["mapping"][n]["message"]]
    user = next(m for m in messages if m["author"]["role"] == "user")
    user["content"] = {"content_type": "multimodal_text", "parts": [
        {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://file-up{tag}",
         "size_bytes": len(files[f"file-up{tag}"][0]), "width": 64, "height": 64, "metadata": {"dalle": None}},
        user["content"]["parts"][0]]}
    user["metadata"]["attachments"] = [
        {"id": f"file-up{tag}", "name": "trail.png", "size": len(files[f"file-up{tag}"][0]), "mime_type": "image/png"},
        {"id": f"file-doc{tag}", "name": "notes.pdf", "size": len(files[f"file-doc{tag}"][0]),
         "mime_type": "application/pdf"}]
    answers = [m for m in messages if m["author"]["role"] == "assistant"]
    answers[0]["content"] = {"content_type": "multimodal_text", "parts": [
        {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://file_00gen{tag}", "size_bytes": 2000,
         "metadata": {"generation": {"gen_id": "g1"}, "watermarked_asset_pointer": f"sediment://abc123#file_00gen{tag}"}}]}
    answers[1]["metadata"]["aggregate_result"] = {"status": "success", "messages": [
        {"message_type": "image", "image_url": f"file-service://file-plot{tag}", "width": 10, "height": 10}]}
    if canvas:
        answers[1]["recipient"] = "canmore.create_textdoc"
        answers[1]["metadata"]["canvas"] = {"textdoc_id": f"td-{tag}", "textdoc_type": "document", "version": 1}
        fake.textdocs[conversation_id] = [{"id": f"td-{tag}", "version": 1, "title": "Trail plan",
                                           "textdoc_type": "document", "content": "# Trail plan\nNorth loop first."}]
    return tree, {file_id: data for file_id, (data, _, _) in files.items()}
