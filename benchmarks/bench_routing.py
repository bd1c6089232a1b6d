"""Benchmark: routing on the real 2026 Lightning snapshot (shared/data/lightning).

One run measures:

- ``load``: ``ChannelGraph.from_csv`` on the snapshot (median of 3 loads);
- ``query``: ``k_shortest_paths`` for k = 1, 5, 10 on seeded random source/target pairs
  of the largest strongly connected component that have a route for the amount, against
  ``networkx.shortest_simple_paths`` on the same pruned graph (parallel channels collapsed
  to their cheapest, the sender's own channels without fee), on the first ``--nx-pairs``
  of those pairs. Times are wall-clock (``perf_counter``) with the thread's CPU time
  beside them; ratio = networkx median / ours (same pairs). ``costs_match`` counts pairs
  where both return the same path costs;
- ``payments``: ``simulate_random_payments`` (200 payments per amount, hidden uniform
  balances, seeded) single-path versus multi-part, for 10^3..10^6 sat;
- ``settlement``: ``route_settlement`` for N agents with N(0, 4 EUR) net amounts.

    python benchmarks/bench_routing.py                   # table
    python benchmarks/bench_routing.py --json            # JSON on stdout
    python benchmarks/bench_routing.py --out benchmarks/results/bench_routing.json
    python benchmarks/bench_routing.py --quick           # fewer pairs and payments

Targets (issue): load < 2 s; median k=5 query < 5 ms and >= 20x faster than networkx.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import NoRouteError
from routing import (
    ChannelGraph,
    RoutingParams,
    edge_weights,
    k_shortest_paths,
    prune_mask,
    route_settlement,
    simulate_random_payments,
)

REPO = Path(__file__).resolve().parents[1]
KS = (1, 5, 10)
AMOUNTS_SAT = (1_000, 10_000, 100_000, 1_000_000)
TARGET_LOAD_S = 2.0
TARGET_K5_MS = 5.0
TARGET_RATIO = 20.0


def default_data_dir() -> Path:
    base = Path(os.environ.get("BTUT_SHARED_DIR", REPO.parent / "shared"))
    return base / "data" / "lightning"


def reference_digraph(graph: ChannelGraph, amount_msat: int, params: RoutingParams) -> Any:
    """networkx DiGraph of the pruned graph: cheapest parallel channel per node pair, with
    the no-fee weight kept aside for the sender's own channels."""
    import networkx as nx

    keep = prune_mask(graph, amount_msat, params)
    w = edge_weights(graph, amount_msat, params)
    w_own = edge_weights(graph, amount_msat, params, with_fee=False)
    best: dict[tuple[int, int], list[float]] = {}
    for u, v, a, b in zip(
        graph.edge_source[keep].tolist(),
        graph.indices[keep].tolist(),
        w[keep].tolist(),
        w_own[keep].tolist(),
        strict=True,
    ):
        cur = best.get((u, v))
        if cur is None:
            best[(u, v)] = [a, b]
        else:
            cur[0], cur[1] = min(cur[0], a), min(cur[1], b)
    g = nx.DiGraph()
    g.add_edges_from((u, v, {"weight": a, "w_own": b}) for (u, v), (a, b) in best.items())
    return g


def networkx_query(ref: Any, s: int, t: int, k: int) -> tuple[list[float], float, float]:
    """(costs, wall s, cpu s) of the first k networkx simple paths (sender's edges no fee)."""
    import networkx as nx

    saved = {v: ref[s][v]["weight"] for v in ref[s]}
    for v in ref[s]:
        ref[s][v]["weight"] = ref[s][v]["w_own"]
    try:
        c0, t0 = time.thread_time(), time.perf_counter()
        paths = list(itertools.islice(nx.shortest_simple_paths(ref, s, t, weight="weight"), k))
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        costs = [nx.path_weight(ref, p, "weight") for p in paths]
    finally:
        for v, w in saved.items():
            ref[s][v]["weight"] = w
    return costs, wall, cpu


def pick_pairs(graph: ChannelGraph, n: int, amount_msat: int, seed: int) -> list[tuple[int, int]]:
    """Seeded random SCC pairs that have at least one route for the amount."""
    rng = np.random.default_rng(seed)
    core = graph.largest_scc()
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        s, t = (int(x) for x in rng.choice(core, size=2, replace=False))
        try:
            k_shortest_paths(graph, s, t, amount_msat, k=1)
        except NoRouteError:
            continue
        pairs.append((s, t))
    return pairs


