"""Platform throughput and latency on SQLite and PostgreSQL. Printed, never asserted.

Run::

    .venv/bin/python benchmarks/platform.py [--database sqlite] [--database URL] [--scale 1]
        [--parts search ingest issue] [--keep]

    e.g. --database postgresql+psycopg://postgres@127.0.0.1:5432/test --scale 10 --parts search

At ``--scale 1`` the database holds 100 000 published standards, 20 000 CMCs and 200 000
issued certificates (each with a standard link); ``--scale 10`` is national scale (10^6
standards, 2·10^6 certificates). They are loaded as a migration would load them, not as an
API workload (no ORM objects, no per-row audit): on PostgreSQL with ``COPY … FROM STDIN``
through psycopg's copy API, the tables' secondary indexes dropped first and built once after
(10^6 standards and 2·10^6 certificates in about 6 minutes on 2 shared cores), on SQLite with
SQLAlchemy Core ``executemany``. Then, through the real HTTP API of a live uvicorn server on
127.0.0.1:

- search latency p50/p95 for typical public filters (quantity + value + uncertainty, domain +
  region, free text, organisation) on ``/api/v1/standards`` and ``/api/v1/capabilities``;
- result ingest rate: stations posting points with idempotency keys from 4 threads
  (points/s and posts/s);
- issue rate: check → issue of certificates, each rendering the PDF, building, validating
  and signing the DCC (signed certificates/s, sequential).

Goals (issue 4): search p95 < 50 ms, ingest >= 300 results/s, >= 20 signed certificates/s;
(issue 13) search p95 < 50 ms at 10^6 standards on PostgreSQL.
PostgreSQL: a fresh database ``labctl_bench_<random>`` is created on the server given and
dropped afterwards (``--keep`` keeps it, to look at plans).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``platform``: run as a script, its folder
# comes first on sys.path and would shadow it for every library that imports it. Drop it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labctl.api import create_app  # noqa: E402  (after the path set-up above)
from labctl.platform.db import make_engine, migrate  # noqa: E402
from labctl.platform.settings import Settings  # noqa: E402

PASSWORD = "benchmark password 1"
DOMAINS = {
    "electrical DC": [("DC voltage", "V", 1e-3, 1000), ("resistance", "Ω", 1e-3, 1e9),
                      ("DC current", "A", 1e-6, 20)],
    "electrical AC": [("AC voltage", "V", 1e-3, 1000)],
    "temperature": [("temperature", "°C", -200, 1000)],
    "pressure": [("pressure", "Pa", 1, 1e8)],
}
REGIONS = ["North", "South", "East", "West", "Centre"]


class Server:
    """uvicorn in a thread on 127.0.0.1, port chosen by the OS."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                                    port=0, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class _Writer:
    """Bulk rows into one table: PostgreSQL ``COPY … FROM STDIN`` (psycopg's copy API, rows
    streamed as they are made), SQLite ``executemany`` in batches (its free-text index
    follows by trigger either way)."""

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: list[str]) -> None:
        self.conn, self.table, self.columns = conn, table, columns
        self.pg = conn.dialect.name == "postgresql"
        self.batch: list[dict] = []
        if self.pg:
            raw = conn.connection.driver_connection
            assert raw is not None
            names = ", ".join(f'"{c}"' for c in columns)
            self._cursor = raw.cursor()
            self._copy_cm = self._cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN')
            self._copy = self._copy_cm.__enter__()

    def add(self, row: dict) -> None:
        if self.pg:
            self._copy.write_row(tuple(
                json.dumps(v) if isinstance(v, list) else v for v in map(row.get, self.columns)))
            return
        self.batch.append(row)
        if len(self.batch) == 5000:
            self.conn.execute(self.table.insert(), self.batch)
            self.batch = []

    def close(self) -> None:
        if self.pg:
            self._copy_cm.__exit__(None, None, None)
            self._cursor.close()
        elif self.batch:
            self.conn.execute(self.table.insert(), self.batch)
            self.batch = []


#: the tables loaded in bulk; on PostgreSQL their secondary indexes are dropped before the
#: copy and built again after it (one sort per index instead of a million inserts into each)
BULK_TABLES = ("standard", "capability", "certificate", "certificate_standard")


