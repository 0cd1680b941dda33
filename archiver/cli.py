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
from .privacy import (
    EXCLUSION_KINDS,
    SETTINGS,
    NothingToForget,
    PrivacyProblem,
    add_exclusion,
    forget_conversation,
    get_settings,
    list_exclusions,
    remove_exclusion,
    set_setting,
)
from .tokens import TokenError, create_token, list_tokens, revoke_token

DEFAULT_DB = "archive.db"
DB_ENV = "CHATGPT_ARCHIVER_DB"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
BULK_IMPORT_BYTES = 8 * 1024 * 1024
NO_ARCHIVE_HINT = "start one with `chatgpt-archiver serve` or `chatgpt-archiver import EXPORT`, or name yours with --db"


def db_option(command):
    return click.option(
        "-d", "--db", default=DEFAULT_DB, show_default=True, envvar=DB_ENV, show_envvar=True,
        type=click.Path(dir_okay=False), help="The archive file.",
    )(command)


def looks_like_db(arg):
    return Path(arg).suffix.lower() in SQLITE_SUFFIXES or _is_sqlite(arg)


def _is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


class OneLineUsageError(click.UsageError):
    """A usage error as one line (click prints the usage and a hint around it)."""

    def show(self, file=None):
        where = self.ctx.command_path if self.ctx else "chatgpt-archiver"
        click.echo(f"Error: {self.format_message()} (see {where} --help)", err=True)


def _one_line_usage(parse):
    def parse_args(self, ctx, args):
        try:
            return parse(self, ctx, args)
        except click.UsageError as e:
            error = OneLineUsageError(e.format_message(), e.ctx or ctx)
            error.exit_code = e.exit_code
            raise error from None

    return parse_args


class ArchiveCommand(click.Command):
    """Every command names its archive the same way: ``--db PATH``, or ``CHATGPT_ARCHIVER_DB``,
    or ``archive.db`` in the current folder.

    Earlier releases and the README took the archive as an optional first argument
    (``stats my.db``, ``import my.db export.zip``); that still works, by one rule for every
    command: the first argument is the archive when it names a database (ends in .db,
    .sqlite or .sqlite3, or is an SQLite file), or when the command takes no other argument.
    So ``token revoke console`` revokes the token ``console`` in archive.db, and
    ``publish 6a1b…`` publishes that conversation, as printed."""

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and not any(
            a in ("-d", "--db") or a.startswith("--db=") for a in args
        ):
            positional = any(isinstance(p, click.Argument) for p in self.params)
            if not positional or looks_like_db(args[0]):
                args = ["--db", *args]
        return super().parse_args(ctx, args)

    parse_args = _one_line_usage(parse_args)


def _open(path, *, create=False):
    """The archive for a command. Commands that only read or change what is there
    (``create=False``) never create a file: a typo must not leave an empty archive behind."""
    # (A folder is refused earlier, by --db's click.Path(dir_okay=False).)
    if not create and not Path(path).exists():
        raise click.ClickException(f"no archive at {path}: {NO_ARCHIVE_HINT}")
    try:
        return open_db(path)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None


class ArchiverGroup(click.Group):
    """Turns database errors anywhere below into one readable line, not a traceback."""

    command_class = ArchiveCommand
    parse_args = _one_line_usage(click.Group.parse_args)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:
            raise OneLineUsageError(e.format_message(), ctx) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except sqlite3.Error as e:
            raise click.ClickException(f"archive error: {e}") from None


ArchiverGroup.group_class = ArchiverGroup


@click.group(cls=ArchiverGroup)
@click.version_option(__version__, prog_name="chatgpt-archiver")
def cli():
    "Keep your own lossless, searchable archive of your ChatGPT conversations."


@cli.command()
@db_option
@click.option(
    "-h",
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. 127.0.0.1 keeps the archive on this machine; 0.0.0.0 exposes"
    " it to the network, and then browsing needs the root login link printed at start.",
)
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--root", is_flag=True, help="Print a one-time link that signs you in as root.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Origin allowed to post captures from a web page (repeatable)."
    " Default: https://chatgpt.com and https://chat.openai.com.",
)
@click.option("--max-body", type=click.IntRange(min=1), default=None,
              help="Largest accepted request body in bytes (default 100 MiB).")
@click.option("--body-idle", type=click.FloatRange(min=0, min_open=True), default=15.0, show_default=True,
              help="Seconds a request body may pause before the request is refused (408).")
