"""`btut.report`: HTML reports of real stored replays (bundled ES data, 300 agents, temp SQLite
store), checked for structure, numbers, self-containment, and rendered in headless Chromium."""

from __future__ import annotations

import dataclasses
import errno
import html as htmllib
import inspect
import io
import json
import math
import os
import re
import shutil
import stat
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import btut
import btut.report as report_module
from btut.backtesting import LoadedBacktest
from btut.cli import main
from btut.comparing import BacktestComparison
from btut.replaying import LoadedRun
from btut.report import (
    BACKTEST_PLOT_IDS,
    RUN_PLOT_IDS,
    SOLVER_TOL_EUR,
    forecast_quantiles,
    pit_values,
    render_backtest_report,
    render_comparison_report,
    render_run_report,
    write_report,
)
from data.errors import InvalidParameterError, StorageError

N = 300
SEED = 5
PLOT_RE = re.compile(r'<figure class="plot" id="([^"]+)">')
CELL_RE = re.compile(r'<td class="num" data-metric="([^"]+)" data-value="([^"]+)">([^<]*)</td>')


# --------------------------------------------------------------------------------------------
# fixtures: two real stored replays (one day; two days) in one temp store
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('report') / 'r.sqlite'}"


@pytest.fixture(scope="module")
def run_one(db: str) -> LoadedRun:
    """2017-06-14, the bare-replay day."""
    result = btut.replay(zone="ES", day="2017-06-14", agents=N, seed=SEED, db=db)
    return btut.load_run(result.run_id, db=db)


@pytest.fixture(scope="module")
def run_two(db: str) -> LoadedRun:
    """2017-06-15 and 2017-06-16 in one run."""
    result = btut.replay(
        zone="ES", start="2017-06-15", end="2017-06-17", agents=N, seed=SEED, db=db
    )
    return btut.load_run(result.run_id, db=db)


@pytest.fixture(scope="module")
def html_one(run_one: LoadedRun) -> str:
    return render_run_report(run_one)


@dataclasses.dataclass(frozen=True)
class _Backtest:
    """A backtest over stored replay runs (the attributes the report needs)."""

    backtest_id: int
    zone: str
    config: Mapping[str, Any]
    runs: tuple[LoadedRun, ...]

    def days_frame(self) -> pd.DataFrame:
        frames = []
        for run in self.runs:
            f = run.days_frame().copy()
            f["run_id"] = run.run_id
            frames.append(f)
        return pd.concat(frames)


@pytest.fixture(scope="module")
def backtest(run_one: LoadedRun, run_two: LoadedRun) -> _Backtest:
    config = {"zone": "ES", "start": "2017-06-14", "end": "2017-06-17", "agents": N, "seed": SEED}
    return _Backtest(41, "ES", config, (run_one, run_two))


@pytest.fixture(scope="module")
def html_backtest(backtest: _Backtest) -> str:
    return render_backtest_report(backtest, backtest.runs)


def _with_routing(run: LoadedRun, **metrics: float | str) -> LoadedRun:
    return dataclasses.replace(run, metrics={**run.metrics, **metrics})


ROUTING_FULL: dict[str, float | str] = {
    "routing_success_rate": 0.9,
    "routing_fee_pct_of_value": 0.12,
    "routing_latency_p50_s": 0.8,
    "routing_latency_p95_s": 2.5,
    "routing_mean_attempts": 1.4,
    "routing_payments": 40.0,
    "routing_json": json.dumps(
        {
            "latency_s": [0.4, 0.6, 0.8, 0.9, 1.1, 2.5, 3.0, 0.7] * 5,
            "fee_msat": [1000, 1200, 900, 3000, 1500] * 8,
            "attempts": [1, 1, 2, 1, 3] * 8,
            "success": [True, True, True, False, True, True, True, True, True, True] * 4,
        }
    ),
}


# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------


def test_run_report_has_every_plot_in_order_with_captions(html_one: str) -> None:
    assert html_one.startswith("<!DOCTYPE html>")
    assert PLOT_RE.findall(html_one) == list(RUN_PLOT_IDS)
    figures = re.findall(r'<figure class="plot".*?</figure>', html_one, flags=re.S)
    assert len(figures) == len(RUN_PLOT_IDS)
    for fig in figures:
        assert fig.count("<svg ") == 1 and fig.count("</svg>") == 1
        assert re.search(r"<figcaption>[^<]{40,}</figcaption></figure>$", fig)
    for section in (
        "summary",
        "prices",
        "net-load",
        "cost-by-type",
        "days",
        "convergence",
        "forecast",
        "configuration",
    ):
        assert f'<section id="{section}">' in html_one
    assert 'id="routing"' not in html_one and "plot-routing" not in html_one
    # units in the axis labels (text as glyph paths, so look at the captions)
    assert "EUR/MWh" in html_one and "kWh" in html_one and "(MW)" in html_one


def test_headline_table_holds_the_run_metrics_exactly(run_one: LoadedRun, html_one: str) -> None:
    table = re.search(r'<table id="metrics-table">.*?</table>', html_one, flags=re.S)
    assert table is not None
    cells = {m: (float(v), text) for m, v, text in CELL_RE.findall(table.group(0))}
    numeric = {k: v for k, v in run_one.metrics.items() if isinstance(v, float)}
    assert set(numeric) <= set(cells)
    assert {"efficiency", "exploitability_eur_per_agent_day", "market_cost_eur"} <= set(numeric)
    for key, value in numeric.items():
        shown = cells[key][0]
        assert shown == value or (math.isnan(shown) and math.isnan(value)), key
    assert cells["efficiency"][1] == f"{run_one.metrics['efficiency']:.1%}"
    assert cells["market_cost_eur"][1] == f"{run_one.metrics['market_cost_eur']:,.2f}"
    assert "days_json" not in html_one  # the text metric is not dumped


