"""The README's Python examples run as written (each block alone, in a fresh interpreter with
its own store), and what they claim holds. The block that replays 10^4 agents and backtests
a month is left to ``examples/replay_week.py``'s test (the same calls, small N)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = "btut.backtest("


def _python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_its_python_examples() -> None:
    blocks = _python_blocks()
    assert len(blocks) >= 5
    assert sum(HEAVY in b for b in blocks) == 1  # the one left to the example script's test


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("needle", "check"),
    [
        ("ResultsStore()", "print(store.get_run(saved.run_id).intervals_frame().shape)"),
        ("validate_market_data", "print(len(frame), report.dst_days)"),
        ("StudentTForecaster", "print(fc.shape, scenarios.shape, fc.columns.tolist())"),
        ("beach_bar_game", "print(f'{sol.initial_exploitability:.2f}', end=' ')\n"
                           "print(f'{sol.final_exploitability:.2f}')"),
    ],
)  # fmt: skip
def test_readme_example_runs(needle: str, check: str, tmp_path: Path) -> None:
    (block,) = [b for b in _python_blocks() if needle in b]
    env = dict(  # this tree's packages, whatever the editable install points at
        os.environ,
        BTUT_HOME=str(tmp_path / "home"),
        OPENBLAS_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    out = subprocess.run(
        [sys.executable, "-c", block + "\n" + check],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    expected = {
        "ResultsStore()": "(2, 1)",
        "validate_market_data": "23 (",  # the spring DST day: 23 hourly rows
        "StudentTForecaster": "(24, 6) (1000, 24) ['mu', 'sigma', 'nu', 'q0.1', 'q0.5', 'q0.9']",
        "beach_bar_game": None,
    }[needle]
    if expected is None:  # the README's own claim, read from the block ("# 4.23 -> 0.18")
        expected = " ".join(re.search(r"# ([\d.]+) -> ([\d.]+)", block).groups())
    assert last.startswith(expected), last
