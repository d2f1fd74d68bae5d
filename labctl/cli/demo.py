"""``labctl demo``: the whole job on the embedded default, with nothing but labctl installed.

1. Starts the embedded platform (a SQLite file, a live HTTP server on 127.0.0.1) and the
   simulated bench (real SCPI and Modbus TCP servers on 127.0.0.1, simulated time).
2. Seeds a national metrology network through the platform's HTTP API: a national institute
   holding the primary standards, a provincial institute, a calibration laboratory and a
   customer; people in every role; published CMCs and standards. The chain of certificates
   (national → provincial reference standards → the laboratory's bench standards) is issued
   level by level, each from measurements of the simulated standards' true errors with the
   issuing laboratory's stated uncertainty.
3. Runs both procedures on the bench (DMM DC voltage; PRT by comparison), the platform acting as
   the register of standards and authorisations.
4. Posts the results as the bench's station, has them checked and issued by two other people,
   and saves each certificate's PDF and signed DCC, verified, with its traceability chain.
5. Takes the customer's order through the service desk: frank books the DC voltage
   calibration of the DMM against the laboratory's CMC, carol quotes, frank accepts, carol
   records the payment, alice receives the DMM and starts; the run's draft certificate is
   linked to the order (so it states the customer, address, item and date of receipt), issued,
   the order completed, and frank evaluates the service.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from labctl.cli.console import console, flush
from labctl.quantities import Quantity, RunStatus

PASSWORD = "demo-only-password"  # the demo's throw-away accounts, in a throw-away database
LAB, PROV, NMI, CUST = "ACAL", "PROV", "NMI", "CUST"

#: The provincial institute's calibration of the laboratory's calibrator: per DC voltage range
#: (upper limit V, label) the points measured and the standard uncertainty of the gain and
#: offset part of each point.
CAL_RANGES = ((0.33, "330 mV", 0.3, 2e-6, 0.15e-6), (3.3, "3.3 V", 3.0, 1.5e-6, 0.3e-6),
              (33.0, "33 V", 30.0, 1.5e-6, 3e-6), (330.0, "330 V", 300.0, 2.5e-6, 20e-6),
              (1020.0, "1020 V", 1000.0, 2.5e-6, 200e-6))
#: ... of the laboratory's DMM as a resistance standard: (range Ω, label, u gain, u offset Ω).
DMM_RANGES = ((100.0, "100 Ω", 4e-6, 0.4e-3), (1000.0, "1 kΩ", 4e-6, 1.5e-3))
REF_U = 0.002  # °C, the reference thermometer's certificate (standard uncertainty)


class DemoError(RuntimeError):
    """A step of the demo failed (the message names the step and the platform's answer)."""


@dataclass
class Api:
    """The demo's HTTP client of the embedded platform."""

    client: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, *, who: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        hdr = dict(headers or {})
        if who is not None:
            hdr["Authorization"] = f"Bearer {self.tokens[who]}"
        resp = self.client.request(method, f"/api/v1{path}", json=body, headers=hdr)
        if resp.status_code >= 400:
            raise DemoError(f"{method} {path} as {who}: {resp.status_code} {resp.text}")
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def login(self, username: str) -> None:
        self.tokens[username] = self.call("POST", "/auth/token", body={
            "username": username, "password": PASSWORD})["access_token"]


def _d(x: float, digits: int = 12) -> str:
    """A float as decimal text, ``digits`` significant digits, no binary artefacts."""
    return format(float(f"{x:.{digits}g}"), "f") if abs(x) >= 1e-4 or x == 0 else \
        f"{float(f'{x:.{digits}g}'):.{digits + 6}f}".rstrip("0").rstrip(".")


# --- seeding -----------------------------------------------------------------------------------


def seed_people(api: Api, database_url: str, keys_dir: Path | None = None) -> None:
    from labctl.platform.admin import create_admin

    create_admin(username="admin", password=PASSWORD, full_name="Platform Administrator",
                 organisation_code=NMI, organisation_name="National Institute of Metrology",
                 level="national", country_code="DE", database_url=database_url,
                 keys_dir=keys_dir)  # the demo's own keys seal the bootstrap event
    api.login("admin")
    for code, name, level, parent, address in (
        (PROV, "Provincial Institute of Metrology", "provincial", NMI,
         "12 Standards Avenue\nNorthport"),
        (LAB, "Acme Calibration Laboratory", "local", PROV, "3 Bench Street\nLabtown"),
        (CUST, "Example Instruments Ltd", "industry", PROV, "9 Factory Road\nMilltown"),
    ):
        api.call("POST", "/organisations", who="admin", body={
            "code": code, "name": name, "level": level, "parent_code": parent,
            "region": "North", "country_code": "DE", "address": address,
            # the same number every run (hash() of a str changes with each process)
            "accreditation": f"D-K-{zlib.crc32(code.encode()) % 90000 + 10000}-01-00"
            if level != "industry" else ""})
    staff = {
        NMI: {"nmi.tech": "technician", "nmi.check": "checker", "nmi.sign": "approver",
              "nmi.entry": "data_entry", "nmi.review": "reviewer"},
        PROV: {"prov.tech": "technician", "prov.check": "checker", "prov.sign": "approver",
               "prov.entry": "data_entry", "prov.review": "reviewer"},
        LAB: {"alice": "technician", "bob": "checker", "carol": "approver",
              "dave": "data_entry", "erin": "reviewer"},
        CUST: {"frank": "customer"},
    }
    names = {"alice": "Alice Weber", "bob": "Bob Schmidt", "carol": "Carol Becker",
             "dave": "Dave Fischer", "erin": "Erin Wagner", "frank": "Frank Meyer"}
    for org, people in staff.items():
        for username, role in people.items():
            api.call("POST", f"/organisations/{org}/users", who="admin", body={
                "username": username, "full_name": names.get(username, username.title()),
                "password": PASSWORD, "roles": [role]})
            api.login(username)
    for org, tech in ((NMI, "nmi.tech"), (PROV, "prov.tech")):
        for quantity in (Quantity.DC_VOLTAGE, Quantity.RESISTANCE, Quantity.TEMPERATURE):
            api.call("POST", f"/organisations/{org}/users/{tech}/authorisations", who="admin",
                     body={"quantity": quantity, "procedure": "", "valid_from": "2020-01-01",
                           "valid_until": "2035-12-31"})
    for quantity, procedure in ((Quantity.DC_VOLTAGE, "dmm-dcv-direct"),
                                (Quantity.TEMPERATURE, "prt-comparison"),
                                (Quantity.DC_VOLTAGE, "dmm-calibrator-check"),
                                (Quantity.TEMPERATURE, "prt-dry-block-check")):
        api.call("POST", f"/organisations/{LAB}/users/alice/authorisations", who="admin",
                 body={"quantity": quantity, "procedure": procedure,
                       "valid_from": "2024-01-01", "valid_until": "2030-12-31"})
    station = api.call("POST", f"/organisations/{LAB}/stations", who="admin",
                       body={"name": "bench-1"})
    api.tokens["station"] = station["access_token"]


def _publish(api: Api, kind: str, body: dict[str, Any], entry: str, reviewer: str) -> Any:
    if kind == "standards":
        api.call("POST", "/standards", who=entry, body=body)
        key = body["identifier"]
    else:
        key = api.call("POST", "/capabilities", who=entry, body=body)["id"]
    api.call("POST", f"/{kind}/{key}/submit", who=entry)
    return api.call("POST", f"/{kind}/{key}/review", who=reviewer, body={"approve": True})


def seed_registry(api: Api, truth: dict[str, Any]) -> None:
    """CMCs of the three laboratories and their standards (two-person review each)."""
    people = {NMI: ("nmi.entry", "nmi.review"), PROV: ("prov.entry", "prov.review"),
              LAB: ("dave", "erin")}
    cmcs = {
        NMI: [("electrical DC", Quantity.DC_VOLTAGE, "V", -1020, 1020, "0.00000002", "0.00000002"),
              ("electrical DC", Quantity.RESISTANCE, "Ω", 0, 100000, "0.0000002", "0.000001"),
              ("temperature", Quantity.TEMPERATURE, "°C", -200, 660, "0", "0.0005")],
        PROV: [("electrical DC", Quantity.DC_VOLTAGE, "V", -1020, 1020, "0.000001", "0.0000001"),
               ("electrical DC", Quantity.RESISTANCE, "Ω", 0, 100000, "0.000005", "0.0001"),
               ("temperature", Quantity.TEMPERATURE, "°C", -50, 450, "0", "0.003")],
        LAB: [("electrical DC", Quantity.DC_VOLTAGE, "V", -1000, 1000, "0.000001", "0.0000002"),
              ("temperature", Quantity.TEMPERATURE, "°C", -25, 450, "0", "0.003")],
    }
    for org, rows in cmcs.items():
        for domain, quantity, unit, lo, hi, rel, ab in rows:
            _publish(api, "capabilities", {
                "organisation_code": org, "domain": domain, "quantity": quantity,
                "unit": unit, "range_min": str(lo), "range_max": str(hi),
                "uncertainty_relative": rel, "uncertainty_absolute": ab,
                "method": "Comparison with the laboratory's reference standards"},
                *people[org])
    cal, dmm, ref = truth["calibrator"], truth["dmm"], truth["thermometer"]
    standards = [
        (NMI, "NMI-JVS-1", "national_primary", "Josephson voltage standard (10 V array)",
         "NMI", "JVS-10", "1", "electrical DC", Quantity.DC_VOLTAGE, "V", 0, 10, "0.00000001", "0"),
        (NMI, "NMI-QHR-1", "national_primary", "Quantum Hall resistance standard", "NMI",
         "QHR-2", "1", "electrical DC", Quantity.RESISTANCE, "Ω", 1, 10000, "0.00000005", "0"),
        (NMI, "NMI-ITS-1", "national_primary", "ITS-90 fixed-point cells (TPW, Sn, Zn)",
         "NMI", "FPC-3", "1", "temperature", Quantity.TEMPERATURE, "°C", 0, 420, "0", "0.0002"),
        (PROV, "PROV-DCV-1", "reference", "Reference multimeter, 8½ digits", "Fluke",
         "8508A", "855012", "electrical DC", Quantity.DC_VOLTAGE, "V", -1000, 1000, "0.0000015",
         "0.0000002"),
        (PROV, "PROV-RES-1", "reference", "Standard resistors 1 Ω … 10 kΩ", "Fluke", "742A",
         "7420033", "electrical DC", Quantity.RESISTANCE, "Ω", 1, 10000, "0.000003", "0"),
        (PROV, "PROV-SPRT-1", "reference", "Standard platinum resistance thermometer",
         "Fluke", "5681", "1207", "temperature", Quantity.TEMPERATURE, "°C", -200, 660, "0",
         "0.002"),
        (LAB, "LAB-CAL-01", "working", "Multifunction calibrator", "Fluke", "5522A",
         cal["serial"], "electrical DC", Quantity.DC_VOLTAGE, "V", -1020, 1020, "0.000012",
         "0.000002"),
        (LAB, "LAB-DMM-01", "working", "Digital multimeter (resistance)",
         "Keysight Technologies", "34465A", dmm["serial"], "electrical DC",
         Quantity.RESISTANCE, "Ω", 0, 1000, "0.00001", "0.001"),
        (LAB, "LAB-REF-01", "reference", "Reference thermometer readout with SPRT", "Fluke",
         "1594A", ref["serial"], "temperature", Quantity.TEMPERATURE, "°C", -25, 450, "0", "0.004"),
    ]
    for (org, ident, kind, desc, make, model, serial, domain, quantity, unit, lo, hi, rel,
         ab) in standards:
        _publish(api, "standards", {
            "identifier": ident, "kind": kind, "description": desc, "manufacturer": make,
            "model": model, "serial_number": serial, "domain": domain, "quantity": quantity,
            "unit": unit, "range_min": str(lo), "range_max": str(hi),
            "uncertainty_relative": rel, "uncertainty_absolute": ab,
            "organisation_code": org, "calibration_interval_days": 365}, *people[org])


def _point(title: str, quantity: str, unit: str, label: str, nominal: float,
           reference: float, measured: float, U: float) -> dict[str, Any]:
    return {"table_title": title, "quantity": quantity, "unit": unit, "range_label": label,
            "nominal": _d(nominal), "reference_value": _d(reference),
            "measured_value": _d(measured), "expanded_uncertainty": _d(U, 2),
            "coverage_factor": "2", "coverage_probability": "0.95"}


def issue_certificate(api: Api, org: str, *, item: str | None, standards: list[str],
                      when: datetime, description: str, quantity: str, points: list[Any],
                      customer: tuple[str, str], staff: tuple[str, str, str],
                      item_fields: dict[str, str] | None = None,
                      statements: list[str] | None = None, procedure: str = "",
                      method: str = "", conditions: list[dict[str, Any]] | None = None,
                      decision_rule: str | None = None, key: str | None = None,
                      end: datetime | None = None) -> dict[str, Any]:
    """Draft (technician) → results (station or technician) → check → issue."""
    tech, checker, approver = staff
    body: dict[str, Any] = {
        "laboratory_code": org, "customer_name": customer[0], "customer_code": customer[1],
        "item_standard": item, "item_description": description, "quantity": quantity,
        "procedure": procedure or f"{org}-{quantity.replace(' ', '-').upper()}-01",
        "method": method or f"Comparison with the laboratory's reference standards "
        f"({quantity})", "location": "Laboratory, room 1",
        "calibration_begin": when.isoformat(),
        "calibration_end": (end or when + timedelta(hours=3)).isoformat(),
        "standards": standards, "statements": statements or [],
        "conditions": conditions or [
            {"quantity": "temperature", "unit": "°C", "mean": "23.0", "minimum": "22.8",
             "maximum": "23.2", "uncertainty": "0.1"},
            {"quantity": "relative humidity", "unit": "%", "mean": "45", "minimum": "43",
             "maximum": "47", "uncertainty": "2"}],
    }
    body.update(item_fields or {})
    if decision_rule:
        body["decision_rule"] = decision_rule
    cert = api.call("POST", "/certificates", who=tech, body=body)
    number = cert["number"]
    poster = "station" if org == LAB else tech
    api.call("POST", f"/certificates/{number}/results", who=poster, body={"points": points},
             headers={"Idempotency-Key": key or f"{number}-results"})
    api.call("POST", f"/certificates/{number}/check", who=checker)
    return api.call("POST", f"/certificates/{number}/issue", who=approver)  # type: ignore


def seed_chain(api: Api, truth: dict[str, Any], now: datetime, seed: int) -> list[str]:
    """National → provincial → laboratory certificates; returns their numbers."""
    import numpy as np

    rng = np.random.default_rng([seed, 2026])
    issued: list[str] = []
    nmi_staff, prov_staff = ("nmi.tech", "nmi.check", "nmi.sign"), \
        ("prov.tech", "prov.check", "prov.sign")
    to_prov = ("Provincial Institute of Metrology", PROV)
    to_lab = ("Acme Calibration Laboratory", LAB)
    t_nmi, t_prov = now - timedelta(days=60), now - timedelta(days=30)
    # National institute → provincial reference standards.
    for item, std, desc, quantity, unit, pts in (
        ("PROV-DCV-1", "NMI-JVS-1", "Reference multimeter", Quantity.DC_VOLTAGE, "V",
         [(1.0, 2e-7), (10.0, 1e-6)]),
        ("PROV-RES-1", "NMI-QHR-1", "Standard resistors", Quantity.RESISTANCE, "Ω",
         [(100.0, 3e-5), (1000.0, 3e-4)]),
        ("PROV-SPRT-1", "NMI-ITS-1", "Standard platinum resistance thermometer",
         Quantity.TEMPERATURE, "°C", [(0.01, 0.0005), (231.928, 0.001), (419.527, 0.0012)]),
    ):
        points = [_point(desc, quantity, unit, "", x, x, x + float(rng.normal(0, U / 4)), U)
                  for x, U in pts]
        issued.append(issue_certificate(
            api, NMI, item=item, standards=[std], when=t_nmi, description=desc,
            quantity=quantity, points=points, customer=to_prov, staff=nmi_staff)["number"])
    # Provincial institute → the laboratory's bench standards, from their true errors.
    points = []
    for upper, label, x, ug, uo in CAL_RANGES:
        e = truth["calibrator"]["errors"]["dcv"][upper]
        for nominal in (0.0, x, -x):
            u = math.hypot(nominal * ug, uo)
            actual = nominal * (1 + e["gain"]) + e["offset"] + float(rng.normal(0, u))
            points.append(_point("DC voltage output", Quantity.DC_VOLTAGE, "V", label, nominal,
                                 actual, nominal, 2 * u))
    issued.append(issue_certificate(
        api, PROV, item="LAB-CAL-01", standards=["PROV-DCV-1"], when=t_prov,
        description="Multifunction calibrator", quantity=Quantity.DC_VOLTAGE, points=points,
        customer=to_lab, staff=prov_staff)["number"])
    points = []
    for rng_ohm, label, ug, uo in DMM_RANGES:
        e = truth["dmm"]["errors"]["fres"][rng_ohm]
        for ref_value in (0.0, rng_ohm):
            u = math.hypot(ref_value * ug, uo)
            reading = ref_value * (1 + e["gain"]) + e["offset"] + float(rng.normal(0, u))
            points.append(_point("Four-wire resistance", Quantity.RESISTANCE, "Ω", label,
                                 ref_value, ref_value, reading, 2 * u))
    issued.append(issue_certificate(
        api, PROV, item="LAB-DMM-01", standards=["PROV-RES-1"], when=t_prov,
        description="Digital multimeter (resistance)", quantity=Quantity.RESISTANCE,
        points=points,
        customer=to_lab, staff=prov_staff)["number"])
    probe = truth["thermometer"]["errors"]["probe_error"]
    points = [_point("Temperature", Quantity.TEMPERATURE, "°C", "-25 … 450 °C", t, t,
                     t + probe + float(rng.normal(0, REF_U)), 2 * REF_U)
              for t in (0.0, 100.0, 200.0, 300.0, 400.0)]
    issued.append(issue_certificate(
        api, PROV, item="LAB-REF-01", standards=["PROV-SPRT-1"], when=t_prov,
        description="Reference thermometer readout with SPRT", quantity=Quantity.TEMPERATURE,
        points=points, customer=to_lab, staff=prov_staff)["number"])
    return issued


# --- the runs ----------------------------------------------------------------------------------


def run_procedures(engine: Any, sim: Any, clock: Any, workdir: Path) -> list[Any]:
    from labctl.cli.bench import simulated_bench_config
    from labctl.drivers.factory import open_bench
    from labctl.platform.stations.seam import EmbeddedStation
    from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
    from labctl.procedures.journal import SqliteJournal
    from labctl.procedures.prt_comparison import PrtComparison
    from labctl.procedures.runner import Runner

    register = EmbeddedStation(engine, LAB).register()
    truth = sim.truth()
    results = []
    with SqliteJournal(workdir / "journal.sqlite") as journal, \
            open_bench(simulated_bench_config(sim.resources)) as bench:
        runner = Runner(instruments=dict(bench), register=register, journal=journal,
                        clock=clock, sample_interval=10.0, background_sampling=False)
        sim.set_dmm_terminals("FRON")
        results.append(runner.run(DmmDcVoltage(DcvParameters(adjust=True)), dut={
            "manufacturer": "Keysight Technologies", "model": "34465A",
            "serial_number": truth["dmm"]["serial"], "identifier": "EX-DMM-0042"},
            operator="alice", checker="bob"))
        sim.set_dmm_terminals("REAR")
        results.append(runner.run(PrtComparison(), dut={
            "manufacturer": "Example Sensors", "model": "Pt100 4-wire, class A",
            "serial_number": "PRT-2026-0117", "identifier": "EX-PRT-0117"},
            operator="alice", checker="bob"))
        sim.set_dmm_terminals("FRON")
    return results


#: The demo's checks of the calibrator: one every CHECK_INTERVAL simulated seconds; the drift
#: switched on after the baseline (relative per second: about 20 µV per check at 10 V).
CHECK_INTERVAL = 900.0
CHECK_DRIFT = 2.2e-9


def check_calibrator(engine: Any, sim: Any, clock: Any, workdir: Path, *, count: int,
                     until_quarantined: bool = False) -> list[str]:
    """Run the calibrator's intermediate check ``count`` times (stopping once it is
    quarantined, with ``until_quarantined``), each delivered by the station seam to the
    platform's control charts; what each filing did, in words."""
    from labctl.cli.bench import simulated_bench_config
    from labctl.drivers.factory import open_bench
    from labctl.platform.stations.seam import DraftDetails, EmbeddedStation
    from labctl.procedures.dmm_calibrator_check import DmmCalibratorCheck
    from labctl.procedures.journal import SqliteJournal
    from labctl.procedures.runner import Runner

    station = EmbeddedStation(engine, LAB)
    serial = sim.truth()["calibrator"]["serial"]
    said: list[str] = []
    with SqliteJournal(workdir / "journal.sqlite") as journal, \
            open_bench(simulated_bench_config(sim.resources)) as bench:
        runner = Runner(instruments=dict(bench), register=station.register(), journal=journal,
                        clock=clock, sample_interval=10.0, background_sampling=False)
        sim.set_dmm_terminals("FRON")
        for _ in range(count):
            result = runner.run(DmmCalibratorCheck(), dut={
                "manufacturer": "Fluke", "model": "5522A", "serial_number": serial},
                operator="alice", checker="bob")
            if result.status != RunStatus.COMPLETED:
                raise DemoError(f"check run {result.run_id} {result.status}: {result.reason}")
            said.append(station.deliver(result, DraftDetails("", None, "", "", "Bench 1")))
            clock.advance(CHECK_INTERVAL)
            if until_quarantined and "status quarantined" in said[-1]:
                break
    return said


def book_calibration(api: Api, dmm_serial: str, received: date) -> int:
    """frank (customer of CUST) books the DMM's DC voltage calibration against the laboratory's
    CMC; carol quotes, frank accepts, carol records the payment, alice receives the DMM (on
    ``received``: the day the simulated bench's clock starts) and starts the work. Returns
    the order's id."""
    cmcs = api.call("GET", f"/capabilities?organisation={LAB}&quantity=DC%20voltage")["items"]
    order = api.call("POST", "/orders", who="frank", body={
        "kind": "calibration", "capability_id": cmcs[0]["id"],
        "item_description": "Digital multimeter", "item_manufacturer": "Keysight Technologies",
        "item_model": "34465A", "item_serial_number": dmm_serial, "range_min": "0.1",
        "range_max": "1000", "notes": "DC voltage, all ranges; adjust if needed."},
        headers={"Idempotency-Key": f"demo-order-{dmm_serial}"})
    oid = order["id"]
    valid = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    api.call("POST", f"/orders/{oid}/quote", who="carol", body={
        "amount": "1850.00", "currency": "CNY", "valid_until": valid,
        "note": "DC voltage, 5 ranges, as found and as left"})
    api.call("POST", f"/orders/{oid}/accept", who="frank", body={})
    api.call("POST", f"/orders/{oid}/payment", who="carol", body={"reference": "BANK-0042"})
    api.call("POST", f"/orders/{oid}/receive", who="alice", body={
        "condition": "Good; no visible damage; test leads not included",
        "received_on": received.isoformat()})
    api.call("POST", f"/orders/{oid}/start", who="alice", body={"note": "bench-1"})
    return oid  # type: ignore[no-any-return]


def certify_run(api: Api, result: Any, order_id: int | None = None) -> dict[str, Any]:
    """Post a completed run as the station; bob checks, carol issues. ``order_id``: alice
    links the draft to the customer's order first (it takes the order's customer, address,
    item and date of receipt), and carol completes the order once it is issued."""
    from labctl.platform.stations.drafts import certificate_request


    prt = result.procedure_id == "prt-comparison"
    statements = []
    if prt and result.analysis:
        a = result.analysis
        c, u, k = a["coefficients"], a["standard_uncertainties"], a["coverage_factor"]
        statements.append(
            "Callendar–Van Dusen coefficients fitted to the results (t >= 0 °C): "
            f"R0 = {c['R0']:.5f} Ω (U = {k * u['R0']:.1g} Ω), A = {c['A']:.6e} /°C "
            f"(U = {k * u['A']:.1g} /°C), B = {c['B']:.5e} /°C² (U = {k * u['B']:.1g} /°C²), "
            f"k = {k:.2f}.")
        worst = max(p["U"] for p in a["curve_uncertainty"])
        statements.append(f"Expanded uncertainty of a temperature computed from the fitted "
                          f"curve between 0 °C and 400 °C: at most {worst:.2g} °C (k = {k:.2f}).")
    create, points = certificate_request(
        result, laboratory_code=LAB, customer_name="Example Instruments Ltd",
        customer_code=CUST,
        item_description="Platinum resistance thermometer" if prt else "Digital multimeter",
        method=("Comparison with a reference thermometer in a dry block; deviation from "
                "IEC 60751 and Callendar–Van Dusen fit" if prt else
                "Direct comparison with a multifunction calibrator, DC voltage, as found, "
                "adjusted, as left"),
        location="Acme Calibration Laboratory, room 1",
        table_title="Deviation from IEC 60751" if prt else None)
    body = json.loads(create.model_dump_json())
    adjusted = any(p.stage == "as-left" for p in result.points)
    body["statements"] = [*statements, (
        "The thermometer was immersed 150 mm in the dry block." if prt else
        "The instrument was adjusted after the as-found measurements (zero and gain of each "
        "range measured); the as-left results follow." if adjusted else
        "No adjustment was made: the results as found are also the results as left.")]
    cert = api.call("POST", "/certificates", who="alice", body=body)
    number = cert["number"]
    api.call("POST", f"/certificates/{number}/results", who="station",
             body=json.loads(points.model_dump_json()),
             headers={"Idempotency-Key": result.run_id})
    if order_id is not None:
        api.call("POST", f"/orders/{order_id}/certificate", who="alice",
                 body={"certificate_number": number})
    api.call("POST", f"/certificates/{number}/check", who="bob")
    issued = api.call("POST", f"/certificates/{number}/issue", who="carol")
    if order_id is not None:
        api.call("POST", f"/orders/{order_id}/complete", who="carol",
                 body={"note": "Returned to the customer with the certificate"})
    return issued  # type: ignore[no-any-return]


@contextlib.contextmanager
def _timed(out: Any, what: str) -> Iterator[None]:
    t0 = time.perf_counter()
    out.print(f"• {what} …")
    flush()
    yield
    out.print(f"  done in {time.perf_counter() - t0:.1f} s")
    flush()


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the database, keys and "
                                          "certificates go (emptied first).")] = Path(
        "labctl-demo"),
    seed: Annotated[int, typer.Option(help="Seed of the simulated bench.")] = 2026,
    serve: Annotated[bool | None, typer.Option(
        "--serve/--no-serve", help="Keep serving the portal on 127.0.0.1:8000 afterwards "
        "until Ctrl-C (default: when run in a terminal).")] = None,
) -> None:
    """Simulated bench + embedded platform: a full calibration, certificates, traceability;
    then the portal's address (served until Ctrl-C when run in a terminal)."""
    import shutil

    import httpx
    from rich.table import Table

    from labctl.api import ServerThread, create_app
    from labctl.platform.db import make_engine
    from labctl.platform.settings import Settings
    from labctl.procedures.clock import ManualClock
    from simulators.bench import SimulatedBench

    out = console()
    t_start = time.perf_counter()
    if out_dir.exists():
        if not (out_dir / "platform.sqlite").exists() and any(out_dir.iterdir()):
            raise typer.BadParameter(f"{out_dir} exists and is not a labctl demo folder")
        shutil.rmtree(out_dir)
    (out_dir / "certificates").mkdir(parents=True)
    db = (out_dir / "platform.sqlite").resolve()
    settings = Settings(database_url=f"sqlite:///{db}", keys_dir=(out_dir / "keys").resolve(),
                        public_url="http://127.0.0.1:8000")
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(epoch=now - timedelta(hours=6))
    try:
        with SimulatedBench(seed=seed, clock=clock) as sim, \
                ServerThread(create_app(settings)) as url, \
                httpx.Client(base_url=url, timeout=60) as client:
            out.print(f"simulated bench (seed {seed}) and embedded platform at {url}")
            api = Api(client)
            truth = sim.truth()
            with _timed(out, "national network: institutes, laboratory, people, CMCs, "
                        "standards"):
                seed_people(api, settings.database_url, settings.keys_dir)
                seed_registry(api, truth)
            with _timed(out, "traceability chain: national → provincial → laboratory "
                        "certificates"):
                chain = seed_chain(api, truth, now, seed)
                order_id = book_calibration(api, truth["dmm"]["serial"],
                                            clock.utcnow().date())
            engine = make_engine(settings.database_url)
            try:
                with _timed(out, "intermediate checks of the calibrator: 5 in control (the "
                            "control charts' baseline)"):
                    check_calibrator(engine, sim, clock, out_dir, count=5)
                with _timed(out, "calibrating on the bench: DMM DC voltage (18 points), PRT "
                            "at 5 temperatures"):
                    results = run_procedures(engine, sim, clock, out_dir)
            finally:
                engine.dispose()
            for r in results:
                if r.status != RunStatus.COMPLETED:
                    raise DemoError(f"run {r.run_id} {r.status}: {r.reason}")
            issued = []
            with _timed(out, "certificates: posted by the station, checked by bob, issued "
                        "by carol"):
                for r in results:
                    dcv = r.procedure_id != "prt-comparison"
                    issued.append((r, certify_run(api, r, order_id if dcv else None)))
                api.call("POST", f"/orders/{order_id}/evaluation", who="frank", body={
                    "fit": 5, "competence": 5, "timeliness": 4, "satisfaction": 5,
                    "effectiveness": 5, "comment": "Clear certificate, quick turnaround."})
            table = Table(title="Certificates issued by Acme Calibration Laboratory")
            for col in ("number", "item", "points", "statements", "signature", "chain",
                        "documents"):
                table.add_column(col, overflow="fold")
            for r, cert in issued:
                number = cert["number"]
                pdf = out_dir / "certificates" / f"{number}.pdf"
                dcc = out_dir / "certificates" / f"{number}.dcc.xml"
                pdf.write_bytes(api.call("GET", f"/certificates/{number}/pdf", who="carol"))
                dcc.write_bytes(api.call("GET", f"/certificates/{number}/dcc", who="carol"))
                verified = api.call("GET", f"/verify/{number}")
                trace = api.call("GET", f"/certificates/{number}/traceability", who="carol")
                (out_dir / "certificates" / f"{number}.traceability.json").write_text(
                    json.dumps(trace, indent=1), encoding="utf-8")
                outcomes = [p.conformity for p in r.points]
                summary = ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes)))
                sig = verified.get("signature_valid", verified.get("signature"))
                table.add_row(number, f"{r.dut['model']} s/n {r.dut['serial_number']}",
                              str(len(r.points)), summary,
                              "valid" if sig is True else str(sig), _chain_text(trace),
                              f"{pdf.name}\n{dcc.name}")
            out.print(table)
            order = api.call("GET", f"/orders/{order_id}", who="frank")
            out.print(f"order {order_id} of {order['customer_name']} (frank): "
                      f"{' → '.join(st['step'].replace('_', ' ') for st in order['steps'])}; "
                      f"certificate {order['certificate_number']}, evaluated")
            engine = make_engine(settings.database_url)
            try:
                with _timed(out, "the calibrator drifts: checks every 15 minutes until the "
                            "platform catches it"):
                    sim.set_drift("calibrator", rate=CHECK_DRIFT)
                    said = check_calibrator(engine, sim, clock, out_dir, count=12,
                                            until_quarantined=True)
            finally:
                engine.dispose()
            for line in said:
                out.print(f"  {line}", markup=False)
            events = api.call("GET", "/quality-events?standard=LAB-CAL-01", who="erin")
            if not any(e["standard_status"] == "quarantined" for e in events):
                raise DemoError("the drifting calibrator was not caught by its checks")
            for e in reversed(events):
                out.print(f"caught: event {e['id']} {e['kind']} ({', '.join(e['rules'])}) → "
                          f"LAB-CAL-01 {e['standard_status'].replace('_', ' ')}"
                          + (f"; certificates since the last good check flagged: "
                             f"{', '.join(e['impact']['certificates']) or 'none'}"
                             if e["impact"].get("flagged") else ""), markup=False)
            out.print("its charts: labctl checks LAB-CAL-01 --database-url "
                      f"sqlite:///{db}", markup=False)
            out.print(f"documents in: {out_dir / 'certificates'}")
            out.print(f"upstream certificates in the chain: {', '.join(chain)}")
            out.print(f"database: {db}")
            out.print(f"serve it again: LABCTL_DATABASE_URL=sqlite:///{db} LABCTL_KEYS_DIR="
                      f"{settings.keys_dir} labctl serve")
    except DemoError as exc:
        console(stderr=True).print(f"labctl demo: {exc}")
        raise typer.Exit(1) from None
    out.print(f"labctl demo finished in {time.perf_counter() - t_start:.1f} s")
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    _portal(out, settings, serve=serve)
    flush()


