"""``python -m simulators``: serve a simulated bench on 127.0.0.1 until SIGINT/SIGTERM.

Prints one line per instrument (role, model, resource) and flushes at once, so a parent
process reading a pipe can pick up the addresses; then serves on real (monotonic) time.
Exit status 0 after a clean shutdown, 2 for bad arguments, 1 if a port cannot be bound.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from simulators.bench import DRIFT_ROLES, SimulatedBench


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"latency={text!r} is not allowed: expected ≥ 0 s")
    return value


def _drift_option(text: str) -> tuple[str, dict[str, float]]:
    """``ROLE:RATE`` or ``ROLE:RATE:STEP@AT`` (numbers in the role's drift unit, AT in s)."""
    role, _, rest = text.partition(":")
    rate_text, _, step_text = rest.partition(":")
    try:
        settings: dict[str, float] = {"rate": float(rate_text or 0.0)}
        if step_text:
            step, _, at = step_text.partition("@")
            settings["step"] = float(step)
            settings["step_at"] = float(at or 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"drift={text!r} is not allowed: expected ROLE:RATE or ROLE:RATE:STEP@SECONDS"
        ) from None
    if role not in DRIFT_ROLES:
        raise argparse.ArgumentTypeError(
            f"drift role={role!r} is not allowed: expected one of {sorted(DRIFT_ROLES)}")
    return role, settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Serve a simulated calibration bench (SCPI and Modbus TCP) on 127.0.0.1.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every true error and noise")
    parser.add_argument("--port-base", type=int, default=None,
                        help="fixed ports: calibrator, dmm, thermometer, environment, "
                             "temperature_source on PORT_BASE … PORT_BASE+4 (default: any free)")
    parser.add_argument("--latency", type=_non_negative_float, default=0.0,
                        help="delay before every reply, s (default 0)")
    parser.add_argument("--terminals", choices=("FRON", "REAR"), default="FRON",
                        help="DMM front/rear switch (default FRON)")
    parser.add_argument("--drift", type=_drift_option, action="append", default=[],
                        metavar="ROLE:RATE[:STEP@SECONDS]",
                        help="let a standard drift from start-up: calibrator (relative gain, "
                             "per s), thermometer (probe error, °C per s), temperature_source "
                             "(sensor error, °C per s); STEP applied SECONDS after start. "
                             "Repeatable, e.g. --drift calibrator:1e-9:5e-6@600")
    return parser.parse_args(argv)


def format_table(bench: SimulatedBench) -> str:
    """The role / model / resource table printed at start-up."""
    rows = [("role", "model", "resource")]
    rows += [(role, inst.model_name, inst.resource) for role, inst in bench.instruments.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench until SIGINT or SIGTERM; returns the exit status."""
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        bench = SimulatedBench(seed=args.seed, port_base=args.port_base, latency=args.latency,
                               terminals=args.terminals, drift=dict(args.drift))
        bench.start()
    except (OSError, ValueError) as err:
        print(f"simulators: {err}", file=sys.stderr, flush=True)
        return 1
    try:
        print(f"simulated bench, seed {args.seed} (Ctrl-C to stop)", flush=True)
        print(format_table(bench), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        bench.stop()
    print("simulated bench stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
