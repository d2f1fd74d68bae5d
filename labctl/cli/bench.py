"""``labctl sim`` and ``labctl instruments``: the simulated bench and a bench's instruments."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from labctl.cli.console import console, flush
from labctl.errors import LabctlError

if TYPE_CHECKING:  # drivers (pyvisa, pymodbus) load only when a command needs them
    from labctl.drivers.factory import BenchConfig

#: Driver model (labctl.drivers.factory.MODELS key) of each simulated instrument, by role.
SIMULATED_MODELS = {
    "calibrator": "5522A",
    "dmm": "34465A",
    "thermometer": "1594A",
    "environment": "THP-1",
    "temperature_source": "DB-450",
}


def simulated_bench_config(resources: dict[str, str], timeout: float = 2.0) -> BenchConfig:
    """The bench configuration that reaches a simulated bench's servers."""
    from labctl.drivers.factory import BenchConfig

    return BenchConfig.from_mapping({"instruments": {
        role: {"model": SIMULATED_MODELS[role], "resource": resource, "timeout": timeout}
        for role, resource in resources.items() if role in SIMULATED_MODELS
    }})


def bench_toml(resources: dict[str, str]) -> str:
    """A bench configuration file for these resources (for ``labctl instruments --config``)."""
    lines = ["# labctl bench configuration (written by labctl sim)"]
    for role, resource in resources.items():
        lines += ["", f"[instruments.{role}]", f'model = "{SIMULATED_MODELS[role]}"',
                  f'resource = "{resource}"', "timeout = 2.0"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def started_simulator(seed: int, **options: Any) -> Iterator[Any]:
    """A started simulated bench (the only place labctl imports the simulators)."""
    from simulators.bench import SimulatedBench

    with SimulatedBench(seed=seed, **options) as sim:
        yield sim


def register(app: typer.Typer) -> None:
    app.command("sim")(sim)
    app.command("instruments")(instruments)


def sim(
    seed: Annotated[int, typer.Option(help="Seed of every true error and noise.")] = 0,
    port_base: Annotated[int | None, typer.Option(
        help="Fixed ports PORT_BASE … PORT_BASE+4 (default: any free ports).")] = None,
    latency: Annotated[float, typer.Option(min=0.0, help="Delay before every reply, s.")] = 0.0,
    terminals: Annotated[str, typer.Option(help="DMM front/rear switch: FRON or REAR.")] = "FRON",
    config_out: Annotated[Path | None, typer.Option(
        help="Also write a bench configuration TOML for these addresses.")] = None,
) -> None:
    """Serve the simulated calibration bench on 127.0.0.1 until Ctrl-C or SIGTERM."""
    out = console()
    if terminals not in ("FRON", "REAR"):
        raise typer.BadParameter(f"terminals={terminals!r}: expected FRON or REAR")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cm = started_simulator(seed, port_base=port_base, latency=latency, terminals=terminals)
        bench = cm.__enter__()
    except OSError as exc:
        console(stderr=True).print(f"labctl sim: cannot start the bench: {exc}")
        raise typer.Exit(1) from None
    try:
        table = Table(title=f"Simulated bench (seed {seed}) — Ctrl-C to stop")
        for col in ("role", "model", "resource"):
            table.add_column(col, no_wrap=True, overflow="ignore")
        for role, inst in bench.instruments.items():
            table.add_row(role, inst.model_name, inst.resource)
        out.print(table)
        if config_out is not None:
            config_out.write_text(bench_toml(bench.resources), encoding="utf-8")
            out.print(f"bench configuration written to {config_out}")
        flush()
        while not stop.wait(0.5):
            pass
    finally:
        cm.__exit__(None, None, None)
    out.print("simulated bench stopped")
    flush()


def _live_reading(role: str, driver: Any) -> str:
    if role == "dmm":
        driver.configure_dc_voltage(range=None, nplc=1)
        return f"{driver.read():.7g} V DC ({driver.terminals} terminals)"
    if role == "calibrator":
        value, unit = driver.output()
        state = "operate" if driver.output_enabled else "standby"
        return f"{value:g} {unit} ({state})"
    if role == "thermometer":
        return f"{driver.measure(1):.4f} °C (channel 1)"
    if role == "environment":
        r = driver.read()
        return f"{r.temperature:.2f} °C, {r.humidity:.1f} %RH, {r.pressure / 100:.1f} hPa"
    if role == "temperature_source":
        state = "stable" if driver.is_stable() else "settling"
        return f"{driver.process_value():.3f} °C (setpoint {driver.setpoint:g} °C, {state})"
    return "-"


def instruments(
    config: Annotated[Path | None, typer.Option(
        help="Bench configuration TOML ([instruments.<role>] model, resource, timeout).")] = None,
    use_sim: Annotated[bool, typer.Option("--sim", help=(
        "Start the simulated bench in-process and use it."))] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulated bench (with --sim).")] = 0,
) -> None:
    """Connect to a bench, put every output in its safe state (confirmed by read-back), then
    identify every instrument and print a live reading of each."""
    from labctl.drivers.factory import BenchConfig, open_bench

    out = console()
    if (config is None) == (not use_sim):
        raise typer.BadParameter("give either --config FILE or --sim")
    with contextlib.ExitStack() as stack:
        if use_sim:
            simulated = stack.enter_context(started_simulator(seed))
            bench_config = simulated_bench_config(simulated.resources)
        else:
            assert config is not None
            bench_config = BenchConfig.load(config)
        table = Table(title="Instruments")
        for col in ("role", "model", "serial", "firmware", "resource", "safe state",
                    "live reading"):
            table.add_column(col, no_wrap=col not in ("live reading", "safe state"),
                             overflow="fold")
        failed = False
        try:
            bench = stack.enter_context(open_bench(bench_config))
        except (LabctlError, OSError) as exc:
            err = console(stderr=True)
            for note in getattr(exc, "__notes__", ()):
                err.print(f"[bold red]{'!' * 78}\n{note}\n{'!' * 78}[/]", highlight=False)
            err.print(f"labctl instruments: {exc}")
            raise typer.Exit(1) from None
        # Before anything else: a run killed outright may have left an output live.
        safe = {role: driver.ensure_safe() for role, driver in bench.items()}
        unsafe = [(role, state) for role, state in safe.items() if not state.safe]
        for role, driver in bench.items():
            state = safe[role]
            shown = {"confirmed": "off (read back)", "no_output": "-"}.get(
                state.status.value, f"NOT CONFIRMED: {state.detail}")
            if not state.safe:
                failed = True
                table.add_row(role, "?", "?", "?", driver.resource, shown, "not read")
                continue
            try:
                ident = driver.identify()
                reading = _live_reading(role, driver)
                table.add_row(role, f"{ident.vendor} {ident.model}", ident.serial,
                              ident.firmware, driver.resource, shown, reading)
            except LabctlError as exc:
                failed = True
                table.add_row(role, "?", "?", "?", driver.resource, shown, f"ERROR: {exc}")
        out.print(table)
        if unsafe:
            from labctl.procedures.runner import unsafe_words

            line = "!" * 78
            console(stderr=True).print(f"[bold red]{line}\n{unsafe_words(unsafe)}\n{line}[/]",
                                       highlight=False)
        flush()
    if failed:
        raise typer.Exit(1)
