"""Runner overhead per point and environment sampling cost, on the simulated bench.

Printed, never asserted. Run: ``python -m benchmarks.procedures`` (from the project root).

- Runner overhead per point: the points of a DMM DC voltage run through the runner
  (environment check and sample per point, uncertainty budget, conformity, journal commit
  synced to disk, events) against a bare loop doing the same instrument operations, on the
  same bench with zero simulator latency. Interleaved repetitions, medians; overhead =
  (runner − bare) / points. The one-off preconditions are printed separately.
- Environment sampling: one monitor sample (Modbus read + judgement against limits) against a
  bare driver read of the same sensor.
- ``labctl demo`` wall time, as a newcomer runs it (a fresh process; goal < 60 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labctl.cli.bench import simulated_bench_config
from labctl.drivers.factory import open_bench
from labctl.procedures.clock import ManualClock
from labctl.procedures.dmm_dc_voltage import DcvParameters, DmmDcVoltage
from labctl.procedures.environment import EnvironmentMonitor
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.runner import Runner
from simulators.bench import SimulatedBench

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.procedures.chain import CHECKER, OPERATOR, register_for

REPEATS = 7
PARAMS = DcvParameters(settle_time=0.0)


def bare_loop(bench, proc: DmmDcVoltage) -> None:
    cal, dmm = bench.calibrator, bench.dmm
    for point in proc.test_points():
        dmm.configure_dc_voltage(range=point.range, nplc=10)
        cal.source_dc_voltage(point.nominal)
        cal.operate()
        dmm.read_many(point.readings)
        _ = dmm.resolution
        cal.standby()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="labctl-bench-"))
    clock = ManualClock()
    with SimulatedBench(seed=3, clock=clock) as sim, \
            open_bench(simulated_bench_config(sim.resources)) as bench:
        register = register_for(sim.truth(), 3)
        proc = DmmDcVoltage(PARAMS)
        n_points = len(proc.test_points())
        dut = {"serial_number": sim.truth()["dmm"]["serial"]}
        runner_t, bare_t, pre_t, synced_t = [], [], [], []
        for i in range(REPEATS):
            marks: dict[str, float] = {}

            def mark(event, marks=marks):
                if event.kind in ("point_started", "completed"):
                    marks.setdefault(event.kind, time.perf_counter())

            with SqliteJournal(tmp / f"j{i}.sqlite") as journal:
                runner = Runner(instruments=dict(bench), register=register, journal=journal,
                                clock=clock, sample_interval=10.0, background_sampling=False,
                                listeners=[mark])
                t0 = time.perf_counter()
                result = runner.run(proc, dut=dut, operator=OPERATOR, checker=CHECKER)
                assert result.status == "completed"
                pre_t.append(marks["point_started"] - t0)
                runner_t.append(marks["completed"] - marks["point_started"])
            t0 = time.perf_counter()
            bare_loop(bench, proc)
            bare_t.append(time.perf_counter() - t0)
            marks.clear()
            with SqliteJournal(tmp / f"s{i}.sqlite", sync_points=True) as journal:
                runner = Runner(instruments=dict(bench), register=register, journal=journal,
                                clock=clock, sample_interval=10.0, background_sampling=False,
                                listeners=[mark])
                runner.run(proc, dut=dut, operator=OPERATOR, checker=CHECKER)
                synced_t.append(marks["completed"] - marks["point_started"])
        r, b = statistics.median(runner_t), statistics.median(bare_t)
        print(f"DMM DC voltage, {n_points} points, {REPEATS} interleaved repetitions (medians)")
        print(f"  preconditions (identify, registry, 300 s room settle on simulated time): "
              f"{statistics.median(pre_t) * 1e3:.1f} ms once per run")
        print(f"  through the runner : {r * 1e3:8.1f} ms  ({r / n_points * 1e3:.2f} ms/point)")
        print(f"  bare instrument I/O: {b * 1e3:8.1f} ms  ({b / n_points * 1e3:.2f} ms/point)")
        print(f"  runner overhead    : {(r - b) / n_points * 1e3:8.2f} ms/point  (goal < 5 ms)")
        sy = statistics.median(synced_t)
        print(f"  with each point synced to disk (sync_points=True): "
              f"{(sy - b) / n_points * 1e3:.2f} ms/point overhead")

        sensor = bench.environment
        monitor = EnvironmentMonitor(sensor, proc.info.environment, clock, interval=1.0)
        k = 300
        mon_t, raw_t = [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            for _ in range(k):
                clock.advance(1.0)
                monitor.sample_now()
            mon_t.append((time.perf_counter() - t0) / k)
            t0 = time.perf_counter()
            for _ in range(k):
                sensor.read()
            raw_t.append((time.perf_counter() - t0) / k)
        m, w = statistics.median(mon_t), statistics.median(raw_t)
        print(f"environment sample : {m * 1e3:8.3f} ms (bare sensor read {w * 1e3:.3f} ms; "
              f"judging adds {(m - w) * 1e3:.3f} ms)")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labctl", "demo", "--out", str(tmp / "demo")],
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    state = "ok" if done.returncode == 0 else f"FAILED ({done.returncode}): {done.stderr[-300:]}"
    print(f"labctl demo       : {wall:8.1f} s wall, {state}  (goal < 60 s)")


if __name__ == "__main__":
    main()
