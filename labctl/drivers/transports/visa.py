"""Message-based transport: SCPI lines over PyVISA with the pure-Python ``@py`` backend.

This module and :mod:`labctl.drivers.transports.modbus` are the only ones that import an
instrument I/O library. Everything pyvisa can raise is translated here, once, into labctl's
errors; timeouts are float seconds everywhere else and become pyvisa's milliseconds only here.

pyvisa parses the resource string and opens the session. For a ``TCPIP::…::SOCKET``
session the transport then sends and receives on the session's own socket, for two reasons:
pyvisa-py's SOCKET read cannot see a connection the peer has closed (it spins until its
timeout), and its read and write add a ``select`` and much interpreter work per call to
the two system calls a query needs (the README's benchmark table has the figures). Here a
query is one ``sendall`` and (for a reply of up to 64 KiB) one blocking ``recv`` bounded by
``SO_RCVTIMEO``: an empty ``recv`` is the peer's close, seen at once as
:class:`ConnectionLostError`, and an expired one a timeout, without burning a core while
waiting. Writes are bounded by ``SO_SNDTIMEO`` likewise. Other session types (VXI-11
``INSTR``, serial, USB) read and write through pyvisa as usual. One more pyvisa-py behaviour
is worked around: a refused connection is reported as opened (checked with ``SO_ERROR`` in
:meth:`VisaTransport.open`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

import pyvisa
from pyvisa import constants
from pyvisa import errors as visa_errors
from pyvisa_py.tcpip import TCPIPSocketSession  # the "@py" backend: missing → fails here

from labctl.drivers.transports.sockets import EXPIRED, SocketLink, check_timeout, set_socket_timeout
from labctl.errors import (
    ConnectionLostError,
    InstrumentCommunicationError,
    LabctlError,
    ResponseError,
    ValidationError,
)

_log = logging.getLogger(__name__)

_SUCCESS_MORE = constants.StatusCode.success_max_count_read
#: Warnings pyvisa would otherwise raise through ``warnings`` (an error under pytest) for a
#: read that merely filled its chunk: more data follows, the loop below fetches it.
_QUIET = (constants.StatusCode.success_max_count_read,
          constants.StatusCode.success_device_not_present)
_LINK_CODES = frozenset({
    constants.StatusCode.error_connection_lost,
    constants.StatusCode.error_io,
    constants.StatusCode.error_invalid_object,
    constants.StatusCode.error_closing_failed,
})
_CHUNK = 65536


class _SharedResourceManager:
    """One ``ResourceManager("@py")`` per process, opened on first use, closed after the last.

    Opening a resource manager is slow and pyvisa keeps one per backend anyway; counting users
    lets the last transport to close release it cleanly (no dangling sessions at exit).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rm: pyvisa.ResourceManager | None = None
        self._users = 0

    def acquire(self) -> pyvisa.ResourceManager:
        with self._lock:
            if self._rm is None or not _alive(self._rm):
                self._rm = pyvisa.ResourceManager("@py")
            self._users += 1
            return self._rm

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0 and self._rm is not None:
                rm, self._rm, self._users = self._rm, None, 0
                if _alive(rm):
                    rm.close()


def _alive(rm: pyvisa.ResourceManager) -> bool:
    """Whether ``rm`` is still open. pyvisa hands every ``ResourceManager("@py")`` in the
    process the same object, so any other user of pyvisa closing its own closes ours too;
    the next transport to open then starts a fresh one instead of failing with "Invalid
    session handle"."""
    try:
        rm.session  # noqa: B018 - raises once closed
    except visa_errors.InvalidSession:
        return False
    return True


_RESOURCE_MANAGER = _SharedResourceManager()


def _check_termination(name: str, value: str) -> str:
    if not isinstance(value, str) or value not in ("\n", "\r\n", "\r"):
        raise ValidationError(name, value, r"'\n', '\r\n' or '\r'")
    return value



