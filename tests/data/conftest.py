"""Fixtures for the data-layer tests: the real files in ../shared/data/entsoe, and an empty
results-store URL on SQLite and on the test PostgreSQL server."""

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: a SQLite file (not created yet), or a fresh database on the
    test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'btut.sqlite'}"
    return str(request.getfixturevalue("fresh_postgres_url"))
