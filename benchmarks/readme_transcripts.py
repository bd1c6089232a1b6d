"""Re-measure the README's shown outputs and timings, and record them.

Runs the ``btut`` commands whose output and timings README.md quotes (the bare replay, the
κ = 200 replay, the routed 2,000-agent replay, ``btut route``, the June 2017 backtests on
both executors and at κ = 200, the two reports, the 2·10^6-agent replays), each group in a
fresh temporary store (``BTUT_HOME``), on the installed ``btut`` of the current checkout, and
writes one JSON record: per command the argv, exit code, wall time and full stdout, plus the
figures the README derives from them (month peak imports from the stored days, report sizes,
day-by-day equality of the two executors). Nothing here is asserted: the record is what the
README's figures are read from.

    python benchmarks/readme_transcripts.py --json benchmarks/results/readme_transcripts.json
    python benchmarks/readme_transcripts.py --only replay route     # a subset (groups below)
    python benchmarks/readme_transcripts.py --only postgres --pg-url postgresql://...  # empty db

Groups: ``replay`` (bare replay, κ 200, report of the day), ``route``, ``replay_route``,
``backtest`` (June 2017, local, then rerun with ``--json`` and the report), ``backtest_k200``,
``backtest_dask`` (``--workers 2``), ``replay_2m`` (local and Dask), ``compare`` (June at
κ 400 and 200 in one store, then ``btut compare``); ``postgres`` (the README's
PostgreSQL session through ``BTUT_DB_URL``: ``db upgrade``, ``replay --agents 2000``, ``db
runs``) only with ``--pg-url`` (an empty database; its password is not recorded). About 12
minutes on 2 idle cores; run it on an idle machine, the timings are the point.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

JUNE = ["--zone", "ES", "--start", "2017-06-01", "--end", "2017-07-01"]
DASK = ("--executor", "dask", "--workers", "2")
BACKTEST_OPTIONS = {
    "backtest": (),
    "backtest_k200": ("--kappa", "200"),
    "backtest_dask": DASK,
}
GROUPS = (
    "replay",
    "route",
    "replay_route",
    "backtest",
    "backtest_k200",
    "backtest_dask",
    "replay_2m",
    "compare",
    "postgres",
)


def _run(argv: list[str], home: Path, workdir: Path, db_url: str | None = None) -> dict[str, Any]:
    """Run ``btut argv`` with the store in ``home`` (or ``BTUT_DB_URL=db_url``); argv, exit
    code, wall time, stdout."""
    env = dict(os.environ, BTUT_HOME=str(home), COLUMNS="200", CI="true")
    env.pop("BTUT_DB_URL", None)
    if db_url is not None:
        env["BTUT_DB_URL"] = db_url
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["btut", *argv],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    out = {
        "argv": ["btut", *argv],
        "exit_code": proc.returncode,
        "wall_clock_s": round(wall, 2),
        "stdout": proc.stdout,
    }
    if proc.returncode != 0:
        out["stderr"] = proc.stderr[-2000:]
    print(f"  {' '.join(out['argv'])}: exit {proc.returncode}, {wall:.1f} s", file=sys.stderr)
    return out


def _shown(argv: list[str]) -> list[str]:
    """The arguments with a database URL's password hidden."""
    from sqlalchemy.engine import make_url

    out = []
    for a in argv:
        flag, eq, value = a.rpartition("=") if a.startswith("--") and "=" in a else ("", "", a)
        if "://" in value:
            try:
                value = make_url(value).render_as_string(hide_password=True)
            except Exception:  # unparsable: hide everything after the scheme
                value = value.split("://", 1)[0] + "://***"
        out.append(f"{flag}{eq}{value}")
    return out


def _size_kb(path: Path) -> int | None:
    return round(path.stat().st_size / 1000) if path.exists() else None


def _json_out(step: dict[str, Any]) -> dict[str, Any]:
    return json.loads(step["stdout"]) if step["exit_code"] == 0 else {}


def _month_peaks(backtest: dict[str, Any], home: Path) -> dict[str, Any]:
    """Highest hourly community import over the backtest's days: market and baseline (kWh)."""
    from btut import load_run

    url = f"sqlite:///{home / 'btut.sqlite'}"
    market, baseline = [], []
    for day in backtest.get("days", []):
        summary = load_run(day["run_id"], db=url).days()[0]
        market.append(summary["peak_import_market_kwh"])
        baseline.append(summary["peak_import_baseline_kwh"])
    if not market:
        return {}
    m, b = max(market), max(baseline)
    return {
        "peak_import_market_kwh": m,
        "peak_import_baseline_kwh": b,
        "peak_import_reduction": 1.0 - m / b,
    }


