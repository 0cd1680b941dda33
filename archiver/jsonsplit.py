"""Split a streamed JSON array into the exact bytes of each element, in bounded memory.

An export's conversations.json is one array of conversations, up to gigabytes. The archive
keeps each conversation exactly as the export wrote it, so each element is cut out as bytes,
not parsed and re-serialised. msgspec finds where an element ends: decoding from its first
byte to past its end fails with "trailing characters (byte N)", and N is the end; msgspec
skips what it does not build (``msgspec.Raw``) at about a gigabyte a second. What msgspec
cannot read but may still be JSON (lone surrogate escapes, NaN, nesting past its limit) is
cut out by a slower scanner of strings and brackets; whether it parses is for the caller.
Pure: bytes in, bytes out.
"""

import re

import msgspec

CHUNK = 8 * 1024 * 1024  # read size; memory holds about the largest element plus this
_SKIP = msgspec.json.Decoder(msgspec.Raw)
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_WHITESPACE = b" \t\n\r"
_NOT_WHITESPACE = re.compile(rb"[^ \t\n\r]")
# A whole string (to the end of the buffer if it is cut off there, even right after a
# backslash: else the string's own text would be read as brackets), or a bracket.
_SCALAR_END = re.compile(rb"[,\]\s]")
_TOKEN = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)|[\[\]{}]')


class SplitError(ValueError):
    """Not a well-formed JSON array; the message says where it went wrong."""


class _Buffer:
    def __init__(self, stream, chunk):
        self.stream, self.chunk = stream, chunk
        self.data, self.pos, self.eof = b"", 0, False

    def more(self, at_least=0):
        """Read more (at least what is already buffered past ``pos``, so re-scanning a growing
        element costs linear time); False at the end of the stream."""
        if self.eof:
            return False
        block = self.stream.read(max(self.chunk, at_least))
        if not block:
            self.eof = True
            return False
        self.data = self.data[self.pos:] + block  # drop what has been handed out
        self.pos = 0
        return True

    def skip_whitespace(self):
        """Move to the next byte that is not whitespace and return it (None at the end)."""
        while True:
            found = _NOT_WHITESPACE.search(self.data, self.pos)
            if found:
                self.pos = found.start()
                return self.data[self.pos:self.pos + 1]
            self.pos = len(self.data)
            if not self.more():
                return None


def split_array(stream, chunk=CHUNK):
    """Yield the bytes of each element of the JSON array in ``stream`` (a binary file, read
    from its current position, which must be at the array or whitespace before it)."""
    buf = _Buffer(stream, chunk)
    if buf.skip_whitespace() != b"[":
        raise SplitError("expected a JSON array")
    buf.pos += 1
    first = True
    while True:
        head = buf.skip_whitespace()
        if head is None:
            raise SplitError("the array is cut off (no closing ']')")
        if head == b"]" and first:
            break
        length = _element_length(buf)
        yield buf.data[buf.pos:buf.pos + length]
        buf.pos += length
        first = False
        after = buf.skip_whitespace()
        if after == b",":
            buf.pos += 1
        elif after == b"]":
            break
        elif after is None:
            raise SplitError("the array is cut off (no closing ']')")
        else:
            raise SplitError(f"expected ',' or ']' after an element, found {after!r}")
    buf.pos += 1
    if buf.skip_whitespace() is not None:
        raise SplitError("data after the end of the array")


def _element_length(buf):
    """Length in bytes of the element starting at ``buf.pos`` (buffering as needed)."""
    while True:
        view = memoryview(buf.data)[buf.pos:]
        try:
            _SKIP.decode(view)
        except msgspec.DecodeError as e:
            message = str(e)
            trailing = _TRAILING.search(message)
            if trailing:
                # N counts from 1 and points past the first byte after the element and
                # any whitespace: the element is what precedes that, whitespace stripped.
                return len(bytes(view[: int(trailing.group(1)) - 1]).rstrip(_WHITESPACE))
            if "truncated" in message and buf.more(len(view)):
                continue
            # Not JSON to msgspec, or cut off at the end of the file: the scanner decides.
            return _scan_length(buf)
        except RecursionError:
            return _scan_length(buf)
        # The buffer ends exactly at the element's end: read on to see what follows.
        if not buf.more(len(view)):
            raise SplitError("the array is cut off (no closing ']')")


def _scan_length(buf):
    """The slow way: strings and brackets, counted. Finds the end of any well-formed element
    (at any depth, with any escapes); malformed ones end wherever their brackets balance."""
    if buf.data[buf.pos:buf.pos + 1] not in (b"{", b"[", b'"'):  # a number, true, false, null...
        while True:
            end = _SCALAR_END.search(buf.data, buf.pos)
            if end is not None:
                return end.start() - buf.pos
            if not buf.more(len(buf.data) - buf.pos):
                return len(buf.data) - buf.pos
    while True:
        data, depth = buf.data, 0
        for match in _TOKEN.finditer(data, buf.pos):
            token = match.group()
            if token[:1] == b'"':
                if match.end() == len(data) and (len(token) < 2 or not token.endswith(b'"')
                                                  or _escaped_quote(token)):
                    break  # a string cut off by the end of the buffer
                if depth == 0:
                    return match.end() - buf.pos  # an element that is just a string
                continue
            depth += 1 if token in (b"[", b"{") else -1
            if depth == 0:
                return match.end() - buf.pos
        if not buf.more(len(data) - buf.pos):
            raise SplitError("the array is cut off inside an element")


def _escaped_quote(token):
    """Whether a string token's final quote is escaped (an odd run of backslashes before it)."""
    body = token[1:-1]
    return (len(body) - len(body.rstrip(b"\\"))) % 2 == 1
