"""The Datasette plugin: token auth for the insert API (auth.py) and the browsing pages
(pages.py, templates/). Registered through the `datasette` entry point, so it is on with
`chatgpt-archiver serve` and with a plain `datasette archive.db` alike."""

from .auth import actor_from_request, permission_resources_sql  # noqa: F401
from .pages import menu_links, register_routes, render_cell, top_homepage  # noqa: F401
