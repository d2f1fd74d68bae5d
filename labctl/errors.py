"""One exception hierarchy for labctl.

Every error carries structured fields (what, which value, what is allowed) and also
subclasses the matching builtin, so callers may catch ``ValueError``/``TimeoutError``/
``ConnectionError``/``PermissionError``/``LookupError`` without knowing labctl.
"""

from __future__ import annotations

from typing import Any


class LabctlError(Exception):
    """Base of every error raised by labctl."""


# --- bad input -------------------------------------------------------------------------


class ValidationError(LabctlError, ValueError):
    """A value was rejected before anything was done with it.

    ``field`` names what was set, ``value`` what was given, ``allowed`` what is accepted
    (a range, a list of choices or a short description).
    """

    def __init__(self, field: str, value: Any, allowed: str, message: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(message or f"{field}={value!r} is not allowed: expected {allowed}")


class UncertaintyInputError(ValidationError):
    """Bad input to the uncertainty engine (negative u, dof <= 0, |r| > 1, ...)."""


class UnknownKeywordError(UncertaintyInputError, TypeError):
    """A keyword the uncertainty engine does not take (a misspelt option is never ignored).

    Also a ``TypeError``, which is what Python raises for an unexpected keyword argument.
    """


# --- instruments -----------------------------------------------------------------------


class InstrumentFault(LabctlError):  # noqa: N818 (the family, not one error)
    """Base of every failure of an instrument to do what was asked: the link (timeout,
    dropped or refused connection), a reply that cannot be read, or an error the instrument
    reported. A run pauses on one with the bench made safe; it does not crash."""


class LinkError(InstrumentFault):
    """The instrument could not be reached or did not answer: whether a command took effect
    is unknown, so only queries are retried."""


class InstrumentCommunicationError(LinkError, ConnectionError):
    """The link to an instrument failed (refused, dropped, reset)."""

    def __init__(self, resource: str, message: str) -> None:
        self.resource = resource
        super().__init__(f"{resource}: {message}")


class ConnectionLostError(InstrumentCommunicationError):
    """An open connection was closed by the peer or the network."""


class InstrumentTimeoutError(LinkError, TimeoutError):
    """An instrument did not answer within the deadline."""

    def __init__(self, resource: str, command: str, timeout: float) -> None:
        self.resource = resource
        self.command = command
        self.timeout = timeout
        super().__init__(f"{resource}: no reply to {command!r} within {timeout:g} s")


class ResponseError(InstrumentFault, ValueError):
    """An instrument answered something that cannot be parsed (garbled, wrong shape)."""

    def __init__(self, resource: str, command: str, response: Any, expected: str) -> None:
        self.resource = resource
        self.command = command
        self.response = response
        self.expected = expected
        super().__init__(f"{resource}: reply {response!r} to {command!r} is not {expected}")


class OverloadError(ResponseError):
    """A reading was the instrument's overload marker (``+9.9E+37``): the input exceeds the
    range, or the channel has nothing connected. Not a number to compute with."""


class InstrumentError(InstrumentFault, RuntimeError):
    """The instrument reported an error (SCPI error queue entry, Modbus exception)."""

    def __init__(self, resource: str, code: int, message: str, command: str | None = None) -> None:
        self.resource = resource
        self.code = code
        self.message = message
        self.command = command
        after = f" after {command!r}" if command else ""
        super().__init__(f"{resource}: instrument error {code}, {message!r}{after}")


# --- platform --------------------------------------------------------------------------


class NotFoundError(LabctlError, LookupError):
    """A record that was asked for does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: Any) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class AuthenticationError(LabctlError, PermissionError):
    """The caller is not who they claim (no token, bad token, bad password): HTTP 401."""


class LoginLockedError(AuthenticationError):
    """Too many failed logins for this username or client address: refused without looking at
    the password until ``locked_until`` (UTC) or an administrator's unlock (HTTP 429 with
    ``Retry-After``).

    ``retry_after`` is the number of whole seconds until the lock ends."""

    def __init__(self, message: str, *, locked_until: Any, retry_after: int) -> None:
        self.locked_until = locked_until
        self.retry_after = retry_after
        super().__init__(message)


class RateLimitedError(LabctlError):
    """Too many requests of one kind from one client address (e.g. self-registrations): HTTP
    429 with ``Retry-After``, the whole seconds until the address may try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PlatformUnreachableError(LabctlError, ConnectionError):
    """A remote platform did not answer (network, restart, overload): try again later."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"the platform at {url} did not answer: {detail}")
        self.url, self.detail = url, detail


class PlatformRefusedError(LabctlError):
    """A remote platform answered with a refusal a retry will not change (token, input)."""

    def __init__(self, url: str, status: int, text: str) -> None:
        super().__init__(f"the platform at {url} refused ({status}): {text[:300]}")
        self.url, self.status, self.text = url, status, text


class PermissionDeniedError(LabctlError, PermissionError):
    """The caller is known but may not do this (role, scope, separation of duties): HTTP 403.

    ``rule`` names which kind of rule refused, for a client to act on and for pages to say it
    in a person's words: ``role`` (a role is missing), ``separation`` (separation of duties:
    the person took part in the work), ``independence`` (a complaint's handler took part in
    the work complained about), ``handler`` (only the assigned handler), ``station`` (a
    station acting outside its laboratory or where a person is needed), ``form`` (a page form
    whose CSRF or origin check failed), ``staff`` (a customer on a staff page); empty when
    none of these.
    """

    def __init__(self, action: str, reason: str, *, rule: str = "") -> None:
        self.action = action
        self.reason = reason
        self.rule = rule
        super().__init__(f"{action}: {reason}")


class ConflictError(LabctlError, ValueError):
    """The request contradicts the stored state (duplicate number, stale revision): HTTP 409.

    ``reason`` is a short stable identifier of the conflict (``order_state``,
    ``quote_expired``, …) with its ``details`` (the record and its state), so a page can say it
    in a person's words and language; the message is the English explanation.
    """

    def __init__(self, message: str, *, reason: str = "", **details: Any) -> None:
        self.reason = reason
        self.details = details
        super().__init__(message)


class RuleViolationError(LabctlError, ValueError):
    """A laboratory rule refuses the action (expired standard, U below CMC, ...): HTTP 422.

    ``rule`` is a short stable identifier a client can test for; the message says why.
    """

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        self.rule = rule
        self.details = details
        super().__init__(message)


class IntegrityError(LabctlError, RuntimeError):
    """Stored data failed a check (audit hash chain, signature, schema)."""


# --- procedures ------------------------------------------------------------------------


class PreconditionError(RuleViolationError):
    """A run was refused before any output was applied (standard out of date, ...)."""


class RunHeldError(LabctlError, RuntimeError):
    """A run is on hold (environment out of limits, instrument fault) and cannot proceed."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id} held: {reason}")


class RunCancelledError(LabctlError, RuntimeError):
    """The run was asked to stop (API stop request, a signal): it pauses, resumable."""


class BenchNotSafeError(LabctlError, RuntimeError):
    """An output could not be confirmed safe during a hold: the run pauses with the warning."""


class ProcedureError(LabctlError, RuntimeError):
    """A procedure broke the runner's contract (e.g. did not commit a point it was given)."""


class RunAbortedError(LabctlError, RuntimeError):
    """A run was stopped for good (hold timeout, operator abort)."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"run {run_id} aborted: {reason}")