def stats_ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1e3
    return {"median_ms": float(np.median(arr)), "p95_ms": float(np.percentile(arr, 95))}


def bench_load(path: Path, repeats: int = 3) -> tuple[ChannelGraph, dict[str, Any]]:
    times = []
    graph = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        graph = ChannelGraph.from_csv(path)
        times.append(time.perf_counter() - t0)
    assert graph is not None
    row = {
        "section": "load",
        "seconds": statistics.median(times),
        "seconds_all": times,
        **{k: v for k, v in graph.to_dict().items() if k != "source"},
    }
    return graph, row


def bench_queries(
    graph: ChannelGraph, n_pairs: int, nx_pairs: int, amount_sat: int, seed: int
) -> list[dict[str, Any]]:
    amount = amount_sat * 1000
    params = RoutingParams()
    pairs = pick_pairs(graph, n_pairs, amount, seed)
    ref = reference_digraph(graph, amount, params)
    for s, t in pairs[:2]:  # warm-up (imports, caches)
        list(k_shortest_paths(graph, s, t, amount, k=5))
    rows = []
    for k in KS:
        wall, cpu, costs = [], [], []
        for s, t in pairs:
            c0, t0 = time.thread_time(), time.perf_counter()
            routes = list(k_shortest_paths(graph, s, t, amount, k=k, params=params))
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            costs.append([r.total_weight for r in routes])
        nx_wall, nx_cpu, match = [], [], 0
        for i, (s, t) in enumerate(pairs[:nx_pairs]):
            ref_costs, w, c = networkx_query(ref, s, t, k)
            nx_wall.append(w)
            nx_cpu.append(c)
            match += len(ref_costs) == len(costs[i]) and bool(
                np.allclose(ref_costs, costs[i], rtol=1e-9)
            )
        ours_same = wall[:nx_pairs]
        ratio_pairs = [a / b for a, b in zip(nx_wall, ours_same, strict=True)]
        rows.append(
            {
                "section": "query",
                "k": k,
                "amount_sat": amount_sat,
                "pairs": len(pairs),
                **stats_ms(wall),
                "cpu_median_ms": float(np.median(cpu) * 1e3),
                "cpu_p95_ms": float(np.percentile(cpu, 95) * 1e3),
                "nx_pairs": len(nx_wall),
                "nx_median_ms": float(np.median(nx_wall) * 1e3),
                "nx_p95_ms": float(np.percentile(nx_wall, 95) * 1e3),
                "nx_cpu_median_ms": float(np.median(nx_cpu) * 1e3),
                "ours_median_ms_same_pairs": float(np.median(ours_same) * 1e3),
                "ratio_median": float(np.median(nx_wall) / np.median(ours_same)),
                "ratio_per_pair_median": float(np.median(ratio_pairs)),
                "costs_match": int(match),
            }
        )
    return rows