@pytest.fixture(scope="module")
def run_sampled(db: str) -> LoadedRun:
    """2017-06-14 with the planner on a stratified sample of 60 of the 300 agents."""
    result = btut.replay(
        zone="ES", day="2017-06-14", agents=N, seed=SEED, db=db, max_exact_agents=60
    )
    return btut.load_run(result.run_id, db=db)


def test_a_sampled_planner_shows_the_market_cost_its_scores_use(
    run_sampled: LoadedRun, run_one: LoadedRun, html_one: str
) -> None:
    """With a sampled planner the efficiency and price of anarchy pair the planner with the
    market's cost on the sampled agents; the headline showed only the whole market's cost,
    so "price of anarchy = market cost / planner cost" did not hold for the numbers shown
    (an audit: market 823.09, planner 828.17, price of anarchy 1.0146)."""
    (day,) = run_sampled.days()
    assert day["planner_sampled"] is True
    page = render_run_report(run_sampled)
    cells = {m: float(v) for m, v, _ in CELL_RE.findall(page)}
    used, planner = cells["market_cost_used_eur"], cells["planner_cost_eur"]
    baseline = cells["baseline_cost_eur"]
    assert used == day["market_cost_used_eur"] != cells["market_cost_eur"]
    assert cells["planner_error_bound_eur"] == day["planner_error_bound_eur"] > 0
    assert cells["price_of_anarchy"] == pytest.approx(used / planner, rel=1e-12)
    assert cells["efficiency"] == pytest.approx((baseline - used) / (baseline - planner), rel=1e-12)
    assert 'id="note-sampled"' in page and "sample of 60 agents on 1 of 1 day(s)" in page
    days_table = re.search(r'<table id="days-table">.*?</table>', page, flags=re.S)
    assert days_table is not None and "market on the planner&#x27;s sample" in days_table.group(0)
    # an exact planner: no extra rows, column or note
    assert "market_cost_used_eur" not in html_one and "note-sampled" not in html_one
    assert run_one.days()[0]["planner_sampled"] is False


def test_a_backtest_of_sampled_days_shows_the_paired_market_cost(
    run_sampled: LoadedRun,
) -> None:
    bt = _Backtest(42, "ES", {"zone": "ES"}, (run_sampled,))
    page = render_backtest_report(bt, bt.runs)
    cells = {m: float(v) for m, v, _ in CELL_RE.findall(page)}
    (day,) = run_sampled.days()
    assert cells["market_cost_used_eur"] == day["market_cost_used_eur"]
    assert cells["price_of_anarchy"] == pytest.approx(
        day["market_cost_used_eur"] / day["planner_cost_eur"], rel=1e-12
    )
    assert 'id="note-sampled"' in page


def test_a_run_with_nothing_to_trade_says_why_its_figures_are_blank(db: str) -> None:
    """One inflexible consumer: the solver takes no step, the efficiency is undefined and
    the peak is below 1 kWh. The report said "runs stored before per-day figures" of a new
    run, showed n/a without the engine's reason, and rounded the peak to "0 kWh"."""
    config = {"types": [{"kind": "consumer", "share": 1.0, "dr_max_fraction": 0.0}]}
    result = btut.replay("ES", "2017-06-14", agents=1, seed=SEED, db=db, config=config)
    run = btut.load_run(result.run_id, db=db)
    (day,) = run.days()
    assert day["equilibrium_exploitability_history_eur"] == [] and day["efficiency_note"]
    page = htmllib.unescape(render_run_report(run))
    assert "The solver took no step on 1 of 1 day(s)" in page
    assert "runs stored before per-day figures" not in page
    assert f"The efficiency is n/a on 1 of 1 day(s): {day['efficiency_note']}." in page
    peak = float(run.to_frame()["import_market_kwh"].max())
    assert 0 < peak < 100
    assert f"Peak import {peak:.4g} kWh with the market" in page


def test_kwh_figures_are_whole_from_100_kwh(run_one: LoadedRun) -> None:
    """A peak of 100 kWh or more is shown in whole kWh with thousands separators, a smaller
    one with 4 significant digits (by hand). Only the small side had a test: a threshold of
    1000 instead of 100 passed."""
    from btut.report import _fmt, _kwh_kind

    shown = {v: _fmt(v, _kwh_kind(v)) for v in (0.28, 99.54, 100.0, 123.456, 512.75, 12345.6)}
    assert shown == {
        0.28: "0.28",
        99.54: "99.54",
        100.0: "100",
        123.456: "123",
        512.75: "513",
        12345.6: "12,346",
    }
    page = htmllib.unescape(render_run_report(run_one))
    peak = float(run_one.to_frame()["import_market_kwh"].max())
    assert peak >= 100  # N agents import more than 100 kWh in their peak interval
    assert f"Peak import {peak:,.0f} kWh with the market" in page


def test_config_table_is_flat_and_escaped(run_one: LoadedRun) -> None:
    evil = dataclasses.replace(
        run_one, config={**run_one.config, "note": '<script>alert("x")</script> & co'}
    )
    page = render_run_report(evil, title="<b>title</b>")
    table = re.search(r'<table class="config" id="config-table">.*?</table>', page, flags=re.S)
    assert table is not None
    rows = dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", table.group(0)))
    assert rows["seed"] == str(SEED)
    assert rows["agents"] == str(N)
    assert rows["zone"] == "ES"
    assert rows["population.types[0].share"] == str(
        run_one.config["population"]["types"][0]["share"]
    )
    assert rows["note"] == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
    assert "<script" not in page and "<b>title</b>" not in page
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in page


def _external_refs(page: str) -> list[str]:
    attrs = re.findall(r'\b(?:src|href|xlink:href|action|poster)\s*=\s*"([^"]*)"', page, flags=re.I)
    css = re.findall(r"url\(\s*['\"]?([^)'\"]*)", page)
    return [r for r in attrs + css if not (r.startswith("#") or r.startswith("data:"))]


