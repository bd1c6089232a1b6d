"""Fixtures for the routing tests: the real Lightning snapshots in ../shared/data/lightning
(loaded once per session) and a builder for small hand-made graphs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from routing import ChannelGraph

REPO = Path(__file__).resolve().parents[2]


def node_id(i: int) -> str:
    """A valid-looking compressed pubkey for hand-made node ``i`` (ordered like ``i``)."""
    return "02" + f"{i:064x}"


@pytest.fixture(scope="session")
def lightning_dir() -> Path:
    """``shared/data/lightning`` beside the repository; ``BTUT_SHARED_DIR`` overrides."""
    base = Path(os.environ.get("BTUT_SHARED_DIR", REPO.parent / "shared"))
    path = base / "data" / "lightning"
    if not (path / "channels.csv.gz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"lightning data not found at {path}")
        pytest.skip(f"lightning data not found at {path}")
    return path


@pytest.fixture(scope="session")
def graph(lightning_dir: Path) -> ChannelGraph:
    """The 2026 snapshot (enabled directions), loaded once per session (its load time is
    measured by ``benchmarks/bench_routing.py``, not here)."""
    return ChannelGraph.from_csv(lightning_dir)


@pytest.fixture(scope="session")
def raw_channels(lightning_dir: Path) -> pd.DataFrame:
    """The 2026 channels file read independently with pandas (all rows)."""
    return pd.read_csv(lightning_dir / "channels.csv.gz", dtype={"channel_id": str})


@pytest.fixture
def make_graph() -> Callable[..., ChannelGraph]:
    """Build a graph from rows ``(channel, u, v, capacity_sat, base, ppm[, cltv, hmin,
    hmax, disabled])`` with nodes given as small ints (see :func:`node_id`)."""

    def build(rows: list[tuple], **kwargs: object) -> ChannelGraph:
        records = []
        for row in rows:
            cid, u, v, cap, base, ppm, *rest = row
            cltv, hmin, hmax, disabled = (list(rest) + [40, 0, None, 0][len(rest) :])[:4]
            records.append(
                {
                    "channel_id": str(cid),
                    "source": node_id(u),
                    "target": node_id(v),
                    "capacity_sat": cap,
                    "base_fee_msat": base,
                    "fee_rate_ppm": ppm,
                    "cltv_delta": cltv,
                    "htlc_min_msat": hmin,
                    "htlc_max_msat": cap * 1000 if hmax is None else hmax,
                    "disabled": disabled,
                }
            )
        return ChannelGraph.from_frame(pd.DataFrame(records), **kwargs)  # type: ignore[arg-type]

    return build
