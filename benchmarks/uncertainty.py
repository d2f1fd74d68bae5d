"""Benchmark of the GUM engine against peers, same model, same machine, one run.

    .venv/bin/pip install -e '.[bench]'      # gtc, uncertainties, metrolopy, suncal
    .venv/bin/python benchmarks/uncertainty.py [--quick] [--skip-1e8]

1. LPU for N = 10⁴ points of a 5-input calibration model with one correlated pair:
   labctl ``gum()`` (budget, W–S dof and k included) vs a hand-written vectorized numpy
   version with analytic sensitivities, GTC (``ureal`` per point), ``uncertainties``
   (``ufloat`` per point), metrolopy (``gummy`` per point) and suncal (per point). Slow peers
   run on a sample of points and are extrapolated linearly (said so in the output).
2. Monte Carlo, JCGM 101 9.3 mass calibration, 10⁶ trials: labctl ``mcm()`` (mean, u,
   probabilistically symmetric and shortest intervals) vs hand-written numpy (same outputs),
   suncal and metrolopy.
3. 10⁸ Monte Carlo trials in a subprocess: wall time and peak resident memory.

Figures are printed, not asserted (timings depend on the machine). Each timing is the best of
several repeats after a warm-up call.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder is sys.path[0]; a sibling benchmark module named like a stdlib
# module (platform.py) would then shadow it for numpy and everything else.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import math
import resource
import subprocess
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from labctl.uncertainty import Normal, Rectangular, gum, mcm

# --- the LPU model: a DMM reading checked against a calibrator ------------------------------
# E = V_ind·(1 + α·(T − 20)) − V_cal·(1 + δ_cal); V_cal and T correlated (the calibrator's
# output drifts with the room temperature), V_ind a Type A mean of 10 readings (ν = 9).

R_PAIR = 0.4


def lpu_inputs(N: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    V = np.linspace(0.1, 10.0, N)
    return {
        "V_ind": (V + rng.normal(0, 2e-6, N) * V, 2e-6 * V + 1e-6, 9.0),
        "V_cal": (V, 4e-6 * V + 2e-6, math.inf),
        "alpha": (5e-6, 1e-6),  # rectangular half-width, 1/°C
        "T": (23.0, 0.1, math.inf),
        "d_cal": (0.0, 3e-6),  # rectangular half-width
    }


def lpu_model(V_ind: Any, V_cal: Any, alpha: Any, T: Any, d_cal: Any) -> Any:
    return V_ind * (1 + alpha * (T - 20.0)) - V_cal * (1 + d_cal)


def labctl_lpu(p: dict[str, Any]) -> Any:
    inputs = {
        "V_ind": Normal(*p["V_ind"]),
        "V_cal": Normal(*p["V_cal"]),
        "alpha": Rectangular(*p["alpha"]),
        "T": Normal(*p["T"]),
        "d_cal": Rectangular(*p["d_cal"]),
    }
    return gum(lpu_model, inputs, {("V_cal", "T"): R_PAIR}, coverage=0.95)


def numpy_lpu(p: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Hand-written: analytic sensitivities, vectorized; u, W–S dof, k, U (no budget)."""
    x1, u1, nu1 = p["V_ind"]
    x2, u2, _ = p["V_cal"]
    a, ha = p["alpha"]
    t, ut, _ = p["T"]
    d, hd = p["d_cal"]
    ua, ud = ha / math.sqrt(3), hd / math.sqrt(3)
    g1 = (1 + a * (t - 20)) * u1
    g2 = -(1 + d) * u2
    ga = x1 * (t - 20) * ua
    gt = x1 * a * ut
    gd = -x2 * ud
    var = g1**2 + g2**2 + ga**2 + gt**2 + gd**2 + 2 * R_PAIR * g2 * gt
    nu = var**2 / (g1**4 / nu1)
    k = special.stdtrit(np.floor(nu), 0.975)
    u = np.sqrt(var)
    return u, nu, k * u


