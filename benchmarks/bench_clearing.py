"""Benchmark: mean-field equilibrium plus finite-N clearing of one market day (issue 6, item 8).

Setup: ES 2017-06-14 (``data.load_market_data("ES", "2017-06-14", "2017-06-15")``, 24
hourly intervals), the default :class:`agents.config.PopulationConfig`, N sampled agents.
Per repeat and N, each stage timed on its own:

* ``sample``  -- ``sample_population(None, N, seed)``;
* ``net``     -- realised net demand (``iter_net_demand``, streamed in the library's default
  chunks of 4 x 65,536 agents; float32, with the idiosyncratic noise): the time spent inside
  the generator while ``clear_finite_market`` consumes it;
* ``game``    -- ``energy_game(population, price, shapes)`` (block representatives are the
  sampled population's per-type means: one O(N) pass over the population);
* ``solve``   -- ``solve_energy_market(game)`` (fictitious play; independent of N);
* ``clear``   -- ``clear_finite_market(eq, population, stream, seed)`` minus the time spent
  generating the stream (i.e. mapping agents to blocks, following the policy, settlement).

``seconds`` = game + solve + clear: the equilibrium of the day plus its finite-N clearing
(what item 8 names). Sampling and net-demand generation are reported beside it, not in it.
``ns/agent-int`` = seconds / (N x H) x 1e9. ``numpy pass``: one plain vectorised pass over
the population's arrays in the same run (for each of its 15 arrays, an elementwise multiply
by a float32 scalar and a sum; 57 bytes per agent), median of 5; ``ratio`` = seconds / that.

    python benchmarks/bench_clearing.py                # N = 1e4 .. 1e7
    python benchmarks/bench_clearing.py --quick        # N = 1e4, 1e5, one repeat
    python benchmarks/bench_clearing.py --json out.json
    python benchmarks/bench_clearing.py --profile      # + cProfile of one 1e6 day (stderr)

Timings are the median over repeats (5 for N <= 1e5, 3 at 1e6, 1 at 1e7 by default).
Target (issue 6): 10^6 agents in under 1 s per day, cost linear in N. The last line of
stdout is the JSON list of rows (``--json PATH`` writes the same list). Exit code 1 when
the 10^6 case misses the target.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import data
from agents.population import sample_population
from agents.profiles import day_profiles, iter_net_demand
from market.clearing import clear_finite_market
from market.energy import energy_game, solve_energy_market

ZONE, DAY, NEXT_DAY = "ES", "2017-06-14", "2017-06-15"
TARGET_N = 1_000_000
TARGET_SECONDS = 1.0
POP_SEED, NET_SEED, CLEAR_SEED = 1, 2, 3


class _TimedStream:
    """Wrap a ``(start, stop, chunk)`` iterator and accumulate the time spent producing it."""

    def __init__(self, it: Iterator) -> None:
        self._it = it
        self.seconds = 0.0

    def __iter__(self) -> _TimedStream:
        return self

    def __next__(self):
        start = time.perf_counter()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - start


def numpy_pass(pop) -> float:
    """Seconds of one plain pass over the population's arrays (median of 5)."""
    arrays = list(pop.arrays().values())
    k = np.float32(1.5)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        total = 0.0
        for a in arrays:
            total += float((a * k).sum())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_day(n: int, price: np.ndarray, shapes, repeat: int) -> dict:
    """Time every stage of one day for ``n`` agents; returns per-stage seconds."""
    t0 = time.perf_counter()
    pop = sample_population(None, n, seed=POP_SEED + repeat)
    t1 = time.perf_counter()
    game = energy_game(pop, price, shapes)
    t2 = time.perf_counter()
    eq = solve_energy_market(game)
    t3 = time.perf_counter()
    stream = _TimedStream(iter_net_demand(pop, shapes, seed=NET_SEED + repeat))
    res = clear_finite_market(eq, pop, stream, seed=CLEAR_SEED)
    t4 = time.perf_counter()
    base = numpy_pass(pop)
    del pop, res
    return {
        "sample": t1 - t0,
        "net": stream.seconds,
        "game": t2 - t1,
        "solve": t3 - t2,
        "clear": (t4 - t3) - stream.seconds,
        "numpy_pass": base,
        "iterations": int(eq.iterations),
        "exploitability": float(eq.exploitability_eur),
    }


def run_case(n: int, price: np.ndarray, shapes, repeats: int) -> dict:
    runs = [one_day(n, price, shapes, r) for r in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "iterations"}
    seconds = statistics.median(r["game"] + r["solve"] + r["clear"] for r in runs)
    H = shapes.n_intervals
    return {
        "agents": n,
        "seconds": seconds,
        "ns_per_agent_interval": seconds / (n * H) * 1e9,
        "ratio_to_numpy_pass": seconds / med["numpy_pass"],
        "intervals": H,
        "sample_s": med["sample"],
        "net_demand_s": med["net"],
        "game_s": med["game"],
        "solve_s": med["solve"],
        "clear_s": med["clear"],
        "numpy_pass_s": med["numpy_pass"],
        "solver_iterations": max(r["iterations"] for r in runs),
        "exploitability_eur": med["exploitability"],
        "repeats": repeats,
    }


