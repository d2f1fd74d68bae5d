"""The TCP sockets the two transports read and write directly: kernel-side timeouts, and the
receive both do (:class:`SocketLink`).

A blocking socket with ``SO_RCVTIMEO``/``SO_SNDTIMEO`` set waits in one system call and gives
up after the given time (Python then raises ``BlockingIOError``, or ``TimeoutError`` on
Windows), where Python's own ``settimeout`` would ``poll`` before every ``recv``: one system
call per receive instead of two. No I/O library is imported here.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time
from typing import Any

from labctl.drivers.transports.base import LinkLifetime
from labctl.errors import ConnectionLostError, InstrumentTimeoutError, ValidationError

#: What an expired ``SO_RCVTIMEO``/``SO_SNDTIMEO`` raises (EAGAIN; WSAETIMEDOUT on Windows).
EXPIRED: tuple[type[OSError], ...] = (BlockingIOError, TimeoutError)


def check_timeout(value: Any, name: str = "timeout") -> float:
    """A transport timeout in seconds, 0 < t ≤ 3600, as a float (else a ValidationError)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
        0 < value <= 3600
    ):
        raise ValidationError(name, value, "seconds, 0 < timeout ≤ 3600")
    return float(value)


def set_socket_timeout(sock: socket.socket, option: int, seconds: float) -> bool:
    """Bound blocking receives (``option=SO_RCVTIMEO``) or sends (``SO_SNDTIMEO``) on
    ``sock`` to ``seconds`` (> 0; never rounded down to 0, which would mean "wait forever");
    False where the platform refuses the option."""
    try:
        if sys.platform == "win32":
            value = struct.pack("=L", max(1, int(seconds * 1000)))
        else:
            whole = int(seconds)
            micro = int((seconds - whole) * 1e6)
            value = struct.pack("@ll", whole, micro if whole or micro else 1)
        sock.setsockopt(socket.SOL_SOCKET, option, value)
    except (OSError, struct.error):
        return False
    return True


class SocketLink(LinkLifetime):
    """A link whose replies are received from its TCP socket directly, as both transports do:
    each receive is one blocking ``recv`` bounded by ``SO_RCVTIMEO`` (``select`` first where
    the platform refuses that option), so no system call is spent checking beforehand; an
    expired wait is a timeout, an empty ``recv`` the peer's close, any other socket error a
    lost connection, and each of the three drops the link, so a late reply can never answer
    the next request.

    A transport sets ``_recv_size`` (bytes per ``recv``) and ``_peer`` (who may close the
    connection, for the error: "instrument", "device"), and sets ``_rcvtimeo`` to 0 on each
    new socket.
    """

    _recv_size: int
    _peer: str
    #: SO_RCVTIMEO now set on the socket, s (0: not set yet; < 0: the platform refuses it)
    _rcvtimeo: float

    def _awaiting(self, what: str) -> str:
        """How the errors name what was being awaited (``what`` itself by default)."""
        return what

    def _timed_out(self, what: str, limit: float) -> InstrumentTimeoutError:
        """Drop the link (a reply may still arrive later: it must not answer the next
        request) and give the timeout error of ``what`` after ``limit`` s."""
        self._drop()
        return InstrumentTimeoutError(self._resource, what, limit)

    def _receive(self, sock: socket.socket, what: str, limit: float,
                 deadline: float | None = None) -> bytes:
        """The next bytes from ``sock`` within ``limit`` s, or, given a ``deadline`` (a
        ``time.monotonic()`` value), within what is left until then; ``limit`` is the
        timeout the error reports."""
        if deadline is None:
            wait = limit
        else:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise self._timed_out(what, limit)
        try:
            if (self._rcvtimeo == wait or self._bound_receive(sock, wait)
                    or select.select([sock], [], [], wait)[0]):
                data = sock.recv(self._recv_size)
            else:
                data = None
        except EXPIRED:  # SO_RCVTIMEO expired: nothing came
            data = None
        except OSError as exc:
            self._drop()
            raise ConnectionLostError(self._resource, f"{self._awaiting(what)}: {exc}") from exc
        if data is None:
            raise self._timed_out(what, limit)
        if not data:
            self._drop()
            raise ConnectionLostError(
                self._resource, f"{self._awaiting(what)}: connection closed by the {self._peer}")
        return data

    def _bound_receive(self, sock: socket.socket, wait: float) -> bool:
        """Make blocking receives on ``sock`` give up after ``wait`` s (SO_RCVTIMEO); False
        where the platform refuses, and then the caller waits with ``select`` instead."""
        if self._rcvtimeo < 0:
            return False
        if not set_socket_timeout(sock, socket.SO_RCVTIMEO, wait):
            self._rcvtimeo = -1.0
            return False
        self._rcvtimeo = wait
        return True
