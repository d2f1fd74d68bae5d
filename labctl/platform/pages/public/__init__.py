"""The public pages (no sign-in), over the same services as the public JSON routes.

- ``search``: the search page at ``/`` (standards and CMCs)
- ``entries``: a page per standard, CMC and organisation
- ``chains``: traceability pages; ``graph`` lays the chain out as an SVG
- ``verify``: certificate verification (``/verify``, ``/verify/{number}``, the QR target)
- ``ledger``: the national primary standards
- ``comparisons``: the comparisons and a page per comparison (its DoE plot)
- ``view``: how registry values read on these pages
"""

from __future__ import annotations

from fastapi import APIRouter

from labctl.platform.pages.public import chains, comparisons, entries, ledger, search, verify

router = APIRouter()
for _part in (search, entries, chains, verify, ledger, comparisons):
    router.include_router(_part.router)

__all__ = ["router"]