PORTAL_PORT = 8000


def _portal(out: Any, settings: Any, *, serve: bool) -> None:
    """Prints the portal's address and who to sign in as; serves it until Ctrl-C if asked
    (on 127.0.0.1:8000, the address the certificates' QR codes point at)."""
    import socket

    import uvicorn

    from labctl.api import create_app
    from labctl.platform.routes.web import uvicorn_options

    people = (f"sign in as frank (customer), alice (technician), bob (checker), carol "
              f"(approver) or erin (reviewer); password {PASSWORD}")
    address = f"{settings.public_url}/"
    if serve:
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", PORTAL_PORT))
        except OSError:
            serve = False
            out.print(f"port {PORTAL_PORT} is in use: not serving the portal")
        finally:
            probe.close()
    if not serve:
        out.print(f"portal (after the command above): {address}  — {people}")
        return
    out.print(f"portal: {address}  — {people}; Ctrl-C stops it")
    flush()
    uvicorn.run(create_app(settings), host="127.0.0.1", port=PORTAL_PORT, log_level="warning",
                **uvicorn_options())


def _chain_text(trace: Any) -> str:
    """One line per path of a traceability answer: 'LAB-CAL-01 ← PROV-DCV-1 ← NMI-JVS-1'."""

    def paths(node: Any) -> list[list[str]]:
        out: list[list[str]] = []
        for link in (node or {}).get("links", []):
            below = paths(link.get("next"))
            out += [[link["standard"], *p] for p in below] or [[link["standard"]]]
        return out

    return "\n".join(" ← ".join(p) for p in paths(trace["chain"])) or "-"


def register_commands(app: typer.Typer) -> None:
    app.command("demo")(demo)


