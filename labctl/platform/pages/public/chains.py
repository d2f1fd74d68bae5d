"""Traceability pages: from a standard, or from an issued certificate, up to the national
primary standards, drawn (:mod:`.graph`) and listed.

The chain is the one the JSON routes give (``traceability.chain``), read under the same rule
(``/certificates/{number}/traceability``: issued, superseded and withdrawn revisions are
public; drafts only for the people who may read them, anyone else gets the 404 of an unknown
number).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from labctl.errors import NotFoundError
from labctl.platform import certificates, registry, traceability
from labctl.platform.models.base import CertificateStatus, StandardKind
from labctl.platform.pages.public import view
from labctl.platform.pages.public.graph import LABEL_DX, Graph, graph_of, layout
from labctl.platform.pages.render import N_, render
from labctl.platform.pages.session import OptionalPageUserDep
from labctl.platform.routes.deps import ReadSessionDep

router = APIRouter()

#: How a link's state reads, and its marker (a shape as well as a colour class).
STATES: dict[str, tuple[str, str, str]] = {
    "valid": (N_("valid at the time of use"), "ok", "✓"),
    "standard_expired": (N_("calibration expired at the time of use"), "bad", "✗"),
    "standard_not_calibrated": (N_("not calibrated at the time of use"), "bad", "✗"),
    "calibration_withdrawn": (N_("its certificate was withdrawn"), "bad", "✗"),
    "standard_quarantined": (N_("quarantined at the time of use"), "bad", "✗"),
    "standard_out_of_tolerance": (N_("out of tolerance at the time of use"), "bad", "✗"),
    "standard_retired": (N_("retired at the time of use"), "bad", "✗"),
    "cycle": (N_("the chain loops back on itself"), "bad", "✗"),
    "outside_platform": (N_("calibrated outside this platform"), "warn", "?"),
}
UNKNOWN_STATE = (N_("not valid at the time of use"), "bad", "✗")


def state_of(state: str, terminal: str) -> tuple[str, str, str]:
    """Words, class and marker of a link."""
    if state == "valid" and terminal in ("cycle", "outside_platform"):
        return STATES[terminal]
    return STATES.get(state, UNKNOWN_STATE)


def _render(request: Request, *, heading: str, subject: str, graph: Graph | None,
            trace: traceability.Traceability | None, note: str = "",
            certificate: str | None = None) -> Response:
    return render(request, "public/traceability.html", {
        "heading": heading, "subject": subject, "graph": graph,
        "lay": layout(graph) if graph else None, "trace": trace, "note": note,
        "state_of": state_of, "view": view, "dx": LABEL_DX, "certificate": certificate,
    }, title=N_("Traceability chain"))


@router.get("/standards/{identifier}/traceability")
def standard_chain(request: Request, identifier: Annotated[str, Path(max_length=64)],
                   session: ReadSessionDep, user: OptionalPageUserDep) -> Response:
    std = registry.visible_standard(session, identifier, user.principal if user else None)
    heading = N_("Traceability of standard %(subject)s")
    if std.kind == StandardKind.NATIONAL_PRIMARY:
        return _render(request, heading=heading, subject=std.identifier, graph=None, trace=None,
                       note=N_("This is a national primary standard: it realises the unit and "
                               "is the top of every chain that leads to it."))
    cert = traceability.calibrating_certificate(session, std)
    if cert is None and std.current_calibration_id is None:
        return _render(request, heading=heading, subject=std.identifier, graph=None, trace=None,
                       note=N_("No calibration of this standard is recorded: it is not "
                               "traceable."))
    if cert is None:
        return _render(request, heading=heading, subject=std.identifier, graph=None, trace=None,
                       note=N_("This standard was calibrated outside this platform; its "
                               "certificate is shown on the standard's page."))
    trace = traceability.chain(session, cert)
    graph = graph_of(trace, subject=std.identifier, subtitle=cert.number)
    return _render(request, heading=heading, subject=std.identifier, graph=graph, trace=trace,
                   certificate=cert.number)


@router.get("/certificates/{number}/traceability")
def certificate_chain(request: Request, number: Annotated[str, Path(max_length=64)],
                      session: ReadSessionDep, user: OptionalPageUserDep,
                      revision: Annotated[str, Query(max_length=12)] = ""
                      ) -> Response:
    # a revision that cannot exist is the same "not found" as one that does not
    if revision and not (revision.isdigit() and int(revision) <= 10_000):
        raise NotFoundError("certificate", f"{number} rev {revision}")
    cert = certificates.revision_of(session, number, int(revision) if revision else None)
    if cert.status in (CertificateStatus.DRAFT, CertificateStatus.CHECKED) and (
        user is None or not certificates.can_read(session, user.principal, cert)
    ):
        raise NotFoundError("issued certificate", number)
    trace = traceability.chain(session, cert)
    subject = f"{cert.number} rev {cert.revision}"
    graph = graph_of(trace, subject=subject, subtitle=trace.chain.laboratory)
    return _render(request, heading=N_("Traceability of certificate %(subject)s"),
                   subject=subject, graph=graph, trace=trace, certificate=cert.number)
