"""A second line of defence on every page, Datasette's own included: a Content-Security-Policy
that lets no script run but the pages' own, and an HttpOnly root cookie.

Conversation text is escaped everywhere; the policy is for the day an escape is missed. Script
is allowed from this origin, and inline only with the response's nonce. Datasette's templates
have inline scripts, some carrying per-page data, so they cannot be pinned by hash: the Jinja
loader gives every ``<script`` in a template's *source* the nonce (template source is ours and
Datasette's; stored content reaches a page only through escaped variables, so it never gets
one). Datasette's one inline handler (table.html's ``onclick="openColumnChooser()"``) is
allowed by its hash. Inline ``<style>`` is allowed: CSS cannot run script.
Registered as plugin hooks, so it holds under ``chatgpt-archiver serve`` and plain ``datasette``.
"""

import base64
import contextvars
import hashlib
import re
import secrets

from datasette import hookimpl
from jinja2 import BaseLoader

_nonce = contextvars.ContextVar("archiver_csp_nonce", default="")

INLINE_HANDLERS = ("openColumnChooser()",)


def _sha256(source):
    return "'sha256-{}'".format(base64.b64encode(hashlib.sha256(source.encode()).digest()).decode())


def policy(nonce):
    handlers = " ".join(_sha256(h) for h in INLINE_HANDLERS)
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}' 'unsafe-hashes' {handlers};"
        " style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'; form-action 'self'"
    )


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


class NonceLoader(BaseLoader):
    """Wraps Datasette's template loader: every ``<script`` in a template gets the nonce."""

    def __init__(self, inner):
        self.inner = inner

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        return _SCRIPT_TAG.sub('<script nonce="{{ archiver_csp_nonce() }}"', source), filename, uptodate

    def list_templates(self):
        return self.inner.list_templates()


@hookimpl
def prepare_jinja2_environment(env, datasette):
    if not isinstance(env.loader, NonceLoader):
        env.loader = NonceLoader(env.loader)
    # A function, not a variable: macros imported without context still see it.
    env.globals["archiver_csp_nonce"] = _nonce.get


def secure_headers(headers, nonce):
    """The response's headers with the policy added to HTML and HttpOnly on the root cookie."""
    out, html, has_policy = [], False, False
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-type" and value.lower().startswith(b"text/html"):
            html = True
        elif lower == b"content-security-policy":
            has_policy = True  # archived files carry their own sandbox
        elif lower == b"set-cookie" and value.startswith(b"ds_actor=") and b"httponly" not in value.lower():
            value += b"; HttpOnly"
        out.append((name, value))
    if html and not has_policy:
        out.append((b"content-security-policy", policy(nonce).encode()))
    return out


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            nonce = secrets.token_urlsafe(18)
            token = _nonce.set(nonce)

            async def send_secured(message):
                if message["type"] == "http.response.start":
                    message = dict(message, headers=secure_headers(message.get("headers") or [], nonce))
                await send(message)

            try:
                await app(scope, receive, send_secured)
            finally:
                _nonce.reset(token)

        return with_headers

    return wrap
