"""The MCP server, driven by the official SDK's own client: over stdio (spawning
`chatgpt-archiver mcp`) and over streamable HTTP against the real `serve` (uvicorn on
loopback), where only a read-scope token gets in."""

import json
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from archiver.db import open_db, prepare_capture, save_capture, write_transaction
from archiver.semantic import embed_pending
from archiver.tokens import create_token
from conftest import ArchiveServer, fixture_json

BRANCHED = fixture_json("branched.json")
CID = BRANCHED["id"]
CURRENT_LEAF = "3d90b678-895b-55e4-ae92-05999d003cf8"
OTHER_LEAF = "971c897c-5266-5deb-b0b9-ab98f02c671c"  # "Bake at 230 °C for about 40 minutes."
LONG = "c0000000-0000-4000-8000-00000000106e"
TOOLS = ["list_recent_conversations", "get_conversation", "get_message", "search"]


def long_conversation(turns=40, size=3000):
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": ["n0"]}}
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"Turn {i} marker{i}. " + ("lorem ipsum " * (size // 12))
        mapping[f"n{i}"] = {
            "id": f"n{i}", "parent": "root" if i == 0 else f"n{i - 1}",
            "children": [f"n{i + 1}"] if i + 1 < turns else [],
            "message": {"id": f"n{i}", "author": {"role": role}, "create_time": 1_700_000_000 + i,
                        "content": {"content_type": "text", "parts": [text]}, "status": "finished_successfully",
                        "metadata": {}},
        }
    return {"id": LONG, "title": "A long one", "create_time": 1_700_000_000, "update_time": 1_700_000_100,
            "mapping": mapping, "current_node": f"n{turns - 1}"}


@pytest.fixture
def archive(db_path):
    db = open_db(db_path)
    conversations = [BRANCHED, fixture_json("every_content_type.json"), long_conversation(),
                     *fixture_json("export_list.json")]
    with write_transaction(db) as conn:
        for c in conversations:
            save_capture(conn, prepare_capture(json.dumps(c).encode()), source="test")
        tokens = {"read": create_token(conn, "claude", "read"), "write": create_token(conn, "browser")}
    embed_pending(db)
    db.close()
    return db_path, tokens


def text_of(result):
    assert not result.is_error, result.content[0].text
    return result.content[0].text


async def exercise(client, base_url):
    """The same checks over either transport."""
    assert [t.name for t in (await client.list_tools()).tools] == TOOLS
    assert all(t.annotations.read_only_hint for t in (await client.list_tools()).tools)

    every = json.loads(text_of(await client.call_tool("list_recent_conversations", {"limit": 100})))
    updated = [c["updated"] for c in every["conversations"]]
    assert updated == sorted(updated, reverse=True) and len(updated) == 6 and every["has_more"] is False
    recent = json.loads(text_of(await client.call_tool("list_recent_conversations", {"limit": 2})))
    assert recent == {"conversations": every["conversations"][:2], "has_more": True, "next_offset": 2}
    branched = next(c for c in every["conversations"] if c["conversation_id"] == CID)
    assert branched == {"conversation_id": CID, "title": "Synthetic branched chat: sourdough proofing",
                        "created": "2024-05-01T17:36:39Z", "updated": "2024-05-01T17:40:05Z", "model": "gpt-4o",
                        "project": None, "messages": 9, "link": f"{base_url}/-/c/{CID}"}
    by_model = json.loads(text_of(await client.call_tool("list_recent_conversations", {"model": "gpt-4o"})))
    assert CID in [c["conversation_id"] for c in by_model["conversations"]]
    assert LONG not in [c["conversation_id"] for c in by_model["conversations"]]

    markdown = text_of(await client.call_tool("get_conversation", {"conversation_id": CID}))
    assert f'archive: "{base_url}/-/c/{CID}"' in markdown
    assert "Preheat the pot to 250 °C" in markdown and "Bake at 230 °C" not in markdown
    other = text_of(await client.call_tool("get_conversation", {"conversation_id": CID, "leaf": OTHER_LEAF}))
    assert "Bake at 230 °C for about 40 minutes." in other and "Preheat the pot" not in other

    first = text_of(await client.call_tool("get_conversation", {"conversation_id": LONG}))
    # 40 turns of ~3,000 characters: 4 pages of at most 40,000.
    assert first.endswith("[Page 1 of 4; call get_conversation with page=2 for more.]")
    pages = [first] + [text_of(await client.call_tool("get_conversation", {"conversation_id": LONG, "page": p}))
                       for p in (2, 3, 4)]
    assert pages[3].endswith("[Page 4 of 4.]")
    assert all(len(p) < 41_000 for p in pages)
    joined = "".join(pages)
    assert [joined.count(f"marker{i}.") for i in range(40)] == [1] * 40  # every turn once, in a page

    message = json.loads(text_of(await client.call_tool("get_message", {"message_id": "n10", "before": 1, "after": 2})))
    assert message["conversation_id"] == LONG and message["link"] == f"{base_url}/-/c/{LONG}#m-n10"
    assert [m["node_id"] for m in message["before"]] == ["n9"]
    assert [m["node_id"] for m in message["after"]] == ["n11", "n12"]
    assert message["message"]["text"].startswith("Turn 10 marker10.")

    for mode in ("keyword", "hybrid"):
        found = json.loads(text_of(await client.call_tool("search", {"query": "sourdough proof", "mode": mode})))
        best = found["conversations"][0]
        assert (best["conversation_id"], best["link"]) == (CID, f"{base_url}/-/c/{CID}")
        assert best["messages"][0] == {
            "node_id": "aaa20ec8-71a9-5a28-9b44-4686834001ac", "role": "user", "created": "2024-05-01T17:37:00Z",
            "on_current_branch": True, "snippet": "How long should I proof sourdough overnight?",
            "link": f"{base_url}/-/c/{CID}#m-aaa20ec8-71a9-5a28-9b44-4686834001ac"}
    # By meaning: none of these words is in the conversation.
    meaning = json.loads(text_of(await client.call_tool(
        "search", {"query": "leaving bread dough in the refrigerator", "mode": "semantic", "limit": 3})))
    assert CID in [c["conversation_id"] for c in meaning["conversations"]]
    none = json.loads(text_of(await client.call_tool("search", {"query": "sourdough", "model": "no-such-model"})))
    assert none["conversations"] == []
    bad_mode = await client.call_tool("search", {"query": "x", "mode": "sql"})
    assert bad_mode.is_error

    missing = await client.call_tool("get_conversation", {"conversation_id": "x' OR 1=1 --"})
    assert missing.is_error and "no conversation" in missing.content[0].text
    bad_page = await client.call_tool("get_conversation", {"conversation_id": CID, "page": 9})
    assert bad_page.is_error and "has 1 page(s)" in bad_page.content[0].text


def test_stdio(archive):
    db_path, _ = archive

    async def main():
        # The installed console script, as a desktop client's configuration names it.
        params = StdioServerParameters(command=str(Path(sys.executable).parent / "chatgpt-archiver"),
                                       args=["mcp", "--db", str(db_path), "--base-url", "http://a:1"])
        async with Client(params, read_timeout_seconds=60) as client:
            await exercise(client, "http://a:1")

    anyio.run(main)
    # Read-only: the archive's file was opened in SQLite's read-only mode; nothing was written.
    assert open_db(db_path).execute("SELECT count(*) FROM chatgpt_capture").fetchone()[0] == 6


def test_stdio_refuses_a_missing_archive(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "archiver", "mcp", "--db", str(tmp_path / "nope.db")],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("Error: no archive at")
    assert not (tmp_path / "nope.db").exists()


@pytest.fixture
def server(archive):
    db_path, tokens = archive
    running = ArchiveServer(db_path).start()
    yield running, tokens
    running.stop()


def client_with(url, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url + "/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


def test_streamable_http_with_a_read_token(server):
    running, tokens = server

    async def main():
        async with client_with(running.url, tokens["read"]) as client:
            await exercise(client, running.url)

    anyio.run(main)


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def test_http_refuses_write_tokens_and_no_token_and_read_tokens_cannot_write(server):
    import urllib.request
    import urllib.error

    running, tokens = server

    def post(path, token, body):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(running.url + path, data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    assert post("/mcp", None, INITIALIZE) == (401, {
        "ok": False, "status": 401, "error": "missing token: send Authorization: Bearer <read token>"})
    assert post("/mcp", "cga_wrong", INITIALIZE) == (401, {"ok": False, "status": 401,
                                                         "error": "invalid or revoked token"})
    assert post("/mcp", tokens["write"], INITIALIZE) == (403, {
        "ok": False, "status": 403, "error": "token 'browser' is a write token; this needs a read token"})
    status, answer = post("/mcp", tokens["read"], INITIALIZE)
    assert status == 200 and answer["result"]["serverInfo"]["name"] == "chatgpt-archiver"
    # No idle event stream is held open for anyone: GET (and DELETE) are 405 at once.
    for method in ("GET", "DELETE"):
        request = urllib.request.Request(running.url + "/mcp", method=method,
                                         headers={"Authorization": f"Bearer {tokens['read']}"})
        with pytest.raises(urllib.error.HTTPError) as refused_method:
            urllib.request.urlopen(request, timeout=10)
        assert refused_method.value.code == 405
        assert json.loads(refused_method.value.read()) == {"ok": False, "error": "MCP here takes POST only",
                                                           "status": 405}

    # The read token is refused by every write endpoint of the same server.
    capture = fixture_json("dangling.json")
    assert post("/api/conversations", tokens["read"], capture)[0] == 403
    assert post("/archive/chatgpt_message/-/insert", tokens["read"], {"row": {"id": "x"}})[0] == 403

    # The SDK's client with a write token, or none, gets no session.
    async def refused(token):
        with pytest.raises(Exception):
            async with client_with(running.url, token) as client:
                await client.list_tools()

    anyio.run(refused, tokens["write"])
    anyio.run(refused, None)


def test_a_forgotten_conversation_is_gone_from_every_tool(archive):
    """`forget` deletes rows: search (every mode), list, get and its embeddings lose it."""
    from click.testing import CliRunner

    from archiver.cli import cli

    db_path, _ = archive
    assert CliRunner().invoke(cli, ["forget", "--db", str(db_path), CID]).exit_code == 0
    assert open_db(db_path).execute(
        "SELECT count(*) FROM chatgpt_embedding e JOIN chatgpt_message m ON m.id = e.message_id"
        " WHERE m.conversation_id = ?", [CID]).fetchone() == (0,)

    async def main():
        params = StdioServerParameters(command=sys.executable, args=["-m", "archiver", "mcp", "--db", str(db_path)])
        async with Client(params, read_timeout_seconds=60) as client:
            for mode in ("keyword", "semantic", "hybrid"):
                found = json.loads(text_of(await client.call_tool("search", {"query": "sourdough proof", "mode": mode})))
                assert CID not in [c["conversation_id"] for c in found["conversations"]]
            listed = json.loads(text_of(await client.call_tool("list_recent_conversations", {"limit": 100})))
            assert CID not in [c["conversation_id"] for c in listed["conversations"]]
            assert (await client.call_tool("get_conversation", {"conversation_id": CID})).is_error
            assert (await client.call_tool("get_message", {"message_id": CURRENT_LEAF})).is_error

    anyio.run(main)


def test_search_says_when_nothing_is_embedded_yet(db):
    from archiver.conversations import search_conversations

    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(json.dumps(BRANCHED).encode()), source="test")
    found = search_conversations(db.conn, "sourdough", mode="hybrid")
    assert [c["conversation_id"] for c in found["conversations"]] == [CID]  # the words still match
    assert found["notice"].startswith("No message is embedded yet")
    assert search_conversations(db.conn, "sourdough", mode="keyword")["notice"] is None
    embed_pending(db)
    assert search_conversations(db.conn, "sourdough", mode="hybrid")["notice"] is None
