"""Replay a week of the bundled Spanish data, then backtest it day by day, from Python.

Copy and edit: zone, dates, agents, seed and the store. Run with

    python examples/replay_week.py [--agents N] [--db URL] [--report FILE]

It prints one line per day and the period's efficiency, and writes an HTML report of the
backtest to ``--report`` (default ``backtest_report.html`` in the current directory).
Everything is stored in the results store (default: the SQLite
file under $BTUT_HOME, or $BTUT_DB_URL), so a second run reuses the stored days.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import btut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", default="ES")
    parser.add_argument("--start", default="2017-06-12")
    parser.add_argument("--end", default="2017-06-19", help="exclusive")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default=None, help="results store URL")
    parser.add_argument("--report", default="backtest_report.html")
    args = parser.parse_args()

    # one day, straight away: the result object has every figure and the series
    day = btut.replay(args.zone, args.start, agents=args.agents, seed=args.seed, db=args.db)
    print(f"{args.start}: efficiency {day.efficiency:.3f}, run {day.run_id}")
    print(day.to_frame()[["wholesale_eur_per_mwh", "local_price_eur_per_mwh"]].describe())

    # the whole period: one stored run per day, resumable
    bt = btut.backtest(
        args.zone, args.start, args.end, agents=args.agents, seed=args.seed, db=args.db
    )
    frame = bt.to_frame()
    columns = ["run_id", "efficiency", "exploitability_eur_per_agent_day", "market_cost_eur"]
    print(frame[columns].to_string())  # every column, also into a file (no terminal width)
    scores = bt.scores()
    print(
        f"backtest {bt.backtest_id}: {bt.days_run} day(s) replayed, {bt.days_reused} reused, "
        f"efficiency over the period {scores['efficiency']:.3f}"
    )

    # read it back later by id, e.g. in a notebook
    loaded = btut.load_backtest(bt.backtest_id, db=args.db)
    runs = loaded.runs(db=args.db)
    peak = max(run.to_frame()["import_market_kwh"].max() for run in runs)
    print(f"peak community import over the period: {peak:.1f} kWh per interval")

    from btut.report import render_backtest_report, write_report

    path = write_report(render_backtest_report(loaded, runs), Path(args.report))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
