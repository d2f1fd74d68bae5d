"""Every endpoint is in the OpenAPI schema with the error answers it can give."""

from __future__ import annotations

from labctl.api import create_app
from labctl.platform.settings import Settings


def test_every_operation_documents_its_errors(tmp_path: object) -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:", migrate_on_start=False))
    spec = app.openapi()
    missing = []
    count = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            count += 1
            codes = set(op["responses"])
            needed = {"422"}
            if op.get("security"):  # takes a bearer token (required or optional)
                needed |= {"401"}
            if any(p["in"] == "path" for p in op.get("parameters", [])):
                needed |= {"404"}
            if op.get("security") and method != "get" and not path.startswith("/api/v1/auth"):
                needed |= {"403"}
            if not needed <= codes:
                missing.append(f"{method.upper()} {path}: {sorted(needed - codes)}")
            assert op.get("summary") and op.get("tags"), f"{method} {path}"
    assert missing == []
    assert count >= 30
    assert all(p.startswith("/api/v1/") for p in spec["paths"])
