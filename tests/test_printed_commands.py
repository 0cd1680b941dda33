"""Every command line we tell a user to run works as printed, against the default archive.

The command lines are pulled out of README.md and SECURITY.md (code blocks and inline code),
the web pages' templates and the package's own strings (`<code>` and backtick spans), the
examples in every `--help`, and what the CLI itself prints. Each runs through a real shell
in a folder of its own holding a default `archive.db` (the sample's conversations) and
`sample.db`, with HOME pointing there (so `~/Downloads/chatgpt-export.zip` is a real export).
A placeholder we do not know how to fill (ID, NAME, ...) fails the test: new ones must be
added below, so that a printed command can never silently stop being checked.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import pytest

from archiver.cli import cli
from archiver.db import open_db
from archiver.sample import write_sample_export

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLE_ID = "6a1b2c3d-0000-8000-8000-00000000beef"  # the id the --help examples use

SPAN = re.compile(r"`(chatgpt-archiver [^`]+)`|<code>(chatgpt-archiver [^<]+)</code>")


def _from_markdown(path):
    found, fenced = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            found += _shell_commands(line)
        elif not line.startswith("#"):  # headings are synopses ([DB], [--port 8001] ...), not commands
            found += [a or b for a, b in SPAN.findall(line)]
    return found


def _shell_commands(line):
    """`TOKEN=$(chatgpt-archiver token create --name laptop)  # comment` -> the command."""
    line = re.sub(r"\s+#.*$", "", line.strip())
    inner = re.search(r"\$\((chatgpt-archiver [^)]*)\)", line)
    if inner:
        return [inner.group(1)]
    return [line] if line.startswith("chatgpt-archiver ") else []


def _from_sources():
    found = []
    for path in sorted((ROOT / "archiver").rglob("*")):
        if path.suffix in (".py", ".html", ".js") and "__pycache__" not in path.parts:
            found += [a or b for a, b in SPAN.findall(path.read_text())]
    for path in sorted((ROOT / "userscript").glob("*.js")):
        found += [a or b for a, b in SPAN.findall(path.read_text())]
    return found


def _from_help(group=cli, prefix="chatgpt-archiver"):
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _from_help(command, f"{prefix} {name}")
            continue
        help_text = command.help or ""
        if "Example:" in help_text:
            for line in help_text.split("Example:", 1)[1].splitlines():
                found += _shell_commands(line)
    return found


def printed_commands():
    commands = _from_markdown(ROOT / "README.md") + _from_markdown(ROOT / "SECURITY.md")
    commands += _from_sources() + _from_help()
    unique = []
    for command in commands:
        command = command.strip().rstrip(".,;:")
        if command not in unique:
            unique.append(command)
    return unique


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A user's folder: archive.db and sample.db with the sample in, an export in Downloads."""
    base = tmp_path_factory.mktemp("home")
    (base / "Downloads").mkdir()
    write_sample_export(base / "Downloads" / "chatgpt-export.zip", time.time() // 3600 * 3600)
    for db in ("archive.db", "sample.db"):
        subprocess.run([BIN / "chatgpt-archiver", "import", "--quiet", "--db", base / db,
                        base / "Downloads" / "chatgpt-export.zip"], check=True, capture_output=True)
    conversation = open_db(base / "archive.db").execute(
        "SELECT id FROM chatgpt_conversation ORDER BY update_time DESC LIMIT 1").fetchone()[0]
    return base, conversation


def fill(command, conversation, workdir):
    """Placeholders -> real values, and what the command needs to have happened first."""
    replacements = {
        EXAMPLE_ID: conversation,
        "<conversation id>": conversation,
        "<ID>": conversation,
        "path/to/export.zip": "~/Downloads/chatgpt-export.zip",
        "| pbcopy": "",
    }
    for placeholder, value in replacements.items():
        command = command.replace(placeholder, value)
    words = {"ID": conversation, "CONVERSATION_ID": conversation, "NAME": "example",
             "EXPORT": "~/Downloads/chatgpt-export.zip", "EXPORT...": "~/Downloads/chatgpt-export.zip",
             "DIR": str(workdir / "out"), "FILE": str(workdir / "out.jsonl")}
    command = " ".join(words.get(w, w) for w in command.split(" "))
    unknown = [w for w in command.split() if re.fullmatch(r"\[?[A-Z][A-Z_.]+\]?", w)]
    assert not unknown, f"unknown placeholder {unknown} in {command!r}: teach tests/test_printed_commands.py"
    first = []
    token = re.search(r"token revoke (?:--db \S+ )?(\S+)", command)
    if token:
        first.append(f"chatgpt-archiver token create --name {token.group(1)}")
    unpublished = re.search(r"unpublish (\S+)", command)
    if unpublished:
        first.append(f"chatgpt-archiver publish {unpublished.group(1)}")
    unexcluded = re.search(r"exclude remove (\S+ \S+)", command)
    if unexcluded:
        first.append(f"chatgpt-archiver exclude add {unexcluded.group(1)}")
    return first, command


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_as_printed(command, base, conversation, tmp_path):
    """Run one printed command in a copy of the user's folder; return its output."""
    workdir = tmp_path / "user"
    shutil.copytree(base, workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATGPT_ARCHIVER", "DATASETTE"))}
    env.update(HOME=str(workdir), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    first, command = fill(command, conversation, workdir)
    for setup in first:
        subprocess.run(setup, shell=True, cwd=workdir, env=env, check=True, capture_output=True)
    if re.match(r"chatgpt-archiver serve\b", command):
        return _serve_as_printed(command, workdir, env)
    done = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{command!r} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout + done.stderr


def _serve_as_printed(command, workdir, env):
    # The printed port may be taken on a test machine: the same command on a free one.
    port = _free_port()
    command = re.sub(r"\s--port \d+", "", command) + f" --port {port}"
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                assert health.status == 200
                home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                assert home.status == 200
                return ""
            except OSError:
                assert server.poll() is None, f"{command!r} exited:\n{server.stdout.read()}"
                time.sleep(0.2)
        raise AssertionError(f"{command!r} did not start")
    finally:
        server.terminate()
        server.wait(10)


COMMANDS = printed_commands()


def test_the_printed_commands_were_found():
    # A broken extractor must not pass by finding nothing.
    for expected in ("chatgpt-archiver token revoke console", "chatgpt-archiver sample",
                     "chatgpt-archiver serve --db sample.db", f"chatgpt-archiver publish {EXAMPLE_ID}"):
        assert expected in COMMANDS
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
def test_printed_command_works_as_printed(command, prepared, tmp_path):
    base, conversation = prepared
    run_as_printed(command, base, conversation, tmp_path)


def test_commands_the_cli_prints_work_as_printed(prepared, tmp_path):
    """What the CLI's own output tells a user to run (hints in errors, next steps)."""
    base, conversation = prepared
    told = []
    for trigger in ("chatgpt-archiver stats --db missing.db", "chatgpt-archiver sample --db fresh.db"):
        workdir = tmp_path / f"trigger{len(told)}"
        shutil.copytree(base, workdir)
        env = dict(os.environ, HOME=str(workdir), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
        out = subprocess.run(["bash", "-c", trigger], cwd=workdir, env=env, capture_output=True, text=True)
        for line in (out.stdout + out.stderr).splitlines():
            spans = [a for a, _ in SPAN.findall(line)]
            told += spans or re.findall(r"(chatgpt-archiver [a-z][^`]*)$", line)
    assert "chatgpt-archiver serve --db sample.db" not in told  # it says fresh.db
    assert "chatgpt-archiver serve --db fresh.db" in told and "chatgpt-archiver import EXPORT" in told
    for i, command in enumerate(told):
        if "fresh.db" in command:
            continue  # made by the trigger's own folder; its serve form is checked as sample.db above
        run_as_printed(command, base, conversation, tmp_path / f"told{i}")
