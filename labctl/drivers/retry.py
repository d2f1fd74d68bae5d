"""Bounded retry for transient link faults, for operations that change nothing.

A query that only reads (``*IDN?``, a setting's value, a register) may be asked again after a
timeout or a dropped connection: asking twice does no harm. A command that changes the
instrument's state is never resent blindly, because after a lost reply nobody knows whether
it was executed; that decision belongs to the caller (see ``ScpiInstrument``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from labctl.errors import (
    LinkError,
    ResponseError,
    ValidationError,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: Link faults worth another attempt on a read-only query (after a reconnect).
LINK_FAULTS: tuple[type[Exception], ...] = (LinkError,)
#: What a read-only query is retried after: link faults and garbled replies.
RETRYABLE: tuple[type[Exception], ...] = (*LINK_FAULTS, ResponseError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try a read-only query before giving up.

    ``attempts`` is the total number of tries (1 … 10, 1 = no retry); ``deadline`` the time in
    s (> 0) after which no new attempt starts, counted from the first; ``backoff`` the pause
    in s (≥ 0) before the second attempt, doubled before each further one.
    """

    attempts: int = 3
    deadline: float = 10.0
    backoff: float = 0.05

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or not (
            1 <= self.attempts <= 10
        ):
            raise ValidationError("RetryPolicy.attempts", self.attempts, "an integer 1 … 10")
        if not (isinstance(self.deadline, int | float) and 0 < self.deadline < float("inf")):
            raise ValidationError("RetryPolicy.deadline", self.deadline, "seconds > 0, finite")
        if not (isinstance(self.backoff, int | float) and 0 <= self.backoff < float("inf")):
            raise ValidationError("RetryPolicy.backoff", self.backoff, "seconds ≥ 0, finite")


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(
    operation: Callable[[float | None], T],
    policy: RetryPolicy,
    *,
    recover: Callable[[Exception], None],
    what: str,
    retry_garbled: bool = True,
) -> T:
    """Run ``operation`` (which must change nothing) until it succeeds or the policy ends.

    ``operation(limit)`` gets ``None`` on the first attempt (use the link's own timeout: a
    long measurement may legitimately need more than the retry deadline) and, on each retry,
    the seconds left before ``policy.deadline``, which its timeout must not exceed. So no
    retry starts, or runs, past the deadline.

    ``recover(error)`` runs before each new attempt (a reconnect after a link fault); if it
    fails with a link fault, that counts as the next attempt's failure. A garbled reply
    (``ResponseError``) is retried when ``retry_garbled``. The last error is raised unchanged
    when attempts or the deadline run out, so the caller sees a typed error.
    """
    started = time.monotonic()
    try:
        return operation(None)
    except RETRYABLE as error:
        first = error
    return retry_after(first, operation, policy, started=started, recover=recover, what=what,
                       retry_garbled=retry_garbled)


def retry_after(
    error: Exception,
    operation: Callable[[float | None], T],
    policy: RetryPolicy,
    *,
    started: float,
    recover: Callable[[Exception], None],
    what: str,
    retry_garbled: bool = True,
) -> T:
    """:func:`call_with_retry` after a first attempt, begun at ``started``
    (``time.monotonic()``), failed with ``error``: for callers that make the first attempt
    inline, so the usual success costs no closure and no extra call. Raises ``error`` itself
    when it is not one to retry (a garbled reply without ``retry_garbled``)."""
    last = error
    pause = policy.backoff
    attempt = 1
    while True:
        if isinstance(last, ResponseError) and not retry_garbled:
            raise last
        while True:  # pause, recover and decide whether one more attempt fits
            remaining = policy.deadline - (time.monotonic() - started) - pause
            if attempt >= policy.attempts or remaining <= 0:
                raise last
            _log.warning("%s failed (attempt %d of %d): %s; retrying", what, attempt,
                         policy.attempts, last)
            if pause > 0:
                time.sleep(pause)
            pause *= 2
            attempt += 1
            try:
                recover(last)
            except LINK_FAULTS as failure:  # still unreachable: that was this attempt
                last = failure
                continue
            limit = max(policy.deadline - (time.monotonic() - started), 1e-3)
            break
        try:
            return operation(limit)
        except RETRYABLE as failure:
            last = failure
