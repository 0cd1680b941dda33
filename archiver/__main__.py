"""The console command (``chatgpt-archiver``, ``python -m archiver``). Light to import: for
``import``, the process that will prepare the export is started first, so that its start-up
overlaps the command's own (archiver.workers)."""

import gc
import sys


def main():
    importing = sys.argv[1:2] == ["import"]
    if importing:
        from .workers import start_idle

        start_idle()
    from .cli import cli

    try:
        cli(prog_name="chatgpt-archiver")
    finally:
        if importing:
            # The process ends here, and an import leaves nothing to finalize (its archive
            # closed, its files read only, its second process reaped): the objects it made
            # are frozen out of Python's last cycle collection, which walked them all
            # (0.03 s of a 50 MB import).
            gc.freeze()


if __name__ == "__main__":
    main()
