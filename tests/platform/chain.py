"""A three-level traceability chain built through the API (used by several test modules).

NMI national primary standard P → (NMI certificate C1) → provincial reference standard R →
(provincial certificate C2) → laboratory working standard W → (laboratory certificate C3) → a
customer's multimeter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.db import World
from tests.platform.helpers import draft, ensure_cmcs, issue, point, publish_standard


@dataclass(frozen=True)
class Chain:
    primary: str
    reference: str
    working: str
    c1: dict
    c2: dict
    c3: dict


def build_chain(api: httpx.Client, world: World, *, c3_error: str = "0.000012") -> Chain:
    ensure_cmcs(api, world)
    now = datetime.now(UTC)
    p = publish_standard(api, world, "nmi", kind="national_primary",
                         description="Josephson voltage standard", range_min="0",
                         range_max="10", uncertainty_relative="0.00000001")["identifier"]
    r = publish_standard(api, world, "prov", kind="reference")["identifier"]
    w = publish_standard(api, world, "lab", kind="working",
                         description="Multifunction calibrator")["identifier"]
    c1 = draft(api, world, "nmi", standards=[p], item_standard=r,
               begin=now - timedelta(days=3), item_description="Zener reference")
    c1 = issue(api, world, "nmi", c1["number"], [point(error="0.0000021", U="0.000003")])
    c2 = draft(api, world, "prov", standards=[r], item_standard=w,
               begin=now - timedelta(days=2), item_description="Multifunction calibrator")
    c2 = issue(api, world, "prov", c2["number"], [point(error="0.000004", U="0.00001")])
    c3 = draft(api, world, "lab", standards=[w], begin=now - timedelta(days=1))
    c3 = issue(api, world, "lab", c3["number"], [point(error=c3_error, U="0.00003")])
    return Chain(p, r, w, c1, c2, c3)