def _secondary_indexes(conn: sa.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the bulk tables' indexes that back no constraint (PostgreSQL)."""
    return [(r[0], r[1]) for r in conn.execute(sa.text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
        "current_schema() AND i.tablename = ANY(:t) AND NOT EXISTS (SELECT 1 FROM "
        "pg_constraint c WHERE c.conname = i.indexname)"), {"t": list(BULK_TABLES)})]


def bulk_load(engine: sa.Engine, n_standards: int, n_certs: int, rng: random.Random) -> dict:
    """Organisations, standards, CMCs, certificates and links, written as a migration-style
    load (no ORM objects, no per-row audit): PostgreSQL ``COPY``, SQLite ``executemany``."""
    from sqlmodel import Session

    from labctl.platform.accounts.organisations import create_admin

    with Session(engine) as s:
        create_admin(s, username="bench-root", password=PASSWORD, full_name="Bench Root",
                     organisation_code="BNMI", organisation_name="Bench National Institute",
                     country_code="DE")
    md = sa.MetaData()
    md.reflect(engine)
    org, std, cap = md.tables["organisation"], md.tables["standard"], md.tables["capability"]
    cert, link = md.tables["certificate"], md.tables["certificate_standard"]
    user = md.tables["user_account"]
    now = datetime.now(UTC)
    pg = engine.dialect.name == "postgresql"

    def ts(t: datetime) -> datetime:
        return t if pg else t.replace(tzinfo=None)

    with engine.begin() as c:
        nmi = c.execute(sa.select(org.c.id).where(org.c.code == "BNMI")).scalar_one()
        root = c.execute(sa.select(user.c.id).where(user.c.username == "bench-root")).scalar_one()
        provs = [{"code": f"BP{i:03d}", "name": f"Provincial institute {i}", "level": "provincial",
                  "parent_id": nmi, "region": REGIONS[i % 5], "country_code": "DE", "address": "",
                  "accreditation": "", "created_at": ts(now)} for i in range(30)]
        c.execute(org.insert(), provs)
        prov_ids = list(c.execute(sa.select(org.c.id).where(org.c.code.like("BP%"))).scalars())
        labs = [{"code": f"BL{i:04d}", "name": f"Calibration laboratory {i}", "level": "local",
                 "parent_id": prov_ids[i % 30], "region": REGIONS[i % 5], "country_code": "DE",
                 "address": "", "accreditation": f"D-K-{10000 + i}", "created_at": ts(now)}
                for i in range(300)]
        c.execute(org.insert(), labs)
        lab_ids = list(c.execute(sa.select(org.c.id).where(org.c.code.like("BL%"))).scalars())
        holders = [nmi, *prov_ids, *lab_ids]
        dropped: list[tuple[str, str]] = []
        if pg:
            dropped = _secondary_indexes(c)
            for name, _ in dropped:
                c.exec_driver_sql(f'DROP INDEX "{name}"')

        def ranged(i: int) -> dict:
            domain = rng.choice(list(DOMAINS))
            qty, unit, lo, hi = rng.choice(DOMAINS[domain])
            a = lo + (hi - lo) * rng.random() ** 3
            b = a + (hi - a) * rng.random()
            rel = Decimal(rng.choice(["0.000001", "0.000002", "0.000005", "0.00001", "0.0001"]))
            ab = Decimal(rng.choice(["0", "0.0000001", "0.00001", "0.001"]))
            return {"domain": domain, "quantity": qty, "unit": unit,
                    "range_min": repr(round(a, 6)), "range_max": repr(round(b, 6)),
                    "range_min_f": round(a, 6), "range_max_f": round(b, 6),
                    "uncertainty_relative": str(rel), "uncertainty_absolute": str(ab),
                    "uncertainty_relative_f": float(rel), "uncertainty_absolute_f": float(ab),
                    "review_state": "published", "created_by_id": root,
                    "published_at": ts(now), "created_at": ts(now), "contributor_ids": []}

        first_std = (c.execute(sa.select(sa.func.max(std.c.id))).scalar() or 0) + 1
        t0 = time.perf_counter()
        out = None
        for i in range(n_standards):
            row = ranged(i)
            h = rng.choice(holders)
            row.update(id=first_std + i, identifier=f"BS-{i:07d}",
                       kind=rng.choice(["reference", "working", "check"]),
                       description=f"{row['quantity']} standard model {i % 97}",
                       manufacturer=rng.choice(["Fluke", "Keysight", "Yokogawa", "Beamex"]),
                       model=f"M{i % 500}", serial_number=f"SN{i:08d}", accuracy_class="",
                       organisation_id=h, status="in_service", calibration_interval_days=365,
                       due_date=date.today() + timedelta(days=rng.randint(1, 365)),
                       current_calibration_id=None, reviewed_by_id=None)
            row["search_text"] = " ".join([row["identifier"], row["description"],
                                           row["manufacturer"], row["model"],
                                           row["domain"], row["quantity"]]).lower()
            if out is None:
                out = _Writer(c, std, list(row))
            out.add(row)
        if out is not None:
            out.close()
        t_std = time.perf_counter() - t0
        out = None
        for i in range(max(1, n_standards // 5)):
            row = ranged(i)
            row.update(organisation_id=rng.choice(holders), method="comparison",
                       reviewed_by_id=None, search_text=f"{row['quantity']} comparison")
            if out is None:
                out = _Writer(c, cap, list(row))
            out.add(row)
        if out is not None:
            out.close()
        std_ids = list(c.execute(sa.select(std.c.id)).scalars())
        t0 = time.perf_counter()
        first_id = (c.execute(sa.select(sa.func.max(cert.c.id))).scalar() or 0) + 1
        certs: _Writer | None = None
        links: _Writer | None = None
        link_rows: list[dict] = []
        for i in range(n_certs):
            end = now - timedelta(days=rng.randint(1, 700), minutes=rng.randint(0, 1440))
            lab = rng.choice(lab_ids)
            row = {
                "id": first_id + i, "number": f"BL-{end.year}-{i:07d}", "revision": 0,
                "organisation_id": lab, "status": "issued", "customer_name": "Customer",
                "customer_address": "", "item_description": "Digital multimeter",
                "item_manufacturer": "Keysight", "item_model": "34465A",
                "item_serial_number": f"MY{i:08d}", "item_identifier": "",
                "quantity": "DC voltage", "procedure": "DCV-01", "method": "direct",
                "location": "lab", "calibration_begin": ts(end - timedelta(hours=2)),
                "calibration_end": ts(end), "decision_rule": "simple", "conditions": [],
                "statements": [], "performed_by_id": root, "amendment_reason": "",
                "withdrawal_reason": "", "content_hash": secrets.token_hex(32),
                "created_by": "bench", "created_at": ts(end), "issue_date": end.date(),
                "issued_at": ts(end)}
            if certs is None:
                certs = _Writer(c, cert, list(row))
            certs.add(row)
            # the links wait for their certificates (PostgreSQL: one COPY at a time per
            # connection; SQLite: the foreign key)
            link_rows.append({"certificate_id": first_id + i, "standard_id": rng.choice(std_ids),
                              "used_at": ts(end - timedelta(hours=2))})
        if certs is not None:
            certs.close()
        for row in link_rows:
            if links is None:
                links = _Writer(c, link, list(row))
            links.add(row)
        if links is not None:
            links.close()
        del link_rows
        t_cert = time.perf_counter() - t0
        t0 = time.perf_counter()
        if pg:
            c.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            for _, definition in dropped:
                c.exec_driver_sql(definition)
            for table in ("certificate", "standard"):  # explicit ids above: move the sequences
                c.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM "
                                  f"{table}))")
        t_index = time.perf_counter() - t0
    # planner statistics (and, on PostgreSQL, the visibility map for index-only scans), as
    # autovacuum would provide in production; autocommit, or PostgreSQL rolls them back
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE" if pg else "ANALYZE")
    return {"standards_s": t_std, "certificates_s": t_cert, "indexes_s": t_index,
            "analyze_s": time.perf_counter() - t0}


def percentiles(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(0.95 * len(xs)))]


