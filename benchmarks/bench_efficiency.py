"""Benchmark: market efficiency against the MILP planner over a week of days (issue 6, item 7).

Pipeline per day as ``btut replay`` (forecast fitted once on the 365 days before the first
day, same population every day, realised net demand seeded per day), with public APIs only,
so market options can be varied:

* ``market``  -- :func:`market.energy_game` + :func:`market.solve_energy_market` +
  :func:`market.clear_finite_market` (per-capita redistribution); market cost = community
  grid bill + extras (``mean_cost_eur * N``);
* ``planner`` -- :func:`market.plan_community` on the *realised* net demand (the benchmark);
* ``baseline`` -- :func:`market.baseline_cost` (every agent alone with the grid);
* ``planner_expected`` -- (``--decompose``) the planner on the agents' *expected* net demand
  (no idiosyncratic noise: the agents' information when they decide), its schedules then
  applied to the realised net demand (``planner_info``): the cost of the information the
  planner has and the agents lack. ``information_share`` = (planner_info - planner) /
  (market - planner).

Scores: efficiency = (baseline - market) / (baseline - planner) per day and over the week
(summed costs, as ``btut replay`` aggregates), PoA = market / planner, exploitability (EUR
per agent per day) of the equilibrium.

    python benchmarks/bench_efficiency.py                       # 2017-06-12..18, 10^4 agents
    python benchmarks/bench_efficiency.py --agents 2000 --decompose
    python benchmarks/bench_efficiency.py --pricing clip --kappa 50   # the former default
    python benchmarks/bench_efficiency.py --bins 4 --lottery systematic
    python benchmarks/bench_efficiency.py --json out.json

Planner: exact up to ``--max-exact`` agents (2,000), else a stratified sample (as replay).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ZONE = "ES"
START, END = "2017-06-12", "2017-06-19"
HISTORY_DAYS = 365


def _noise_seed(seed: int, day: dt.date) -> int:
    return int(np.random.SeedSequence([seed, day.toordinal()]).generate_state(1)[0])


def _days(start: str, end: str) -> list[dt.date]:
    d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days)]


def setup(zone: str, days: list[dt.date], agents: int, seed: int) -> dict[str, Any]:
    """History, Student-t load forecast of the days and the population, as ``btut replay``
    (:func:`btut.replaying._forecast`: trained on what is known at the first day's cut-off)."""
    from agents import sample_population
    from btut.replaying import _forecast
    from data import load_market_data

    end = days[-1] + dt.timedelta(days=1)
    history = load_market_data(zone, days[0] - dt.timedelta(days=HISTORY_DAYS), end)
    pred, _ = _forecast(history, tuple(days), seed)
    population = sample_population(None, agents, seed=seed)
    return {"history": history, "pred": pred, "population": population, "seed": seed}


def plan_shapes(ctx: dict[str, Any], shapes: Any) -> Any:
    """The day as the agents know it at its cut-off (``btut replay``'s plan)."""
    from btut.replaying import _base_plan, _plan

    return _plan(_base_plan(ctx["history"], shapes), ctx["pred"])


def run_day(
    ctx: dict[str, Any],
    day: dt.date,
    *,
    game_kw: dict[str, Any],
    solve_kw: dict[str, Any] | None = None,
    max_exact: int = 2000,
    decompose: bool = False,
    benchmark: dict[str, Any] | None = None,
    clear_kw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One day: market (with ``game_kw`` for :func:`market.energy_game`), planner, baseline."""
    from agents import agent_net_demand, day_profiles
    from btut.replaying import _benchmark_kw
    from market import (
        baseline_cost,
        benchmark_scores,
        clear_finite_market,
        energy_game,
        plan_community,
        solve_energy_market,
    )

    history, population, seed = ctx["history"], ctx["population"], ctx["seed"]
    N = population.n_agents
    shapes = day_profiles(history, day=day)
    price = history["price_eur_per_mwh"].reindex(shapes.index).to_numpy(dtype=np.float64)
    forecast = ctx["pred"].reindex(shapes.index)[["mu", "sigma", "nu"]]
    noise_seed = _noise_seed(seed, day)
    net = agent_net_demand(population, shapes, seed=noise_seed)

    t0 = time.perf_counter()
    planned = plan_shapes(ctx, shapes)
    game = energy_game(population, price, planned, forecast=forecast, **game_kw)
    eq = solve_energy_market(game, **(solve_kw or {}))
    fm = clear_finite_market(
        eq, population, net, seed=seed, keep_settlement=N > max_exact, **(clear_kw or {})
    )
    t_market = time.perf_counter() - t0
    market = float(fm.mean_cost_eur) * N

    out: dict[str, Any] = {
        "day": day.isoformat(),
        "exploitability_eur": float(eq.exploitability_eur),
        "iterations": int(eq.iterations),
        "market_s": t_market,
        "market_cost_eur": market,
        "mean_field_community_cost_eur": float(eq.community_cost_eur) * N,
    }
    kw = _benchmark_kw(population, shapes, planned, max_exact, seed)  # as btut replay
    if benchmark is None:
        t1 = time.perf_counter()
        plan = plan_community(population, net, price, **kw)
        base = baseline_cost(population, net, price, **kw)
        benchmark = {"plan": plan, "base": base, "s": time.perf_counter() - t1}
        if decompose:
            expected = agent_net_demand(population, shapes, seed=noise_seed, noise=0.0)
            plan_e = plan_community(population, expected, price, **kw)
            benchmark["planner_expected"] = plan_e.cost_eur
            benchmark["planner_info"] = _apply(plan_e, expected, net, N)
    plan, base = benchmark["plan"], benchmark["base"]
    sc = benchmark_scores(
        base,
        market,
        plan,
        market_agent_cost_eur=fm.agent_cost_eur if N > max_exact else None,
    )
    out.update(
        baseline_cost_eur=float(sc.baseline_cost_eur),
        planner_cost_eur=float(sc.planner_cost_eur),
        market_cost_used_eur=float(sc.market_cost_sample_eur),
        efficiency=float(sc.efficiency),
        efficiency_low=float(sc.efficiency_low),
        efficiency_high=float(sc.efficiency_high),
        price_of_anarchy=float(sc.price_of_anarchy),
        planner_s=benchmark["s"],
    )
    if "planner_info" in benchmark:
        out["planner_expected_cost_eur"] = benchmark["planner_expected"]
        out["planner_info_cost_eur"] = benchmark["planner_info"]
    out["_benchmark"] = benchmark
    return out


def _apply(plan: Any, expected: np.ndarray, realised: np.ndarray, N: int) -> float:
    """Community cost of the planner's schedules (planned on ``expected`` net demand) applied
    to the ``realised`` net demand (exact mode only: all agents solved)."""
    if plan.sampled:
        return float("nan")
    idx = plan.agent_index
    u = plan.positions_kwh - expected[idx].astype(np.float64)
    y = realised[idx].astype(np.float64) + u
    R = y.sum(axis=0)
    grid = plan.buy_eur_per_mwh * np.maximum(R, 0) - plan.sell_eur_per_mwh * np.maximum(-R, 0)
    extras = plan.cost_eur - plan.grid_cost_eur
    return float(grid.sum() / 1000.0 + extras)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from market import efficiency, price_of_anarchy

    b = math.fsum(r["baseline_cost_eur"] for r in rows)
    m = math.fsum(r["market_cost_used_eur"] for r in rows)
    p = math.fsum(r["planner_cost_eur"] for r in rows)
    out = {
        "efficiency": efficiency(b, m, p),
        "price_of_anarchy": price_of_anarchy(m, p),
        "exploitability_eur_per_agent_day": float(np.mean([r["exploitability_eur"] for r in rows])),
        "max_exploitability_eur": float(max(r["exploitability_eur"] for r in rows)),
        "baseline_cost_eur": b,
        "market_cost_eur": m,
        "planner_cost_eur": p,
    }
    if all("planner_info_cost_eur" in r for r in rows):
        pi = math.fsum(r["planner_info_cost_eur"] for r in rows)
        out["planner_info_cost_eur"] = pi
        out["efficiency_vs_planner_info"] = efficiency(b, m, pi)
        out["information_share_of_gap"] = (pi - p) / (m - p) if m > p else float("nan")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", default=ZONE)
    ap.add_argument("--start", default=START)
    ap.add_argument("--end", default=END)
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-exact", type=int, default=2000)
    ap.add_argument("--pricing", default=None, help="energy_game pricing (default: library's)")
    ap.add_argument("--kappa", type=float, default=None)
    ap.add_argument("--bins", type=int, default=None)
    ap.add_argument("--n-soc", type=int, default=None)
    ap.add_argument("--lottery", default=None, help="clear_finite_market lottery")
    ap.add_argument("--decompose", action="store_true")
    ap.add_argument("--json", default=None, help="write the result to this path")
    args = ap.parse_args(argv)

    from agents.bidding import DPGrid

    game_kw: dict[str, Any] = {}
    if args.pricing is not None:
        game_kw["pricing"] = args.pricing
    if args.kappa is not None:
        game_kw["kappa_eur_per_mwh_per_kwh"] = args.kappa
    if args.bins is not None:
        game_kw["bins"] = args.bins
    if args.n_soc is not None:
        game_kw["grid"] = DPGrid(n_soc=args.n_soc)
    clear_kw: dict[str, Any] = {}
    if args.lottery is not None:
        clear_kw["lottery"] = args.lottery
    days = _days(args.start, args.end)
    ctx = setup(args.zone, days, args.agents, args.seed)
    rows = []
    hdr = f"{'day':10} {'eff':>6} {'PoA':>6} {'expl':>7} {'it':>3} {'mkt s':>6} {'base':>9}"
    hdr += f" {'market':>9} {'planner':>9}"
    if args.decompose:
        hdr += f" {'pl.info':>9} {'info%':>6}"
    print(hdr, file=sys.stderr)
    for d in days:
        r = run_day(
            ctx,
            d,
            game_kw=game_kw,
            max_exact=args.max_exact,
            decompose=args.decompose,
            clear_kw=clear_kw,
        )
        r.pop("_benchmark")
        rows.append(r)
        line = (
            f"{r['day']:10} {r['efficiency']:6.3f} {r['price_of_anarchy']:6.3f} "
            f"{r['exploitability_eur']:7.4f} {r['iterations']:3d} {r['market_s']:6.1f} "
            f"{r['baseline_cost_eur']:9.1f} {r['market_cost_used_eur']:9.1f} "
            f"{r['planner_cost_eur']:9.1f}"
        )
        if args.decompose:
            gap = r["market_cost_used_eur"] - r["planner_cost_eur"]
            share = (r["planner_info_cost_eur"] - r["planner_cost_eur"]) / gap
            line += f" {r['planner_info_cost_eur']:9.1f} {100 * share:6.1f}"
        print(line, file=sys.stderr)
    summary = summarise(rows)
    print(
        f"week: efficiency {summary['efficiency']:.4f}  PoA {summary['price_of_anarchy']:.4f}  "
        f"exploitability {summary['exploitability_eur_per_agent_day']:.4f} EUR/agent/day",
        file=sys.stderr,
    )
    result = {
        "zone": args.zone,
        "days": [d.isoformat() for d in days],
        "agents": args.agents,
        "seed": args.seed,
        "game_kw": {k: (v if not isinstance(v, DPGrid) else v.n_soc) for k, v in game_kw.items()},
        "clear_kw": clear_kw,
        "summary": summary,
        "per_day": rows,
    }
    text = json.dumps(result, indent=1, default=float)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(json.dumps(summary, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
