"""The capture side as served: the userscript and the console snippet, pre-filled.

One source file (userscript/chatgpt-archiver.user.js, shipped inside the package) gets the
server's URL and, for the snippet only, a token. The userscript never carries a token: it asks
for one once and keeps it in the userscript manager's storage.
"""

import json
import re
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__

USERSCRIPT_PATH = "/userscript.user.js"
_SOURCE = "chatgpt-archiver.user.js"
_LOOPBACK = ("127.0.0.1", "localhost")


def userscript_source():
    # From a checkout, the file at the top of the repository; installed, the packaged copy.
    checkout = Path(__file__).resolve().parent.parent / "userscript" / _SOURCE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return files("archiver.userscript").joinpath(_SOURCE).read_text(encoding="utf-8")


def _fill(source, name, value):
    placeholder = f'var {name} = "__{name}__";'
    if placeholder not in source:
        raise RuntimeError(f"userscript has no {name} placeholder")
    return source.replace(placeholder, f"var {name} = {json.dumps(value)};", 1)


_VERSION_LINE = re.compile(r"^// @version +\S+$", re.M)


def _with_version(source):
    """@version follows the package: a manager offers an update only when it grows."""
    source, count = _VERSION_LINE.subn(f"// @version      {__version__}", source, count=1)
    if not count:
        raise RuntimeError("userscript has no @version line")
    return source


def userscript_version(source):
    match = _VERSION_LINE.search(source)
    return match.group(0).split()[-1] if match else None


def render_userscript(server_url):
    """The userscript with this server's URL and version, an @connect for its host, and
    update URLs."""
    server_url = server_url.rstrip("/")
    source = _fill(_with_version(userscript_source()), "ARCHIVER_SERVER", server_url)
    host = urlsplit(server_url).hostname or "127.0.0.1"
    extra = [f"// @downloadURL  {server_url}{USERSCRIPT_PATH}", f"// @updateURL    {server_url}{USERSCRIPT_PATH}"]
    if host not in _LOOPBACK:
        extra.insert(0, f"// @connect      {host}")
    return source.replace("// ==/UserScript==", "\n".join(extra + ["// ==/UserScript=="]), 1)


def render_snippet(server_url, token):
    """The console snippet: the same code with URL and token baked in, posting by fetch.

    Wrapped in a function so the token lives in a closure: pasted bare, its top-level `var`s
    would be properties of window, readable by any script on chatgpt.com (issue 12.5)."""
    source = _fill(userscript_source(), "ARCHIVER_SERVER", server_url.rstrip("/"))
    source = _fill(source, "ARCHIVER_TOKEN", token)
    return f"(function () {{\n{source}\n}})();\n"