def test_report_is_self_contained_and_ids_are_unique(html_one: str, html_backtest: str) -> None:
    for page in (html_one, html_backtest):
        assert _external_refs(page) == []
        assert "http://" not in "".join(re.findall(r'(?:src|href)="[^"]*"', page))
        assert "<script" not in page.lower() and "@import" not in page
        assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata>" not in page
        assert "Content-Security-Policy" in page and "default-src 'none'" in page
        ids = re.findall(r'\bid="([^"]+)"', page)
        assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1][:5]
        # every internal reference points at an id of the page
        refs = re.findall(r'href="#([^"]+)"', page) + re.findall(r"url\(#([^)]+)\)", page)
        assert refs and set(refs) <= set(ids)
    assert len(html_one.encode()) < 1_000_000  # one day: a few hundred kB


def test_detector_catches_an_external_resource() -> None:
    assert _external_refs('<img src="https://example.org/x.png">') == ["https://example.org/x.png"]
    assert _external_refs("<style>a{background:url(http://x/y)}</style>") == ["http://x/y"]


def test_rendering_is_deterministic_and_ignores_the_callers_matplotlib_style(
    run_one: LoadedRun, html_one: str
) -> None:
    import matplotlib

    odd = {"axes.facecolor": "black", "lines.linewidth": 7.0, "font.size": 20.0}
    with matplotlib.rc_context(odd):
        again = render_run_report(run_one)
        assert matplotlib.rcParams["font.size"] == 20.0  # the caller's settings are restored
    assert again == html_one


def test_render_rejects_what_is_not_a_run() -> None:
    with pytest.raises(InvalidParameterError, match="stored run") as info:
        render_run_report("run 1")  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_solver_tolerance_line_matches_the_market_default() -> None:
    from market.energy import solve_energy_market

    default = inspect.signature(solve_energy_market).parameters["tol_eur"].default
    assert default == SOLVER_TOL_EUR


# --------------------------------------------------------------------------------------------
# forecast: quantiles, PIT, the no-forecast path
# --------------------------------------------------------------------------------------------


