"""The preparing process started ahead (archiver.workers): taken by the import it was started
for, stopped when nobody takes it, and the console command's early start leaves nothing behind."""

import gc
import os
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import importer, preparing, workers
from archiver.cli import cli
from archiver.db import open_db
from archiver.exportfiles import entries
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


@pytest.fixture
def prepared_here(monkeypatch):
    """The files this process prepared itself (not the preparing process), in order."""
    files = []
    real = preparing.prepared_batches

    def counted(entry, where):
        files.append(entry.path)
        return real(entry, where)

    monkeypatch.setattr(preparing, "prepared_batches", counted)
    return files


def split_export(folder, sizes, prefix="part"):
    """A split export (conversations-000.json, ...): ``sizes`` conversations per file."""
    folder.mkdir()
    return [write_export(folder / f"conversations-{n:03d}.json", size, prefix=f"{prefix}{n}")
            for n, size in enumerate(sizes)]


def test_one_process_given_ahead_prepares_every_conversations_file_of_the_import(tmp_path, monkeypatch, started,
                                                                                  prepared_here):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0)
    parts = split_export(tmp_path / "export", [4, 3, 2])
    packed = tmp_path / "other.zip"  # a second argument: its file follows in the same process
    write_export(tmp_path / "conversations.json", 2, prefix="zipped")
    with zipfile.ZipFile(packed, "w") as z:
        z.write(tmp_path / "conversations.json", "conversations.json")
    before = preparing_processes()
    result = CliRunner().invoke(cli, ["import", "--db", str(tmp_path / "a.db"), str(tmp_path / "export"),
                                      str(packed)])
    assert result.exit_code == 0, result.output
    # Given all four files before the archive was opened, taken for the first, ended after the last.
    assert len(started) == 1
    assert prepared_here == []
    assert started[0].process.returncode == 0
    assert workers._given == {} and workers._idle == []
    db = open_db(tmp_path / "a.db")
    assert [r[0] for r in db.execute("select id from chatgpt_conversation order by rowid")] == [
        c["id"] for part in parts for c in part] + ["zipped-00000", "zipped-00001"]
    assert gone_within({w.process.pid for w in started} - before)


def test_a_file_it_cannot_read_is_skipped_and_the_next_comes_from_the_same_process(tmp_path, monkeypatch, started,
                                                                                   prepared_here):
    outcomes = {}
    for apart in (False, True):
        prepared_here.clear()
        monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0 if apart else 1 << 60)
        (tmp_path / str(apart)).mkdir()
        folder = tmp_path / str(apart) / "export"
        split_export(folder, [3, 2, 2, 3])
        (folder / "conversations-001.json").write_text("not JSON at all")
        cut = (folder / "conversations-002.json").read_text()
        (folder / "conversations-002.json").write_text(cut[: len(cut) * 2 // 3])  # cut off part way
        db = open_db(tmp_path / f"{apart}.db")
        summary = importer.import_paths(db, [str(folder)], bulk=True)
        outcomes[apart] = (summary.new, summary.messages, summary.skipped,
                           db.execute("select id from chatgpt_conversation order by rowid").fetchall())
    assert len(started) == 1 and prepared_here == []  # the files after the two bad ones came from it too
    assert outcomes[True] == outcomes[False]
    new, _, skipped, ids = outcomes[True]
    assert skipped == ["export:conversations-001.json: not JSON: expected a conversation list or object",
                       "export:conversations-002.json: truncated or malformed JSON after 1 conversations"
                       " (the array is cut off inside an element)"]
    assert [i for (i,) in ids] == ["part0-00000", "part0-00001", "part0-00002", "part2-00000",
                                   "part3-00000", "part3-00001", "part3-00002"]
    assert new == 7


def test_a_process_lost_before_a_file_leaves_it_here_and_one_lost_part_way_names_it(tmp_path, monkeypatch, started):
    monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0)
    folder = tmp_path / "export"
    parts = split_export(folder, [3, 2])
    # Ended before it sent anything (killed before the import began): this process prepares
    # every file, and everything lands.
    plan = importer.prepared_apart([(str(folder), entries(str(folder)))])
    with workers.ahead(plan):
        lost = workers._given[plan]
        lost.process.kill()
        lost.process.wait()
        summary = importer.import_paths(open_db(tmp_path / "a.db"), [str(folder)], bulk=True)
    assert (summary.new, summary.skipped) == (5, [])
    assert len(started) == 1  # the one given them ahead, found lost: no other was started
    # Ended part way through a big file: that file is named, with what came before it kept,
    # and the next file is prepared here.
    big = tmp_path / "big"
    big.mkdir()
    whole = write_export(big / "conversations-000.json", 210, prefix="big")
    assert (big / "conversations-000.json").stat().st_size > 4 * 1024 * 1024  # more than it can send ahead
    small = write_export(big / "conversations-001.json", 2, prefix="small")
    killed = []

    def kill_it(summary):
        if not killed:
            killed.append(started[-1].process.pid)
            started[-1].process.kill()

    db = open_db(tmp_path / "b.db")
    summary = importer.import_paths(db, [str(big)], progress=kill_it, bulk=True)
    assert summary.skipped == [f"{big.name}:conversations-000.json: the process preparing it stopped"]
    ids = [i for (i,) in db.execute("select id from chatgpt_conversation order by rowid")]
    assert 0 < len(ids) - len(small) < len(whole)
    assert ids[-2:] == [c["id"] for c in small]
    assert gone_within(set(killed))


def test_a_zip_holding_two_members_of_one_name_gives_both_either_way(tmp_path, monkeypatch, started, prepared_here):
    first = write_export(tmp_path / "a.json", 3, prefix="first")
    second = write_export(tmp_path / "b.json", 2, prefix="second")
    packed = tmp_path / "export.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the name written twice: that is the point
        with zipfile.ZipFile(packed, "w") as z:
            z.write(tmp_path / "a.json", "conversations.json")
            z.write(tmp_path / "b.json", "conversations.json")
    ids = {}
    for apart in (False, True):
        monkeypatch.setattr(importer, "PREPARE_APART_ABOVE", 0 if apart else 1 << 60)
        prepared_here.clear()
        db = open_db(tmp_path / f"{apart}.db")
        importer.import_paths(db, [str(packed)], bulk=True)
        ids[apart] = [i for (i,) in db.execute("select id from chatgpt_conversation order by rowid")]
    assert ids[True] == ids[False] == [c["id"] for c in first + second]
    assert len(started) == 1 and prepared_here == []


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
    spec = ((str(export), "conversations.json", "conversations.json"),)
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
