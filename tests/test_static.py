"""Static checks of the source: ruff's lint rules and mypy (configured in pyproject.toml).

Each runs as a subprocess on the repository's packages; it is skipped where the tool is not
installed (``pip install -e '.[dev]'`` installs both) and fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data", "forecasting", "risk", "agents", "routing", "market", "btut")


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed (pip install -e '.[dev]')")
        pytest.skip(f"{module} is not installed")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing() -> None:
    _need("ruff")
    done = _run(["ruff", "check", "--no-cache", *PACKAGES, "tests", "benchmarks", "examples"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing(tmp_path: Path) -> None:
    _need("mypy")
    done = _run(["mypy", "--cache-dir", str(tmp_path / "mypy_cache"), "--no-error-summary"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "", done.stdout


def test_property_tests_are_seeded() -> None:
    """tests/conftest.py loads the derandomized ``btut`` hypothesis profile (unless
    ``HYPOTHESIS_PROFILE`` names another): the same examples on every run and machine."""
    from hypothesis import settings

    if "HYPOTHESIS_PROFILE" in os.environ:
        pytest.skip("another hypothesis profile was asked for")
    assert settings.default.derandomize is True