def test_pit_and_quantiles_agree_with_an_independent_computation(
    run_one: LoadedRun, html_one: str
) -> None:
    from forecasting.metrics import predictive_cdf, predictive_quantile

    frame = run_one.to_frame()
    assert frame["load_forecast_mu_mw"].notna().all() and frame["load_mw"].notna().all()
    pit = pit_values(frame)
    assert pit.index.equals(frame.index) and pit.between(0.0, 1.0).all()
    for hour in (0, 9, 17):
        row = frame.iloc[hour]
        mu, sigma, nu = (
            float(row[c])
            for c in ("load_forecast_mu_mw", "load_forecast_sigma_mw", "load_forecast_nu")
        )
        by_hand = stats.t.cdf((float(row["load_mw"]) - mu) / sigma, nu)
        assert pit.iloc[hour] == pytest.approx(by_hand, abs=1e-12)
        assert pit.iloc[hour] == pytest.approx(
            float(predictive_cdf(row["load_mw"], mu, sigma, nu)), abs=1e-10
        )
    probs = [0.025, 0.25, 0.5, 0.9]
    q = forecast_quantiles(frame, probs)
    ref = predictive_quantile(
        np.asarray(probs)[None, :],
        frame["load_forecast_mu_mw"].to_numpy()[:, None],
        frame["load_forecast_sigma_mw"].to_numpy()[:, None],
        frame["load_forecast_nu"].to_numpy()[:, None],
    )
    np.testing.assert_allclose(q.to_numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(q[0.5], frame["load_forecast_mu_mw"], rtol=1e-12)
    # the captions state the hours and the coverage, counted independently here
    n = len(frame)
    assert f"PIT histogram over {n} hours (5 bins)" in html_one  # a day: 5 bins

    def binomial_quantile(q: float, p: float) -> int:
        """Smallest k with P(K <= k) >= q, K ~ Binomial(n, p), by summing the terms."""
        total = 0.0
        for k in range(n + 1):
            total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
            if total >= q - 1e-12:
                return k
        return n

    band = f"({binomial_quantile(0.025, 0.2)} to {binomial_quantile(0.975, 0.2)})"
    assert f"count if calibrated (binomial, {band[1:]}" in html_one
    y = frame["load_mw"].to_numpy()
    lo, hi = forecast_quantiles(frame, [0.1, 0.9]).to_numpy().T
    inside = int(((y >= lo) & (y <= hi)).sum())
    assert f"80%: {inside} of {len(frame)}" in html_one


def test_quantiles_reject_bad_probabilities(run_one: LoadedRun) -> None:
    with pytest.raises(InvalidParameterError, match=r"\(0, 1\)"):
        forecast_quantiles(run_one.to_frame(), [0.5, 1.0])


def test_run_without_a_forecast_skips_fan_and_pit_with_a_note(run_one: LoadedRun) -> None:
    frame = run_one.to_frame().copy()
    frame[["load_forecast_mu_mw", "load_forecast_sigma_mw", "load_forecast_nu"]] = np.nan
    page = render_run_report(dataclasses.replace(run_one, intervals=frame))
    expected = [p for p in RUN_PLOT_IDS if not p.startswith("plot-forecast")]
    assert PLOT_RE.findall(page) == expected
    assert '<p class="note" id="note-forecast">No load forecast' in page
    assert pit_values(frame).isna().all()


def test_plan_plot_shows_what_agents_planned_on(run_one: LoadedRun, html_one: str) -> None:
    """The planned (cut-off) shapes against the realised ones, with the solar energy gap and
    the load shapes' distance computed here from the stored columns; a run stored before
    agents planned on forecasts gets a note instead."""
    frame = run_one.to_frame()
    gap = frame["solar_cf"].sum() / frame["solar_cf_plan"].sum() - 1.0
    side = "above" if gap > 0 else "below"
    apart = (frame["load_shape"] - frame["load_shape_plan"]).abs().sum() / 2
    caption = re.search(r'id="plot-plan">.*?<figcaption>(.*?)</figcaption>', html_one, re.S)
    assert caption is not None
    assert f"realised solar energy is {abs(gap):.1%} {side} the plan&#x27;s" in caption.group(1)
    assert f"the load shapes differ by {apart:.1%} of a day&#x27;s load" in caption.group(1)
    # the spread the agents weighed: realised solar outside the plan +- 2 RMS errors
    sd, cf, plan = frame["solar_cf_error_sd_plan"], frame["solar_cf"], frame["solar_cf_plan"]
    sunny = plan > 0.05
    outside = int(((cf - plan).abs() > 2 * sd)[sunny].sum())
    assert sunny.sum() >= 10 and (sd[sunny] > 0).all()
    assert f"outside it in {outside} of {int(sunny.sum())} intervals" in caption.group(1)
    without = render_run_report(
        dataclasses.replace(run_one, intervals=frame.drop(columns="solar_cf_error_sd_plan"))
    )
    assert "plot-plan" in PLOT_RE.findall(without) and "shaded band" not in without
    old = frame.drop(columns=["load_shape_plan", "solar_cf_plan"])
    page = render_run_report(dataclasses.replace(run_one, intervals=old))
    assert "plot-plan" not in PLOT_RE.findall(page)
    assert '<p class="note" id="note-plan">This run was stored before agents planned' in page


def test_old_run_without_realised_load_or_day_figures(run_one: LoadedRun) -> None:
    """Runs stored before the realised load and the per-day figures (days_json) were."""
    frame = run_one.to_frame().drop(columns="load_mw")
    metrics = {k: v for k, v in run_one.metrics.items() if k != "days_json"}
    page = render_run_report(dataclasses.replace(run_one, intervals=frame, metrics=metrics))
    plots = PLOT_RE.findall(page)
    assert "plot-forecast-fan" in plots and "plot-forecast-pit" not in plots
    assert 'id="note-pit"' in page
    # one-day run: the per-day plot falls back to the run's metrics; no solver history
    assert "plot-days" in plots and "plot-convergence" not in plots
    assert 'id="note-convergence"' in page
    eff = f"{run_one.metrics['efficiency']:.1%}"
    assert f"mean efficiency {eff}" in page


# --------------------------------------------------------------------------------------------
# routing
# --------------------------------------------------------------------------------------------


def test_routing_section_with_per_payment_lists(run_one: LoadedRun) -> None:
    page = render_run_report(_with_routing(run_one, **ROUTING_FULL))
    assert PLOT_RE.findall(page) == [*RUN_PLOT_IDS, "plot-routing"]
    table = re.search(r'<table id="routing-table">.*?</table>', page, flags=re.S)
    assert table is not None
    cells = {m: float(v) for m, v, _ in CELL_RE.findall(table.group(0))}
    expected = {k: v for k, v in ROUTING_FULL.items() if k != "routing_json"}
    assert cells == expected
    # routing metrics are not repeated in the headline table
    headline = re.search(r'<table id="metrics-table">.*?</table>', page, flags=re.S)
    assert headline is not None and "routing_" not in headline.group(0)


def test_routing_fee_and_latency_plots_count_settled_payments_only(run_one: LoadedRun) -> None:
    """The histograms and their p50/p95 lines included the failed payments (fee 0, latency
    0) while the table's figures count settled ones: median fee 434 msat in the plot, 436.5
    in the table (an audit)."""
    lists = {  # as stored: a failed payment has fee 0 and latency 0
        "success": [True, True, False, True, False],
        "fee_msat": [500, 700, 0, 900, 0],
        "latency_s": [1.0, 2.0, 0.0, 1.5, 0.0],
        "attempts": [1, 1, 3, 2, 3],
    }
    routed = _with_routing(run_one, **{**ROUTING_FULL, "routing_json": json.dumps(lists)})
    page = htmllib.unescape(render_run_report(routed))
    assert "median fee 700 msat over 3 settled payment(s); latency p50 1.50 s, p95 1.95 s." in page
    assert "median fee 500 msat" not in page  # the median over all five payments


def test_routing_section_is_robust_to_partial_keys(run_one: LoadedRun) -> None:
    only_count = render_run_report(_with_routing(run_one, routing_payments=12.0))
    assert '<section id="routing">' in only_count
    assert "plot-routing" not in PLOT_RE.findall(only_count)
    assert 'id="note-routing"' in only_count

    broken = render_run_report(
        _with_routing(run_one, routing_success_rate=0.5, routing_json="{not json")
    )
    assert "plot-routing" in PLOT_RE.findall(broken)
    assert 'id="note-routing-json"' in broken


# --------------------------------------------------------------------------------------------
# backtest
# --------------------------------------------------------------------------------------------


def test_backtest_report_plots_and_aggregates(
    backtest: _Backtest, html_backtest: str, run_one: LoadedRun, run_two: LoadedRun
) -> None:
    assert PLOT_RE.findall(html_backtest) == list(BACKTEST_PLOT_IDS)
    table = re.search(r'<table id="metrics-table">.*?</table>', html_backtest, flags=re.S)
    assert table is not None
    cells = {m: float(v) for m, v, _ in CELL_RE.findall(table.group(0))}
    runs = (run_one, run_two)
    b, m, p = (
        math.fsum(float(r.metrics[k]) for r in runs)
        for k in ("baseline_cost_eur", "market_cost_eur", "planner_cost_eur")
    )
    assert cells["baseline_cost_eur"] == pytest.approx(b, rel=1e-12)
    assert cells["market_cost_eur"] == pytest.approx(m, rel=1e-12)
    assert cells["planner_cost_eur"] == pytest.approx(p, rel=1e-12)
    assert cells["efficiency"] == pytest.approx((b - m) / (b - p), rel=1e-9)  # exact planner
    days = backtest.days_frame()
    assert len(days) == 3
    assert cells["exploitability_eur_per_agent_day"] == pytest.approx(
        days["exploitability_eur_per_agent_day"].mean(), rel=1e-12
    )
    day_rows = re.search(r'<table id="days-table">.*?</table>', html_backtest, flags=re.S)
    assert day_rows is not None
    assert re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", day_rows.group(0)) == [
        "2017-06-14",
        "2017-06-15",
        "2017-06-16",
    ]
    assert "Backtest 41, zone ES, 3 day(s)" in html_backtest
    assert "<td>start</td><td>2017-06-14</td>" in html_backtest