def bench_search(url: str, rng: random.Random, repeats: int) -> list[tuple[str, float, float]]:
    cases = {
        "standards: quantity + value + U/V <= 5e-6": lambda: (
            "/api/v1/standards", {"quantity": "DC voltage", "value": str(rng.choice(
                [0.1, 1, 10, 100])), "max_relative_uncertainty": "0.000005"}),
        "standards: domain + region, sorted by U": lambda: (
            "/api/v1/standards", {"domain": rng.choice(list(DOMAINS)),
                                  "region": rng.choice(REGIONS)}),
        "standards: free text (2 words)": lambda: (
            "/api/v1/standards", {"q": f"{rng.choice(['fluke', 'keysight', 'beamex'])} "
                                       f"m{rng.randint(0, 499)}"}),
        "standards: free text, a maker (~1/3 match)": lambda: (
            "/api/v1/standards", {"q": rng.choice(["fluke", "keysight", "beamex"])}),
        "standards: organisation, page 3": lambda: (
            "/api/v1/standards", {"organisation": f"BL{rng.randint(0, 299):04d}",
                                  "offset": 100, "limit": 50}),
        "capabilities: 10 V DC with U <= 5 µV/V": lambda: (
            "/api/v1/capabilities", {"quantity": "DC voltage", "value": "10",
                                     "max_relative_uncertainty": "0.000005"}),
        "capabilities: temperature at 100 °C": lambda: (
            "/api/v1/capabilities", {"quantity": "temperature", "value": "100",
                                     "max_uncertainty": "0.05"}),
    }
    out = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for name, make in cases.items():
            for _ in range(3):  # warm the caches and the planner before timing
                path, params = make()
                c.get(path, params=params)
            times = []
            for _ in range(repeats):
                path, params = make()
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
            p50, p95 = percentiles(times)
            out.append((name, p50 * 1e3, p95 * 1e3))
    return out


