"""Fixtures for the data-layer tests: the real files in ../shared/data/entsoe."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def entsoe_dir() -> Path:
    """``shared/data/entsoe`` beside the repository (CI has it); ``BTUT_SHARED_DIR`` overrides."""
    base = Path(os.environ.get("BTUT_SHARED_DIR", REPO.parent / "shared"))
    path = base / "data" / "entsoe"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {path}")
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture
def spain_lines(entsoe_dir: Path) -> list[str]:
    """Lines (header first) of the real Spain file, to build edited copies from."""
    with gzip.open(entsoe_dir / "spain_energy_2015_2017.csv.gz", "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()
