"""The upper links of the traceability chain, for tests: certificates of the bench's standards.

A higher laboratory calibrated each simulated standard: its certificate states the standard's
true error (from the simulator's truth) plus that laboratory's own measurement error, drawn
from a normal distribution with the standard uncertainty the certificate states. That is what
a real certificate is, so a calibration built on it can be checked against the truth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from labctl.procedures.dmm_dc_voltage.procedure import CALIBRATOR_RANGES
from labctl.procedures.interfaces import Correction, RegisteredStandard
from labctl.procedures.register import Authorisation, RegisterSnapshot

#: Certificate standard uncertainties: (relative gain u, offset u) per calibrator DCV range.
CAL_CERT_U = {0.33: (2e-6, 0.15e-6), 3.3: (1.5e-6, 0.3e-6), 33.0: (1.5e-6, 3e-6),
              330.0: (2.5e-6, 20e-6), 1020.0: (2.5e-6, 200e-6)}
DMM_FRES_CERT_U = {100.0: ("100ohm", 4e-6, 0.4e-3), 1000.0: ("1kohm", 4e-6, 1.5e-3)}
REF_CERT_U = 0.002  # °C
OPERATOR, CHECKER = "alice", "bob"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def certified_standards(truth: dict[str, Any], seed: int, *,
                        calibrator_status: str = "in_service",
                        calibrator_due: date | None = None) -> list[RegisteredStandard]:
    """Registry entries of the calibrator, the DMM (as a resistance standard) and the readout."""
    rng = np.random.default_rng([seed, 424242])
    cal = truth["calibrator"]
    corrections = []
    for upper, label in CALIBRATOR_RANGES:
        e = cal["errors"]["dcv"][upper]
        ug, uo = CAL_CERT_U[upper]
        corrections += [
            Correction("DC voltage", label, "gain", e["gain"] + rng.normal(0, ug), ug, "1",
                       certificate_number="PROV-2025-0101"),
            Correction("DC voltage", label, "offset", e["offset"] + rng.normal(0, uo), uo, "V",
                       certificate_number="PROV-2025-0101"),
        ]
    dmm = truth["dmm"]
    dmm_corr = []
    for rng_ohm, (label, ug, uo) in DMM_FRES_CERT_U.items():
        e = dmm["errors"]["fres"][rng_ohm]
        dmm_corr += [
            Correction("resistance", label, "gain", e["gain"] + rng.normal(0, ug), ug, "1",
                       certificate_number="PROV-2025-0102"),
            Correction("resistance", label, "offset", e["offset"] + rng.normal(0, uo), uo,
                       "ohm", certificate_number="PROV-2025-0102"),
        ]
    ref = truth["thermometer"]
    ref_corr = [Correction("temperature", "all", "offset",
                           ref["errors"]["probe_error"] + rng.normal(0, REF_CERT_U), REF_CERT_U,
                           "°C", certificate_number="PROV-2025-0103")]
    due = calibrator_due or date(2027, 1, 1)
    return [
        RegisteredStandard("LAB-CAL-01", "Multifunction calibrator", "Fluke", "5522A",
                           cal["serial"], calibrator_status, due, "PROV-2025-0101",
                           "Provincial Institute of Metrology", tuple(corrections)),
        RegisteredStandard("LAB-DMM-01", "Digital multimeter (resistance)",
                           "Keysight Technologies", "34465A", dmm["serial"], "in_service",
                           date(2027, 1, 1), "PROV-2025-0102",
                           "Provincial Institute of Metrology", tuple(dmm_corr)),
        RegisteredStandard("LAB-REF-01", "Reference thermometer readout with SPRT", "Fluke",
                           "1594A", ref["serial"], "in_service", date(2027, 1, 1),
                           "PROV-2025-0103", "Provincial Institute of Metrology",
                           tuple(ref_corr)),
    ]


def register_for(truth: dict[str, Any], seed: int, **options: Any) -> RegisterSnapshot:
    """A register snapshot with the certified standards and the operator's authorisations."""
    auths = [Authorisation(OPERATOR, proc, date(2025, 1, 1), date(2027, 12, 31))
             for proc in ("dmm-dcv-direct", "prt-comparison", "dmm-calibrator-check",
                          "prt-dry-block-check")]
    return RegisterSnapshot(tuple(certified_standards(truth, seed, **options)), tuple(auths),
                            datetime.now(UTC) - timedelta(hours=12))
