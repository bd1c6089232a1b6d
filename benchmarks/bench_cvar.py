"""Benchmark: exact discrete CVaR (risk.cvar) over many scenarios.

Setup: Student-t(3) losses (heavy tails, like the forecast scenarios), tail mass
alpha = 0.05; "weighted" draws scenario weights uniform on [0, 1). The time covers
validation, VaR selection and the tail sum (one ``cvar`` call, median of repeats). The
unweighted case selects VaR with ``np.partition``; the weighted 1-D case with a sampled
bracketing selection; weighted batches (scenarios x agents) with one batched argsort.
"sort ref" is a plain full-sort implementation (argsort, cumulative mass, tail sum; a loop
over agents for batches), timed once, whose value the "max rel err" column compares to.

    python benchmarks/bench_cvar.py                # n = 1e3 .. 1e7, and two batches
    python benchmarks/bench_cvar.py --quick        # n = 1e3 .. 1e5, one repeat
    python benchmarks/bench_cvar.py --json out.json

Target (issue 6): ``cvar`` over 10^6 scenarios in under 0.2 s (weighted and unweighted).
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

from risk import cvar

ALPHA = 0.05
TARGET_N = 1_000_000
TARGET_SECONDS = 0.2


def sort_reference(x: np.ndarray, alpha: float, w: np.ndarray | None) -> float:
    """CVaR by a full sort: VaR from the cumulative mass of the largest losses, RU at VaR."""
    order = np.argsort(x)[::-1]
    xs = x[order]
    p = np.full(x.size, 1.0 / x.size) if w is None else w[order] / w.sum()
    j = min(int(np.searchsorted(np.cumsum(p), alpha * (1 + 1e-10), side="right")), x.size - 1)
    var = xs[j]
    return float(var + p @ np.maximum(xs - var, 0.0) / alpha)


def run_case(n: int, agents: int, weighted: bool, repeats: int, seed: int = 0) -> dict:
    """Time ``cvar`` on (n,) or (n, agents) losses; median of ``repeats`` runs."""
    rng = np.random.default_rng(seed)
    shape = (n,) if agents == 1 else (n, agents)
    x = rng.standard_t(3.0, size=shape)
    w = rng.uniform(size=n) if weighted else None
    cvar(x[: min(n, 1000)], ALPHA, None if w is None else w[: min(n, 1000)])  # warm-up
    times = []
    value = None
    for _ in range(repeats):
        start = time.perf_counter()
        value = cvar(x, ALPHA, w)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    if agents == 1:
        ref = np.array([sort_reference(x, ALPHA, w)])
    else:
        ref = np.array([sort_reference(x[:, j], ALPHA, w) for j in range(agents)])
    ref_seconds = time.perf_counter() - start
    rel_err = float(np.max(np.abs(np.atleast_1d(value) - ref) / np.maximum(np.abs(ref), 1e-300)))
    seconds = statistics.median(times)
    return {
        "n": n,
        "agents": agents,
        "weighted": weighted,
        "seconds": seconds,
        "ns_per_scenario": seconds / (n * agents) * 1e9,
        "sort_ref_seconds": ref_seconds,
        "max_rel_err": rel_err,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n up to 1e5, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    args = parser.parse_args(argv)

    if args.quick:
        sizes, batches = [10**3, 10**4, 10**5], [(10**3, 100)]
        repeats = args.repeats or 1
    else:
        sizes, batches = [10**3, 10**4, 10**5, 10**6, 10**7], [(10**4, 100), (10**3, 1000)]
        repeats = args.repeats or 7
    cases = [(n, 1, wt) for n in sizes for wt in (False, True)]
    cases += [(n, m, wt) for n, m in batches for wt in (False, True)]

    rows = []
    header = (
        f"{'n scenarios':>11} {'agents':>6} {'weights':>8} {'seconds':>9} {'ns/scen':>8} "
        f"{'sort ref s':>10} {'max rel err':>11}"
    )
    print(f"cvar, Student-t(3) losses, alpha={ALPHA}, median of {repeats} runs")
    print(header)
    print("-" * len(header))
    for n, agents, weighted in cases:
        r = run_case(n, agents, weighted, repeats if n * agents < 10**7 else max(1, repeats // 2))
        rows.append(r)
        print(
            f"{r['n']:>11d} {r['agents']:>6d} {'weighted' if weighted else 'equal':>8} "
            f"{r['seconds']:>9.4f} {r['ns_per_scenario']:>8.1f} {r['sort_ref_seconds']:>10.4f} "
            f"{r['max_rel_err']:>11.1e}",
            flush=True,
        )
    verdicts = []
    for r in rows:
        if r["n"] == TARGET_N and r["agents"] == 1:
            ok = r["seconds"] < TARGET_SECONDS
            verdicts.append(ok)
            print(
                f"target {'weighted' if r['weighted'] else 'equal weights'}: 10^6 scenarios in "
                f"{r['seconds']:.3f} s ({'<' if ok else '>='} {TARGET_SECONDS} s): "
                f"{'PASS' if ok else 'FAIL'}"
            )
    if args.json is not None:
        payload = {
            "benchmark": "cvar",
            "alpha": ALPHA,
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "numpy": np.__version__,
                "platform": platform.platform(),
                "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            },
            "target": {"n": TARGET_N, "seconds": TARGET_SECONDS},
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
