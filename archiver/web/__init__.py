"""The Datasette plugin: token auth for the insert API (auth.py) and the browsing pages
(pages.py, templates/). Registered through the `datasette` entry point, so it is on with
`chatgpt-archiver serve` and with a plain `datasette archive.db` alike."""

import datasette.handle_exception as _datasette_errors

from .auth import actor_from_request, permission_resources_sql  # noqa: F401
from .errors import handle_exception  # noqa: F401
from .headers import asgi_wrapper, prepare_jinja2_environment  # noqa: F401
from .pages import extra_css_urls, menu_links, register_routes, render_cell, top_homepage  # noqa: F401

# When `rich` happens to be installed, Datasette prints every handled exception, a 400 for
# a bad request included, as a traceback with the local variables of each frame. Bad input
# must get a clear error, not a traceback in the log (and local variables could one day hold
# a request's headers). Real 500s still print a plain traceback.
_datasette_errors.rich = None