def bench_payments(graph: ChannelGraph, n_payments: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for amount in AMOUNTS_SAT:
        for multipart in (False, True):
            t0 = time.perf_counter()
            res = simulate_random_payments(
                graph, n_payments, amount, seed=seed, multipart=multipart
            )
            seconds = time.perf_counter() - t0
            d = res.to_dict()
            rows.append(
                {
                    "section": "payments",
                    "amount_sat": amount,
                    "mode": "multipart" if multipart else "single",
                    "seconds": seconds,
                    "ms_per_payment": seconds / n_payments * 1e3,
                    **{k: v for k, v in d.items() if k != "multipart"},
                }
            )
    return rows


def bench_settlement(graph: ChannelGraph, sizes: list[int], seed: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        amounts = np.random.default_rng(seed).normal(0.0, 4.0, size=n)
        t0 = time.perf_counter()
        res = route_settlement(graph, amounts, seed=seed)
        seconds = time.perf_counter() - t0
        d = res.to_dict()
        rows.append(
            {
                "section": "settlement",
                "n_agents": n,
                "seconds": seconds,
                "ms_per_payment": seconds / max(res.n_payments, 1) * 1e3,
                **{k: v for k, v in d.items() if k not in ("n_agents", "operator")},
            }
        )
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def print_table(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    sections: dict[str, list[str]] = {
        "load": ["seconds", "n_nodes", "n_edges", "n_channels", "largest_scc_nodes"],
        "query": [
            "k",
            "pairs",
            "median_ms",
            "p95_ms",
            "cpu_median_ms",
            "nx_pairs",
            "nx_median_ms",
            "nx_p95_ms",
            "ratio_median",
            "costs_match",
        ],
        "payments": [
            "amount_sat",
            "mode",
            "success_rate",
            "value_success_rate",
            "fee_pct",
            "latency_p50_s",
            "latency_p95_s",
            "mean_attempts",
            "mean_htlcs",
            "mean_hops",
            "ms_per_payment",
        ],
        "settlement": [
            "n_agents",
            "n_payments",
            "seconds",
            "ms_per_payment",
            "success_rate",
            "value_success_rate",
            "fee_pct",
            "latency_p50_s",
            "latency_p95_s",
            "mean_attempts",
        ],
    }
    for section, cols in sections.items():
        sel = [r for r in rows if r["section"] == section]
        if not sel:
            continue
        width = [max(len(c), *(len(_fmt(r.get(c))) for r in sel)) for c in cols]
        print(f"\n[{section}]", file=out)
        print("  ".join(c.rjust(w) for c, w in zip(cols, width, strict=True)), file=out)
        for r in sel:
            cells = (_fmt(r.get(c)).rjust(w) for c, w in zip(cols, width, strict=True))
            print("  ".join(cells), file=out)


def verdicts(rows: list[dict[str, Any]]) -> dict[str, bool]:
    load = next(r for r in rows if r["section"] == "load")
    out = {"load_under_2s": load["seconds"] < TARGET_LOAD_S}
    k5 = next((r for r in rows if r["section"] == "query" and r["k"] == 5), None)
    if k5 is not None:
        out["k5_median_under_5ms"] = k5["median_ms"] < TARGET_K5_MS
        out["k5_at_least_20x_networkx"] = k5["ratio_median"] >= TARGET_RATIO
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="snapshot folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true", help="10 pairs, 40 payments, N=300")
    parser.add_argument("--pairs", type=int, default=50, help="query pairs (ours)")
    parser.add_argument("--nx-pairs", type=int, default=10, help="query pairs for networkx")
    parser.add_argument("--amount-sat", type=int, default=10_000, help="query amount")
    parser.add_argument("--payments", type=int, default=200, help="payments per amount/mode")
    parser.add_argument(
        "--settlement-sizes", default="1000,10000", help="comma-separated agent counts"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.nx_pairs, args.payments = 10, 3, 40
        args.settlement_sizes = "300"
    path = args.data or default_data_dir()
    if not (path / "channels.csv.gz").is_file():
        print(f"snapshot not found: {path}", file=sys.stderr)
        return 2
    log = sys.stderr if args.json else sys.stdout
    started = time.perf_counter()

    graph, load_row = bench_load(path)
    rows = [load_row]
    print(f"loaded {path} in {load_row['seconds']:.3f} s", file=log, flush=True)
    rows += bench_queries(graph, args.pairs, args.nx_pairs, args.amount_sat, args.seed)
    print("queries done", file=log, flush=True)
    rows += bench_payments(graph, args.payments, args.seed)
    print("payments done", file=log, flush=True)
    sizes = [int(x) for x in args.settlement_sizes.split(",") if x.strip()]
    rows += bench_settlement(graph, sizes, args.seed)
    checks = verdicts(rows)
    payload = {
        "benchmark": "routing",
        "data": str(path),
        "command": "python benchmarks/bench_routing.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "targets": {
            "load_s": TARGET_LOAD_S,
            "k5_median_ms": TARGET_K5_MS,
            "k5_ratio_vs_networkx": TARGET_RATIO,
        },
        "verdicts": checks,
        "total_seconds": time.perf_counter() - started,
        "rows": rows,
    }
    text = json.dumps(payload, indent=2) + "\n"
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.json:
        sys.stdout.write(text)
    else:
        print_table(rows)
        print(f"\nverdicts: {checks}  (total {payload['total_seconds']:.0f} s)")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
