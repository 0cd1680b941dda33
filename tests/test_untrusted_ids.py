"""Issue 12, class 2: row identity never crosses conversations. Whatever conversation and
node ids captures carry, each conversation's rows hold exactly its own nodes and texts."""

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import archiver.db
from archiver.db import open_db, prepare_capture, rebuild, save_capture, write_transaction

from untrusted import conversation, message, raw


def capture_of(cid, nodes, version):
    """A one-branch conversation whose node texts name their conversation, node and version."""
    turns, parent = [], None
    for node in nodes:
        turns.append((node, parent, message(node, "user", f"{cid}|{node}|{version}")))
        parent = node
    return conversation(cid, turns, root=f"root-{cid}")


def save(db, data):
    with write_transaction(db) as conn:
        save_capture(conn, prepare_capture(raw(data)), source="api")


def contents(db):
    """conversation -> {node: text} as stored."""
    out = {}
    for cid, node, text in db.execute("select conversation_id, node_id, text from chatgpt_message"
                                      " where author_role is not null"):
        out.setdefault(cid, {})[node] = text
    return out


def expected(latest):
    return {cid: {node: f"{cid}|{node}|{version}" for node in nodes} for cid, (nodes, version) in latest.items()}


def test_a_colliding_fallback_id_cannot_write_into_another_conversation(db):
    save(db, capture_of("x", ["c", "b:c"], 1))  # takes the bare ids c and b:c
    save(db, capture_of("a", ["b:c"], 1))  # b:c is taken: row a:b:c
    save(db, capture_of("a:b", ["c"], 1))  # c is taken: today also a:b:c, conversation a's row
    assert contents(db) == expected({"x": (["c", "b:c"], 1), "a": (["b:c"], 1), "a:b": (["c"], 1)})


def test_two_nodes_of_one_capture_never_share_a_row(db):
    save(db, capture_of("x", ["c"], 1))
    save(db, capture_of("a", ["c", "a:c"], 1))  # c falls back to a:c, the other node's bare id
    assert contents(db) == expected({"x": (["c"], 1), "a": (["c", "a:c"], 1)})


OLD_ASSIGN = archiver.db._assign_row_ids


def _old_assign_row_ids(conn, cid, messages, mine):
    """main at 5ba12ca: the fallback id was checked against nothing."""
    fresh = [m["node_id"] for m in messages if m["node_id"] not in mine]
    taken = {r[0] for r in conn.execute(
        "SELECT id FROM chatgpt_message WHERE id IN (SELECT value FROM json_each(?)) AND conversation_id IS NOT ?",
        [json.dumps(fresh), cid])} if fresh else set()
    out = []
    for m in messages:
        node = m["node_id"]
        row_id = mine.get(node) or (f"{cid}:{node}" if node in taken else node)
        out.append(m if row_id == m["id"] else dict(m, id=row_id))
    return out


def _old_upsert():
    return archiver.db._MESSAGE_INSERT + " ON CONFLICT(id) DO UPDATE SET " + ", ".join(
        f"[{c}] = excluded.[{c}]" for c in archiver.db.MESSAGE_COLUMNS if c not in ("id", "node_id", "conversation_id"))


def test_rebuild_repairs_what_the_old_id_scheme_mixed_up(db, monkeypatch):
    monkeypatch.setattr(archiver.db, "_assign_row_ids", _old_assign_row_ids)
    monkeypatch.setattr(archiver.db, "_MESSAGE_UPSERT", _old_upsert())
    save(db, capture_of("x", ["c", "b:c"], 1))
    save(db, capture_of("a", ["b:c"], 1))
    save(db, capture_of("a:b", ["c"], 1))
    monkeypatch.undo()
    damaged = contents(db)
    assert damaged["a"] == {"b:c": "a:b|c|1"} and "a:b" not in damaged  # the damage the issue describes
    with write_transaction(db) as conn:
        rebuild(conn)
    assert contents(db) == expected({"x": (["c", "b:c"], 1), "a": (["b:c"], 1), "a:b": (["c"], 1)})
    counts = dict(db.execute("select id, message_count from chatgpt_conversation"))
    assert counts == {"x": 2, "a": 1, "a:b": 1}


