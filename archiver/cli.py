"""Keep your own archive of your ChatGPT conversations."""

import json
import sqlite3
import sys
import time
from pathlib import Path

import click

from . import __version__
from .db import (
    ArchiveError,
    NoSuchConversation,
    publish_conversation,
    unpublish_conversation,
    archive_stats,
    open_db,
    rebuild,
    write_transaction,
)
from .tokens import TokenError, create_token, list_tokens, revoke_token

DEFAULT_DB = "archive.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
BULK_IMPORT_BYTES = 8 * 1024 * 1024

db_argument = click.argument(
    "db", required=False, default=DEFAULT_DB, type=click.Path(dir_okay=False)
)


def _open(path):
    try:
        return open_db(path)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None


class ArchiverGroup(click.Group):
    """Turns database errors anywhere below into one readable line, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except sqlite3.Error as e:
            raise click.ClickException(f"archive error: {e}") from None


@click.group(cls=ArchiverGroup)
@click.version_option(__version__, prog_name="chatgpt-archiver")
def cli():
    "Keep your own lossless, searchable archive of your ChatGPT conversations."


@cli.command()
@db_argument
@click.option(
    "-h",
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. 127.0.0.1 keeps the archive on this machine; 0.0.0.0 exposes"
    " it to the network, and then browsing needs the root login link printed at start.",
)
@click.option("-p", "--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option("--root", is_flag=True, help="Print a one-time link that signs you in as root.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Origin allowed to post captures from a web page (repeatable)."
    " Default: https://chatgpt.com and https://chat.openai.com.",
)
@click.option(
    "--max-body",
    type=int,
    default=None,
    help="Largest accepted request body in bytes (default 100 MiB).",
)
@click.option("--body-idle", type=float, default=15.0, show_default=True,
              help="Seconds a request body may pause before the request is refused (408).")
@click.option("--body-deadline", type=float, default=300.0, show_default=True,
              help="Seconds a whole request body may take to arrive (408 after).")
@click.option("--header-timeout", type=float, default=10.0, show_default=True,
              help="Seconds a request's headers may take to arrive before the connection is closed.")
def serve(db, host, port, root, cors_origins, max_body, body_idle, body_deadline, header_timeout):
    """Serve the ingest API and Datasette on one port.

    Example:

        chatgpt-archiver serve archive.db --port 8001
    """
    import uvicorn

    from .app import DEFAULT_MAX_BODY, DEFAULT_ORIGINS, create_app, root_login_path
    from .guards import is_loopback_name
    from .serving import header_deadline_protocol

    public = not is_loopback_name(host.lower())
    try:
        app = create_app(
            db,
            public=public,
            root=root,
            cors_origins=cors_origins or DEFAULT_ORIGINS,
            max_body=max_body or DEFAULT_MAX_BODY,
            body_idle=body_idle,
            body_deadline=body_deadline,
        )
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    click.echo(f"Archive:  {Path(db).resolve()}")
    click.echo(f"Browse:   {base}/")
    click.echo(f"Ingest:   POST {base}/api/conversations (Authorization: Bearer <token>)")
    click.echo(f"Capture:  install the userscript from {base}/userscript.user.js")
    if public or root:
        click.echo(f"Sign in:  {base}{root_login_path(app)}  (one-time link)")
    if public:
        click.echo("Bound beyond loopback: the archive is readable only after signing in.")
    uvicorn.run(app, host=host, port=port, log_level="info", http=header_deadline_protocol(header_timeout))


def _write(db, change, *args):
    """Run one library change in a write transaction; its named errors become one line."""
    database = _open(db)
    try:
        with write_transaction(database) as conn:
            return change(conn, *args)
    except (TokenError, NoSuchConversation) as e:
        raise click.ClickException(str(e)) from None


def _new_token(db, name):
    return _write(db, create_token, name)


@cli.group()
def token():
    "Create, list and revoke API tokens."


@token.command(name="create")
@db_argument
@click.option("-n", "--name", required=True, help="A name to recognise the token by, e.g. laptop.")
def token_create(db, name):
    """Create a token and print it. It is shown this once: store it where you need it.

    Example:

        TOKEN=$(chatgpt-archiver token create --name laptop)
    """
    secret = _new_token(db, name)
    click.echo(secret)
    click.echo(f"Token {name!r} created; it will not be shown again.", err=True)


@token.command(name="list")
@db_argument
def token_list(db):
    """List tokens: names, creation, last use. Secrets are never shown.

    Example:

        chatgpt-archiver token list
    """
    rows = list_tokens(_open(db).conn)
    if not rows:
        click.echo("No tokens. Create one with: chatgpt-archiver token create --name NAME")
        return
    click.echo(f"{'name':<20} {'created':<29} {'last used':<29} status")
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['name']:<20} {row['created_at']:<29} {row['last_used_at'] or 'never':<29} {status}"
        )


@token.command(name="revoke")
@db_argument
@click.argument("name")
def token_revoke(db, name):
    """Revoke a token by name; it stops working at once, no restart needed.

    Example:

        chatgpt-archiver token revoke archive.db laptop
    """
    _write(db, revoke_token, name)
    click.echo(f"Token {name!r} revoked.")


def _split_db(args):
    """``import [DB] PATH...``: the first argument is the archive if it looks like one."""
    first = Path(args[0])
    if len(args) > 1 and (first.suffix in SQLITE_SUFFIXES or _is_sqlite(first)):
        return args[0], args[1:]
    return DEFAULT_DB, args


def _is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


@cli.command(name="import")
@click.argument("args", nargs=-1, required=True, metavar="[DB] PATH...")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_(args, quiet):
    """Import OpenAI's data export: the .zip, an extracted folder, conversations.json, the
    split conversations-000.json ... files, or single conversation files. Conversations are
    streamed, so any size works; re-importing changes nothing.

    Example:

        chatgpt-archiver import archive.db ~/Downloads/chatgpt-export.zip
    """
    from .importer import entries, import_paths

    db_path, paths = _split_db(args)
    database = _open(db_path)
    total = 0
    for path in paths:
        try:
            total += sum(e.size for e in entries(path))
        except Exception:  # noqa: BLE001 - reported properly by the import itself
            pass
    started = time.monotonic()

    def describe(summary):
        if summary is None:
            return ""
        rate = summary.messages / max(time.monotonic() - started, 1e-6)
        return f"{summary.conversations:,} conversations, {summary.messages:,} messages, {rate:,.0f} msg/s"

    with click.progressbar(length=max(total, 1), label="Importing", show_eta=True, show_percent=True,
                           item_show_func=describe, file=sys.stderr,
                           hidden=quiet or not sys.stderr.isatty()) as bar:
        last = [0]

        def progress(summary):
            bar.current_item = summary
            bar.update(max(0, summary.bytes_done - last[0]))
            last[0] = max(last[0], summary.bytes_done)

        # A big import into a small archive: index for search once at the end.
        size = Path(db_path).stat().st_size if Path(db_path).exists() else 0
        bulk = total >= BULK_IMPORT_BYTES and total >= size / 4
        summary = import_paths(database, paths, progress=progress, bulk=bulk)
    _report(summary, db_path)


def _report(summary, db_path):
    if not summary.changed_anything and not summary.skipped:
        click.echo(f"Nothing changed: {summary.conversations:,} conversations were already in {db_path}.")
    else:
        click.echo(
            f"Imported {summary.conversations:,} conversations into {db_path}: {summary.new:,} new,"
            f" {summary.updated:,} updated, {summary.unchanged:,} unchanged;"
            f" {summary.messages:,} messages stored ({summary.new_messages:,} new)."
        )
    if summary.assets:
        click.echo(f"Assets: {summary.assets:,} stored, {summary.assets_known:,} already there.")
    if summary.textdocs:
        click.echo(f"Canvas documents: {summary.textdocs:,}.")
    if summary.tables:
        click.echo(f"Export files kept as tables: {', '.join(summary.tables)}.")
    for where in summary.unknown:
        click.echo(f"Not recognised, left out: {where}", err=True)
    for problem in summary.skipped:
        click.echo(f"Skipped: {problem}", err=True)
    if summary.skipped:
        raise click.ClickException(f"{len(summary.skipped)} problem(s), see above; everything else was imported")


@cli.command()
@db_argument
@click.option("-n", "--token-name", required=True, help="Name for the new token the snippet carries.")
@click.option(
    "--url",
    default="http://127.0.0.1:8001",
    show_default=True,
    help="The archive server's address as the browser reaches it.",
)
def snippet(db, token_name, url):
    """Print a snippet to paste into the DevTools console on chatgpt.com, with the server's
    URL and a new token baked in. For people who do not use a userscript manager; the
    token lives in the snippet, so revoke it when you are done.

    Example:

        chatgpt-archiver snippet --token-name console | pbcopy
    """
    from .scripts import render_snippet

    click.echo(render_snippet(url, _new_token(db, token_name)))
    click.echo(
        f"Snippet printed with new token {token_name!r}; paste it into the console on"
        " https://chatgpt.com (it holds the token: treat it as a secret).",
        err=True,
    )


@cli.command()
@db_argument
@click.argument("conversation_id")
def publish(db, conversation_id):
    """Share one conversation on purpose. When the server is bound beyond loopback, anyone can
    read published conversations (and nothing else) at /-/published.

    Example:

        chatgpt-archiver publish archive.db 6a1b2c3d-0000-8000-8000-00000000beef
    """
    _change_publication(db, conversation_id, publish_conversation, "published")


@cli.command()
@db_argument
@click.argument("conversation_id")
def unpublish(db, conversation_id):
    """Stop sharing a conversation.

    Example:

        chatgpt-archiver unpublish archive.db 6a1b2c3d-0000-8000-8000-00000000beef
    """
    _change_publication(db, conversation_id, unpublish_conversation, "unpublished")


def _change_publication(db, conversation_id, change, done):
    _write(db, change, conversation_id)
    click.echo(f"Conversation {conversation_id} {done}.")


@cli.command(name="rebuild")
@db_argument
def rebuild_(db):
    """Re-derive all conversation and message rows from the stored raw captures, e.g.
    after upgrading to a better reshaper. Captured history is never lost.

    Example:

        chatgpt-archiver rebuild archive.db
    """
    database = _open(db)
    with write_transaction(database) as conn:
        replayed, skipped = rebuild(conn)
    click.echo(f"Rebuilt from {replayed} captures" + (f" ({skipped} unreadable)" if skipped else ""))


@cli.command()
@db_argument
def stats(db):
    """Counts, and content types the archiver did not recognise (format drift).

    Example:

        chatgpt-archiver stats
    """
    click.echo(json.dumps(archive_stats(_open(db).conn), indent=2))


@cli.command()
def schema():
    """Print the SQL schema of a new archive (what schema.sql holds).

    Example:

        chatgpt-archiver schema > schema.sql
    """
    sys.stdout.write(open_db(":memory:").schema + "\n")
