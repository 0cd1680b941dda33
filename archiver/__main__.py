"""The console command (``chatgpt-archiver``, ``python -m archiver``). Light to import: for
``import``, the process that will prepare the export is started first, so that its start-up
overlaps the command's own (archiver.workers)."""

import sys


def main():
    if sys.argv[1:2] == ["import"]:
        from .workers import start_idle

        start_idle()
    from .cli import cli

    cli(prog_name="chatgpt-archiver")


if __name__ == "__main__":
    main()
