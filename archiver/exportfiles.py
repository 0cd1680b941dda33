"""The files of an import argument (a zip, a folder, a file), as entries that can be opened,
and found again by name in another process (archiver.preparing). Light to import."""

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .preparing import ImportProblem


@dataclass
class Entry:
    """One file of an export, wherever it lives (zip member, folder, bare file)."""

    path: str  # relative, with / separators
    size: int
    opener: object
    explicit: bool = False  # named on the command line: a .json file is conversations
    source: str = None  # the import argument it came from (a second process lists it again)

    def open(self):
        return self.opener()

    @property
    def name(self):
        return PurePosixPath(self.path).name


def entries(path):
    """The files of an import argument, or ImportProblem if it cannot be read at all."""
    p = Path(path)
    if p.is_dir():
        return [
            Entry(f.relative_to(p).as_posix(), f.stat().st_size, (lambda f=f: open(f, "rb")), source=str(path))
            for f in sorted(p.rglob("*"))
            if f.is_file()
        ]
    if not p.exists():
        raise ImportProblem("no such file or folder")
    if zipfile.is_zipfile(p):
        try:
            archive = zipfile.ZipFile(p)
            members = [m for m in archive.infolist() if not m.is_dir()]
        except (zipfile.BadZipFile, OSError) as e:
            raise ImportProblem(f"corrupt zip: {e}") from None
        return [Entry(m.filename, m.file_size, (lambda m=m: archive.open(m)), source=str(path)) for m in members]
    if p.suffix.lower() == ".zip":
        raise ImportProblem("corrupt zip: not a zip file")
    return [Entry(p.name, p.stat().st_size, (lambda: open(p, "rb")), explicit=True, source=str(path))]

