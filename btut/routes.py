"""Settlement routing for replays and the ``btut route`` command (DESIGN.md section 7).

The payment-channel graph defaults to the bundled real Lightning snapshot of 2026-02-03
(``data/bundled/lightning``, provenance in its README); ``--graph PATH`` takes a snapshot
folder or channels file of either layout (e.g. ``../shared/data/lightning/snapshot-2021-04-16``).

A replay with ``route=True`` nets each agent's day into one payment (its settlement at the
local price plus the operator's redistribution, EUR; buyers pay the market operator, the
operator pays sellers: O(N) payments, :func:`routing.route_settlement`), with every agent a
leaf attached to a routing node, and reports per day and over the period: success rate (by
count and by value), fees as % of the settled value, p50/p95 latency, attempts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ROUTING_SAMPLE",
    "default_graph_path",
    "load_graph",
    "routing_metrics",
    "summarise_payments",
]

ROUTING_SAMPLE = 2_000
"""Per-payment rows kept with a stored run (a seeded sample when there are more), for the
report's histograms; the summary figures use every payment."""


def default_graph_path() -> Path:
    """The bundled Lightning snapshot (folder)."""
    from data.loader import bundled_path

    return bundled_path("lightning")


@lru_cache(maxsize=4)
def _load(path: str) -> Any:
    from routing import ChannelGraph

    return ChannelGraph.from_csv(path)


def load_graph(path: str | Path | None = None) -> Any:
    """The channel graph at ``path`` (default the bundled snapshot), cached per path; an
    empty path (``Path("")`` is the working directory) is an ``InvalidParameterError``."""
    from data.checks import check_path_given, path_mode
    from data.errors import DataUnavailableError

    check_path_given(
        path, "graph", "a Lightning snapshot folder or channels file, or None for the bundled one"
    )
    p = default_graph_path() if path is None else Path(path)
    # the snapshot is looked at before resolving: resolve() raises RuntimeError on a loop
    path_mode(p, "channel snapshot", DataUnavailableError)
    return _load(str(p.resolve()))


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if values.size else None


def summarise_payments(frames: Sequence[pd.DataFrame], *, value_eur: float | None = None) -> dict:
    """Summary of settlement payments (rows of :meth:`routing.SettlementRouting.to_frame`,
    one frame per day): counts, success rate by count and by value, fees (msat and % of the
    settled value), latency p50/p95 (s, settled payments), mean attempts."""
    pay = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    n = len(pay)
    if n == 0:
        return {"payments": 0, "success_rate": math.nan}
    ok = pay["success"].to_numpy(dtype=bool)
    amount = pay["amount_msat"].to_numpy(dtype=np.float64)
    fee = pay["fee_msat"].to_numpy(dtype=np.float64)
    settled = float(amount[ok].sum())
    lat = pay["latency_s"].to_numpy(dtype=np.float64)[ok]
    return {
        "payments": int(n),
        "successes": int(ok.sum()),
        "success_rate": float(ok.mean()),
        "value_success_rate": settled / float(amount.sum()) if amount.sum() > 0 else math.nan,
        "fee_msat": float(fee[ok].sum()),
        "fee_pct_of_value": 100.0 * float(fee[ok].sum()) / settled if settled > 0 else math.nan,
        "latency_p50_s": _quantile(lat, 0.5),
        "latency_p95_s": _quantile(lat, 0.95),
        "mean_attempts": float(pay["attempts"].mean()),
        "mean_hops": float(pay["hops"][ok].mean()) if ok.any() else math.nan,
        **({"value_eur": value_eur} if value_eur is not None else {}),
    }


def routing_metrics(summary: Mapping[str, Any], frames: Sequence[pd.DataFrame], seed: int) -> dict:
    """Store metrics of a routed run: ``routing_*`` numbers and ``routing_json`` (per payment
    ``success``, ``fee_msat``, ``attempts``, ``latency_s`` of at most :data:`ROUTING_SAMPLE`
    payments, seeded sample)."""
    out: dict[str, float | str] = {}
    for key, value in summary.items():
        out[f"routing_{key}"] = math.nan if value is None else float(value)
    pay = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(pay) > ROUTING_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(len(pay), ROUTING_SAMPLE, replace=False))
        pay = pay.iloc[rows]
    out["routing_json"] = json.dumps(
        {
            "sampled": len(pay) < int(summary.get("payments", 0)),
            "success": [bool(v) for v in pay.get("success", [])],
            "fee_msat": [float(v) for v in pay.get("fee_msat", [])],
            "attempts": [int(v) for v in pay.get("attempts", [])],
            "latency_s": [float(v) if math.isfinite(v) else None for v in pay.get("latency_s", [])],
        }
    )
    return out