def profile_day(n: int, price: np.ndarray, shapes, top: int = 20) -> str:
    """cProfile of game + solve + clearing of one day for ``n`` agents (net demand streamed)."""
    pop = sample_population(None, n, seed=POP_SEED)
    prof = cProfile.Profile()
    prof.enable()
    eq = solve_energy_market(energy_game(pop, price, shapes))
    clear_finite_market(eq, pop, iter_net_demand(pop, shapes, seed=NET_SEED), seed=CLEAR_SEED)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1e5, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one 1e6 day (printed to stderr)"
    )
    args = parser.parse_args(argv)

    frame = data.load_market_data(ZONE, DAY, NEXT_DAY)
    price = frame["price_eur_per_mwh"].to_numpy()
    shapes = day_profiles(frame)
    H = shapes.n_intervals

    if args.quick:
        sizes = [10**4, 10**5]
    else:
        sizes = [10**4, 10**5, 10**6, 10**7]

    def repeats_for(n: int) -> int:
        if args.repeats is not None:
            return args.repeats if n < 10**7 else min(args.repeats, 2)
        if args.quick:
            return 1
        return 5 if n <= 10**5 else 3 if n <= 10**6 else 1

    one_day(10_000, price, shapes, 0)  # warm-up (imports, caches), not timed

    print(
        f"equilibrium + finite-N clearing, {ZONE} {DAY} (H={H}), default population; "
        f"median of repeats"
    )
    print("  seconds = game (from the sampled population) + solve + clear;")
    print("  sample and net demand (streamed, float32, with noise) are NOT in seconds;")
    print("  numpy pass = one elementwise op + sum over each of the population's arrays")
    header = (
        f"{'N':>10} {'rep':>3} {'sample':>8} {'net dem':>8} {'game':>8} {'solve':>8} "
        f"{'clear':>8} | {'seconds':>8} {'ns/ag-int':>9} {'np pass':>9} {'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for n in sizes:
        r = run_case(n, price, shapes, repeats_for(n))
        rows.append(r)
        print(
            f"{n:>10d} {r['repeats']:>3d} {r['sample_s']:>8.3f} {r['net_demand_s']:>8.3f} "
            f"{r['game_s']:>8.3f} {r['solve_s']:>8.3f} {r['clear_s']:>8.3f} | "
            f"{r['seconds']:>8.3f} {r['ns_per_agent_interval']:>9.1f} "
            f"{r['numpy_pass_s']:>9.5f} {r['ratio_to_numpy_pass']:>8.0f}",
            flush=True,
        )

    ok = True
    by_n = {r["agents"]: r for r in rows}
    if TARGET_N in by_n:
        r = by_n[TARGET_N]
        ok = r["seconds"] < TARGET_SECONDS
        print(
            f"target: 10^6 agents in {r['seconds']:.3f} s per day "
            f"({'<' if ok else '>='} {TARGET_SECONDS} s): {'PASS' if ok else 'FAIL'}"
            + (
                ""
                if ok
                else f" (over by {r['seconds'] - TARGET_SECONDS:.3f} s, "
                f"x{r['seconds'] / TARGET_SECONDS:.2f})"
            )
        )
        print(
            f"  without the O(N) game build (solve + clear only): "
            f"{r['solve_s'] + r['clear_s']:.3f} s; with net-demand generation: "
            f"{r['seconds'] + r['net_demand_s']:.3f} s"
        )
    lo_n = 10**5
    hi_n = max(by_n)
    if lo_n in by_n and hi_n > lo_n:
        ratio = by_n[hi_n]["ns_per_agent_interval"] / by_n[lo_n]["ns_per_agent_interval"]

        def per_agent(r: dict) -> float:
            return (r["game_s"] + r["clear_s"]) / r["agents"]

        nr = per_agent(by_n[hi_n]) / per_agent(by_n[lo_n])
        print(
            f"linearity: seconds per agent at N={hi_n:.0e} / at N={lo_n:.0e} = {ratio:.2f} "
            f"(N-dependent part, game + clear: {nr:.2f}; 1 = linear)"
        )
    else:
        print("linearity: needs N = 1e5 and a larger N (run without --quick)")
    solves = [r["solve_s"] for r in rows]
    print(
        f"equilibrium solve vs N: {min(solves):.3f} .. {max(solves):.3f} s, "
        f"{max(r['solver_iterations'] for r in rows)} iterations at most "
        f"(the game size does not depend on N)"
    )

    if args.profile:
        n = TARGET_N
        print(
            f"cProfile of one day, N={n} (game + solve + clear, net demand streamed)",
            file=sys.stderr,
        )
        print(profile_day(n, price, shapes), file=sys.stderr, flush=True)

    payload = json.dumps(rows)
    if args.json is not None:
        args.json.write_text(payload + "\n")
    print(payload, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
