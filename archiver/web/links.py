"""Links into the transcript, shared by table cells, search results and the list."""

from urllib.parse import quote


def transcript_url(datasette, cid, node=None):
    """The transcript, or the transcript at one message on its branch. Ids come from
    captures: quoted, so none can end the path or add a query parameter."""
    url = datasette.urls.path(f"-/c/{quote(str(cid), safe='')}")
    if node:
        node = quote(str(node), safe="")
        return f"{url}?leaf={node}#m-{node}"
    return url
