"""``labctl station register``, ``push`` and ``serve``: a station (an automated bench)
working with a remote platform through the station seam (``stations.seam.RemoteStation``):
fetch the register snapshot it checks its standards and people against off-line, post a
run it made off-line (``labctl run --register FILE --json RUN.json``) once the network is back,
or serve the bench to the platform (``serve``: the station agent, ``stations.agent``).

Exit codes: 0 done; 2 the command's input is wrong (URL, file); 4 the platform refused
(token, run) or could not be reached. Platform imports stay inside the commands: the CLI
starts fast."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from labctl.cli.console import console, flush
from labctl.errors import LabctlError

station_app = typer.Typer(help="A station working with a remote platform: its register "
                          "snapshot, its off-line runs.", no_args_is_help=True)

Url = Annotated[str, typer.Option(help="The platform's address, e.g. https://lab.example.org")]
Token = Annotated[str, typer.Option(
    help="The station's token (default: LABCTL_STATION_TOKEN), shown once when an "
    "administrator created the station.", show_default=False)]

BAD_INPUT, REFUSED = 2, 4


def _fail(message: str, code: int) -> typer.Exit:
    console(stderr=True).print(f"labctl station: {message}", markup=False, highlight=False)
    flush()
    return typer.Exit(code)


def _check(url: str, token: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(f"--url {url!r} is not a platform address: give http(s)://host[:port]",
                    BAD_INPUT)
    token = token or os.environ.get("LABCTL_STATION_TOKEN", "")
    if not token:
        raise _fail("no station token: give --token or set LABCTL_STATION_TOKEN", BAD_INPUT)
    return url.rstrip("/"), token


def _refused(url: str, exc: Exception) -> typer.Exit:
    text = str(exc)
    if "(401" in text or " 401:" in text:
        return _fail(f"the platform at {url} refused the station token (revoked, expired or "
                     "not a station's); ask an administrator for a new one", REFUSED)
    return _fail(f"the platform at {url} refused or did not answer: {text}", REFUSED)


@station_app.command("register")
def register(
    url: Url,
    token: Token = "",
    out: Annotated[Path, typer.Option(help="Where to write the snapshot (JSON).")
                   ] = Path("register.json"),
) -> None:
    """Download the register snapshot of the station's laboratory (its standards, their
    status, due dates and certified errors, and who is authorised for which procedure), for
    ``labctl run --register FILE`` while off-line."""
    from labctl.platform.stations.seam import RemoteStation

    url, token = _check(url, token)
    try:
        snapshot = RemoteStation(url, token).register()
    except LabctlError as exc:
        raise _refused(url, exc) from None
    try:
        snapshot.save(out)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror or exc}", BAD_INPUT) from None
    console().print(f"register snapshot written to {out}: {len(snapshot.standards)} standards, "
                    f"{len(snapshot.authorisations)} authorisations, taken at "
                    f"{snapshot.taken_at:%Y-%m-%d %H:%M} UTC (a station refuses it after "
                    f"{snapshot.max_age.days} days)", markup=False, highlight=False)
    flush()


def _load_run(path: Path) -> tuple[Any, dict[str, Any]]:
    """The run result in ``path`` (``RunResult.to_dict()``, as ``labctl run --json`` writes
    it) and any draft details stored beside it (``{"result": …, "customer_name": …}``)."""
    from labctl.procedures.results import RunResult

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}", BAD_INPUT) from None
    except ValueError:
        raise _fail(f"{path} is not JSON: give the file `labctl run --json` wrote",
                    BAD_INPUT) from None
    details: dict[str, Any] = {}
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        details = {k: v for k, v in data.items() if k != "result"}
        data = data["result"]
    try:
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return RunResult.from_dict(data), details
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(f"{path} is not a run result ({type(exc).__name__}: {exc}); give the "
                    "file `labctl run --json` wrote", BAD_INPUT) from None


@station_app.command("push")
def push(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.json", help=(
        "The run result `labctl run --json` wrote."))],
    url: Url,
    token: Token = "",
    customer_name: Annotated[str, typer.Option(help="The customer, as the certificate names "
                                               "them.")] = "",
    customer_code: Annotated[str | None, typer.Option(help="The customer's organisation code "
                                                      "on the platform.")] = None,
    location: Annotated[str, typer.Option(help="Where the calibration was made.")
                        ] = "laboratory",
) -> None:
    """Post a completed off-line run to the platform: it becomes a draft certificate with the
    run's points, performed by the run's operator (a retry answers the same draft)."""
    from labctl.platform.stations.seam import DraftDetails, RemoteStation
    from labctl.quantities import RunStatus

    url, token = _check(url, token)
    result, stored = _load_run(run_file)
    if result.status != RunStatus.COMPLETED:
        raise _fail(f"run {result.run_id} is {result.status}"
                    + (f" ({result.reason})" if result.reason else "")
                    + "; only a completed run is posted (resume it with labctl run --resume)",
                    BAD_INPUT)
    name = customer_name or str(stored.get("customer_name", ""))
    if not name:
        raise _fail("give --customer-name: the draft certificate names its customer",
                    BAD_INPUT)
    try:
        details = DraftDetails.for_run(result, customer_name=name,
                                       customer_code=customer_code or stored.get(
                                           "customer_code"),
                                       location=location)
    except LabctlError as exc:
        raise _fail(f"{run_file}: {exc}", BAD_INPUT) from None
    try:
        number = RemoteStation(url, token).deliver(result, details)
    except LabctlError as exc:
        raise _refused(url, exc) from None
    console().print(f"run {result.run_id} posted: draft certificate {number}, performed by "
                    f"{result.operator}; it needs checking and issuing by two other people",
                    markup=False, highlight=False)
    flush()


@station_app.command("serve")
def serve(
    url: Url,
    token: Token = "",
    bench: Annotated[Path | None, typer.Option(help=(
        "The bench configuration TOML (roles → model, resource)."))] = None,
    name: Annotated[str, typer.Option(help=(
        "The bench's name on the platform (default: the configuration file's name)."))] = "",
    description: Annotated[str, typer.Option(help="What the bench is, for the people.")] = "",
    journal: Annotated[Path | None, typer.Option(help="The station's run journal.")] = None,
    sim: Annotated[bool, typer.Option("--sim", help=(
        "Serve the simulated bench, in-process, on simulated time."))] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulated bench.")] = 0,
    sim_noiseless: Annotated[bool, typer.Option(help="Simulated readings without noise.")
                             ] = False,
    sim_latency: Annotated[float, typer.Option(help="Simulated reply delay, s.")] = 0.0,
    poll_wait: Annotated[float, typer.Option(help=(
        "Long poll for work, s (1-30)."), min=1.0, max=30.0)] = 20.0,
) -> None:
    """Run the bench for the platform: announce it, take the runs people start on it through
    the platform, carry them out here (journal on this computer) and post them back. Connects
    outward only; through an outage it keeps measuring and posts the backlog later.
    SIGTERM / Ctrl-C pause the current run (outputs safe), post it, and exit 0."""
    import contextlib
    import signal
    from datetime import UTC, datetime, timedelta

    from labctl.cli.bench import simulated_bench_config, started_simulator
    from labctl.cli.run import default_journal
    from labctl.drivers.factory import BenchConfig
    from labctl.platform.stations.agent import PlatformLink, StationAgent, bench_instruments
    from labctl.procedures.clock import Clock, ManualClock, SystemClock
    from labctl.procedures.journal import SqliteJournal

    url, token = _check(url, token)
    if (bench is None) == (not sim):
        raise _fail("give --bench FILE (the bench's configuration) or --sim", BAD_INPUT)
    bench_name = name or (bench.stem if bench is not None else "sim-bench")
    with contextlib.ExitStack() as stack:
        clock: Clock
        if sim:
            # simulated time runs ahead of the wall clock: anchored 6 h back (as labctl run)
            clock = ManualClock(epoch=datetime.now(UTC) - timedelta(hours=6))
            options: dict[str, Any] = {"clock": clock, "latency": sim_latency}
            if sim_noiseless:
                options["dmm_truth"] = {"noise_scale": 0.0}
                options["readout_truth"] = {"noise": 0.0}
            simulator = stack.enter_context(started_simulator(seed, **options))
            config = simulated_bench_config(simulator.resources, timeout=2.0)
        else:
            assert bench is not None
            clock = SystemClock()
            try:
                config = BenchConfig.load(bench)
            except (OSError, LabctlError) as exc:
                raise _fail(f"--bench {bench}: {exc}", BAD_INPUT) from None
        jr = stack.enter_context(SqliteJournal(journal or default_journal()))
        agent = StationAgent(
            PlatformLink(url, token), bench=bench_name, roles=sorted(config.instruments),
            instruments=lambda: bench_instruments(config, clock), journal=jr,
            description=description, simulated_time=sim,
            sample_interval=10.0 if sim else 5.0, poll_wait=poll_wait)
        stack.callback(agent.close)

        def stop(signum: int, frame: object) -> None:
            agent.shutdown()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        out = console()
        out.print(f"bench {bench_name} ({', '.join(sorted(config.instruments))}) serving "
                  f"{url}; journal {jr.path}", markup=False, highlight=False)
        flush()
        try:
            agent.serve()
        except LabctlError as exc:
            raise _refused(url, exc) from None
        out.print(f"bench {bench_name} stopped after {len(agent.stats.runs)} run request(s)",
                  markup=False, highlight=False)
        flush()


def register_commands(app: typer.Typer) -> None:
    app.add_typer(station_app, name="station")
