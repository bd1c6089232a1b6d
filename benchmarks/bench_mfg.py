"""Benchmark of the finite-MFG engine: exploitability evaluation and solver iterations.

Game: a ring of ``S`` states, ``A = 5`` moves (-2..2) landing on the target with probability
``1 - eps`` and on either neighbour with ``eps / 2`` (3 non-zeros per (s, a) row), reward
``base(s) - crowd * S * mu_t(s) - move_cost * |move|`` (mean-field dependent). Kinds:

- ``sparse``: a fixed CSR ``(S*A, S)`` transition;
- ``sparse_mf``: a mean-field-dependent CSR transition (``eps`` grows with the crowd at
  ``s``), rebuilt at every call;
- ``dense``: the same fixed transition as a dense ``(S, A, S)`` array (S <= 1000).

Columns: ``exploitability_eval_s`` (median of repeats of ``exploitability``; ``eval_min_s``
the fastest repeat, a steadier figure on a busy machine) and, per
method, ``<method>_iter_s`` (median time of one ``solve`` iteration, from the callback;
an iteration includes the exact exploitability evaluation of its new policy). Fewer
repeats for S = 10^5.

Usage: ``python benchmarks/bench_mfg.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp

from market.mfg import FiniteMFG, exploitability
from market.solvers import METHODS, solve

MOVES = np.array([-2, -1, 0, 1, 2])


def ring_game(n_states: int, horizon: int, kind: str, *, seed: int = 0) -> FiniteMFG:
    """The benchmark game (see module doc) with ``A = 5``."""
    S, A = n_states, MOVES.size
    rng = np.random.default_rng(seed)
    base = np.sin(2 * np.pi * np.arange(S) / S) + 0.1 * rng.standard_normal(S)
    move_cost = 0.05 * np.abs(MOVES)
    crowd = 0.5
    target = (np.arange(S)[:, None] + MOVES[None, :]) % S  # (S, A)
    cols = np.stack([(target - 1) % S, target, (target + 1) % S], axis=-1).reshape(-1)
    indptr = np.arange(0, 3 * S * A + 1, 3)

    def csr(eps_s: np.ndarray) -> sp.csr_array:
        e = np.repeat(eps_s, A)
        data = np.stack([e / 2, 1.0 - e, e / 2], axis=-1).reshape(-1)
        return sp.csr_array((data, cols, indptr), shape=(S * A, S))

    P_static = csr(np.full(S, 0.1))
    P_dense = P_static.toarray().reshape(S, A, S) if kind == "dense" else None

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        mu = L.sum(axis=1)
        return (base - crowd * S * mu)[:, None] - move_cost[None, :]

    def transition(t: int, L: np.ndarray) -> Any:
        if kind == "sparse":
            return P_static
        if kind == "dense":
            return P_dense
        mu = L.sum(axis=1)
        return csr(0.05 + 0.3 * np.minimum(1.0, S * mu / 4.0))

    return FiniteMFG(horizon, S, A, np.full(S, 1.0 / S), reward, transition, name=f"ring-{kind}")


def _times(fn: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _iteration_time(game: FiniteMFG, method: str, n_iter: int) -> float:
    stamps: list[float] = []

    def cb(k: int, e: float, policy: np.ndarray) -> bool:
        stamps.append(time.perf_counter())
        return False

    t0 = time.perf_counter()
    solve(game, method, max_iter=n_iter, tol=0.0, callback=cb, damping=0.5)
    # the first gap also holds the evaluation of the initial policy: leave it out
    gaps = np.diff(stamps) if len(stamps) > 1 else np.diff([t0, *stamps])
    return float(np.median(gaps))


def run(sizes: list[int], *, horizon: int, dense_max: int, repeats: int, n_iter: int) -> list:
    rows = []
    for S in sizes:
        reps, iters = (repeats, n_iter) if S < 100_000 else (min(repeats, 3), min(n_iter, 4))
        kinds = ["sparse", "sparse_mf"] + (["dense"] if S <= dense_max else [])
        for kind in kinds:
            game = ring_game(S, horizon, kind)
            policy = np.random.default_rng(1).dirichlet(np.ones(MOVES.size), size=(horizon, S))
            exploitability(game, policy)  # warm-up (first-use validation of the transitions)
            row: dict[str, Any] = {"S": S, "A": MOVES.size, "T": horizon, "kind": kind}
            times = _times(lambda g=game, p=policy: exploitability(g, p), reps)
            row["exploitability_eval_s"] = statistics.median(times)
            row["eval_min_s"] = min(times)
            for method in METHODS:
                row[f"{method}_iter_s"] = _iteration_time(game, method, iters)
            rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    short = {f"{m}_iter_s": f"{m[:14]}_it_s" for m in METHODS}
    head = [short.get(c, c) for c in cols]
    cells = [[f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        sizes, repeats, n_iter = [100, 1000], 3, 4
    else:
        sizes, repeats, n_iter = [100, 1000, 10_000, 100_000], 5, 6
    rows = run(sizes, horizon=24, dense_max=1000, repeats=repeats, n_iter=n_iter)
    print(_table(rows))
    if args.json:
        meta = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "quick": bool(args.quick),
            "repeats": repeats,
            "iterations_timed": n_iter,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