class VisaTransport(SocketLink):
    """A line-oriented link to one SCPI instrument through ``pyvisa`` (``@py`` backend).

    ``resource`` is a VISA resource string, e.g. ``TCPIP0::127.0.0.1::5025::SOCKET``;
    ``timeout`` the seconds to wait for each reply (0 < t ≤ 3600); the terminations are
    explicit because SOCKET resources have no END indicator. The transport opens on
    :meth:`open` (or ``with``); after a timeout or a lost connection it drops the session, so a
    late reply can never be taken for the answer to the next command, and reopens it on the
    next call. :meth:`close` is final.
    """

    _recv_size = _CHUNK
    _peer = "instrument"

    def __init__(
        self,
        resource: str,
        *,
        timeout: float = 2.0,
        write_termination: str = "\n",
        read_termination: str = "\n",
        encoding: str = "ascii",
        open_timeout: float = 5.0,
    ) -> None:
        if not isinstance(resource, str) or not resource.strip():
            raise ValidationError("resource", resource, "a VISA resource string")
        self._resource = resource
        self._timeout = check_timeout(timeout)
        self._open_timeout = check_timeout(open_timeout, "open_timeout")
        self._write_term = _check_termination("write_termination", write_termination)
        self._read_term = _check_termination("read_termination", read_termination)
        self._wterm_bytes = write_termination.encode("ascii")
        self._rterm_bytes = read_termination.encode("ascii")
        "".encode(encoding)  # fail now on an unknown codec, not on the first query
        self._encoding = encoding
        self._rm: pyvisa.ResourceManager | None = None
        self._res: Any = None  # pyvisa MessageBasedResource; Any: pyvisa's stubs are partial
        self._lib: Any = None
        self._handle: Any = None
        self._sock: socket.socket | None = None  # a SOCKET session's socket, read directly
        self._pending = bytearray()  # bytes received past the last reply (same session only)
        self._end_byte = self._rterm_bytes[-1:]  # a reply ends on its termination's last byte
        self._rcvtimeo = 0.0
        self._quiet: contextlib.ExitStack | None = None
        self._closed = False
        self.opened_count = 0  # connections made so far (1 + reconnects), for diagnostics

    # --- lifetime -------------------------------------------------------------------------

    @property
    def timeout(self) -> float:
        """Seconds to wait for each reply."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._timeout = check_timeout(value)
        if self._res is not None:
            self._res.timeout = self._timeout * 1000.0
        if self._sock is not None:
            set_socket_timeout(self._sock, socket.SO_SNDTIMEO, self._timeout)

    @property
    def is_open(self) -> bool:
        return self._res is not None

    def open(self) -> None:
        """Connect (again, after :meth:`close`); a no-op when already connected."""
        self._closed = False
        if self._res is None:
            self._connect()

    def _connect(self) -> None:
        if self._rm is not None and not _alive(self._rm):
            self._release()  # closed under us (see _alive): take the current one
        if self._rm is None:
            self._rm = _RESOURCE_MANAGER.acquire()
        try:
            res: Any = self._rm.open_resource(
                self._resource,
                open_timeout=int(self._open_timeout * 1000),
                timeout=self._timeout * 1000.0,
                write_termination=self._write_term,
                read_termination=self._read_term,
                encoding=self._encoding,
            )
        except visa_errors.VisaIOError as exc:
            self._release()
            raise InstrumentCommunicationError(self._resource, f"cannot open: {exc}") from exc
        except Exception as exc:  # pyvisa-py raises a bare Exception("could not connect")
            self._release()
            raise InstrumentCommunicationError(self._resource, f"cannot open: {exc}") from exc
        self._res = res
        self._lib = res.visalib
        self._handle = res.session
        session = getattr(self._lib, "sessions", {}).get(self._handle)
        self._rcvtimeo = 0.0  # not set yet on this socket
        self._pending.clear()
        sock = getattr(session, "interface", None)
        # Only a SOCKET session's interface is the instrument's byte stream (VXI-11 INSTR
        # sessions hold an RPC client, and their socket carries RPC records).
        if isinstance(session, TCPIPSocketSession) and isinstance(sock, socket.socket):
            self._sock = sock
        else:
            self._sock = None
        if self._sock is not None:
            # pyvisa-py connects non-blocking and calls a refused connection "opened".
            err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._drop()
                raise InstrumentCommunicationError(
                    self._resource, f"cannot open: {os.strerror(err)}"
                )
            # A set followed by SYST:ERR? is two small writes: Nagle would hold the second.
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._sock.gettimeout() is not None or not set_socket_timeout(
                    self._sock, socket.SO_SNDTIMEO, self._timeout):
                self._sock = None  # not the blocking socket expected: pyvisa reads and writes
        self._quiet = contextlib.ExitStack()
        self._quiet.enter_context(self._lib.ignore_warning(self._handle, *_QUIET))
        self.opened_count += 1
        _log.debug("%s: opened", self._resource)

    def _drop(self) -> None:
        """Forget the session (after a fault, or on close); keep the resource manager."""
        res, self._res, self._sock = self._res, None, None
        self._pending.clear()
        quiet, self._quiet = self._quiet, None
        if quiet is not None:
            with contextlib.suppress(Exception):
                quiet.close()
        if res is not None:
            with contextlib.suppress(Exception):  # the link may already be gone: nothing to save
                res.close()

    def _release(self) -> None:
        """Give the shared resource manager back (closing it with its last user)."""
        if self._rm is not None:
            self._rm = None
            _RESOURCE_MANAGER.release()

    def __repr__(self) -> str:
        state = "open" if self.is_open else ("closed" if self._closed else "idle")
        return f"VisaTransport({self._resource!r}, timeout={self._timeout:g}, {state})"

    # --- I/O ------------------------------------------------------------------------------

    def _session(self) -> None:
        if self._res is None:
            if self._closed:
                raise InstrumentCommunicationError(self._resource, "transport is closed")
            self._connect()

    def write(self, command: str) -> None:
        """Send one command line; the write termination is added here."""
        if self._res is None:
            self._session()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s << %s", self._resource, command)
        data = command.encode(self._encoding) + self._wterm_bytes
        sock = self._sock
        try:
            if sock is not None:
                sock.sendall(data)
            else:
                self._lib.write(self._handle, data)
        except visa_errors.VisaIOError as exc:
            raise self._translate(exc, command) from exc
        except OSError as exc:
            raise self._send_failed(exc, command) from exc

    def _send_failed(self, exc: OSError, command: str) -> Exception:
        if isinstance(exc, EXPIRED):  # SO_SNDTIMEO: the instrument stopped reading
            # Part of the line may be out: drop the session so nothing half-sent lingers.
            return self._timed_out(command, self._timeout)
        # Reset, broken pipe (pyvisa-py lets these through unwrapped).
        self._drop()
        return ConnectionLostError(self._resource, f"sending {command!r}: {exc}")

    def read(self, timeout: float | None = None) -> str:
        """Read one reply line (termination stripped); ``timeout`` overrides, in s."""
        return self._decode(self._read("<read>", timeout), "<read>")

    def query(self, command: str, timeout: float | None = None) -> str:
        """Write ``command`` and return its one-line reply (termination stripped)."""
        sock = self._sock
        if sock is None or self._pending or _log.isEnabledFor(logging.DEBUG):
            self.write(command)
            return self._decode(self._read(command, timeout), command)
        raw = self._exchange(sock, command, timeout)
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            raise ResponseError(self._resource, command, raw, f"{self._encoding} text") from exc

    def query_bytes(self, command: str, timeout: float | None = None) -> bytes:
        """Write ``command`` and return its reply as bytes (termination stripped), undecoded:
        long numeric replies go straight to a parser without a str copy."""
        sock = self._sock
        if sock is not None and not self._pending and not _log.isEnabledFor(logging.DEBUG):
            return self._exchange(sock, command, timeout)
        self.write(command)
        raw = self._read(command, timeout)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s >> %r%s (%d bytes)", self._resource, raw[:80],
                       "..." if len(raw) > 80 else "", len(raw))
        return raw

    def _exchange(self, sock: socket.socket, command: str, timeout: float | None) -> bytes:
        """Send ``command`` on a SOCKET session's ``sock``, return its reply without the
        termination: the hot path of every query, written out in one piece, taken when
        nothing is buffered and nothing is logged (else :meth:`write` and :meth:`_read` do
        the same, step by step)."""
        limit = self._timeout if timeout is None else check_timeout(timeout)
        try:
            sock.sendall(command.encode(self._encoding) + self._wterm_bytes)
        except OSError as exc:
            raise self._send_failed(exc, command) from exc
        started = time.monotonic()
        chunk = self._receive(sock, command, limit)
        if chunk.find(self._end_byte) == len(chunk) - 1:  # exactly one whole reply
            return self._strip(chunk)
        return self._strip(self._read_socket(sock, command, limit, (started, chunk)))

    def _decode(self, raw: bytes, command: str) -> str:
        try:
            text = raw.decode(self._encoding)
        except UnicodeDecodeError as exc:
            raise ResponseError(self._resource, command, raw, f"{self._encoding} text") from exc
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s >> %s", self._resource, text)
        return text

    def _read(self, command: str, timeout: float | None) -> bytes:
        if self._res is None:
            self._session()
        limit = self._timeout if timeout is None else check_timeout(timeout)
        sock = self._sock
        if sock is not None:
            return self._strip(self._read_socket(sock, command, limit))
        return self._strip(self._read_visa(command, limit))

    def _strip(self, raw: bytes) -> bytes:
        """``raw`` without its termination; CRLF is also accepted where LF was configured
        and LF where CRLF was (the read ends on the termination's last character alone)."""
        if raw.endswith(self._rterm_bytes):
            raw = raw[: -len(self._rterm_bytes)]
        elif raw.endswith(b"\n"):
            raw = raw[:-1]
        return raw[:-1] if raw.endswith(b"\r") else raw

    def _read_socket(self, sock: socket.socket, command: str, limit: float,
                     begun: tuple[float, bytes] | None = None) -> bytes:
        """One reply, up to and including its termination character, from the socket,
        within ``limit`` s as a whole (``begun``: when the wait for it started and what has
        been received of it already).

        Bytes past the reply (an instrument that answered twice in one segment) stay in
        :attr:`_pending` for the next read; they go with the session on any fault.
        """
        end_byte = self._end_byte
        pending = self._pending
        if pending:
            end = pending.find(end_byte)
            if end >= 0:
                return self._take(end + 1)
        if begun is None:
            started = time.monotonic()
            chunk = self._receive(sock, command, limit)
        else:
            started, chunk = begun
        if not pending:
            end = chunk.find(end_byte)
            if end == len(chunk) - 1:
                return chunk  # the usual case: the whole reply in one segment
            if end >= 0:
                pending += chunk[end + 1:]
                return chunk[: end + 1]
        # A long reply arriving in several segments.
        deadline = started + limit
        while True:
            start = max(len(pending) - 1, 0)
            pending += chunk
            end = pending.find(end_byte, start)
            if end >= 0:
                return self._take(end + 1)
            chunk = self._receive(sock, command, limit, deadline)

    def _take(self, size: int) -> bytes:
        pending = self._pending
        out = bytes(pending[:size])
        del pending[:size]
        return out

    def _read_visa(self, command: str, limit: float) -> bytes:
        """One reply through pyvisa's own read (sessions other than TCPIP SOCKET)."""
        res, lib, handle = self._res, self._lib, self._handle
        if limit != self._timeout:
            res.timeout = limit * 1000.0
        deadline = time.monotonic() + limit
        chunks: list[bytes] = []
        try:
            while True:
                chunk, status = lib.read(handle, _CHUNK)
                chunks.append(chunk)
                if status != _SUCCESS_MORE:  # the termination character arrived
                    break
                if time.monotonic() >= deadline:
                    raise self._timed_out(command, limit)
        except visa_errors.VisaIOError as exc:
            raise self._translate(exc, command, limit) from exc
        except LabctlError:
            raise  # already ours (InstrumentTimeoutError is an OSError too: keep it as it is)
        except OSError as exc:
            self._drop()
            raise ConnectionLostError(self._resource,
                                      f"reading reply to {command!r}: {exc}") from exc
        finally:
            if limit != self._timeout and self._res is res:
                with contextlib.suppress(Exception):
                    res.timeout = self._timeout * 1000.0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _awaiting(self, what: str) -> str:
        return f"awaiting reply to {what!r}"

    def _translate(
        self, exc: visa_errors.VisaIOError, command: str, limit: float | None = None
    ) -> Exception:
        code = exc.error_code
        if code == constants.StatusCode.error_timeout:
            return self._timed_out(command, self._timeout if limit is None else limit)
        self._drop()
        if code in _LINK_CODES:
            return ConnectionLostError(self._resource, f"{command!r}: {exc.description}")
        return InstrumentCommunicationError(self._resource, f"{command!r}: {exc}")
