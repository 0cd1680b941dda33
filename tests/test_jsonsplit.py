"""Splitting an export's conversation array into each element's exact bytes, in bounded memory."""

import io
import json

import pytest
from hypothesis import given, settings, strategies as st

from archiver.jsonsplit import SplitError, split_array

# Strings that look like JSON structure are what could fool a splitter.
tricky = st.sampled_from(['}]', '"},{"', '\\', '\\"', '{"a": [', "é\u2028", "😀", "\x00", "]"])
strings = st.one_of(st.text(max_size=6), tricky)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), strings)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)), max_leaves=30)


def split(data, chunk):
    return [bytes(e) for e in split_array(io.BytesIO(data), chunk=chunk)]


@settings(max_examples=300, deadline=None)
@given(elements=st.lists(values, max_size=6), chunk=st.integers(1, 64),
       layout=st.sampled_from([dict(separators=(",", ":")), dict(separators=(", ", ": ")), dict(indent=2)]),
       ascii_only=st.booleans())
def test_elements_come_out_as_their_exact_bytes(elements, chunk, layout, ascii_only):
    data = json.dumps(elements, ensure_ascii=ascii_only, **layout).encode()
    parts = split(data, chunk)
    assert [json.loads(p) for p in parts] == elements
    # Exact bytes: each part is the element's own text, in order, nothing between them but
    # separators and whitespace.
    pos = data.index(b"[") + 1
    for part, element in zip(parts, elements):
        at = data.index(part, pos)
        assert data[pos:at].strip(b" \n,") == b""
        assert part == json.dumps(element, ensure_ascii=ascii_only, **layout).replace("\n", "\n  ").encode()
        pos = at + len(part)


@pytest.mark.parametrize("data, parts", [
    (b"[]", []),
    (b" \n[ ] \n", []),
    (b'[{"a":"\\ud800"}, {"b":2}]', [b'{"a":"\\ud800"}', b'{"b":2}']),  # msgspec refuses; the scanner cuts
    (b'[{"a":NaN},{"b":1}]', [b'{"a":NaN}', b'{"b":1}']),
    (b"[" + b"[" * 3000 + b"]" * 3000 + b',{"z":1}]', [b"[" * 3000 + b"]" * 3000, b'{"z":1}']),
    (b'[{"a":"\\\\"},{"b":"\\\\\\"]"}]', [b'{"a":"\\\\"}', b'{"b":"\\\\\\"]"}']),
])
@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_what_msgspec_cannot_read_is_still_cut_exactly(data, parts, chunk):
    assert split(data, chunk) == parts


@pytest.mark.parametrize("data, error", [
    (b'{"a":1}', "expected a JSON array"),
    (b'[{"a":1},', "the array is cut off (no closing ']')"),
    (b'[{"a":1}', "the array is cut off (no closing ']')"),
    (b'[{"a":"cut', "the array is cut off inside an element"),
    (b'[{"a":1}]x', "data after the end of the array"),
    (b'[{"a":1} {"b":2}]', "expected ',' or ']' after an element, found b'{'"),
])
@pytest.mark.parametrize("chunk", [1, 1 << 20])
def test_malformed_arrays_are_refused_after_the_good_elements(data, error, chunk):
    with pytest.raises(SplitError, match=error.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        split(data, chunk)


def test_memory_is_bounded_by_the_largest_element_not_the_file():
    element = json.dumps({"text": "x" * 100_000}).encode()
    data = b"[" + b",".join([element] * 200) + b"]"  # 20 MB
    stream, chunk = io.BytesIO(data), 64 * 1024
    for n, part in enumerate(split_array(stream, chunk=chunk), 1):
        assert part == element
        # Read no further ahead than an element and a chunk past the one handed out.
        assert stream.tell() <= n * (len(element) + 1) + 2 * max(chunk, len(element))
    assert n == 200


def test_a_string_cut_right_after_a_backslash_is_not_read_as_brackets():
    # Found by the property above: msgspec calls a number cut off by the buffer "invalid", so
    # the scanner takes over; a buffer ending inside '"\"},{\"' just after a backslash made
    # it read the string's '}' as the element's end.
    element = {"-": -1.5e16, '"},{"': None}
    data = json.dumps([element], separators=(",", ":")).encode()
    for chunk in range(1, len(data) + 1):
        assert split(data, chunk) == [json.dumps(element, separators=(",", ":")).encode()], chunk