pieces = st.sampled_from(["a", "b", "c", "a:b", "b:c", "a:b:c", ":", "a:", ":c", "client-created-root", "x:2"])
captures = st.lists(st.tuples(pieces, st.lists(pieces, min_size=1, max_size=4, unique=True)), min_size=1,
                    max_size=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(captures)
def test_any_ids_keep_every_conversation_to_itself(tmp_path_factory, sequence):
    db = open_db(tmp_path_factory.mktemp("ids") / "archive.db")
    latest = {}
    for version, (cid, nodes) in enumerate(sequence):
        # A later capture of a conversation keeps the nodes it had (nothing is ever deleted).
        have = latest.get(cid, ([], 0))[0]
        nodes = have + [n for n in nodes if n not in have]
        data = capture_of(cid, nodes, version)
        save(db, data)
        latest[cid] = (nodes, version)
    assert contents(db) == expected(latest)
    ids = [r[0] for r in db.execute("select id from chatgpt_message")]
    assert len(ids) == len(set(ids))
    with write_transaction(db) as conn:
        rebuild(conn)
    assert contents(db) == expected(latest)
    db.close()


def test_ids_made_in_advance_cannot_make_the_search_for_a_free_one_long(db):
    save(db, capture_of("x", ["c"], 1))
    with write_transaction(db) as conn:  # what a token's insert API could create beforehand
        conn.executemany("insert into chatgpt_message (id, conversation_id, node_id) values (?, 'y', ?)",
                         [[f"a:c:{i}" if i else "a:c", f"squat{i}"] for i in range(5000)])
    queries = []
    db.conn.set_trace_callback(queries.append)
    save(db, capture_of("a", ["c"], 1))
    db.conn.set_trace_callback(None)
    assert contents(db)["a"] == {"c": "a|c|1"}
    (row_id,) = db.execute("select id from chatgpt_message where conversation_id = 'a' and node_id = 'c'").fetchone()
    assert row_id.startswith("a:c:") and len(row_id) == len("a:c:") + 16
    assert len([q for q in queries if "SELECT 1 FROM chatgpt_message WHERE id" in q]) <= 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(captures)
# Batches of three. Two nodes "b" in one batch: the second's fallback "a:b" is held since the
# first batch. A node "a:b" given after "a:b" went to a node "b" in its batch: its fallback
# "c:a:b" is held since the first batch.
@example([("x", ["a:b"]), ("y", ["q"]), ("z", ["r"]), ("w", ["b"]), ("a", ["b"])])
@example([("x", ["c:a:b"]), ("y", ["q"]), ("z", ["r"]), ("w", ["b"]), ("a", ["b"]), ("c", ["a:b"])])
def test_a_bulk_load_gives_any_ids_the_rows_a_plain_import_gives(tmp_path_factory, sequence):
    """The same captures as an export, imported into a new archive the bulk way (batched, its
    row ids chosen for a whole batch at once: db.save_new_captures) and the plain way: the
    same rows, ids included, and each conversation keeps to itself. Small batches, so ids
    collide within a batch and across batches."""
    from archiver import importer, preparing
    from archiver.importer import import_paths

    folder = tmp_path_factory.mktemp("bulk-ids")
    items, latest = [], {}
    for version, (cid, nodes) in enumerate(sequence):
        have = latest.get(cid, ([], 0))[0]
        nodes = have + [n for n in nodes if n not in have]
        items.append(capture_of(cid, nodes, version))
        latest[cid] = (nodes, version)
    export = folder / "conversations.json"
    export.write_text(json.dumps(items))
    rows = {}
    for bulk in (False, True):
        db = open_db(folder / f"{bulk}.db")
        limits = preparing.BATCH, preparing.FIRST_BATCH_BYTES
        preparing.BATCH, preparing.FIRST_BATCH_BYTES = 3, 1 << 20
        try:
            import_paths(db, [export], bulk=bulk)
        finally:
            preparing.BATCH, preparing.FIRST_BATCH_BYTES = limits
        assert contents(db) == expected(latest)
        rows[bulk] = db.execute("select id, conversation_id, node_id, text from chatgpt_message order by 2, 3").fetchall()
        db.close()
    assert rows[True] == rows[False]
    assert importer.PREPARE_APART_ABOVE > export.stat().st_size  # prepared here: the limits above apply
