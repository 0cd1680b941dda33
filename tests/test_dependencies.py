"""Every third-party module the package imports at run time is a declared runtime dependency.

`pip install . && chatgpt-archiver serve` once crashed on a module (pygments) that only the
test extra brought in. This reads every import in archiver/ and checks its distribution
against pyproject.toml's `dependencies`, not the test extra."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parent.parent


def declared_runtime_distributions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0] for d in project["dependencies"]}
    return {n.lower().replace("_", "-") for n in names}


def imported_top_level_modules():
    found = {}
    for path in sorted((ROOT / "archiver").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.relative_to(ROOT).as_posix())
    return found


def test_every_imported_module_is_a_declared_runtime_dependency():
    declared = declared_runtime_distributions()
    owners = packages_distributions()
    missing = {}
    for module, where in imported_top_level_modules().items():
        if module in sys.stdlib_module_names or module == "archiver":
            continue
        distributions = {d.lower().replace("_", "-") for d in owners.get(module, [])}
        if not distributions & declared:
            missing[module] = (where, sorted(distributions) or "not installed")
    assert missing == {}


def test_the_check_sees_the_modules_it_must():
    modules = imported_top_level_modules()
    assert {"datasette", "sqlite_utils", "starlette", "uvicorn", "click", "pygments", "msgspec", "isal"} <= set(modules)
