"""The preparing process started ahead (archiver.workers): taken by the import it was started
for, stopped when nobody takes it, and the console command's early start leaves nothing behind."""

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import importer, workers
from archiver.cli import cli
from archiver.db import open_db
from test_bulk import write_export


def preparing_processes():
    """Pids of ``python -m archiver.preparing`` processes this user runs."""
    found = set()
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
            continue
        if b"archiver.preparing" in cmdline:
            found.add(int(pid))
    return found


def gone_within(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while preparing_processes() & pids and time.monotonic() < deadline:
        time.sleep(0.05)
    return not preparing_processes() & pids


@pytest.fixture
def started(monkeypatch):
    """Every preparing process started, in order."""
    made = []

    class Counted(workers.Worker):
        def __init__(self):
            super().__init__()
            made.append(self)

    monkeypatch.setattr(workers, "Worker", Counted)
    return made


def test_an_idle_process_nobody_gives_a_file_ends_quietly_as_soon_as_that_is_known():
    workers.start_idle()
    (idle,) = workers._idle
    assert idle.process.poll() is None  # started, waiting for a file
    with workers.ahead(None):  # an import with no big conversations file
        assert idle.process.returncode == 0  # ended, cleanly, before the import goes on
    assert workers._idle == [] and workers._given == {}


def test_the_import_takes_the_process_given_ahead_and_each_later_file_gets_its_own(tmp_path, monkeypatch, started):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0)
    export = tmp_path / "export"
    export.mkdir()
    first = write_export(export / "conversations-000.json", 4, prefix="first")
    second = write_export(export / "conversations-001.json", 3, prefix="second")
    before = preparing_processes()
    result = CliRunner().invoke(cli, ["import", "--db", str(tmp_path / "a.db"), str(export)])
    assert result.exit_code == 0, result.output
    # One given the first file before the archive was opened and taken for it, one more for
    # the second file when the import reached it; both ended.
    assert len(started) == 2
    assert [w.process.returncode for w in started] == [0, 0]
    assert workers._given == {} and workers._idle == []
    db = open_db(tmp_path / "a.db")
    assert [r[0] for r in db.execute("select id from chatgpt_conversation order by id")] == sorted(
        c["id"] for c in first + second)
    assert gone_within({w.process.pid for w in started} - before)


def test_the_console_command_starts_one_before_it_loads_the_rest_and_the_import_uses_it(tmp_path, monkeypatch, started):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0)
    export = tmp_path / "conversations.json"
    items = write_export(export, 5)
    monkeypatch.setattr(sys, "argv", ["chatgpt-archiver", "import", "--quiet", "--db", str(tmp_path / "a.db"),
                                      str(export)])
    from archiver.__main__ import main

    assert gc.get_freeze_count() == 0
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        # What the import made is left out of the cycle collection at the process's exit.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert exited.value.code == 0
    assert len(started) == 1  # the idle one, given the file: no second start
    assert started[0].process.returncode == 0
    assert open_db(tmp_path / "a.db").execute("select count(*) from chatgpt_conversation").fetchone()[0] == len(items)


def test_a_process_given_a_file_nobody_reads_is_stopped(tmp_path):
    export = tmp_path / "conversations.json"
    write_export(export, 40)
    spec = (str(export), "conversations.json", "conversations.json")
    with workers.ahead(spec):
        given = workers._given[spec]
        time.sleep(0.5)  # it prepares, and fills the pipe nobody reads
    # The import failed before it reached the file (a locked archive, say): stopped all the same.
    assert given.process.returncode is not None
    assert workers._given == {}


def test_the_console_command_starts_its_preparing_process_early_and_leaves_none_behind(tmp_path):
    # 210 copies of the every-content-type conversation: past the 8 MB a second process takes.
    export = tmp_path / "conversations.json"
    items = write_export(export, 210)
    assert export.stat().st_size >= importer.PREPARE_APART_ABOVE
    before = preparing_processes()
    command = [sys.executable, "-m", "archiver", "import", "--quiet", "--db", str(tmp_path / "a.db")]
    done = subprocess.run([*command, str(export)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Imported {len(items)} conversations into ")
    assert done.stderr == ""
    # The archive was closed before the process ended: its log checkpointed and removed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "conversations.json"]
    db = open_db(tmp_path / "a.db")
    assert db.execute("select count(*) from chatgpt_conversation").fetchone()[0] == len(items)
    # A command that stops before it imports anything: the process started for it ends too.
    failed = subprocess.run([*command, str(tmp_path / "missing.zip")], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"Error: {tmp_path / 'missing.zip'}: no such file or folder"]
    assert gone_within(preparing_processes() - before)
