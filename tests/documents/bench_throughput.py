"""Throughput of certificate issuing: PDF + DCC (PDF embedded) + signature, printed.

Not a test (no timed assertions); run it by hand:

    .venv/bin/python -m tests.documents.bench_throughput [N]

It prints certificates per second in one process and with one process per core, because
the platform may issue from a thread (GIL-bound) or from a process pool.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from labctl.platform.documents import (
    LaboratoryKeyStore,
    build_dcc,
    build_signed_dcc,
    content_hash,
    render_pdf,
    sign_dcc,
    verify_dcc,
)
from tests.documents.conftest import dmm_certificate


def _issue(n: int, key_dir: str) -> tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` to issue ``n`` certificates."""
    doc = dmm_certificate()
    identity = LaboratoryKeyStore(key_dir).get_or_create("BENCH", "Benchmark Lab")
    build_signed_dcc(doc, pdf=render_pdf(doc), identity=identity)  # warm: schema, fonts
    start, cpu = time.perf_counter(), time.process_time()
    # what the issue path does (labctl.platform.certificates.rendering.render_and_sign)
    for _ in range(n):
        pdf = render_pdf(doc)
        signed = build_signed_dcc(doc, pdf=pdf, identity=identity)
        content_hash(signed)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as key_dir:
        doc = dmm_certificate()
        t0 = time.perf_counter()
        identity = LaboratoryKeyStore(key_dir).get_or_create("BENCH", "Benchmark Lab")
        pdf = render_pdf(doc)
        signed = sign_dcc(build_dcc(doc, pdf=pdf), identity)
        print(f"cold start (schema, fonts, key): {time.perf_counter() - t0:.2f} s; "
              f"PDF {len(pdf) / 1024:.0f} KiB, signed DCC {len(signed) / 1024:.0f} KiB")
        for name, fn in (("render_pdf", lambda: render_pdf(doc)),
                         ("build_dcc(pdf=...)", lambda: build_dcc(doc, pdf=pdf)),
                         ("sign_dcc", lambda: sign_dcc(build_dcc(doc, pdf=pdf), identity)),
                         ("build_signed_dcc", lambda: build_signed_dcc(doc, pdf=pdf,
                                                                       identity=identity)),
                         ("verify_dcc", lambda: verify_dcc(signed))):
            start = time.perf_counter()
            for _ in range(20):
                fn()
            print(f"  {name:<20} {(time.perf_counter() - start) / 20 * 1000:6.1f} ms")
        elapsed, cpu = _issue(n, key_dir)
        print(f"1 process : {n / elapsed:5.1f} signed certificates/s "
              f"({elapsed / n * 1000:.1f} ms each, PDF + DCC + signature)")
        # CPU time does not count waiting for a core other programs hold: it is the rate one
        # idle core would sustain.
        print(f"            {n / cpu:5.1f} per CPU-second ({cpu / n * 1000:.1f} ms CPU each); "
              f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        workers = os.cpu_count() or 1
        with ProcessPoolExecutor(workers) as pool:
            start = time.perf_counter()
            list(pool.map(_issue, [n] * workers, [key_dir] * workers))  # (wall, cpu) each
            elapsed = time.perf_counter() - start
        print(f"{workers} processes: {n * workers / elapsed:5.1f} signed certificates/s "
              f"(includes worker start-up and cache warm-up)")


if __name__ == "__main__":
    main()
