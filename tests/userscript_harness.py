"""What a userscript manager provides, for the browser tests: GM_* functions whose storage is
shared by every tab of the context (kept in localStorage under "gm:", so it survives reloads as a
manager's does) and whose GM_xmlhttpRequest runs in Python, outside the page, as a manager's runs
in the extension (no CSP, CORS or Local Network Access in the way, no page cookies).

The shim keeps its own references to the built-ins it uses, as a manager's isolated world would:
a hostile page script replacing JSON or Promise.prototype.then cannot reach into it."""

import base64
import json
import threading
import time
from urllib.parse import urlsplit

import httpx

from fake_chatgpt import CDN_HOST, new_context

GM_SHIM = """
(() => {
  const parse = JSON.parse, stringify = JSON.stringify, ls = localStorage;
  const getItem = Storage.prototype.getItem.bind(ls), setItem = Storage.prototype.setItem.bind(ls);
  const removeItem = Storage.prototype.removeItem.bind(ls), key = Storage.prototype.key.bind(ls);
  const lengthOf = Object.getOwnPropertyDescriptor(Storage.prototype, "length").get.bind(ls);
  const then = Function.prototype.call.bind(Promise.prototype.then);
  const b64 = window.btoa, unb64 = window.atob, xhr = window.__gmXhr;
  const store = (k) => "gm:" + k;
  window.__gmMenu = {};
  window.GM_getValue = (k, d) => { const v = getItem(store(k)); return v === null ? d : parse(v); };
  window.GM_setValue = (k, v) => setItem(store(k), stringify(v));
  window.GM_deleteValue = (k) => removeItem(store(k));
  window.GM_listValues = () => {
    const out = [];
    for (let i = 0; i < lengthOf(); i++) { const k = key(i); if (k && k.startsWith("gm:")) out[out.length] = k.slice(3); }
    return out;
  };
  window.GM_registerMenuCommand = (name, fn) => { window.__gmMenu[name] = fn; };
  const toB64 = (buffer) => {
    const bytes = new Uint8Array(buffer); let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return b64(s);
  };
  const fromB64 = (text) => {
    const s = unb64(text), bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return bytes.buffer;
  };
  window.GM_xmlhttpRequest = (d) => {
    const binary = d.data instanceof ArrayBuffer;
    then(xhr({method: d.method, url: d.url, headers: d.headers || {}, anonymous: !!d.anonymous,
              responseType: d.responseType || null,
              data: d.data == null ? null : binary ? toB64(d.data) : String(d.data), binary}),
      (r) => r.status ? d.onload({status: r.status, responseText: r.text, responseHeaders: r.headers,
                                  response: d.responseType === "arraybuffer" ? fromB64(r.body) : r.text})
                      : d.onerror({error: "network"}),
      () => d.onerror({error: "network"}));
  };
  window.unsafeWindow = window;
})();
"""


class Manager:
    """The Python side of GM_xmlhttpRequest for one test: logs every request, and reaches the
    fake ChatGPT's host names (chatgpt.com, the CDN) on the fake's port."""

    def __init__(self, fake_port):
        self.fake_port = fake_port
        self.log = []
        self.lock = threading.Lock()

    def __call__(self, request):
        data = request["data"]
        if data is not None:
            data = base64.b64decode(data) if request.get("binary") else data.encode("utf-8")
        entry = {**request, "data": data, "time": time.monotonic(), "status": None}
        with self.lock:
            self.log.append(entry)
        answer = self._send(request["method"], request["url"], request["headers"], data)
        entry["status"] = answer["status"]
        if request.get("responseType") == "arraybuffer":
            answer["body"] = base64.b64encode(answer.pop("content")).decode("ascii")
        else:
            answer.pop("content")
        return answer

    def _send(self, method, url, headers, data):
        for _ in range(5):  # a manager follows redirects
            parts = urlsplit(url)
            target, extra = url, {}
            if parts.hostname in ("chatgpt.com", "chat.openai.com", CDN_HOST):
                target = f"https://127.0.0.1:{self.fake_port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
                extra = {"Host": parts.hostname}
            try:
                with httpx.Client(verify=False, timeout=30) as client:
                    response = client.request(method, target, headers={**headers, **extra}, content=data)
            except httpx.HTTPError:
                return {"status": 0, "text": "", "headers": "", "content": b""}
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = response.headers["location"]
                method, data = ("GET", None) if response.status_code == 303 else (method, data)
                continue
            binary = not response.headers.get("content-type", "").startswith(("application/json", "text/"))
            return {"status": response.status_code, "text": "" if binary else response.text,
                    "headers": "\r\n".join(f"{k}: {v}" for k, v in response.headers.items()),
                    "content": response.content}
        return {"status": 0, "text": "", "headers": "", "content": b""}

    def requests(self, host=None, path=None):
        out = []
        for entry in list(self.log):
            parts = urlsplit(entry["url"])
            if (host is None or parts.hostname == host) and (path is None or parts.path == path):
                out.append(entry)
        return out


def scripted_context(browser, archive, manager, script=True, pace_ms=50, settings=None, **kw):
    context = new_context(browser, **kw)
    if script:
        context.expose_function("__gmXhr", manager)
        values = json.dumps({"token": archive.token, "paceMs": pace_ms, **(settings or {})})
        context.add_init_script(GM_SHIM + f"""
            for (const [k, v] of Object.entries({values}))
              if (localStorage.getItem("gm:" + k) === null) localStorage.setItem("gm:" + k, JSON.stringify(v));
        """)
        served = httpx.get(archive.url + "/userscript.user.js").text
        context.add_init_script(served)
    return context


def queued(page):
    """The userscript's queue, as the manager's storage holds it: [item, ...]."""
    return page.evaluate("""Object.keys(localStorage).filter(k => k.startsWith('gm:q:'))
        .map(k => JSON.parse(localStorage.getItem(k)))""")


def wait_for(page, predicate, timeout=20, what="condition"):
    """Poll while letting Playwright serve the page's calls into Python (no time.sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)