def setup_lab(url: str) -> dict[str, str]:
    """A laboratory with people, a station, a published CMC and a calibrated working standard."""
    with httpx.Client(base_url=url, timeout=60) as c:
        def tok(u: str) -> dict[str, str]:
            t = c.post("/api/v1/auth/token", json={"username": u, "password": PASSWORD})
            return {"Authorization": f"Bearer {t.json()['access_token']}"}

        su = tok("bench-root")
        c.post("/api/v1/organisations", headers=su, json={
            "code": "BLAB", "name": "Bench Lab", "level": "local", "parent_code": "BNMI",
            "country_code": "DE"}).raise_for_status()
        hdr = {}
        for role in ("technician", "checker", "approver", "data_entry", "reviewer"):
            c.post("/api/v1/organisations/BLAB/users", headers=su, json={
                "username": f"b-{role}", "full_name": role.title(), "password": PASSWORD,
                "roles": [role]}).raise_for_status()
            hdr[role] = tok(f"b-{role}")
        c.post("/api/v1/organisations/BLAB/users/b-technician/authorisations", headers=su,
               json={"quantity": "DC voltage", "valid_from": "2020-01-01",
                     "valid_until": "2035-01-01"}).raise_for_status()
        station = c.post("/api/v1/organisations/BLAB/stations", headers=su,
                         json={"name": "bench"}).json()["access_token"]
        cmc = c.post("/api/v1/capabilities", headers=hdr["data_entry"], json={
            "organisation_code": "BLAB", "domain": "electrical DC", "quantity": "DC voltage",
            "unit": "V", "range_min": "0.001", "range_max": "1000",
            "uncertainty_relative": "0.000001"}).json()
        c.post(f"/api/v1/capabilities/{cmc['id']}/submit", headers=hdr["data_entry"])
        c.post(f"/api/v1/capabilities/{cmc['id']}/review", headers=hdr["reviewer"],
               json={"approve": True}).raise_for_status()
        c.post("/api/v1/standards", headers=hdr["data_entry"], json={
            "identifier": "BLAB-CAL-1", "kind": "working", "description": "Calibrator",
            "domain": "electrical DC", "quantity": "DC voltage", "unit": "V",
            "range_min": "0", "range_max": "1000", "uncertainty_relative": "0.000005",
            "organisation_code": "BLAB"}).raise_for_status()
        c.post("/api/v1/standards/BLAB-CAL-1/submit", headers=hdr["data_entry"])
        c.post("/api/v1/standards/BLAB-CAL-1/review", headers=hdr["reviewer"],
               json={"approve": True}).raise_for_status()
        cal = c.post("/api/v1/standards/BLAB-CAL-1/calibrations", headers=hdr["data_entry"],
                     json={"certificate_number": "EXT-1", "issuer": "NMI",
                           "calibrated_on": "2026-01-01", "due_date": "2027-12-31"})
        cal.raise_for_status()
        # an outside calibration counts once another person reviewed it
        c.post(f"/api/v1/standards/BLAB-CAL-1/calibrations/{cal.json()['id']}/review",
               headers=hdr["reviewer"], json={"approve": True}).raise_for_status()
    return {**{k: v["Authorization"] for k, v in hdr.items()}, "station": f"Bearer {station}"}


