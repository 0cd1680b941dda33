"""Exports: the Markdown vault (front matter, branches, assets, incremental runs, hostile
names) and JSONL in ChatGPT's own shape, driven through the CLI on real archives."""

import copy
import json
import os

import pytest
import yaml
from click.testing import CliRunner

from archiver.cli import cli
from archiver.db import open_db, prepare_capture, save_capture, write_transaction
from archiver.export import MANIFEST, assign_names, reshape_markdown, safe_name, yaml_str
from conftest import fixture_json
from test_import import GENERATED_ID, PNG, UPLOAD_ID, write_export

BRANCHED = fixture_json("branched.json")
CID = BRANCHED["id"]


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def capture(db_path, conversation):
    db = open_db(db_path)
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(json.dumps(conversation).encode()), source="test")
    db.close()


@pytest.fixture
def archive(tmp_path):
    """An archive imported from a synthetic export, with its images."""
    db_path = tmp_path / "archive.db"
    assert run("import", "--db", db_path, write_export(tmp_path / "export")).exit_code == 0
    return db_path


def front_matter(text):
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def test_vault_notes_have_front_matter_and_the_current_branch(archive, tmp_path):
    vault = tmp_path / "vault"
    result = run("export", "markdown", "--db", archive, vault, "--base-url", "http://archive.local:9000/")
    assert result.exit_code == 0, result.output
    assert result.output == "Exported to vault: 5 notes written, 0 unchanged, 2 files copied.\n".replace(
        "vault", str(vault))
    names = sorted(p.name for p in vault.iterdir())
    assert names == [MANIFEST, "Synthetic 2023 chat add_one.md", "Synthetic branched chat sourdough proofing.md",
                     "Synthetic fixture every content type.md", "Synthetic project chat hut hike packing.md",
                     "Untitled.md", "assets"]
    meta, body = front_matter((vault / "Synthetic branched chat sourdough proofing.md").read_text())
    assert meta == {
        "id": CID,
        "title": "Synthetic branched chat: sourdough proofing",
        "created": "2024-05-01T17:36:39Z",
        "updated": "2024-05-01T17:40:05Z",
        "model": "gpt-4o",
        "archive": f"http://archive.local:9000/-/c/{CID}",
        "branch": "3d90b678-895b-55e4-ae92-05999d003cf8",
        "tags": ["chatgpt"],
    }
    # The current branch, in order, with links to each message in the archive; nothing else.
    turns = [line for line in body.splitlines() if line and not line.startswith(("#", "*"))]
    assert turns == [
        "How long should I proof sourdough overnight?",
        "Cold-proof it for 10 to 14 hours; look for a slight dome.",
        "What oven temperature for a Dutch oven loaf?",
        "Preheat the pot to 250 °C, bake 20 minutes lidded, then 20 to 25 uncovered at 230 °C.",
    ]
    assert f"(http://archive.local:9000/-/c/{CID}#m-9cdbd006-78ac-5674-8282-b45a4686fe54)" in body
    project, _ = front_matter((vault / "Synthetic project chat hut hike packing.md").read_text())
    assert project["project"].startswith("g-p-")


def test_all_branches_adds_each_fork_once(archive, tmp_path):
    vault = tmp_path / "vault"
    assert run("export", "markdown", "--db", archive, vault, "--all-branches").exit_code == 0
    meta, body = front_matter((vault / "Synthetic branched chat sourdough proofing.md").read_text())
    assert meta["branch"] == "all"
    for text in ("About 8 to 12 hours in the fridge is typical.", "What oven temperature?",
                 "Bake at 230 °C for about 40 minutes.", "Preheat the Dutch oven to 250 °C, then"):
        assert body.count(text) == 1, text
    assert body.count("How long should I proof sourdough overnight?") == 1  # shared prefix once
    assert "## Branch 2 of 4" in body and "## Branch 4 of 4" in body


def test_assets_are_copied_beside_the_notes_and_linked(archive, tmp_path):
    vault = tmp_path / "vault"
    assert run("export", "markdown", "--db", archive, vault).exit_code == 0
    files = {p.name: p.read_bytes() for p in (vault / "assets").iterdir()}
    assert sorted(files.values()) == sorted([PNG, b"RIFF generated heron"])
    note = (vault / "Synthetic fixture every content type.md").read_text()
    for name in files:
        assert f"(assets/{name.replace(' ', '%20')})" in note
    assert UPLOAD_ID and GENERATED_ID  # the export's two files, named by the conversation


