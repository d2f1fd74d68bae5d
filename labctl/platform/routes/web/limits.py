"""A uvicorn protocol that answers an oversized request head with a 431 instead of dropping
the connection, and the server options that use it."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from labctl.platform.routes.deps import (
    ErrorBody,
)
from labctl.platform.routes.web.headers import OTHER_CSP

#: Request line + headers, in bytes (h11's default is 16 KiB; nginx allows 4 × 8 KiB).
MAX_REQUEST_HEAD = 32 * 1024


#: After refusing a request, how long and how much of the rest of it is read and discarded,
#: so the client (which sends its whole request before it reads) gets the answer instead of
#: a connection reset.
DRAIN_SECONDS = 10.0


DRAIN_BYTES = 16 * 1024 * 1024


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a bounded request head answered by a 431 (and a malformed
    request by a 400), carrying the ``ErrorBody``, then a lingering close.

    h11 itself bounds only a head that arrives in pieces; a large head read in one go would
    pass, so the head is measured here as it comes in.
    """

    _draining = False
    _drained = 0

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._drained += len(data)
            if self._drained > DRAIN_BYTES:
                self.transport.close()
            return
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._refuse_head()
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        pending = self.conn.trailing_data[0] + data
        end = pending.find(b"\r\n\r\n", 0, MAX_REQUEST_HEAD + 4)
        return (end if end >= 0 else len(pending)) > MAX_REQUEST_HEAD

    def send_400_response(self, msg: str) -> None:
        if len(self.conn.trailing_data[0]) > MAX_REQUEST_HEAD:
            self._refuse_head()
        else:
            self._refuse(400, ErrorBody(error="BadRequest", detail="malformed HTTP request"))

    def _refuse_head(self) -> None:
        self._refuse(431, ErrorBody(
            error="RequestHeaderFieldsTooLarge",
            detail=f"the request line and headers exceed {MAX_REQUEST_HEAD} bytes",
            allowed=f"at most {MAX_REQUEST_HEAD} bytes of request line and headers"))

    def _refuse(self, status: int, body: ErrorBody) -> None:
        """Answer and stop reading requests on this connection. Written directly: h11 may
        be in no state to send a response for a request it never parsed."""
        content = json.dumps(body.model_dump(exclude_none=True)).encode()
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                "content-type: application/json",
                f"content-length: {len(content)}", "connection: close",
                "x-content-type-options: nosniff", f"content-security-policy: {OTHER_CSP}"]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + content)
        self._draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(DRAIN_SECONDS, self.transport.close)

    def shutdown(self) -> None:
        if self._draining:
            self.transport.close()
            return
        super().shutdown()


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings every labctl server runs with."""
    return {"http": LimitedH11Protocol, "h11_max_incomplete_event_size": MAX_REQUEST_HEAD}
