"""The laboratory's side of the portal, for signed-in staff: their queues (registry review,
certificates to check and issue), the certificate list, runs on the server's benches,
standards (due dates, status, out-of-tolerance impact) and stations.

Every page asks the same policy and service functions the JSON API asks (the routes' own
handlers where a route does more than call one service), so a rule holds the same on both;
a button a rule refuses is shown disabled with the reason, and the form's POST is refused
by that rule all the same (nothing changed)."""

from __future__ import annotations

from fastapi import APIRouter

from labctl.platform.pages.staff import (
    certificates,
    home,
    ledger,
    reviews,
    runs,
    standards,
    stations,
)

router = APIRouter()
for _part in (home, reviews, certificates, runs, standards, stations, ledger):
    router.include_router(_part.router)

__all__ = ["router"]
