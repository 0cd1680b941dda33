"""The userscript and console snippet as the server and CLI hand them out."""

import re
import tomllib
from pathlib import Path

from starlette.testclient import TestClient

from archiver import __version__
from archiver.app import create_app
from archiver.scripts import userscript_source, userscript_version
from conftest import LOCAL

ROOT = Path(__file__).parent.parent


def test_version_is_the_packages_everywhere(db_path, token):
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert declared == __version__ == "0.2.0"
    assert userscript_version(userscript_source()) == __version__
    with TestClient(create_app(db_path), base_url=LOCAL) as client:
        served = client.get("/userscript.user.js").text
    assert re.findall(r"^// @version +(\S+)$", served, re.M) == [__version__]


def test_served_version_follows_the_package_even_if_the_file_lags(monkeypatch):
    import archiver.scripts as scripts

    monkeypatch.setattr(scripts, "__version__", "9.8.7")
    served = scripts.render_userscript("http://127.0.0.1:8001")
    assert re.findall(r"^// @version +(\S+)$", served, re.M) == ["9.8.7"]
