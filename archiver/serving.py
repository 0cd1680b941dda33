"""uvicorn's HTTP/1.1 protocol with a deadline for request headers.

uvicorn times out a connection only while it idles between requests, and forgets even that
once any byte arrives. A client that connects and says nothing, or sends its headers a byte at
a time, would hold a connection (a file descriptor) forever; enough of them and nobody else
gets in. Here every request's headers must be complete within ``HEADER_TIMEOUT`` seconds of
the connection opening or the previous response ending. Bodies are bounded by
``guards.BodyGuard``. Tested against the real server (tests/test_security_server.py), so a
uvicorn release that changes these hooks fails there.
"""

import errno
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout = HEADER_TIMEOUT
    _header_timer = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data):
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._cancel_header_timer()

    def on_response_complete(self):
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request on this connection gets the same deadline

    def connection_lost(self, exc):
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self):
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self):
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self):
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(seconds):
    """The protocol class for uvicorn's ``http=`` with this many seconds for headers."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})


class CannotListen(Exception):
    """The address cannot be listened on (in use, not this machine's, not an address)."""


def listen(host, port):
    """A socket bound to ``host:port``, for uvicorn's ``Server.run(sockets=...)``. Binding here,
    before the server starts, lets a busy port be one clear line instead of a log of startup."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise CannotListen(f"cannot listen on {host!r}: not an address of this machine ({e})") from None
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a restart may take the port while old connections linger in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise CannotListen(f"port {port} is already in use on {host}; stop what uses it or pick"
                               " another with --port") from None
        if e.errno == errno.EACCES:
            raise CannotListen(f"not allowed to listen on port {port}; ports below 1024 need root,"
                               " pick another with --port") from None
        raise CannotListen(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock
