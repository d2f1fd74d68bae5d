"""``labctl run``: carry out a calibration procedure on a bench, with live progress."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from platformdirs import user_data_dir
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labctl.cli.console import console, flush
from labctl.errors import LabctlError, ValidationError
from labctl.quantities import ProcedureKind, RunStatus

if typing.TYPE_CHECKING:  # the engine and procedures load only when a run starts
    from labctl.platform.stations.seam import Station
    from labctl.procedures.base import Procedure
    from labctl.procedures.clock import Clock
    from labctl.procedures.results import RunEvent, RunResult

#: The catalogue's ids, for the help text (the catalogue itself loads only when a run starts;
#: a test keeps the two the same).
PROCEDURE_IDS = ("dmm-dcv-direct", "prt-comparison", "dmm-calibrator-check",
                 "prt-dry-block-check")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: handled as Ctrl-C is (bench safe, run paused), with the reason."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.reason = f"stopped by {signal.Signals(signum).name} (process terminated)"
        super().__init__(self.reason)


@contextlib.contextmanager
def stop_signals() -> Iterator[dict[str, Any]]:
    """While a run is carried out: SIGTERM and SIGHUP stop it as Ctrl-C does, and a second
    signal (of any of the three) is ignored, so nothing interrupts making the bench safe.

    Yields a dict that receives ``signum`` of the first signal; put the runner in it as
    ``runner``: a signal that comes while it makes outputs safe is not raised there (that
    would cut the safe path short) but asks the run to stop at its next safe moment."""
    caught: dict[str, Any] = {}

    def handler(signum: int, frame: object) -> None:
        del frame
        if "signum" in caught:
            return  # already stopping: let the safe state finish
        caught["signum"] = signum
        runner = caught.get("runner")
        if runner is not None and runner.in_safe_path:
            runner.request_stop()
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        wanted.append(signal.SIGHUP)
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def warn_if_unsafe(err: Console, reason: str) -> None:
    """A reason saying an output may be live, shown so that nobody can miss it."""
    from labctl.procedures.runner import bench_unsafe

    if bench_unsafe(reason):
        line = "!" * 78
        err.print(f"[bold red]{line}\n{reason}\n{line}[/]", highlight=False)


def default_journal() -> Path:
    return Path(user_data_dir("labctl", appauthor=False)) / "journal.sqlite"


def parse_params(cls: type[Procedure], items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options converted to the procedure's parameter types."""
    hints = typing.get_type_hints(cls.Parameters)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in hints:
            raise ValidationError("--param", item, "KEY=VALUE with KEY one of "
                                  + ", ".join(hints))
        kind = hints[key]
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(text)
                out[key] = text.lower() in ("true", "yes", "1")
            elif kind is float:
                out[key] = float(text)
            elif kind is int:
                out[key] = int(text)
            elif typing.get_origin(kind) is tuple:
                out[key] = tuple(float(v) for v in text.split(",") if v.strip())
            else:
                out[key] = text
        except ValueError:
            raise ValidationError(f"--param {key}", text, f"a {kind}") from None
    return out


class ProgressView:
    """Rich progress for a run: a bar over points, live room readings, hold notices."""

    def __init__(self, out: Console, total: int, done: int) -> None:
        self.out = out
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[room]}"), console=out,
                                 disable=not out.is_terminal)
        self.task = self.progress.add_task("calibrating", total=total, completed=done, room="")

    def __enter__(self) -> ProgressView:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def room(self, sample: Any) -> None:
        """Live room conditions on the progress line."""
        self.progress.update(self.task, room=f"{sample.temperature:.2f} °C  "
                             f"{sample.humidity:.0f} %RH  {sample.pressure / 100:.1f} hPa")

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "point_started":
            self.progress.update(self.task, description=f"point {event.point_key}")
        elif event.kind == "point_done":
            self.progress.advance(self.task)
            d = event.data
            self.out.print(f"  {event.point_key:<16} error {d['error']:+.4g}  U {d['U']:.2g}  "
                           f"{d['conformity'] or ''}")
        elif event.kind in ("hold", "resume", "point_invalidated", "refused", "aborted",
                            "paused", "warning"):
            style = "yellow" if event.kind in ("hold", "point_invalidated", "paused",
                                               "warning") else "red"
            if event.kind == "resume":
                style = "green"
            self.out.print(f"[{style}]{event.kind.upper()}[/]: {event.message}")
        flush()


def results_table(result: RunResult) -> Table:
    table = Table(title=f"{result.procedure_id} {result.procedure_version} — run "
                  f"{result.run_id} — {result.status}")
    for col in ("point", "nominal", "reference", "measured", "error", "U", "k", "TUR",
                "statement"):
        table.add_column(col, justify="right" if col not in ("point", "statement") else "left")
    from labctl.uncertainty import round_result

    for p in result.points:
        r = round_result(p.error, p.U)
        table.add_row(p.key, f"{p.nominal:g} {p.unit}", f"{p.reference_value:.8g}",
                      f"{p.measured_value:.8g}", str(r.value_str), str(r.U_str), f"{p.k:.2f}",
                      f"{p.tur:.1f}" if p.tur else "-", p.conformity or "-")
    return table


@contextlib.contextmanager
def bench_for(bench: Path | None, sim: bool, seed: int, noiseless: bool, latency: float,
              terminals: str | None) -> Iterator[tuple[dict[str, Any], Clock, Any]]:
    """Open the bench's drivers; with ``sim``, start the simulated bench on simulated time."""
    from labctl.cli.bench import simulated_bench_config, started_simulator
    from labctl.drivers.factory import BenchConfig, open_bench
    from labctl.procedures.clock import ManualClock, SystemClock

    with contextlib.ExitStack() as stack:
        sim_bench = None
        if sim:
            from datetime import UTC, datetime, timedelta

            # Simulated time runs far ahead of the wall clock (a 5 min settle takes ms):
            # anchored 6 h back, a run never ends in the future the platform would refuse.
            clock: Clock = ManualClock(epoch=datetime.now(UTC) - timedelta(hours=6))
            options: dict[str, Any] = {"clock": clock, "latency": latency}
            if noiseless:
                options["dmm_truth"] = {"noise_scale": 0.0}
                options["readout_truth"] = {"noise": 0.0}
            if terminals:
                options["terminals"] = terminals
            sim_bench = stack.enter_context(started_simulator(seed, **options))
            config = simulated_bench_config(sim_bench.resources, timeout=2.0)
        else:
            if bench is None:
                raise ValidationError("--bench", None, "a bench configuration file, or --sim")
            clock = SystemClock()
            config = BenchConfig.load(bench)
        drivers = stack.enter_context(open_bench(config))
        yield dict(drivers), clock, sim_bench


def run(
    procedure: Annotated[str | None, typer.Argument(
        help="Procedure id: " + ", ".join(PROCEDURE_IDS))] = None,
    operator: Annotated[str, typer.Option(help=(
        "Who performs the calibration (with --resume: who carries the rest out; "
        "recorded, and checked as the original operator is)."))] = "",
    checker: Annotated[str, typer.Option(help="The second person who checks it.")] = "",
    dut_serial: Annotated[str, typer.Option(help="Serial number of the item.")] = "",
    dut_manufacturer: Annotated[str, typer.Option()] = "",
    dut_model: Annotated[str, typer.Option()] = "",
    dut_id: Annotated[str, typer.Option(help="The customer's asset number.")] = "",
    bench: Annotated[Path | None, typer.Option(help="Bench configuration TOML.")] = None,
    sim: Annotated[bool, typer.Option("--sim", help=(
        "Use the simulated bench, in-process, on simulated time."))] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulated bench.")] = 0,
    sim_noiseless: Annotated[bool, typer.Option(help="Simulated readings without noise.")
                             ] = False,
    sim_latency: Annotated[float, typer.Option(help="Simulated reply delay, s.")] = 0.0,
    register: Annotated[Path | None, typer.Option(help=(
        "Register snapshot JSON exported by the platform (offline station)."))] = None,
    post: Annotated[str | None, typer.Option(help=(
        "A remote platform's URL: check standards against it and post the run there with "
        "the station token (LABCTL_STATION_TOKEN)."))] = None,
    lab: Annotated[str | None, typer.Option(help=(
        "The laboratory's code on the embedded platform (default mode)."))] = None,
    customer_name: Annotated[str, typer.Option()] = "",
    customer_code: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str, typer.Option()] = "laboratory",
    journal: Annotated[Path | None, typer.Option(help="The station's run journal.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Procedure parameter KEY=VALUE.")
                     ] = None,
    resume: Annotated[str | None, typer.Option(help="Continue this journaled run.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help=(
        "Also write the run result as JSON here."))] = None,
) -> None:
    """Run a calibration procedure (or resume one) and print its results."""
    from labctl.procedures.catalog import PROCEDURES, procedure_class
    from labctl.procedures.journal import SqliteJournal
    from labctl.procedures.runner import Runner

    out, err = console(), console(stderr=True)
    run_id = resume or uuid.uuid4().hex
    jr: SqliteJournal | None = None
    station: Station | None = None
    with stop_signals() as caught:
        try:
            jr = SqliteJournal(journal or default_journal())
            if resume:
                record = jr.load_run(resume)
                cls = procedure_class(record.procedure_id)
                proc: Procedure | None = None
                total, done = len(cls.from_parameters(record.parameters).test_points()), len(
                    record.points)
            else:
                if procedure is None:
                    raise ValidationError("procedure", None, "one of " + ", ".join(PROCEDURES))
                cls = procedure_class(procedure)
                proc = cls.from_parameters(parse_params(cls, param or []))
                total, done = len(proc.test_points()), 0
            # Parameters first (nothing opened for a bad one), then the register.
            station = _station(post=post, lab=lab, register_file=register)
            snapshot = station.register()
            terminals = "REAR" if cls.info.id == "prt-comparison" else None
            with bench_for(bench, sim, seed, sim_noiseless, sim_latency, terminals) as (
                    instruments, clock, _sim), ProgressView(out, total, done) as view:
                runner = Runner(instruments=instruments, register=snapshot, journal=jr,
                                clock=clock, background_sampling=not sim,
                                sample_interval=10.0 if sim else 5.0,
                                listeners=[view], sample_listeners=[view.room])
                caught["runner"] = runner
                if resume:
                    result = runner.resume(resume, PROCEDURES, resumed_by=operator)
                else:
                    assert proc is not None
                    dut = {"manufacturer": dut_manufacturer, "model": dut_model,
                           "serial_number": dut_serial, "identifier": dut_id}
                    result = runner.run(proc, dut=dut, operator=operator, checker=checker,
                                        run_id=run_id)
        except KeyboardInterrupt as exc:
            status, reason = _journaled(jr, run_id)
            how = getattr(exc, "reason", "") or "interrupted (Ctrl-C)"
            warn_if_unsafe(err, reason)
            err.print(f"{how}: run {run_id} is {status or 'not started'}"
                      + (f" ({reason})" if reason else ""))
            if status:
                err.print(f"continue with: labctl run --resume {run_id}")
            flush()
            _close(station)
            raise typer.Exit(128 + caught.get("signum", signal.SIGINT)) from None
        except (LabctlError, OSError) as exc:
            for text in (str(exc), *getattr(exc, "__notes__", ())):
                warn_if_unsafe(err, text)
            status, _ = _journaled(jr, run_id)
            err.print(f"labctl run: {exc}" + (f" (run {run_id}: {status})" if status else ""))
            flush()
            _close(station)
            raise typer.Exit(2) from None
    if "signum" in caught:  # deferred while outputs were made safe: the run stopped there
        err.print(f"{signal.Signals(caught['signum']).name} received while the bench was "
                  f"being made safe: run {result.run_id} ended {result.status}")
    try:
        _report(out, err, result, station, json_out, customer_name, customer_code,
                location)
    finally:
        station.close()