@click.option("--body-deadline", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Seconds a whole request body may take to arrive (408 after).")
@click.option("--header-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Seconds a request's headers may take to arrive before the connection is closed.")
@click.option("--max-asset", type=click.IntRange(min=1), default=None,
              help="Largest file (image, audio, upload) the userscript may post, in bytes (default 50 MiB).")
def serve(db, host, port, root, cors_origins, max_body, body_idle, body_deadline, header_timeout, max_asset):
    """Serve the ingest API and Datasette on one port. It keeps running until you press
    Ctrl+C: use a second terminal for the other commands.

    Example:

        chatgpt-archiver serve --port 8001
    """
    import uvicorn

    from .app import DEFAULT_MAX_ASSET, DEFAULT_MAX_BODY, DEFAULT_ORIGINS, create_app, root_login_path
    from .guards import is_loopback_name
    from .serving import CannotListen, header_deadline_protocol, listen

    public = not is_loopback_name(host.lower())
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    # Take the port before anything else: a port in use is one line, and no banner claims
    # a server that never started.
    try:
        sock = listen(host, port)
    except CannotListen as e:
        raise click.ClickException(str(e)) from None
    try:
        app = create_app(
            db,
            public=public,
            root=root,
            cors_origins=cors_origins or DEFAULT_ORIGINS,
            max_body=max_body or DEFAULT_MAX_BODY,
            body_idle=body_idle,
            body_deadline=body_deadline,
            max_asset=max_asset or DEFAULT_MAX_ASSET,
            # Links in MCP results: an unspecified address (0.0.0.0) is no place to link to.
            base_url=base if host not in ("0.0.0.0", "::") else f"http://127.0.0.1:{port}",
        )
    except ArchiveError as e:
        sock.close()
        raise click.ClickException(str(e)) from None
    click.echo(f"Archive:  {Path(db).resolve()}")
    click.echo(f"Browse:   {base}/")
    click.echo(f"Ingest:   POST {base}/api/conversations (Authorization: Bearer <token>)")
    click.echo(f"Capture:  install the userscript from {base}/userscript.user.js")
    click.echo(f"MCP:      {base}/mcp (Authorization: Bearer <token from: token create --scope read>)")
    if public or root:
        click.echo(f"Sign in:  {base}{root_login_path(app)}  (one-time link)")
    if public:
        click.echo("Bound beyond loopback: the archive is readable only after signing in.")
    click.echo("Serving until Ctrl+C; run other commands in a second terminal.")
    config = uvicorn.Config(app, host=host, port=port, log_level="info",
                            http=header_deadline_protocol(header_timeout))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down cleanly
        pass


def _write(db, change, *args, create=False):
    """Run one library change in a write transaction; its named errors become one line."""
    database = _open(db, create=create)
    try:
        with write_transaction(database) as conn:
            return change(conn, *args)
    except (TokenError, NoSuchConversation, PrivacyProblem, NothingToForget) as e:
        raise click.ClickException(str(e)) from None


def _new_token(db, name, scope="write"):
    return _write(db, create_token, name, scope, create=True)


@cli.group()
def token():
    "Create, list and revoke API tokens."


@token.command(name="create")
@db_option
@click.option("-n", "--name", required=True, help="A name to recognise the token by, e.g. laptop.")
@click.option("-s", "--scope", type=click.Choice(["write", "read"]), default="write", show_default=True,
              help="write: post captures and rows (browsers, scripts). read: search and read the archive"
                   " over MCP (AI tools); it can never write.")
def token_create(db, name, scope):
    """Create a token and print it. It is shown this once: store it where you need it.

    Example:

        TOKEN=$(chatgpt-archiver token create --name laptop)

        chatgpt-archiver token create --name claude --scope read
    """
    secret = _new_token(db, name, scope)
    click.echo(secret)
    click.echo(f"Token {name!r} created; it will not be shown again.", err=True)


@token.command(name="list")
@db_option
def token_list(db):
    """List tokens: names, creation, last use. Secrets are never shown.

    Example:

        chatgpt-archiver token list
    """
    rows = list_tokens(_open(db).conn)
    if not rows:
        click.echo("No tokens. Create one with: chatgpt-archiver token create --name NAME")
        return
    click.echo(f"{'name':<20} {'scope':<6} {'created':<29} {'last used':<29} status")
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['name']:<20} {row['scope']:<6} {row['created_at']:<29} {row['last_used_at'] or 'never':<29} {status}"
        )


@token.command(name="revoke")
@db_option
@click.argument("name")
def token_revoke(db, name):
    """Revoke a token by name; it stops working at once, no restart needed.

    Example:

        chatgpt-archiver token revoke laptop
    """
    _write(db, revoke_token, name)
    click.echo(f"Token {name!r} revoked.")