def test_rerun_rewrites_only_what_changed_and_keeps_names(archive, tmp_path):
    vault = tmp_path / "vault"
    assert run("export", "markdown", "--db", archive, vault).exit_code == 0
    note = vault / "Synthetic branched chat sourdough proofing.md"
    before = note.stat().st_mtime_ns
    result = run("export", "markdown", "--db", archive, vault)
    assert result.output == f"Exported to {vault}: 0 notes written, 5 unchanged.\n"
    assert note.stat().st_mtime_ns == before

    newer = copy.deepcopy(BRANCHED)
    newer["update_time"] += 100
    newer["mapping"]["3d90b678-895b-55e4-ae92-05999d003cf8"]["message"]["content"]["parts"] = ["Bake it hot."]
    capture(archive, newer)
    result = run("export", "markdown", "--db", archive, vault)
    assert result.output == f"Exported to {vault}: 1 notes written, 4 unchanged.\n"
    assert "Bake it hot." in note.read_text()

    # A note the user deleted comes back; a changed option rewrites everything.
    note.unlink()
    assert run("export", "markdown", "--db", archive, vault).output == \
        f"Exported to {vault}: 1 notes written, 4 unchanged.\n"
    assert run("export", "markdown", "--db", archive, vault, "--base-url", "http://x:1").output == \
        f"Exported to {vault}: 5 notes written, 0 unchanged.\n"
    assert run("export", "markdown", "--db", archive, vault).output == \
        f"Exported to {vault}: 5 notes written, 0 unchanged.\n"

    # A new title renames the note (the old one goes); a second conversation with the same
    # title gets a name of its own, and the first keeps its name.
    renamed = copy.deepcopy(newer)
    renamed["update_time"] += 100
    renamed["title"] = "Bread notes"
    capture(archive, renamed)
    twin = copy.deepcopy(renamed)
    twin["id"] = twin["conversation_id"] = "b0000000-0000-4000-8000-000000000002"
    twin["create_time"] += 1000
    capture(archive, twin)
    result = run("export", "markdown", "--db", archive, vault)
    assert result.output == f"Exported to {vault}: 2 notes written, 4 unchanged.\n"
    assert not note.exists()
    assert (vault / "Bread notes.md").read_text().count(CID) >= 1
    assert "b0000000-0000-4000-8000-000000000002" in (vault / "Bread notes (b0000000).md").read_text()


HOSTILE_TITLES = [
    "../../escaped", "/etc/passwd", "..", ".", "...", "a/../../b", "..\\..\\windows", "C:\\evil",
    "CON", "nul.txt", "x\x00y", "\n---\nevil: true\n", "line\u2028break", "\u202eexe.md", "",
    "~/home", "#tag [[link]] ^block", "A" * 400, "é" * 300, "tab\there",
]


def test_hostile_titles_stay_inside_the_folder(tmp_path):
    db_path = tmp_path / "archive.db"
    for n, title in enumerate(HOSTILE_TITLES):
        hostile = copy.deepcopy(BRANCHED)
        hostile["id"] = hostile["conversation_id"] = f"c{n:04d}"
        hostile["title"] = title
        capture(db_path, hostile)
    outside = tmp_path / "outside"
    vault = outside / "vault"
    result = run("export", "markdown", "--db", db_path, vault)
    assert result.exit_code == 0, result.output
    written = [p for p in outside.rglob("*")]
    notes = [p for p in written if p.suffix == ".md"]
    assert len(notes) == len(HOSTILE_TITLES)
    assert all(p.parent == vault for p in notes)  # nothing above, nothing in a subfolder
    assert {p for p in written if p.parent != vault and p != vault} == set()
    assert len({p.name.lower() for p in notes}) == len(notes)
    for p in notes:
        assert len(p.name.encode()) <= 255 and not p.name.startswith(".")
        meta, _ = front_matter(p.read_text())
        assert HOSTILE_TITLES[int(meta["id"][1:])] == meta["title"] or (
            meta["title"] == "Untitled conversation" and HOSTILE_TITLES[int(meta["id"][1:])] == "")
        assert set(meta) == {"id", "title", "created", "updated", "model", "archive", "branch", "tags"}