def _days_equal(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    keys = ("day", "efficiency", "exploitability_eur_per_agent_day", "market_cost_eur")
    if not a.get("days") or not b.get("days"):
        return None
    strip = [[{k: d[k] for k in keys} for d in x["days"]] for x in (a, b)]
    return strip[0] == strip[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS[:-1]))
    parser.add_argument("--pg-url", help="empty PostgreSQL database for the postgres group")
    parser.add_argument("--json", type=Path, help="write the record to this file")
    args = parser.parse_args(argv)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    record: dict[str, Any] = {
        "command": "python benchmarks/readme_transcripts.py " + " ".join(_shown(sys.argv[1:])),
        "commit": commit,
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "env": {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")},
        "groups": {},
    }
    with tempfile.TemporaryDirectory(prefix="btut_readme_") as tmp:
        root = Path(tmp)
        for group in args.only:
            print(group, file=sys.stderr)
            home = root / group
            home.mkdir()
            steps: dict[str, Any] = {}

            def run(*argv: str, home: Path = home) -> dict[str, Any]:
                return _run(list(argv), home, root)

            if group == "replay":
                steps["replay"] = run("replay")
                steps["replay_kappa200"] = run("replay", "--kappa", "200")
                steps["report_day"] = run("report", "--run", "1", "--out", "day.html")
                steps["report_day"]["size_kb"] = _size_kb(root / "day.html")
            elif group == "route":
                steps["route"] = run("route", "--payments", "50", "--amount-sat", "10000")
            elif group == "replay_route":
                steps["replay_route"] = run("replay", "--agents", "2000", "--route")
            elif group in BACKTEST_OPTIONS:
                extra = BACKTEST_OPTIONS[group]
                steps["backtest"] = run("backtest", *JUNE, *extra)
                steps["rerun_json"] = run("backtest", *JUNE, *extra, "--json")
                result = _json_out(steps["rerun_json"])
                steps["rerun_json"]["result"] = result
                steps["month_peaks"] = _month_peaks(result, home)
                if group == "backtest":
                    bid = str(result.get("backtest_id", 0))
                    report = run("report", "--backtest", bid, "--out", "june.html")
                    steps["report_backtest"] = report
                    steps["report_backtest"]["size_kb"] = _size_kb(root / "june.html")
            elif group == "replay_2m":
                steps["local"] = run("replay", "--agents", "2000000", "--json")
                steps["dask"] = run("replay", "--agents", "2000000", "--json", *DASK)
                a, b = _json_out(steps["local"]), _json_out(steps["dask"])
                keys = ("efficiency", "market_cost_eur", "exploitability_eur_per_agent_day")
                steps["identical"] = bool(a) and all(a.get(k) == b.get(k) for k in keys)
            elif group == "compare":
                # one store: June at the default kappa (A) and at 200 (B), then the comparison
                steps["backtest_a"] = run("backtest", *JUNE, "--json")
                steps["backtest_b"] = run("backtest", *JUNE, "--kappa", "200", "--json")
                ids = [
                    str(_json_out(steps[k]).get("backtest_id", 0))
                    for k in ("backtest_a", "backtest_b")
                ]
                steps["compare"] = run("compare", *ids)
                steps["compare_json"] = run("compare", *ids, "--json")
                steps["compare_json"]["result"] = _json_out(steps["compare_json"])
            elif group == "postgres":
                if not args.pg_url:
                    parser.error("the postgres group needs --pg-url")
                for name, argv_ in (
                    ("upgrade", ["db", "upgrade"]),
                    ("replay", ["replay", "--agents", "2000"]),
                    ("runs", ["db", "runs"]),
                ):
                    steps[name] = _run(argv_, home, root, db_url=args.pg_url)
            record["groups"][group] = steps
    if "backtest" in record["groups"] and "backtest_dask" in record["groups"]:
        record["local_equals_dask_day_by_day"] = _days_equal(
            record["groups"]["backtest"]["rerun_json"]["result"],
            record["groups"]["backtest_dask"]["rerun_json"]["result"],
        )
    failed = [
        f"{g}.{s}"
        for g, steps in record["groups"].items()
        for s, v in steps.items()
        if isinstance(v, dict) and v.get("exit_code", 0) != 0
    ]
    record["failed"] = failed
    text = json.dumps(record, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    for group, steps in record["groups"].items():
        for name, step in steps.items():
            if isinstance(step, dict) and "wall_clock_s" in step:
                code, wall = step["exit_code"], step["wall_clock_s"]
                print(f"{group:14s} {name:16s} exit {code}  {wall:8.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
