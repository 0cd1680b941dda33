"""The userscript's pure helpers are tested with `node --test`; this runs them under pytest so
the README's one test command covers them too."""

import shutil
import subprocess
from pathlib import Path

import pytest

USERSCRIPT = Path(__file__).parent.parent / "userscript"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_tests_pass():
    result = subprocess.run(
        ["node", "--test", str(USERSCRIPT / "test")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_userscript_is_plain_javascript_node_can_parse():
    result = subprocess.run(
        ["node", "--check", str(USERSCRIPT / "chatgpt-archiver.user.js")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
