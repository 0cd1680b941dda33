"""The second process that prepares an import's conversations files (archiver.preparing),
as this process starts it, hands it its files and stops it. Standard library only: the
console command starts one before it loads anything else.

Starting that process and loading its modules takes about 0.08 s, and an import waited for it
before its first batch; the command itself spends 0.17 s loading its modules and opening the
archive first. So the work overlaps: ``start_idle`` (the console command, for ``import``)
starts a process that loads its modules and waits, ``ahead`` gives it its files as soon as the
command knows them, before the archive is opened, and the importer takes it when it reaches
the first (benchmarks/README.md has the figures). A process nobody takes is stopped:
closing its input ends it.
"""

import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager

_idle = []  # started, given no file yet
_given = {}  # files ((import argument, entry path, name in reports), ...) -> a process preparing them


class Worker:
    """A ``python -m archiver.preparing`` child: frames on its stdout, its error output in a
    file (a pipe nobody reads until the end would fill and stop a chatty child)."""

    def __init__(self):
        self.said = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "archiver.preparing"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self.said,
                # It finds this package where this process found it.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        except BaseException:
            self.said.close()
            raise
        _widen(self.process.stdout)

    def give(self, spec):
        """Its files: it starts reading once its input is closed. One that has already died
        is found out when its output ends (``preparing``), with what it said."""
        try:
            self.process.stdin.write(json.dumps(spec).encode())
            self.process.stdin.close()
        except OSError:  # BrokenPipeError: it stopped before it was given anything
            pass
        return self

    def stop(self, wait=10):
        """Its output closed (one still sending gets a broken pipe and ends), then reaped.
        Returns the last line it said."""
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.said.seek(0)
        lines = self.said.read().decode("utf-8", "replace").strip().splitlines()
        self.said.close()
        return lines[-1] if lines else ""


def _widen(pipe):
    """A pipe holding a whole batch (Linux allows 1 MB unprivileged): the preparing process
    then writes its next batch while this one is busy writing to SQLite, instead of waiting
    for each 64 KB to be read."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1024 * 1024)
    except (ImportError, OSError):
        pass  # elsewhere, or a lower limit: the default size works, a little slower


def start_idle():
    """A process started before anything knows what it will prepare (the console command,
    for ``import``, on a machine with a second core). Never raises: without it the import
    starts one later, or prepares in its own process."""
    if _idle or (os.cpu_count() or 1) < 2:
        return
    try:
        _idle.append(Worker())
    except OSError:
        pass


def take(spec):
    """The process preparing ``spec`` (files: import argument, entry path, name in reports
    each): the one given them ahead, else the idle one, else a new one. OSError if none can
    be started."""
    if spec in _given:
        return _given.pop(spec)
    return (_idle.pop() if _idle else Worker()).give(spec)


@contextmanager
def ahead(spec):
    """``spec`` (files, or none) given to a process now, while the caller goes on (opens the
    archive); ``take`` finds it. An idle process left over is stopped at once (nothing else
    takes it), one given files and not taken at the end."""
    if spec:
        try:
            _given[spec] = take(spec)
        except OSError:  # no second process to be had: the import prepares it itself
            pass
    while _idle:
        _idle.pop().stop(wait=1)
    try:
        yield
    finally:
        while _given:
            _given.popitem()[1].stop(wait=1)