def gtc_lpu(p: dict[str, Any], idx: range) -> list[tuple[float, float]]:
    import GTC

    out = []
    for i in idx:
        v1 = GTC.ureal(p["V_ind"][0][i], p["V_ind"][1][i], p["V_ind"][2])
        v2 = GTC.ureal(p["V_cal"][0][i], p["V_cal"][1][i], independent=False)
        a = GTC.ureal(p["alpha"][0], p["alpha"][1] / math.sqrt(3))
        t = GTC.ureal(p["T"][0], p["T"][1], independent=False)
        d = GTC.ureal(p["d_cal"][0], p["d_cal"][1] / math.sqrt(3))
        GTC.set_correlation(R_PAIR, v2, t)
        y = lpu_model(v1, v2, a, t, d)
        out.append((GTC.uncertainty(y), GTC.dof(y)))
    return out


def uncertainties_lpu(p: dict[str, Any], idx: range) -> list[float]:
    import uncertainties as unc

    out = []
    for i in idx:
        v1 = unc.ufloat(p["V_ind"][0][i], p["V_ind"][1][i])
        cov = np.array([[p["V_cal"][1][i] ** 2, R_PAIR * p["V_cal"][1][i] * p["T"][1]],
                        [R_PAIR * p["V_cal"][1][i] * p["T"][1], p["T"][1] ** 2]])
        v2, t = unc.correlated_values([p["V_cal"][0][i], p["T"][0]], cov)
        a = unc.ufloat(p["alpha"][0], p["alpha"][1] / math.sqrt(3))
        d = unc.ufloat(p["d_cal"][0], p["d_cal"][1] / math.sqrt(3))
        out.append(lpu_model(v1, v2, a, t, d).std_dev)
    return out


def metrolopy_lpu(p: dict[str, Any], idx: range) -> list[float]:
    import metrolopy as mp

    out = []
    for i in idx:
        v1 = mp.gummy(p["V_ind"][0][i], p["V_ind"][1][i], dof=p["V_ind"][2])
        v2, t = mp.gummy.create([p["V_cal"][0][i], p["T"][0]], [p["V_cal"][1][i], p["T"][1]],
                                correlation_matrix=[[1, R_PAIR], [R_PAIR, 1]])
        a = mp.gummy(p["alpha"][0], p["alpha"][1] / math.sqrt(3))
        d = mp.gummy(p["d_cal"][0], p["d_cal"][1] / math.sqrt(3))
        y = lpu_model(v1, v2, a, t, d)
        out.append(float(y.u))
    return out


def suncal_lpu(p: dict[str, Any], idx: range) -> list[float]:
    from suncal.uncertainty import Model

    out = []
    for i in idx:
        m = Model("E = V_ind*(1 + alpha*(T - 20)) - V_cal*(1 + d_cal)")
        m.var("V_ind").measure(p["V_ind"][0][i]).typeb(dist="normal", std=p["V_ind"][1][i],
                                                        df=p["V_ind"][2])
        m.var("V_cal").measure(p["V_cal"][0][i]).typeb(dist="normal", std=p["V_cal"][1][i])
        m.var("alpha").measure(p["alpha"][0]).typeb(dist="uniform", a=p["alpha"][1])
        m.var("T").measure(p["T"][0]).typeb(dist="normal", std=p["T"][1])
        m.var("d_cal").measure(p["d_cal"][0]).typeb(dist="uniform", a=p["d_cal"][1])
        m.variables.correlate("V_cal", "T", R_PAIR)
        r = m.calculate_gum()
        out.append(float(next(iter(r.uncertainty.values()))))
    return out


# --- the Monte Carlo model: JCGM 101 9.3 ---------------------------------------------------

def mass_model(m_R: Any, dm_R: Any, rho_a: Any, rho_W: Any, rho_R: Any) -> Any:
    return (m_R + dm_R) * (1 + (rho_a - 1.2) * (1 / rho_W - 1 / rho_R)) - 100000.0


MASS_INPUTS = {
    "m_R": Normal(100000.0, 0.05),
    "dm_R": Normal(1.234, 0.02),
    "rho_a": Rectangular(1.2, 0.1),
    "rho_W": Rectangular(8000.0, 1000.0),
    "rho_R": Rectangular(8000.0, 50.0),
}


def labctl_mc(M: int) -> Any:
    return mcm(mass_model, MASS_INPUTS, trials=M, rng=np.random.default_rng(1))


