"""The scripts in examples/ run as an analyst would run them (small N, temporary store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_replay_week_example_runs_and_reuses_stored_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    report = tmp_path / "week.html"
    cmd = [
        sys.executable,
        str(REPO_ROOT / "examples" / "replay_week.py"),
        "--start", "2017-06-12",
        "--end", "2017-06-14",
        "--agents", "100",
        "--db", url,
        "--report", str(report),
    ]  # fmt: skip
    env = dict(  # this tree's packages, whatever the editable install points at
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    run = dict(capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    first = subprocess.run(cmd, **run)
    assert first.returncode == 0, first.stderr
    assert "2017-06-12: efficiency" in first.stdout
    # the single-day replay of the first day is reused by the backtest
    assert "1 day(s) replayed, 1 reused" in first.stdout
    # the per-day table keeps its columns with stdout into a pipe (pandas cut it to 80
    # characters and hid efficiency and exploitability behind "...")
    header = next(ln for ln in first.stdout.splitlines() if "run_id" in ln)
    assert header.split() == [
        "run_id", "efficiency", "exploitability_eur_per_agent_day", "market_cost_eur"
    ]  # fmt: skip
    assert report.exists() and report.stat().st_size > 50_000
    assert 'id="plot-days"' in report.read_text()

    second = subprocess.run(cmd, **run)
    assert second.returncode == 0, second.stderr
    assert "0 day(s) replayed, 2 reused" in second.stdout
