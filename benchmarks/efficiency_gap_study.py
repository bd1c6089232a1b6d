"""Where does the market-vs-planner gap come from? (issue 6, item 7)

Switches off one cause at a time on a few days (exact planner: 2,000 agents) and reports
efficiency = (baseline - market) / (baseline - planner) with the three costs. Pipeline as
``benchmarks/bench_efficiency.py`` (its ``setup`` / ``run_day``); the planner and baseline are
recomputed only when the variant changes the agents' world (their net demand or parameters).

    python benchmarks/efficiency_gap_study.py --days 2017-06-25 2017-06-29 2017-06-11 \
        --json benchmarks/results/efficiency_gap_june.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_efficiency as be


def _config(**type_params: dict[str, Any]) -> Any:
    """Default population config with some parameters of some kinds replaced."""
    from agents.config import Dist, PopulationConfig, default_types

    types = []
    for t in default_types():
        params = dict(t.params)
        for name, dist in type_params.get(t.kind, {}).items():
            params[name] = dist if isinstance(dist, Dist) else Dist.fixed(dist)
        types.append(dataclasses.replace(t, params=params))
    return PopulationConfig(types=tuple(types))


def _gamma0() -> Any:
    from agents.config import Dist

    z = {"gamma": Dist.fixed(0.0)}
    return _config(consumer=z, pv=z, pv_storage=z, ev=z)


def variants(kappas: list[float] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, world, options): world 'same' reuses the default planner/baseline. ``kappas``:
    only the default and these price sensitivities (the kappa sweep)."""
    from agents.bidding import DPGrid

    v: list[tuple[str, str, dict[str, Any]]] = [("default", "same", {})]
    if kappas:
        for k in kappas:
            v.append((f"(c) kappa={k:g}", "same", {"game": {"kappa_eur_per_mwh_per_kwh": k}}))
        return v
    # (a) information: agents plan on expected profiles; planner sees the realised ones
    v.append(("(a) planner w/ agents' info", "same", {"planner_info": True}))
    v.append(
        ("(a) no noise, no forecast err", "noise0", {"game": {"noise": 0.0, "forecast": None}})
    )
    # (b) risk aversion
    v.append(("(b) gamma=0", "gamma0", {}))
    # (c) kappa
    for k in (50.0, 100.0, 400.0, 1000.0):
        v.append((f"(c) kappa={k:g}", "same", {"game": {"kappa_eur_per_mwh_per_kwh": k}}))
    # (d) DP grid
    v.append(
        ("(d) n_soc=81, ev_steps=48", "same", {"game": {"grid": DPGrid(n_soc=81, ev_steps=48)}})
    )
    # (e) lottery
    v.append(("(e) systematic lottery", "same", {"clear": {"lottery": "systematic"}}))
    # (f) heterogeneity: bins on every type
    v.append(("(f) bins 1 (one block per type)", "same", {"game": {"bins": 1}}))
    v.append(("(f) bins consumer 4, pv_storage 1", "same", {"game": {"bins": {"consumer": 4}}}))
    v.append(("(f) bins consumer 1, pv_storage 2", "same", {"game": {"bins": {"pv_storage": 2}}}))
    v.append(("(f) bins 2 all types", "same", {"game": {"bins": 2}}))
    v.append(("(f) bins 4 all types", "same", {"game": {"bins": 4}}))
    v.append(("(f) consumer flex homogeneous", "flex_fixed", {}))
    v.append(("(f) ev deadline homogeneous", "deadline_fixed", {}))
    v.append(("(f) battery E,P homogeneous", "battery_fixed", {}))
    v.append(("(f) all parameters homogeneous", "homogeneous", {}))
    v.append(
        (
            "(f) all homogeneous, kappa=400",
            "homogeneous",
            {"game": {"kappa_eur_per_mwh_per_kwh": 400.0}},
        )
    )
    flex = {"consumer": "flex_cost_eur_per_kwh2"}
    v.append(
        (
            "(f) consumer bins by flex: 2",
            "same",
            {"binparam": flex, "game": {"bins": {"consumer": 2, "pv_storage": 2}}},
        )
    )
    v.append(
        (
            "(f) consumer bins by flex: 4",
            "same",
            {"binparam": flex, "game": {"bins": {"consumer": 4, "pv_storage": 2}}},
        )
    )
    v.append(
        (
            "(c+f) kappa=300, consumer flex bins 4",
            "same",
            {
                "binparam": flex,
                "game": {
                    "kappa_eur_per_mwh_per_kwh": 300.0,
                    "bins": {"consumer": 4, "pv_storage": 2},
                },
            },
        )
    )
    v.append(
        (
            "(c+f) kappa=400, consumer flex bins 4",
            "same",
            {
                "binparam": flex,
                "game": {
                    "kappa_eur_per_mwh_per_kwh": 400.0,
                    "bins": {"consumer": 4, "pv_storage": 2},
                },
            },
        )
    )
    v.append(
        (
            "(c+f) kappa=400, bins 4",
            "same",
            {"game": {"kappa_eur_per_mwh_per_kwh": 400.0, "bins": 4}},
        )
    )
    # (g) convergence of the equilibrium
    v.append(("(g) tol 1e-4", "same", {"solve": {"tol_eur": 1e-4, "max_iter": 3000}}))
    return v