def numpy_mc(M: int) -> tuple[float, float, tuple[float, float], tuple[float, float]]:
    """Hand-written: draw, evaluate, mean, std, sort, symmetric and shortest intervals."""
    rng = np.random.default_rng(1)
    y = mass_model(rng.normal(100000.0, 0.05, M), rng.normal(1.234, 0.02, M),
                   rng.uniform(1.1, 1.3, M), rng.uniform(7000.0, 9000.0, M),
                   rng.uniform(7950.0, 8050.0, M))
    mean, sd = float(y.mean()), float(y.std(ddof=1))
    y.sort()
    q = int(0.95 * M + 0.5)
    r = (M - q + 1) // 2
    sym = (float(y[r - 1]), float(y[r + q - 1]))
    w = y[q:] - y[: M - q]
    j = int(np.argmin(w))
    return mean, sd, sym, (float(y[j]), float(y[j + q]))


def numpy_mc_minimal(M: int) -> tuple[float, float]:
    """Hand-written minimum: draw, evaluate, mean, std, np.percentile (no shortest)."""
    rng = np.random.default_rng(1)
    y = mass_model(rng.normal(100000.0, 0.05, M), rng.normal(1.234, 0.02, M),
                   rng.uniform(1.1, 1.3, M), rng.uniform(7000.0, 9000.0, M),
                   rng.uniform(7950.0, 8050.0, M))
    np.percentile(y, [2.5, 97.5])
    return float(y.mean()), float(y.std(ddof=1))


def suncal_mc(M: int) -> float:
    from suncal.uncertainty import Model

    m = Model("y = (m_R + dm_R)*(1 + (rho_a - 1.2)*(1/rho_W - 1/rho_R)) - 100000")
    m.var("m_R").measure(100000.0).typeb(dist="normal", std=0.05)
    m.var("dm_R").measure(1.234).typeb(dist="normal", std=0.02)
    m.var("rho_a").measure(1.2).typeb(dist="uniform", a=0.1)
    m.var("rho_W").measure(8000.0).typeb(dist="uniform", a=1000.0)
    m.var("rho_R").measure(8000.0).typeb(dist="uniform", a=50.0)
    r = m.monte_carlo(samples=M)
    r.expand(next(iter(r.samples)), conf=0.95)
    return float(next(iter(r.uncertainty.values())))


def metrolopy_mc(M: int) -> float:
    import metrolopy as mp
    from metrolopy.miscdistributions import UniformDist

    g = {
        "m_R": mp.gummy(mp.distributions.NormalDist(100000.0, 0.05)),
        "dm_R": mp.gummy(mp.distributions.NormalDist(1.234, 0.02)),
        "rho_a": mp.gummy(UniformDist(center=1.2, half_width=0.1)),
        "rho_W": mp.gummy(UniformDist(center=8000.0, half_width=1000.0)),
        "rho_R": mp.gummy(UniformDist(center=8000.0, half_width=50.0)),
    }
    y = mass_model(**g)
    mp.gummy.simulate([y], n=M)
    y.cisim  # noqa: B018  (the interval is part of the work measured)
    return float(y.usim)


# --- timing -------------------------------------------------------------------------------