def test_an_incomplete_backtest_says_so(backtest: _Backtest, html_backtest: str) -> None:
    """A backtest stopped before some days: the report names them (found by a CLI audit:
    the page read as complete)."""
    assert "Incomplete" not in html_backtest
    stopped = _Stopped(**dataclasses.asdict(backtest) | {"runs": backtest.runs})
    html = htmllib.unescape(render_backtest_report(stopped, stopped.runs))
    assert (
        "Incomplete: 2 day(s) of the backtest's period 2017-06-14 to 2017-06-17 (end "
        "exclusive) are not stored (2017-06-17, 2017-06-18)"
    ) in html


@dataclasses.dataclass(frozen=True)
class _Stopped(_Backtest):
    missing_days: tuple[str, ...] = ("2017-06-17", "2017-06-18")


def test_backtest_report_rejects_bad_input(backtest: _Backtest) -> None:
    with pytest.raises(InvalidParameterError, match="no stored runs"):
        render_backtest_report(backtest, [])

    @dataclasses.dataclass(frozen=True)
    class NoCosts(_Backtest):
        def days_frame(self) -> pd.DataFrame:
            return super().days_frame().drop(columns="market_cost_eur")

    bad = NoCosts(1, "ES", {}, backtest.runs)
    with pytest.raises(InvalidParameterError, match="market_cost_eur"):
        render_backtest_report(bad, bad.runs)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def test_write_report_is_atomic_and_creates_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "report.html"
    path = write_report("<!DOCTYPE html><p>one</p>", target)
    assert path == target.resolve() and target.read_text(encoding="utf-8").endswith("one</p>")
    write_report("<!DOCTYPE html><p>two</p>", str(target))  # replaces
    assert target.read_text(encoding="utf-8").endswith("two</p>")
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temp left
    umask = os.umask(0o022)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask  # as open() makes a new file


def test_write_report_keeps_an_existing_report_s_permissions(tmp_path: Path) -> None:
    """A private (0600) report became 0644, readable by everyone, when written again."""
    target = tmp_path / "private.html"
    target.write_text("old")
    target.chmod(0o600)
    write_report("<!DOCTYPE html><p>new</p>", target)
    assert (target.stat().st_mode & 0o777) == 0o600
    assert target.read_text(encoding="utf-8").endswith("new</p>")
    umask_before = os.umask(0o077)  # a new report follows the umask
    try:
        write_report("<!DOCTYPE html><p>x</p>", tmp_path / "fresh.html")
    finally:
        os.umask(umask_before)
    assert ((tmp_path / "fresh.html").stat().st_mode & 0o777) == 0o600