def _close(station: Station | None) -> None:
    """Close the station a run that ends in an error had opened (its database engine)."""
    if station is not None:
        station.close()


def _journaled(jr: Any, run_id: str) -> tuple[str, str]:
    """(status, reason) of the run in the journal; empty when it is not there."""
    if jr is None:
        return "", ""
    try:
        status, reason = jr.status(run_id)
    except LabctlError:
        return "", ""
    return str(status), str(reason)


def _station(*, post: str | None, lab: str | None, register_file: Path | None) -> Station:
    """Where the run's register comes from and where its results go (see
    :mod:`labctl.platform.stations.seam`): ``--register`` an offline snapshot (results stay
    in the journal), ``--post`` a remote platform (station token in LABCTL_STATION_TOKEN),
    otherwise the embedded platform (``LABCTL_DATABASE_URL``) for the laboratory ``--lab``."""
    from labctl.platform.settings import Settings
    from labctl.platform.stations.seam import open_station

    token = os.environ.get("LABCTL_STATION_TOKEN", "")
    if post and not token:
        raise ValidationError("LABCTL_STATION_TOKEN", "", "the station's bearer token "
                              "for --post")
    if not post and not register_file and not lab:
        raise ValidationError("--lab", None, "the laboratory's code on the embedded "
                              "platform, or --post URL, or --register FILE")
    if register_file is not None or post:
        return open_station(snapshot=register_file, platform_url=post, token=token)
    settings = Settings.from_env()
    return open_station(database_url=settings.database_url, keys_dir=settings.keys_dir,
                        laboratory_code=lab)


def _report(out: Any, err: Any, result: RunResult, station: Station,
            json_out: Path | None, customer_name: str, customer_code: str | None,
            location: str) -> None:
    from labctl.platform.stations.seam import DraftDetails
    from labctl.procedures.catalog import procedure_class

    out.print(results_table(result))
    if "coefficients" in result.analysis:
        out.print_json(json.dumps(result.analysis["coefficients"]))
    warn_if_unsafe(err, result.reason)
    out.print(f"run {result.run_id}: {result.status}"
              + (f" ({result.reason})" if result.reason else ""))
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    if procedure_class(result.procedure_id).info.kind is ProcedureKind.CHECK:
        # a check is the laboratory's own record of a standard, not a customer's calibration:
        # a station with a platform files it on the standard's control chart
        filed = None
        if result.status == RunStatus.COMPLETED:
            try:
                filed = station.deliver(result, DraftDetails("", None, "", "", location))
            except (LabctlError, OSError) as exc:
                err.print(f"labctl run: the check is journaled but could not be filed: {exc}")
                raise typer.Exit(4) from None
        if filed:
            out.print(filed)
        elif customer_name:
            err.print("labctl run: a check is not delivered as a certificate draft: its "
                      f"result stays in the journal (run {result.run_id})")
    elif result.status == RunStatus.COMPLETED and customer_name:
        try:
            number = station.deliver(result, DraftDetails.for_run(
                result, customer_name=customer_name, customer_code=customer_code,
                location=location))
        except (LabctlError, OSError) as exc:
            err.print(f"labctl run: the run is journaled but could not be posted: {exc}")
            raise typer.Exit(4) from None
        if number:
            out.print(f"draft certificate {number} created with the run's points; it needs "
                      "checking and issuing by two other people")
    flush()
    if result.status != RunStatus.COMPLETED:
        raise typer.Exit(3)


def register_commands(app: typer.Typer) -> None:
    app.command("run")(run)

