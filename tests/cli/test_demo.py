"""``labctl demo`` as a newcomer runs it: one process, everything real, files to check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from labctl.platform.documents.schema import validate_dcc
from labctl.platform.documents.signing import verify_dcc


@pytest.mark.timeout(300)
def test_demo_calibrates_issues_and_traces(tmp_path: Path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "labctl", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "labctl demo finished" in done.stdout
    # the drifting calibrator is caught by its checks: investigated, then quarantined with
    # the DMM's certificate (issued after its last good check) flagged
    caught = [line for line in done.stdout.splitlines() if line.startswith("caught: ")]
    assert "LAB-CAL-01 under investigation" in caught[0], caught
    assert "LAB-CAL-01 quarantined" in caught[-1] and "ACAL-" in caught[-1], caught
    # not in a terminal: it does not stay serving, but ends with the portal's address
    last = done.stdout.strip().splitlines()[-1]
    assert "portal" in last and "http://127.0.0.1:8000/" in last, last
    certs = sorted((out / "certificates").glob("ACAL-*.pdf"))
    # the laboratory's first two numbers of the year: DMM first, then PRT
    assert [re.sub(r"-\d{4}-", "-YYYY-", c.name) for c in certs] == [
        "ACAL-YYYY-000001.pdf", "ACAL-YYYY-000002.pdf"]
    for pdf in certs:
        number = pdf.name.removesuffix(".pdf")
        text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
        for needle in ("Calibration Certificate", number, "Acme Calibration Laboratory",
                       "Example Instruments Ltd", "Alice Weber", "Bob Schmidt",
                       "Carol Becker", "coverage probability", "Page 1 of"):
            assert needle in text, (pdf.name, needle)
        dcc = (out / "certificates" / f"{number}.dcc.xml").read_bytes()
        validate_dcc(dcc)  # raises on any schema error
        verified = verify_dcc(dcc)
        assert verified.valid, verified.reason
        trace = json.loads((out / "certificates" / f"{number}.traceability.json").read_text())
        text = json.dumps(trace)
        assert '"state": "valid"' in text and "national_primary" in text
    dmm_text = "\n".join(p.extract_text() for p in PdfReader(certs[0]).pages)
    assert "mV" in dmm_text and "LAB-CAL-01" in dmm_text and "PROV-2026" in dmm_text
    prt_text = "\n".join(p.extract_text() for p in PdfReader(certs[1]).pages)
    assert "Callendar–Van Dusen" in prt_text and "IEC 60751" in prt_text