def test_safe_name_and_yaml_str():
    assert safe_name("../../etc/passwd") == "etc passwd"
    assert safe_name("..") == "Untitled"
    assert safe_name("CON") == "Untitled CON"
    assert safe_name("a:b*c?d\"e<f>g|h") == "a b c d e f g h"
    assert yaml.safe_load("t: " + yaml_str("\n---\nx: 1\u2028\x00\"\\")) == {"t": "\n---\nx: 1\u2028\x00\"\\"}
    assert assign_names([("1", "Same"), ("2", "same"), ("3", "Same")], {}) == {
        "1": "Same.md", "2": "same (2).md", "3": "Same (3).md"}
    # Names given before are kept, even when an older conversation now has the same title.
    assert assign_names([("1", "Same"), ("2", "Same")], {"2": {"name": "Same.md", "title": "Same"}}) == {
        "1": "Same (1).md", "2": "Same.md"}


def test_planted_symlinks_and_manifest_entries_cannot_write_or_delete_outside(archive, tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.symlink(victim, vault / "Untitled.md")
    (vault / MANIFEST).write_text(json.dumps({"notes": {
        "gone": {"name": "../victim.txt", "files": ["assets/../../victim.txt", "assets/../victim.txt"]},
        "gone2": {"name": "../../victim.txt", "files": ["../victim.txt", 7]}}}))
    assert run("export", "markdown", "--db", archive, vault).exit_code == 0
    assert victim.read_text() == "keep me"
    assert not (vault / "Untitled.md").is_symlink()
    assert front_matter((vault / "Untitled.md").read_text())[0]["title"] == "Untitled conversation"


def test_export_into_a_file_is_one_line_error(archive, tmp_path):
    target = tmp_path / "file.md"
    target.write_text("x")
    result = run("export", "markdown", "--db", archive, target)
    assert result.exit_code == 2 and "is a file" in result.output


def test_jsonl_round_trips_every_node(archive, tmp_path):
    out = tmp_path / "all.jsonl"
    result = run("export", "jsonl", "--db", archive, out)
    assert result.exit_code == 0 and "Exported 5 conversations" in result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    fresh = tmp_path / "again.db"
    for line in lines:
        capture(fresh, json.loads(line))
    columns = "conversation_id, node_id, parent_id, author_role, text, is_current"
    old, new = open_db(archive), open_db(fresh)
    query = f"SELECT {columns} FROM chatgpt_message ORDER BY conversation_id, node_id"
    assert new.execute(query).fetchall() == old.execute(query).fetchall()
    branched = next(json.loads(x) for x in lines if json.loads(x)["id"] == CID)
    assert set(branched["mapping"]) == set(BRANCHED["mapping"])


def test_markdown_is_pure_and_fences_code_safely():
    conversation = {"id": "c1", "title": "t", "create_time": None, "update_time": None, "default_model_slug": None,
                    "project_id": None, "gizmo_id": None, "current_leaf": "b", "current_node": "b"}
    rows = [
        {"node_id": "a", "parent_id": None, "child_index": 0, "create_time": 1, "author_role": "user",
         "author_name": None, "model": None, "text": "run it", "content_type": "text", "is_hidden": 0},
        {"node_id": "b", "parent_id": "a", "child_index": 0, "create_time": 2, "author_role": "assistant",
         "author_name": None, "model": None, "text": "```\nbreak out\n```", "content_type": "code", "is_hidden": 0},
    ]
    text = reshape_markdown(conversation, rows, base_url="http://h")
    assert "````\n```\nbreak out\n```\n````" in text


def test_a_forgotten_conversation_leaves_the_vault(archive, tmp_path):
    vault = tmp_path / "vault"
    assert run("export", "markdown", "--db", archive, vault).exit_code == 0
    assert len(list((vault / "assets").iterdir())) == 2
    every = json.loads((vault / MANIFEST).read_text())["notes"]
    every_id = next(cid for cid, note in every.items() if note["files"])
    assert run("forget", "--db", archive, every_id).exit_code == 0
    assert run("export", "markdown", "--db", archive, vault).output == \
        f"Exported to {vault}: 0 notes written, 4 unchanged, 1 removed.\n"
    assert list((vault / "assets").iterdir()) == []  # its files went with it
    assert run("forget", "--db", archive, CID).exit_code == 0
    result = run("export", "markdown", "--db", archive, vault)
    assert result.output == f"Exported to {vault}: 0 notes written, 3 unchanged, 1 removed.\n"
    assert not (vault / "Synthetic branched chat sourdough proofing.md").exists()
    assert CID not in (vault / MANIFEST).read_text()