def test_write_report_never_sets_the_umask_nor_shows_a_private_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode of a new report was found by setting the process umask to 0 for a moment (a
    race: another thread's file created then got mode 0666); and a private report's new text
    is never readable by others, not even in its temporary file."""
    import btut.report as report_module

    def no_umask(mask: int) -> int:
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", no_umask)
    modes: list[int] = []
    real_fdopen = os.fdopen

    def watching_fdopen(fd: int, *args: Any, **kw: Any) -> Any:
        fh = real_fdopen(fd, *args, **kw)
        real_write = fh.write

        def write(text: str) -> int:
            modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
            return real_write(text)

        fh.write = write
        return fh

    monkeypatch.setattr(report_module.os, "fdopen", watching_fdopen)
    private = tmp_path / "private.html"
    private.write_text("old")
    private.chmod(0o600)
    write_report("<!DOCTYPE html><p>new</p>", private)
    assert modes == [0o600] and stat.S_IMODE(private.stat().st_mode) == 0o600
    shared = tmp_path / "shared.html"
    shared.write_text("old")
    shared.chmod(0o664)
    write_report("<!DOCTYPE html><p>new</p>", shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664
    write_report("<!DOCTYPE html><p>x</p>", tmp_path / "fresh.html")  # mode checked above
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fresh.html",
        "private.html",
        "shared.html",
    ]


def test_write_report_errors_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # a path that cannot be written is a storage/output error (exit 5, as the README says);
    # a path naming what is not a file is a bad parameter (exit 2)
    for bad, error in ((blocker / "report.html", StorageError), (tmp_path, InvalidParameterError)):
        with pytest.raises(error, match="report") as info:
            write_report("<p>x</p>", bad)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidParameterError):
        write_report(b"<p>x</p>", tmp_path / "r.html")  # type: ignore[arg-type]
    assert blocker.read_text() == "x" and not (tmp_path / "r.html").exists()


def test_write_report_failure_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageError, match="No space left on device") as info:
        write_report("<p>new</p>", target)
    assert "\n" not in str(info.value)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def _cli_report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["report", *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _one_line_error(rc: int, out: str, err: str, code: int) -> str:
    assert rc == code, err
    assert out == "" and err.startswith("btut: error:") and err.count("\n") == 1
    return err


def test_cli_report_dash_writes_the_html_to_stdout(
    run_one: LoadedRun,
    db: str,
    html_one: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    rc, out, err = _cli_report(capsys, "--run", str(run_one.run_id), "--db", db, "-o", "-")
    assert rc == 0, err
    assert out == html_one and err == ""
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    rc, out, err = _cli_report(
        capsys, "--run", str(run_one.run_id), "--db", db, "-o", "-", "--json"
    )
    assert "stdout" in _one_line_error(rc, out, err, 2)
    assert list(tmp_path.iterdir()) == []


def test_cli_report_to_stdout_that_fails_is_one_line(
    run_one: LoadedRun,
    db: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FullStdout(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sys, "stdout", FullStdout())
    rc, _, err = _cli_report(capsys, "--run", str(run_one.run_id), "--db", db, "-o", "-")
    assert "cannot write the output: No space left" in _one_line_error(rc, "", err, 5)

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    monkeypatch.setattr(sys, "stdout", ClosedPipe())  # e.g. `btut report -o - | head`
    rc, _, err = _cli_report(capsys, "--run", str(run_one.run_id), "--db", db, "-o", "-")
    assert rc == 1 and err == ""


def test_cli_report_refuses_what_is_not_a_regular_file_before_any_work(
    run_one: LoadedRun,
    db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_now(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("the report was rendered before its path was checked")

    monkeypatch.setattr(report_module, "render_run_report", not_now)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "link-to-fifo"
    link.symlink_to(fifo)
    for bad, what in ((fifo, "is a FIFO"), (folder, "is a directory"), (link, "is a FIFO")):
        rc, out, err = _cli_report(capsys, "--run", str(run_one.run_id), "--db", db, "-o", str(bad))
        assert what in _one_line_error(rc, out, err, 2)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and folder.is_dir()
    afile = tmp_path / "afile"
    afile.write_text("")
    rc, out, err = _cli_report(capsys, "--run", str(run_one.run_id), "--db", db, "-o", f"{afile}/x")
    assert "Not a directory" in _one_line_error(rc, out, err, 5)  # was 2
    afile.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder", "link-to-fifo"]
    assert list(folder.iterdir()) == []


def test_cli_report_writes_through_a_symlink(
    run_one: LoadedRun,
    db: str,
    html_one: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    real = reports / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(Path("reports") / "real.html")  # relative, as ln -s makes them
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(reports / "new.html")
    for target, written in ((link, real), (dangling, reports / "new.html")):
        rc, out, err = _cli_report(
            capsys, "--run", str(run_one.run_id), "--db", db, "-o", str(target), "--json"
        )
        assert rc == 0, err
        assert json.loads(out)["path"] == str(written)
        assert target.is_symlink() and written.read_text(encoding="utf-8") == html_one
    assert sorted(p.name for p in reports.iterdir()) == ["new.html", "real.html"]


# --------------------------------------------------------------------------------------------
# headless Chromium
# --------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,1000",
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    missing = [p for p in (chromium, driver) if not os.access(p, os.X_OK)]
    reason = None
    if missing:
        reason = f"headless-Chromium test needs Debian chromium + chromium-driver: {missing}"
    else:
        try:
            import selenium  # noqa: F401
        except ImportError:
            reason = "headless-Chromium test needs selenium (pip install -e '.[dev]')"
    if reason:
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return chromium, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingOptions", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


_BOXES_JS = """
return Array.from(document.querySelectorAll('figure.plot')).map(f => {
  const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : null;
  return [f.id, r ? r.width : 0, r ? r.height : 0, s ? s.querySelectorAll('path').length : 0];
});
"""


def _check_page(driver: Any, path: Path, expected: list[str]) -> list[dict[str, Any]]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    # chromedriver may return from get() on a file:// URL before the load event: wait for it
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    boxes = driver.execute_script(_BOXES_JS)
    assert [b[0] for b in boxes] == expected
    for plot_id, width, height, paths in boxes:
        assert width > 50 and height > 50, (plot_id, width, height)
        assert paths > 10, (plot_id, paths)  # axes, lines, glyphs drawn
    # nothing fetched: no resource timing entries on a self-contained page
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    return list(driver.get_log("browser"))


@pytest.mark.timeout(120)
def test_report_renders_in_headless_chromium(
    browser: Any, run_one: LoadedRun, html_backtest: str, tmp_path: Path
) -> None:
    run_page = write_report(
        render_run_report(_with_routing(run_one, **ROUTING_FULL)), tmp_path / "run.html"
    )
    log = _check_page(browser, run_page, [*RUN_PLOT_IDS, "plot-routing"])
    assert [e for e in log if e.get("level") == "SEVERE"] == []

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL ships with matplotlib
        pass
    else:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        assert image.size[0] >= 1000 and image.size[1] >= 600
        colours = image.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text and plots, not one colour

    bt_page = write_report(html_backtest, tmp_path / "backtest.html")
    log = _check_page(browser, bt_page, list(BACKTEST_PLOT_IDS))
    assert [e for e in log if e.get("level") == "SEVERE"] == []

    # the console check is live: an error on the page is seen
    browser.execute_script("console.error('report-test-probe')")
    probe = browser.get_log("browser")
    assert any(
        "report-test-probe" in e.get("message", "") and e.get("level") == "SEVERE" for e in probe
    )


# --------------------------------------------------------------------------------------------
# aggregates and day-table cells by hand (mutation round 3; synthetic inputs, no replay)
# --------------------------------------------------------------------------------------------


def test_backtest_aggregates_by_hand() -> None:
    # day 1 sampled planner (the paired market estimate 82 is used), day 2 exact:
    # b = 200, m = 170, m_used = 82 + 90 = 172, p = 130
    costs = pd.DataFrame(
        {
            "baseline_cost_eur": [100.0, 100.0],
            "market_cost_eur": [80.0, 90.0],
            "market_cost_used_eur": [82.0, np.nan],
            "planner_cost_eur": [60.0, 70.0],
        },
        index=pd.Index(["2017-06-14", "2017-06-15"], name="day"),
    )
    daily = pd.DataFrame({"exploitability_eur_per_agent_day": [0.002, 0.004]})
    # interval imports: baseline peak 10 kWh, market peak 7.5 kWh (not the mean 5)
    frame = pd.DataFrame(
        {"import_baseline_kwh": [4.0, 10.0, 6.0, 8.0], "import_market_kwh": [2.5, 7.5, 5.0, 5.0]}
    )
    runs = [
        dataclasses.make_dataclass("R", ["metrics"])({"planner_mip_gap": 0.01}),
        dataclasses.make_dataclass("R", ["metrics"])({"planner_mip_gap": 0.03}),
    ]
    out = report_module._backtest_metrics(runs, daily, costs, frame)
    assert out["baseline_cost_eur"] == 200.0
    assert out["market_cost_eur"] == 170.0
    assert out["planner_cost_eur"] == 130.0
    assert out["efficiency"] == pytest.approx(28.0 / 70.0, rel=1e-15)
    assert out["price_of_anarchy"] == pytest.approx(172.0 / 130.0, rel=1e-15)
    assert out["exploitability_eur_per_agent_day"] == pytest.approx(0.003, rel=1e-15)
    assert out["planner_mip_gap"] == 0.03
    assert out["peak_import_reduction"] == pytest.approx(0.25, rel=1e-15)


def test_per_type_costs_are_summed_and_counts_averaged_over_runs() -> None:
    def run(cost: float, count: float) -> Any:
        per_type = pd.DataFrame(
            {"market_cost_eur_per_agent": [cost, 2 * cost], "count": [count, 300 - count]},
            index=pd.Index(["pv", "ev"], name="agent_type"),
        )
        return dataclasses.make_dataclass("R", ["per_type"])(per_type)

    out = report_module._sum_per_type([run(1.0, 100.0), run(3.0, 140.0)])
    assert out is not None
    assert out.loc["pv", "market_cost_eur_per_agent"] == 4.0
    assert out.loc["ev", "market_cost_eur_per_agent"] == 8.0
    assert out.loc["pv", "count"] == 120.0
    assert out.loc["ev", "count"] == 180.0


def test_day_table_cells_by_hand() -> None:
    daily = pd.DataFrame(
        {
            "efficiency": [0.81234],
            "equilibrium_iterations": [1234],
            "market_cost_eur": [1234.5],
            "market_cost_used_eur": [999.0],
            "equilibrium_converged": [True],
        },
        index=pd.Index(["2017-06-14"], name="day"),
    )
    # the scores' market cost differs from the market's: a sampled planner, shown beside it
    html = htmllib.unescape(report_module._days_table(daily))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["2017-06-14", "81.2%", "1,234", "yes", "1,234.50", "999.00"]
    header = re.findall(r"<th>([^<]*)</th>", html)
    assert header == ["day", "efficiency", "solver iterations", "converged", "market (EUR)",
                      "market on the planner's sample (EUR)"]  # fmt: skip
    # the same cost (an exact planner): not shown twice
    html = report_module._days_table(daily.assign(market_cost_used_eur=1234.5))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["2017-06-14", "81.2%", "1,234", "yes", "1,234.50"]
    header = re.findall(r"<th>([^<]*)</th>", html)
    assert header == ["day", "efficiency", "solver iterations", "converged", "market (EUR)"]


def test_days_with_undefined_efficiency_give_n_a_without_a_numpy_warning() -> None:
    """A population of one type (consumers only) has no efficiency on any day: the caption
    took numpy's mean of an empty slice ("btut: warning: Mean of empty slice")."""
    daily = pd.DataFrame(
        {"efficiency": [math.nan, math.nan], "exploitability_eur_per_agent_day": [0.0, 0.002]},
        index=pd.Index(["2017-06-14", "2017-06-15"], name="day"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = report_module._days_section(daily)
    assert "2 day(s); mean efficiency n/a, mean exploitability 0.001 EUR" in html
    no_values = daily.assign(exploitability_eur_per_agent_day=math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = report_module._days_section(no_values)
    assert "mean efficiency n/a, mean exploitability n/a EUR" in html


def test_an_empty_report_path_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    """``--out ""`` said "report path . is a directory"."""
    monkeypatch.chdir(tmp_path)
    for empty in ("", " "):
        with pytest.raises(InvalidParameterError, match="report path is an empty path"):
            write_report("<p>x</p>", empty)
        rc, out, err = _cli_report(capsys, "--run", "1", "-o", empty)
        assert "--out is an empty path" in _one_line_error(rc, out, err, 2)
    assert list(tmp_path.iterdir()) == []


def test_period_line_ends_at_the_end_of_the_last_interval() -> None:
    frame = pd.DataFrame(
        {"x": np.arange(24.0)},
        index=pd.date_range("2017-06-14", periods=24, freq="h", tz="UTC", name="time_utc"),
    )
    utc = "2017-06-14 00:00 to 2017-06-15 00:00 UTC"
    assert report_module._period_line(frame, None) == f"Period: {utc}."
    # Madrid is UTC+2 in June
    assert report_module._period_line(frame, "ES") == (
        f"Period: 2017-06-14 02:00 to 2017-06-15 02:00 Europe/Madrid ({utc})."
    )


# --------------------------------------------------------------------------------------------
# two backtests compared (no store needed: the comparison of two loaded backtests)
# --------------------------------------------------------------------------------------------


KAPPA_400 = {"kappa": 400.0, "agents": 100}
KAPPA_200 = {"kappa": 200.0, "agents": 100}


def _comparison(make_backtest: Callable[..., LoadedBacktest]) -> BacktestComparison:
    """A 7-day backtest and an 8-day one (B's last day is B's alone)."""
    a = make_backtest(1, [0.96, 0.95, 0.97, 0.84, 0.96, 0.95, 0.97], config=KAPPA_400)
    b = make_backtest(9, [0.95, 0.94, 0.95, 0.90, 0.94, 0.93, 0.96, 0.90], config=KAPPA_200)
    return BacktestComparison(a, b, tuple(d.day for d in a.days), {"kappa": (400.0, 200.0)})


def test_comparison_report_holds_the_scores_changes_and_plot(make_backtest) -> None:
    cmp = _comparison(make_backtest)
    page = render_comparison_report(cmp)
    assert PLOT_RE.findall(page) == ["plot-compare"]
    for sid in ("summary", "changes", "days", "day-table", "configuration"):
        assert f'<section id="{sid}">' in page
    cells = {m: float(v) for m, v, _ in CELL_RE.findall(page)}
    for key, value in cmp.scores().items():
        if key in cells:
            assert cells[key] == value, key
    assert {"efficiency_a", "daily_efficiency_change_low95", "days_b_lower"} <= set(cells)
    # the setting that differs, and the day only B has, said in the subtitle
    assert "<td>kappa</td><td>400.0</td><td>200.0</td>" in page
    assert "B has 1 stored day(s) the other lacks (2017-06-08)" in page
    assert _external_refs(page) == [] and "<script" not in page.lower()
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert render_comparison_report(cmp) == page  # deterministic
    with pytest.raises(InvalidParameterError, match="comparison must be a BacktestComparison"):
        render_comparison_report(object())


def test_comparison_report_shows_changes_in_points_and_left_out_days_as_ranges(
    make_backtest,
) -> None:
    """The change of an efficiency shown in % was a bare fraction (0.0291 beside 90.6 % and
    93.5 %); the days one side lacks, with a compared day among them, were one span
    "2017-06-01 to 2017-06-16" that contained the compared day."""
    days_a = [f"2017-06-{d:02d}" for d in range(1, 18)]
    a = make_backtest(1, [0.9] * 17, days=days_a, config=KAPPA_400)
    b = make_backtest(2, [0.935], days=["2017-06-14"], config=KAPPA_200)
    cmp = BacktestComparison(a, b, (b.days[0].day,), {})
    page = htmllib.unescape(render_comparison_report(cmp))
    assert "A has 16 stored day(s) the other lacks (2017-06-01 to 2017-06-13, 2017-06-15 to " \
        "2017-06-17)" in page  # fmt: skip
    cells = dict(re.findall(r'data-metric="([^"]+)" data-value="[^"]+">([^<]*)<', page))
    sc = cmp.scores()  # from the costs: market 73 (A) and 60 (B), baseline 100, planner 50
    assert (sc["efficiency_a"], sc["efficiency_b"]) == (pytest.approx(0.54), pytest.approx(0.8))
    assert cells["efficiency_a"] == "54.0%" and cells["efficiency_b"] == "80.0%"
    assert cells["efficiency_change"] == "+26.00 pp"


@pytest.mark.timeout(120)
def test_comparison_report_renders_in_headless_chromium(
    browser: Any, tmp_path: Path, make_backtest
) -> None:
    page = write_report(
        render_comparison_report(_comparison(make_backtest)), tmp_path / "compare.html"
    )
    log = _check_page(browser, page, ["plot-compare"])
    assert [e for e in log if e.get("level") == "SEVERE"] == []


@pytest.mark.parametrize(
    ("eff_a", "said"),
    [
        ([0.9, 0.8, 0.7], "Mean daily change +3.33 pp (95 % interval"),
        ([math.nan, 0.8, math.nan], "Mean daily change +0.00 pp (one day with a defined change: "),
        ([math.nan] * 3, "No day has a defined change (efficiency undefined on every day); B "),
    ],
)
def test_comparison_caption_says_how_many_days_the_change_rests_on(
    eff_a, said, make_backtest
) -> None:
    # it said "(one day: no interval)" for three days of which none or one was defined
    a = make_backtest(1, eff_a, config=KAPPA_400)
    b = make_backtest(2, [0.9, 0.8, 0.8], config=KAPPA_200)
    cmp = BacktestComparison(a, b, tuple(d.day for d in a.days), {})
    page = htmllib.unescape(render_comparison_report(cmp))
    assert said in page
    undefined = sum(math.isnan(e) for e in eff_a)
    assert ("undefined on" in page) == (undefined > 0)
    assert page.count(">n/a<") >= undefined  # the marked days (SVG text is paths: the table)


@pytest.mark.parametrize(
    "costs",
    [
        [(5343.32, 3372.43, 3066.49), (5100.0, 3400.5, 3200.25)],
        # no flexibility: the planner equals trading alone up to rounding (b - p = 2.8e-14);
        # the report said 100 % where btut backtest says n/a
        [(10.0, 10.0, 10.0 - 2.8e-14)],
        [(7.0, 7.0, 7.0), (3.0, 3.0, 3.0 - 1e-15)],
    ],
)
def test_backtest_period_scores_are_the_backtests(costs: list[tuple[float, float, float]]) -> None:
    import datetime as dt

    from btut.backtesting import BacktestDay, _period_scores

    days = [
        BacktestDay(
            day=dt.date(2017, 6, 1) + dt.timedelta(days=i),
            run_id=i + 1,
            reused=False,
            efficiency=math.nan,
            exploitability_eur_per_agent_day=0.001,
            price_of_anarchy=math.nan,
            baseline_cost_eur=b,
            market_cost_eur=m,
            planner_cost_eur=p,
            market_cost_used_eur=m,
        )
        for i, (b, m, p) in enumerate(costs)
    ]
    frame = pd.DataFrame(
        [(b, m, m, p) for b, m, p in costs],
        columns=[
            "baseline_cost_eur",
            "market_cost_eur",
            "market_cost_used_eur",
            "planner_cost_eur",
        ],
    )
    daily = pd.DataFrame({"exploitability_eur_per_agent_day": [0.001] * len(costs)})
    got = report_module._backtest_metrics([], daily, frame, pd.DataFrame())
    want = _period_scores(days)
    for key in ("efficiency", "price_of_anarchy"):
        assert got[key] == want[key] or (math.isnan(got[key]) and math.isnan(want[key])), key