@cli.command(name="import")
@db_option
@click.argument("paths", nargs=-1, required=True, metavar="EXPORT...")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_(db, paths, quiet):
    """Import OpenAI's data export: the .zip, an extracted folder, conversations.json, the
    split conversations-000.json ... files, or single conversation files. Conversations are
    streamed, so any size works; re-importing changes nothing.

    Example:

        chatgpt-archiver import ~/Downloads/chatgpt-export.zip
    """
    from .importer import ImportProblem, check_import_path, prepared_apart
    from .workers import ahead

    # Every argument is checked before the archive is touched: a typo or the wrong file is
    # one line, and no empty archive is left behind.
    found = []
    for path in paths:
        try:
            found.append((path, check_import_path(path)))
        except ImportProblem as e:
            raise click.ClickException(f"{path}: {e}") from None
    # Preparing the conversations files starts now, while the archive is opened.
    with ahead(prepared_apart(found)):
        _import_into(db, paths, sum(e.size for _, its in found for e in its), quiet)


def _import_into(db, paths, total, quiet):
    from .importer import import_paths

    existed = Path(db).exists()
    database = _open(db, create=True)
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
        size = Path(db).stat().st_size if existed else 0
        bulk = total >= BULK_IMPORT_BYTES and total >= size / 4
        summary = import_paths(database, paths, progress=progress, bulk=bulk)
    note = None
    if bulk and summary.changed_anything:
        from .indexing import trigram_behind

        if trigram_behind(database.conn):
            note = ("Search by whole words is ready; search by parts of words takes in the new messages"
                    " in the background while the server runs.")
    database.close()  # now, not whenever Python gets to it (python -m archiver's exit skips that)
    if not existed and not summary.changed_anything:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    _report(summary, db, note)


def _report(summary, db_path, note=None):
    if not summary.changed_anything and not summary.skipped:
        click.echo(f"Nothing changed: {summary.conversations:,} conversations were already in {db_path}.")
    else:
        click.echo(
            f"Imported {summary.conversations:,} conversations into {db_path}: {summary.new:,} new,"
            f" {summary.updated:,} updated, {summary.unchanged:,} unchanged;"
            f" {summary.messages:,} messages stored ({summary.new_messages:,} new)."
        )
    if note:
        click.echo(note)
    if summary.assets:
        click.echo(f"Assets: {summary.assets:,} stored, {summary.assets_known:,} already there.")
    if summary.textdocs:
        click.echo(f"Canvas documents: {summary.textdocs:,}.")
    if summary.excluded:
        click.echo(f"Left out by the archive's privacy settings (exclusions, temporary chats):"
                   f" {summary.excluded:,} conversations.")
    if summary.tables:
        click.echo(f"Export files kept as tables: {', '.join(summary.tables)}.")
    for where in summary.unknown:
        click.echo(f"Not recognised, left out: {where}", err=True)
    for problem in summary.skipped:
        click.echo(f"Skipped: {problem}", err=True)
    if summary.skipped:
        raise click.ClickException(f"{len(summary.skipped)} problem(s), see above; everything else was imported")