def best(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peer(name: str, fn: Callable[[], Any], repeat: int) -> float | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return best(fn, repeat)
    except ImportError as exc:
        print(f"  {name:<34} not installed ({exc}); skipped")
    return None


def row(name: str, seconds: float, ref: float, note: str = "") -> None:
    print(f"  {name:<34}{seconds * 1e3:>11.2f} ms   {seconds / ref:>8.1f}× labctl {note}")


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process image (VmHWM: reset by exec, unlike ru_maxrss,
    which a child inherits from the parent that forked it)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_1e8() -> None:
    """Run in a fresh interpreter so that the peak memory is this run's alone."""
    base = _vm_hwm_mb()
    t = time.perf_counter()
    r = mcm(mass_model, MASS_INPUTS, trials=10**8, rng=np.random.default_rng(3))
    dt = time.perf_counter() - t
    peak = _vm_hwm_mb()
    print(f"  {r.trials} trials in {dt:.1f} s; u = {r.u:.5f} mg, symmetric "
          f"[{r.interval[0]:.5f}, {r.interval[1]:.5f}] mg")
    print(f"  peak resident memory {peak:.0f} MB (of which {base:.0f} MB interpreter and "
          "imports before the run)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and samples")
    ap.add_argument("--skip-1e8", action="store_true", help="skip the 10^8-trial run")
    ap.add_argument("--child-1e8", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_1e8:
        run_1e8()
        return
    rep = 3 if args.quick else 7
    import platform

    cpu = platform.processor() or platform.machine()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {cpu}, "
          f"{os.cpu_count()} CPUs")

    N = 10**4
    p = lpu_inputs(N)
    print(f"\n1. LPU, {N} points, 5 inputs, one correlated pair (r = {R_PAIR})")
    res = labctl_lpu(p)
    u_np, nu_np, _ = numpy_lpu(p)
    print(f"  check: max |u_labctl/u_numpy − 1| = {np.max(np.abs(res.u / u_np - 1)):.1e}, "
          f"max |ν_labctl/ν_numpy − 1| = {np.max(np.abs(res.dof / nu_np - 1)):.1e}")
    t_lab = best(lambda: labctl_lpu(p), rep * 3)
    t_np = best(lambda: numpy_lpu(p), rep * 3)
    print(f"  {'labctl gum() (budget, dof, k, U)':<34}{t_lab * 1e3:>11.2f} ms")
    row("hand-written numpy (no budget)", t_np, t_lab)
    peers: list[tuple[str, Callable[[dict[str, Any], range], Any], int]] = [
        ("GTC ureal per point", gtc_lpu, N),
        ("uncertainties ufloat per point", uncertainties_lpu, N),
        ("metrolopy gummy per point", metrolopy_lpu, 1000 if args.quick else 2000),
        ("suncal Model per point", suncal_lpu, 10 if args.quick else 30),
    ]
    for name, fn, n_run in peers:
        t = peer(name, (lambda fn=fn, n_run=n_run: fn(p, range(n_run))), 1)
        if t is None:
            continue
        # labctl timed again right after each peer: the ratio is not skewed by load changes
        t_lab_now = best(lambda: labctl_lpu(p), rep * 3)
        full = t * N / n_run
        note = "" if n_run == N else f"(extrapolated from {n_run} points)"
        row(name, full, t_lab_now, note + f" [labctl {t_lab_now * 1e3:.2f} ms alongside]")
        if name.startswith("GTC"):
            ug = np.array([x[0] for x in gtc_lpu(p, range(50))])
            print(f"  {'':<34}check: max |u_labctl/u_GTC − 1| over 50 points = "
                  f"{np.max(np.abs(np.asarray(res.u)[:50] / ug - 1)):.1e}")

    M = 10**6
    print(f"\n2. Monte Carlo, JCGM 101 9.3 mass calibration, M = {M} trials")
    r = labctl_mc(M)
    print(f"  labctl: y = {r.value:.4f} mg, u = {r.u:.4f} mg, symmetric "
          f"[{r.interval[0]:.4f}, {r.interval[1]:.4f}], shortest "
          f"[{r.shortest_interval[0]:.4f}, {r.shortest_interval[1]:.4f}] mg")
    t_lab, t_np, t_np_min = (min(ts) for ts in zip(*[
        (best(lambda: labctl_mc(M), 1), best(lambda: numpy_mc(M), 1),
         best(lambda: numpy_mc_minimal(M), 1)) for _ in range(rep)], strict=True))
    print(f"  {'labctl mcm() (both intervals)':<34}{t_lab * 1e3:>11.2f} ms   "
          f"(threads: {min(4, os.cpu_count() or 1)})")
    row("hand-written numpy (both, sort)", t_np, t_lab)
    row("hand-written numpy (percentile)", t_np_min, t_lab)
    for name, fn in (("suncal monte_carlo", suncal_mc), ("metrolopy simulate", metrolopy_mc)):
        if peer(name, lambda fn=fn: fn(M), 1) is None:  # warm-up, or "not installed"
            continue
        # interleaved, best of each: a load change hits both sides alike
        pairs = [(best(lambda fn=fn: fn(M), 1), best(lambda: labctl_mc(M), 1))
                 for _ in range(2 * rep)]
        t, t_lab_now = (min(col) for col in zip(*pairs, strict=True))
        row(name, t, t_lab_now, f"[labctl {t_lab_now * 1e3:.1f} ms alongside]")

    if not args.skip_1e8:
        print("\n3. Monte Carlo, 10^8 trials (subprocess): wall time and peak memory")
        out = subprocess.run([sys.executable, __file__, "--child-1e8"], capture_output=True,
                             text=True, check=False)
        print(out.stdout.rstrip() or out.stderr.rstrip())


if __name__ == "__main__":
    main()
