"""The one exception hierarchy: each instrument failure is an ``InstrumentFault`` (what a run
pauses on), link failures are ``LinkError`` (what a query is retried after), and each still
subclasses the builtin a caller without labctl would catch."""

from __future__ import annotations

import pytest

from labctl import errors
from labctl.drivers.retry import LINK_FAULTS, RETRYABLE


@pytest.mark.parametrize(("cls", "builtin", "link"), [
    (errors.InstrumentCommunicationError, ConnectionError, True),
    (errors.ConnectionLostError, ConnectionError, True),
    (errors.InstrumentTimeoutError, TimeoutError, True),
    (errors.ResponseError, ValueError, False),
    (errors.OverloadError, ValueError, False),
    (errors.InstrumentError, RuntimeError, False),
])
def test_instrument_failures_share_one_parent(cls: type, builtin: type, link: bool) -> None:
    assert issubclass(cls, errors.InstrumentFault) and issubclass(cls, errors.LabctlError)
    assert issubclass(cls, builtin)
    assert issubclass(cls, errors.LinkError) is link
    assert issubclass(cls, LINK_FAULTS) is link
    assert issubclass(cls, RETRYABLE) is (link or issubclass(cls, errors.ResponseError))


def test_run_control_errors_live_with_the_others() -> None:
    for cls in (errors.RunCancelledError, errors.BenchNotSafeError, errors.ProcedureError):
        assert issubclass(cls, errors.LabctlError) and issubclass(cls, RuntimeError)
        assert not issubclass(cls, errors.InstrumentFault)


def test_an_instrument_fault_keeps_its_fields() -> None:
    exc = errors.InstrumentTimeoutError("TCPIP0::127.0.0.1::5025::SOCKET", "MEAS?", 2.0)
    with pytest.raises(errors.InstrumentFault) as caught:
        raise exc
    assert caught.value.resource == "TCPIP0::127.0.0.1::5025::SOCKET"  # type: ignore[attr-defined]
    assert "no reply to 'MEAS?' within 2 s" in str(caught.value)