def _world_population(world: str, n: int, seed: int) -> Any:
    from agents import sample_population
    from agents.config import Dist

    if world == "gamma0":
        return sample_population(_gamma0(), n, seed=seed)
    if world == "flex_fixed":
        return sample_population(
            _config(consumer={"flex_cost_eur_per_kwh2": Dist.fixed(0.5)}), n, seed=seed
        )
    if world == "battery_fixed":
        return sample_population(
            _config(pv_storage={"battery_kwh": Dist.fixed(10.0), "battery_kw": Dist.fixed(5.0)}),
            n,
            seed=seed,
        )
    if world == "homogeneous":  # every parameter at its distribution's mean
        from agents.config import default_types

        fixed = {
            t.kind: {k: Dist.fixed(d.mean) for k, d in t.params.items()} for t in default_types()
        }
        return sample_population(_config(**fixed), n, seed=seed)
    if world == "deadline_fixed":
        return sample_population(_config(ev={"ev_deadline_hour": Dist.fixed(7.5)}), n, seed=seed)
    return None


def run_variant(
    ctx: dict[str, Any],
    day: dt.date,
    name: str,
    world: str,
    opt: dict[str, Any],
    cache: dict[Any, Any],
) -> dict[str, Any]:
    from agents import agent_net_demand, day_profiles
    from btut.replaying import _benchmark_kw
    from market import (
        baseline_cost,
        clear_finite_market,
        efficiency,
        energy_game,
        plan_community,
        solve_energy_market,
    )

    history, seed = ctx["history"], ctx["seed"]
    pop = _world_population(world, ctx["population"].n_agents, seed) or ctx["population"]
    N = pop.n_agents
    shapes = day_profiles(history, day=day)
    price = history["price_eur_per_mwh"].reindex(shapes.index).to_numpy(dtype=np.float64)
    forecast = ctx["pred"].reindex(shapes.index)[["mu", "sigma", "nu"]]
    nseed = be._noise_seed(seed, day)
    noise = 0.0 if world == "noise0" else None
    net = agent_net_demand(pop, shapes, seed=nseed, noise=noise)
    game_kw = {"forecast": forecast, **opt.get("game", {})}
    import market.energy as me

    saved = dict(me.BIN_PARAMETER)
    me.BIN_PARAMETER.update(opt.get("binparam", {}))  # type: ignore[attr-defined]
    try:
        t0 = time.perf_counter()
        planned = be.plan_shapes(ctx, shapes)
        game = energy_game(pop, price, planned, **game_kw)
        eq = solve_energy_market(game, **opt.get("solve", {}))
        fm = clear_finite_market(eq, pop, net, seed=seed, **opt.get("clear", {}))
        t_m = time.perf_counter() - t0
    finally:
        me.BIN_PARAMETER.update(saved)  # type: ignore[attr-defined]
    market = float(fm.mean_cost_eur) * N
    key = (day, "same" if world in ("same",) else world)
    kw = _benchmark_kw(pop, shapes, planned, N, seed)  # as btut replay
    if key not in cache:
        plan = plan_community(pop, net, price, **kw)
        base = baseline_cost(pop, net, price, **kw)
        cache[key] = (plan, base)
    plan, base = cache[key]
    planner = float(plan.cost_eur)
    if opt.get("planner_info"):
        expected = agent_net_demand(pop, shapes, seed=nseed, noise=0.0)
        plan_e = plan_community(pop, expected, price, **kw)
        planner = be._apply(plan_e, expected, net, N)
    b = float(base.cost_eur)
    return {
        "day": day.isoformat(),
        "variant": name,
        "efficiency": float(efficiency(b, market, planner)),
        "baseline_eur": b,
        "market_eur": market,
        "planner_eur": planner,
        "gap_eur": market - planner,
        "mean_field_eur": float(eq.community_cost_eur) * N,
        "exploitability_eur": float(eq.exploitability_eur),
        "iterations": int(eq.iterations),
        "market_s": t_m,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", nargs="+", default=["2017-06-25", "2017-06-29", "2017-06-11"])
    ap.add_argument("--agents", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="variant name prefixes")
    ap.add_argument("--kappas", nargs="*", type=float, default=None, help="kappa sweep only")
    ap.add_argument("--start", default=None, help="with --end: every day of [start, end)")
    ap.add_argument("--end", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.start:
        days = be._days(args.start, args.end)
    else:
        days = sorted(dt.date.fromisoformat(d) for d in args.days)
    ctx = be.setup(be.ZONE, days, args.agents, args.seed)
    rows: list[dict[str, Any]] = []
    cache: dict[Any, Any] = {}
    for name, world, opt in variants(args.kappas):
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        for d in days:
            r = run_variant(ctx, d, name, world, opt, cache)
            rows.append(r)
            print(
                f"{r['variant']:32} {r['day']} eff {r['efficiency']:.4f}"
                f" base {r['baseline_eur']:8.1f}"
                f" mkt {r['market_eur']:8.1f} (mf {r['mean_field_eur']:8.1f}) plan"
                f" {r['planner_eur']:8.1f} expl {r['exploitability_eur']:.4f}"
                f" it {r['iterations']} {r['market_s']:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"agents": args.agents, "rows": rows}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
