"""Kernel-side timeouts on the TCP sockets the two transports read and write directly.

A blocking socket with ``SO_RCVTIMEO``/``SO_SNDTIMEO`` set waits in one system call and gives
up after the given time (Python then raises ``BlockingIOError``, or ``TimeoutError`` on
Windows), where Python's own ``settimeout`` would ``poll`` before every ``recv``: one system
call per receive instead of two. No I/O library is imported here.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

from labctl.errors import ValidationError

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
