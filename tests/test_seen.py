"""archiver.seen.SeenIds: a bulk load's written row ids. A "no" must never be wrong (the row
would collide with one the load wrote); a "maybe" only costs an index lookup."""

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.seen import SeenIds


def test_every_id_added_is_found_across_growth_and_few_others_are():
    seen = SeenIds()
    added = [f"node-{i}" for i in range(200_000)]  # three filters: 65,536, then 131,072 more
    for start in range(0, len(added), 3_000):
        seen.add(added[start:start + 3_000])
    assert len(seen._filters) == 3
    assert seen.maybe(added) == added
    others = [f"other-{i}" for i in range(100_000)]
    assert len(seen.maybe(others)) < 1_000  # about 0.5% with three filters
    assert seen.maybe([]) == []


def test_nothing_added_means_nothing_may_be():
    assert SeenIds().maybe(["a", "b"]) == []


@settings(max_examples=50)
@given(st.lists(st.lists(st.text(), max_size=50), max_size=20), st.lists(st.text(), max_size=50))
def test_no_false_no_for_any_strings(batches, probes):
    seen = SeenIds()
    added = set()
    for batch in batches:
        seen.add(batch)
        added.update(batch)
    wanted = [p for p in probes if p in added] + sorted(added)
    assert seen.maybe(wanted) == wanted
