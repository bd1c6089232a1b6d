"""Benchmark: Gaussian-kernel sensing of N agents by binning + FFT (market.kernel).

Setup: N points uniform on the unit square [0, 1]^d, kernel width sigma = 0.01, the
library defaults (quadratic B-spline binning, bin width sigma/6, so 603 nodes per axis);
every agent senses Σ_j exp(−|x_i − y_j|²/2σ²). The time covers binning, the FFT
convolution and reading the field back at all N points (``kernel_sensing``). A spot check
against the exact pairwise sum at 200 agents (20 at N = 10^7) gives the largest relative
error.

    python benchmarks/bench_kernel.py                # N = 1e4 .. 1e7 in 1-D and 2-D
    python benchmarks/bench_kernel.py --quick        # N = 1e4 .. 1e5, one repeat
    python benchmarks/bench_kernel.py --json out.json

Columns: N, d, bins (grid nodes over all axes, including the stencil's padding), seconds
(median of the repeats), ns/point, max rel err (spot check). Exit code 1 when a 10^6 case
misses the target. Target (issue 7): 10^6 points in under 0.5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from market.kernel import kernel_field, kernel_sensing, kernel_sensing_direct

SIGMA = 0.01
TARGET_N = 1_000_000
TARGET_SECONDS = 0.5


def run_case(n: int, d: int, repeats: int, seed: int = 0) -> dict:
    """Time ``kernel_sensing`` on ``n`` uniform points in ``d`` dimensions (median of repeats)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(size=(n, d))
    kernel_sensing(pts[: min(n, 10_000)], sigma=SIGMA)  # warm-up (FFT plans, imports)
    times = []
    sensed = None
    for _ in range(repeats):
        start = time.perf_counter()
        sensed = kernel_sensing(pts, sigma=SIGMA)
        times.append(time.perf_counter() - start)
    # spot check against the exact sum (fewer agents at 10^7: it costs N per agent)
    sub = rng.choice(n, size=min(n, 200 if n <= 10**6 else 20), replace=False)
    exact = kernel_sensing_direct(pts, sigma=SIGMA, targets=pts[sub])
    rel_err = float(np.max(np.abs(sensed[sub] - exact) / exact))
    nodes = int(np.prod(kernel_field(pts[:2], sigma=SIGMA, bounds=[(0.0, 1.0)] * d).shape))
    seconds = statistics.median(times)
    return {
        "n": n,
        "d": d,
        "bins": nodes,
        "seconds": seconds,
        "ns_per_point": seconds / n * 1e9,
        "max_rel_err": rel_err,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1e5, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    args = parser.parse_args(argv)

    if args.quick:
        cases = [(n, d) for d in (1, 2) for n in (10**4, 10**5)]
        repeats = args.repeats or 1
    else:
        cases = [(n, d) for d in (1, 2) for n in (10**4, 10**5, 10**6, 10**7)]
        repeats = args.repeats or 5

    rows = []
    header = f"{'N':>10} {'d':>2} {'bins':>8} {'seconds':>9} {'ns/point':>9} {'max rel err':>12}"
    print(f"kernel sensing, uniform points on [0,1]^d, sigma={SIGMA}, median of {repeats}")
    print(header)
    print("-" * len(header))
    for n, d in cases:
        r = run_case(n, d, repeats if n < 10**7 else max(1, min(repeats, 3)))
        rows.append(r)
        print(
            f"{r['n']:>10d} {r['d']:>2d} {r['bins']:>8d} {r['seconds']:>9.4f} "
            f"{r['ns_per_point']:>9.1f} {r['max_rel_err']:>12.2e}",
            flush=True,
        )
    verdicts = []
    for r in rows:
        if r["n"] == TARGET_N:
            ok = r["seconds"] < TARGET_SECONDS
            verdicts.append(ok)
            print(
                f"target {r['d']}-D: 10^6 points in {r['seconds']:.3f} s "
                f"({'<' if ok else '>='} {TARGET_SECONDS} s): {'PASS' if ok else 'FAIL'}"
            )
    if args.json is not None:
        payload = {
            "benchmark": "kernel_sensing",
            "sigma": SIGMA,
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "numpy": np.__version__,
                "platform": platform.platform(),
            },
            "target": {"n": TARGET_N, "seconds": TARGET_SECONDS},
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