def new_draft(c: httpx.Client, tokens: dict[str, str]) -> str:
    begin = datetime.now(UTC) - timedelta(hours=3)
    r = c.post("/api/v1/certificates", headers={"Authorization": tokens["technician"]}, json={
        "laboratory_code": "BLAB", "customer_name": "Customer", "item_description": "DMM",
        "item_manufacturer": "Keysight", "item_model": "34465A", "item_serial_number": "MY1",
        "quantity": "DC voltage", "procedure": "DCV-01", "method": "direct", "location": "lab",
        "calibration_begin": begin.isoformat(),
        "calibration_end": (begin + timedelta(hours=1)).isoformat(),
        "standards": ["BLAB-CAL-1"], "decision_rule": "simple"})
    r.raise_for_status()
    return r.json()["number"]  # type: ignore[no-any-return]


def points(n: int) -> list[dict]:
    return [{"table_title": "DC voltage", "quantity": "DC voltage", "unit": "V",
             "nominal": str(v), "reference_value": str(v),
             "measured_value": str(Decimal(str(v)) * Decimal("1.000003")),
             "expanded_uncertainty": str(Decimal(str(v)) * Decimal("0.00002")),
             "lower_limit": str(-Decimal(str(v)) * Decimal("0.0001")),
             "upper_limit": str(Decimal(str(v)) * Decimal("0.0001"))}
            for v in [0.1, 1, 10, 100, 1000][:n] * (n // 5 + 1)][:n]


def bench_ingest(url: str, tokens: dict[str, str], posts: int, per_post: int
                 ) -> tuple[float, float]:
    with httpx.Client(base_url=url, timeout=60) as c:
        drafts = [new_draft(c, tokens) for _ in range(4)]

    def worker(w: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            for i in range(posts // 4):
                r = c.post(f"/api/v1/certificates/{drafts[w]}/results",
                           json={"points": points(per_post)},
                           headers={"Authorization": tokens["station"],
                                    "Idempotency-Key": f"w{w}-{i}"})
                assert r.status_code == 201, r.text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    dt = time.perf_counter() - t0
    return (posts // 4 * 4 * per_post) / dt, (posts // 4 * 4) / dt


def bench_issue(url: str, tokens: dict[str, str], n: int) -> float:
    with httpx.Client(base_url=url, timeout=60) as c:
        numbers = []
        for _ in range(n):
            number = new_draft(c, tokens)
            c.post(f"/api/v1/certificates/{number}/results", json={"points": points(5)},
                   headers={"Authorization": tokens["station"],
                            "Idempotency-Key": "k"}).raise_for_status()
            c.post(f"/api/v1/certificates/{number}/check",
                   headers={"Authorization": tokens["checker"]}).raise_for_status()
            numbers.append(number)
        # first issue creates the laboratory's key: not part of the steady rate
        c.post(f"/api/v1/certificates/{numbers[0]}/issue",
               headers={"Authorization": tokens["approver"]}).raise_for_status()
        t0, cpu0 = time.perf_counter(), time.process_time()
        for number in numbers[1:]:
            r = c.post(f"/api/v1/certificates/{number}/issue",
                       headers={"Authorization": tokens["approver"]})
            assert r.status_code == 200, r.text
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    # CPU time of this process (the server's threads and the client) does not count waiting
    # for a core others hold, so it moves less with the machine's load than the rate does;
    # the database server's own time is not in it.
    print(f"  issue: {cpu / (len(numbers) - 1) * 1e3:.1f} ms CPU per certificate in this "
          f"process, {elapsed / (len(numbers) - 1) * 1e3:.1f} ms wall; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return (len(numbers) - 1) / elapsed


def run(backend: str, url: str, args: argparse.Namespace, keys: Path) -> None:
    rng = random.Random(20261122)
    engine = make_engine(url)
    t0 = time.perf_counter()
    migrate(engine)
    n_std, n_cert = int(100_000 * args.scale), int(200_000 * args.scale)
    load = bulk_load(engine, n_std, n_cert, rng)
    engine.dispose()
    print(f"\n== {backend}: {n_std} standards, {n_std // 5} CMCs, {n_cert} certificates "
          f"(migrate + load {time.perf_counter() - t0:.1f} s: standards "
          f"{n_std / load['standards_s']:.0f}/s, certificates+links "
          f"{n_cert / load['certificates_s']:.0f}/s, indexes {load['indexes_s']:.1f} s, "
          f"analyze {load['analyze_s']:.1f} s; load average {os.getloadavg()[0]:.2f})")
    settings = Settings(database_url=url, keys_dir=keys / backend, migrate_on_start=False)
    with Server(settings) as base:
        if "search" in args.parts:
            for name, p50, p95 in bench_search(base, rng, args.repeats):
                flag = "ok" if p95 < 50 else "ABOVE GOAL"
                print(f"  search {name:45s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  [{flag}]")
        if not {"ingest", "issue"} & set(args.parts):
            return
        tokens = setup_lab(base)
        if "ingest" in args.parts:
            pts, posts = bench_ingest(base, tokens, args.posts, args.points_per_post)
            print(f"  ingest through the API (4 station threads, {args.points_per_post} "
                  f"points/post): {pts:.0f} results/s ({posts:.0f} posts/s)  [goal 300/s]")
        if "issue" in args.parts:
            rate = bench_issue(base, tokens, args.issues)
            print(f"  issue (rules + PDF + DCC build/validate/sign), sequential: {rate:.1f} "
                  f"certificates/s  [goal 20/s]")


@contextmanager
def scratch_database(admin_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty PostgreSQL database ``labctl_bench_<random>`` on the server of
    ``admin_url``: its URL; dropped afterwards unless ``keep`` (then its URL is printed)."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"labctl_bench_{secrets.token_hex(4)}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"  kept: {url}")
        else:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database", action="append", metavar="sqlite|URL",
                    help="'sqlite' (a file in a temporary folder) or a PostgreSQL server's URL "
                    "(postgresql+psycopg://…; a fresh database labctl_bench_<random> is made "
                    "there and dropped after); repeat for several. Default: sqlite and "
                    "LABCTL_TEST_POSTGRES_URL (or the local server)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the PostgreSQL database after the run (its URL is printed)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="1.0 = 100k standards, 200k certs; 10 = national scale (10^6, 2·10^6)")
    ap.add_argument("--repeats", type=int, default=100, help="queries per search case")
    ap.add_argument("--posts", type=int, default=400)
    ap.add_argument("--points-per-post", type=int, default=5)
    ap.add_argument("--issues", type=int, default=41)
    ap.add_argument("--parts", nargs="+", choices=["search", "ingest", "issue"],
                    default=["search", "ingest", "issue"], help="which measurements to run")
    args = ap.parse_args()
    databases = args.database or ["sqlite", os.environ.get(
        "LABCTL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")]
    for db in databases:
        if db != "sqlite" and not db.startswith("postgresql"):
            ap.error(f"--database {db!r}: give 'sqlite' or a postgresql+psycopg:// URL")
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys"
        for db in databases:
            if db == "sqlite":
                run("sqlite", f"sqlite:///{tmp}/bench.db", args, keys)
                continue
            with scratch_database(db, keep=args.keep) as url:
                run("postgresql", url, args, keys)


if __name__ == "__main__":
    main()