@cli.command()
@db_option
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

        chatgpt-archiver snippet --token-name console
    """
    from .scripts import render_snippet

    click.echo(render_snippet(url, _new_token(db, token_name)))
    click.echo(
        f"Snippet printed with new token {token_name!r}; paste it into the console on"
        " https://chatgpt.com (it holds the token: treat it as a secret).",
        err=True,
    )


@cli.command()
@db_option
@click.argument("conversation_id")
def publish(db, conversation_id):
    """Share one conversation on purpose. When the server is bound beyond loopback, anyone can
    read published conversations (and nothing else) at /-/published.

    Example:

        chatgpt-archiver publish 6a1b2c3d-0000-8000-8000-00000000beef
    """
    _change_publication(db, conversation_id, publish_conversation, "published")


@cli.command()
@db_option
@click.argument("conversation_id")
def unpublish(db, conversation_id):
    """Stop sharing a conversation.

    Example:

        chatgpt-archiver unpublish 6a1b2c3d-0000-8000-8000-00000000beef
    """
    _change_publication(db, conversation_id, unpublish_conversation, "unpublished")


def _change_publication(db, conversation_id, change, done):
    _write(db, change, conversation_id)
    click.echo(f"Conversation {conversation_id} {done}.")


@cli.command()
@click.option("-d", "--db", default="sample.db", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the sample archive (never your real one: no environment variable).")
def sample(db):
    """Load a synthetic sample archive, so you can see every page populated before you
    capture or import anything: conversations from today back to last year, branches,
    reasoning, code, maths, citations, pictures and a canvas. Everything in it is invented.

    Example:

        chatgpt-archiver sample
    """
    import tempfile

    from .importer import import_paths
    from .sample import sample_conversations, write_sample_export

    # Whole hours: loading the sample twice within the hour changes nothing.
    now = time.time() // 3600 * 3600
    ours = {c["id"] for c in sample_conversations(now)[0]}
    if Path(db).exists():
        database = _open(db)
        others = [cid for (cid,) in database.conn.execute("SELECT id FROM chatgpt_conversation")
                  if cid not in ours]
        if others:
            raise click.ClickException(
                f"{db} holds {len(others):,} conversations that are not the sample's;"
                " refusing to mix the sample into them (name another file with --db)")
    else:
        database = _open(db, create=True)
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "sample-export.zip"
        count = write_sample_export(export, now)
        summary = import_paths(database, [str(export)])
    if summary.skipped:
        raise click.ClickException(f"the sample did not load whole: {summary.skipped[0]}")
    stats = archive_stats(database.conn)
    pictures = database.conn.execute("SELECT count(*) FROM chatgpt_asset").fetchone()[0]
    click.echo(f"Sample archive ready in {db}: {count} conversations, {stats['messages']:,} messages,"
               f" {pictures} pictures and a canvas document.")
    click.echo(f"Browse it: chatgpt-archiver serve --db {db}")
    click.echo("then open http://127.0.0.1:8001/ in your browser.")


@cli.group()
def exclude():
    "Keep projects, GPTs or conversations out of the archive."


_KIND = click.argument("kind", type=click.Choice(EXCLUSION_KINDS), metavar="KIND")


@exclude.command(name="add")
@db_option
@_KIND
@click.argument("id")
def exclude_add(db, kind, id):
    """Never store this project (g-p-…), GPT (g-…) or conversation again: live captures are
    skipped and imports leave it out. What is already archived stays until you forget it.

    Example:

        chatgpt-archiver exclude add project g-p-6851c0de
    """
    held = _write(db, add_exclusion, kind, id, create=True)
    click.echo(f"Excluded {kind} {id}: it will not be archived from now on.")
    if held:
        click.echo(f"The archive already holds {held} conversation(s) of it; remove them with"
                   " chatgpt-archiver forget CONVERSATION_ID.")


@exclude.command(name="remove")
@db_option
@_KIND
@click.argument("id")
def exclude_remove(db, kind, id):
    """Archive this project, GPT or conversation again from now on.

    Example:

        chatgpt-archiver exclude remove project g-p-6851c0de
    """
    _write(db, remove_exclusion, kind, id)
    click.echo(f"{kind.capitalize()} {id} is no longer excluded.")


@exclude.command(name="list")
@db_option
def exclude_list(db):
    """List what is excluded.

    Example:

        chatgpt-archiver exclude list
    """
    rows = list_exclusions(_open(db).conn)
    if not rows:
        click.echo("Nothing is excluded. Exclude with: chatgpt-archiver exclude add KIND ID")
        return
    for row in rows:
        click.echo(f"{row['kind']:<13} {row['id']}  (since {row['added_at']})")


@cli.command()
@db_option
@click.argument("conversation_id")
def forget(db, conversation_id):
    """Delete one conversation from the archive for good: its messages, captures, canvas
    documents, search entries, and the files no other conversation uses. Nothing else in
    chatgpt-archiver ever deletes. To keep it from coming back, also exclude it.

    Example:

        chatgpt-archiver forget 6a1b2c3d-0000-8000-8000-00000000beef
    """
    gone = _write(db, forget_conversation, conversation_id)
    click.echo(f"Forgot {conversation_id}: {gone.describe()}.")


@cli.command()
@db_option
@click.argument("name", required=False, type=click.Choice(list(SETTINGS)), metavar="[SETTING")
@click.argument("value", required=False, type=click.Choice(["on", "off"]), metavar="[on|off]]")
def settings(db, name, value):
    """Show the archive's privacy settings, or set one to on or off. The server applies
    them to every capture, whatever the userscript does.

    Example:

        chatgpt-archiver settings archive-temporary-chats on
    """
    if name is None:
        current = get_settings(_open(db).conn)
        for key, (default, meaning) in SETTINGS.items():
            click.echo(f"{key} = {current[key]}  (default {default}) keeps {meaning}")
        return
    if value is None:
        click.echo(get_settings(_open(db).conn)[name])
        return
    _write(db, set_setting, name, value, create=True)
    click.echo(f"{name} = {value}")


@cli.command(name="rebuild")
@db_option
def rebuild_(db):
    """Re-derive all conversation and message rows from the stored raw captures, e.g.
    after upgrading to a better reshaper, and recompute the semantic-search embeddings.
    Captured history is never lost.

    Example:

        chatgpt-archiver rebuild
    """
    database = _open(db)
    with write_transaction(database) as conn:
        replayed, skipped = rebuild(conn)
        conn.execute("DELETE FROM chatgpt_embedding")
    click.echo(f"Rebuilt from {replayed} captures" + (f" ({skipped} unreadable)" if skipped else ""))
    click.echo(f"Embedded {_embed(database, quiet=False):,} messages for semantic search.")


def _embed(database, quiet):
    from .semantic import SemanticUnavailable, embed_pending

    with click.progressbar(length=1, label="Embedding", file=sys.stderr, show_pos=True, show_eta=True,
                           hidden=quiet or not sys.stderr.isatty()) as bar:
        def progress(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        try:
            count = embed_pending(database, progress=progress)
        except SemanticUnavailable as e:
            raise click.ClickException(f"semantic search is unavailable: {e}") from None
    return count


@cli.command()
@db_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def embed(db, quiet):
    """Compute the semantic-search embeddings of messages that have none yet (new or changed
    since). serve does this by itself after each capture; run this after a big import, or
    to catch up without a server. Offline: the model ships inside the wordllama package.

    Example:

        chatgpt-archiver embed
    """
    count = _embed(_open(db), quiet)
    click.echo(f"Embedded {count:,} messages." if count else "Every message is embedded already.")


@cli.command()
@db_option
@click.option("--base-url", default="http://127.0.0.1:8001", show_default=True,
              help="The archive server's address, for the links in results.")
def mcp(db, base_url):
    """Serve the archive to an AI tool over MCP on standard input and output (read-only).
    Desktop clients start this themselves; see the README for their configuration.

    Example:

        chatgpt-archiver mcp --db ~/archive.db
    """
    from .mcp_server import serve_stdio

    if not Path(db).is_file():
        raise click.ClickException(f"no archive at {db}: {NO_ARCHIVE_HINT}")
    try:
        serve_stdio(db, base_url=base_url)
    except KeyboardInterrupt:
        pass


@cli.group()
def export():
    "Export the archive: a folder of Markdown notes, or JSONL in ChatGPT's own shape."


@export.command(name="markdown")
@db_option
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--base-url", default="http://127.0.0.1:8001", show_default=True,
              help="The archive server's address, for the links back from every note.")
@click.option("--all-branches", is_flag=True, help="Every branch of each conversation, not just the current one.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_markdown_(db, directory, base_url, all_branches, quiet):
    """Write one Markdown note per conversation into DIRECTORY (an Obsidian vault, say):
    YAML front matter, the current branch, files copied to DIRECTORY/assets. Re-running
    rewrites only the conversations that changed.

    Example:

        chatgpt-archiver export markdown ~/Notes/ChatGPT
    """
    from .export import ExportError, export_markdown

    database = _open(db)
    with click.progressbar(length=1, label="Exporting", file=sys.stderr, show_pos=True,
                           hidden=quiet or not sys.stderr.isatty()) as bar:
        def progress(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        try:
            result = export_markdown(database.conn, directory, base_url=base_url,
                                     all_branches=all_branches, progress=progress)
        except (ExportError, OSError) as e:
            raise click.ClickException(f"cannot export to {directory}: {e}") from None
    click.echo(
        f"Exported to {directory}: {result['written']:,} notes written, {result['unchanged']:,} unchanged"
        + (f", {result['removed']:,} removed" if result["removed"] else "")
        + (f", {result['assets']:,} files copied" if result["assets"] else "") + "."
    )


@export.command(name="jsonl")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def export_jsonl_(db, file):
    """Write every conversation, every branch, in ChatGPT's own JSON shape, one per line
    (- for standard output): for scripts, other tools, or a model to read.

    Example:

        chatgpt-archiver export jsonl conversations.jsonl
    """
    from .export import export_jsonl

    database = _open(db)
    try:
        with click.open_file(file, "w", encoding="utf-8", atomic=file != "-") as out:
            count = export_jsonl(database.conn, out)
    except OSError as e:
        raise click.ClickException(f"cannot write {file}: {e}") from None
    click.echo(f"Exported {count:,} conversations to {file}.", err=True)


@cli.command()
@db_option
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
