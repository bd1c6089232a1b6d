"""`btut compare` and `btut.compare_backtests(...)`: two stored backtests on their common days
(small N on the bundled ES data, a real SQLite store)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import btut
from btut.cli import main
from btut.comparing import BacktestComparison, config_changes, paired_interval
from data import load_market_data
from data.errors import DataUnavailableError, InvalidParameterError

N = 150


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A: ES 06-12 .. 06-14 at the default kappa; B: 06-13 .. 06-15 at kappa 200 (two common
    days); C: zone PT on one day, from an export of the ES rows (another zone's market)."""
    tmp = tmp_path_factory.mktemp("compare")
    url = f"sqlite:///{tmp / 'runs.sqlite'}"
    a = btut.backtest("ES", "2017-06-12", "2017-06-15", agents=N, db=url)
    b = btut.backtest("ES", "2017-06-13", "2017-06-16", agents=N, kappa=200.0, db=url)
    csv = tmp / "es.csv"
    load_market_data("ES", "2016-06-01", "2017-06-16").to_csv(csv)
    c = btut.backtest("PT", "2017-06-13", "2017-06-14", agents=N, source=str(csv), db=url)
    return {"url": url, "a": a, "b": b, "c": c}


def test_paired_interval_is_the_paired_t_test_s_interval() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.95, 0.02, size=12)
    y = x + rng.normal(0.004, 0.01, size=12)
    mean, low, high = paired_interval(y - x)
    ref = stats.ttest_rel(y, x).confidence_interval(0.95)  # scipy's own paired t-test
    assert mean == pytest.approx(float(np.mean(y - x)), rel=1e-12)
    assert (low, high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    # 90 %: narrower, around the same mean
    m90, l90, h90 = paired_interval(y - x, level=0.9)
    assert m90 == mean and low < l90 < h90 < high
    one = paired_interval([0.01])
    assert one[0] == 0.01 and math.isnan(one[1]) and math.isnan(one[2])
    assert all(math.isnan(v) for v in paired_interval([]))
    with pytest.raises(InvalidParameterError, match="finite"):
        paired_interval([0.1, math.nan])
    with pytest.raises(InvalidParameterError, match=r"level must be in \(0, 1\)"):
        paired_interval([0.1, 0.2], level=95)


def test_config_changes_name_nested_settings_and_types_by_name() -> None:
    a = {
        "agents": 100,
        "kappa": 400.0,
        "population": {"types": [{"name": "pv", "share": 0.4}, {"name": "ev", "share": 0.6}]},
        "levels": [0.0, 1.0],
    }
    b = {
        "agents": 100,
        "kappa": 200.0,
        "population": {"types": [{"name": "pv", "share": 0.5}, {"name": "ev", "share": 0.5}]},
        "levels": [0.0, 0.5, 1.0],
        "new": True,
    }
    assert config_changes(a, b) == {
        "kappa": (400.0, 200.0),
        "levels": ([0.0, 1.0], [0.0, 0.5, 1.0]),
        "new": (None, True),
        "population.types[ev].share": (0.6, 0.5),
        "population.types[pv].share": (0.4, 0.5),
    }
    assert config_changes(a, a) == {}


def test_a_comparison_pairs_the_common_days(store: dict) -> None:
    a, b = store["a"], store["b"]
    cmp = btut.compare_backtests(a.backtest_id, b.backtest_id, db=store["url"])
    assert [d.isoformat() for d in cmp.days] == ["2017-06-13", "2017-06-14"]
    # the settings that differ: the price sensitivity and the period, nothing else
    kappa = next(k for k in cmp.changes if k.startswith("kappa"))
    assert cmp.changes[kappa] == (400.0, 200.0)
    assert set(cmp.changes) == {kappa, "start", "end"}
    frame = cmp.to_frame()
    by_day_a = {d.day.isoformat(): d for d in a.days}
    by_day_b = {d.day.isoformat(): d for d in b.days}
    for day, row in frame.iterrows():
        assert row["run_id_a"] == by_day_a[day].run_id
        assert row["run_id_b"] == by_day_b[day].run_id
        assert row["efficiency_a"] == by_day_a[day].efficiency
        assert row["efficiency_b"] == by_day_b[day].efficiency
        # the planner and the baseline do not depend on the market's price sensitivity
        assert row["planner_cost_eur_a"] == row["planner_cost_eur_b"]
        assert row["baseline_cost_eur_a"] == row["baseline_cost_eur_b"]
    np.testing.assert_array_equal(
        frame["efficiency_change"], frame["efficiency_b"] - frame["efficiency_a"]
    )
    sc = cmp.scores()
    # the period efficiency is the backtests' own, on the common days
    common_a = btut.backtest("ES", "2017-06-13", "2017-06-15", agents=N, db=store["url"])
    assert common_a.days_run == 0  # every day reused: the same stored runs
    assert sc["efficiency_a"] == common_a.scores()["efficiency"]
    assert sc["days"] == 2
    assert sc["days_b_higher"] + sc["days_b_lower"] + sc["days_equal"] == 2
    mean, low, high = paired_interval(frame["efficiency_change"].to_numpy())
    assert (sc["daily_efficiency_change_mean"], sc["daily_efficiency_change_low95"]) == (
        mean,
        low,
    )
    assert sc["daily_efficiency_change_high95"] == high
    assert sc["efficiency_change"] == sc["efficiency_b"] - sc["efficiency_a"]
    # B against A is A against B with the signs turned
    back = btut.compare_backtests(b.backtest_id, a.backtest_id, db=store["url"]).scores()
    assert back["daily_efficiency_change_mean"] == pytest.approx(-mean, abs=1e-15)
    assert back["days_b_higher"] == sc["days_b_lower"]


def test_cli_json_and_table(store: dict, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, url = store["a"].backtest_id, store["b"].backtest_id, store["url"]
    assert main(["compare", str(a), str(b), "--db", url, "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["a"] == a and out["b"] == b and out["zone"] == "ES"
    assert out["only_in_a"] == ["2017-06-12"] and out["only_in_b"] == ["2017-06-15"]
    assert [d["day"] for d in out["per_day"]] == ["2017-06-13", "2017-06-14"]
    assert out["changes"]["start"] == {"a": "2017-06-12", "b": "2017-06-13"}
    # the days only one side has are said, one line each
    assert captured.err.splitlines() == [
        f"btut: warning: backtest {a} has 1 stored day(s) that backtest {b} lacks; the "
        "comparison covers the 2 common day(s)",
        f"btut: warning: backtest {b} has 1 stored day(s) that backtest {a} lacks; the "
        "comparison covers the 2 common day(s)",
    ]
    assert main(["compare", str(a), str(b), "--db", url]) == 0
    text = capsys.readouterr().out
    assert f"backtest {a} (A) and {b} (B) on 2 common day(s), 2017-06-13 .. 2017-06-14" in text
    assert "kappa_eur_per_mwh_per_kwh: 400.0 -> 200.0" in text
    assert "95 % interval" in text


def test_bad_comparisons_are_one_line(store: dict, capsys: pytest.CaptureFixture[str]) -> None:
    a, c, url = store["a"], store["c"], store["url"]
    day_run = a.days[0].run_id
    cases = [
        ([str(a.backtest_id), str(a.backtest_id)], 2, "compare two different backtests"),
        ([str(a.backtest_id), str(c.backtest_id)], 2, "are of different zones"),
        ([str(a.backtest_id), str(day_run)], 3, "is of kind 'replay', not a backtest"),
        ([str(a.backtest_id), "999"], 3, "no run with id 999"),
    ]
    for argv, code, message in cases:
        assert main(["compare", *argv, "--db", url]) == code, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("btut: error: ") and message in err


def test_backtests_without_a_common_day_are_refused(store: dict, tmp_path: Path) -> None:
    url = store["url"]
    later = btut.backtest("ES", "2017-06-20", "2017-06-21", agents=N, db=url)
    with pytest.raises(DataUnavailableError, match="no stored day in common"):
        btut.compare_backtests(store["a"].backtest_id, later.backtest_id, db=url)
    with pytest.raises(InvalidParameterError, match="a must be an integer >= 1"):
        btut.compare_backtests(0, later.backtest_id, db=url)


def test_a_day_with_an_undefined_efficiency_is_counted_apart(make_backtest) -> None:
    # the header said 4 common days while the counts and the interval covered 3
    days = ["2017-06-12", "2017-06-13", "2017-06-14", "2017-06-15"]
    a = make_backtest(1, [0.90, 0.95, math.nan, 0.92], days)
    b = make_backtest(2, [0.91, 0.94, 0.93, 0.92], days)
    sc = BacktestComparison(a, b, tuple(d.day for d in a.days), {}).scores()
    assert sc["days"] == 4 and sc["days_undefined"] == 1
    assert (sc["days_b_higher"], sc["days_b_lower"], sc["days_equal"]) == (1, 1, 1)
    mean, low, high = paired_interval([0.91 - 0.90, 0.94 - 0.95, 0.0])
    assert sc["daily_efficiency_change_mean"] == mean
    assert (sc["daily_efficiency_change_low95"], sc["daily_efficiency_change_high95"]) == (
        low,
        high,
    )


def test_the_table_says_the_undefined_days(make_backtest, monkeypatch, capsys) -> None:
    import btut.comparing

    days = ["2017-06-12", "2017-06-13", "2017-06-14"]
    a = make_backtest(1, [0.90, math.nan, 0.92], days)
    b = make_backtest(2, [0.91, 0.94, 0.90], days)
    cmp = BacktestComparison(a, b, tuple(d.day for d in a.days), {"seed": (0, 1)})
    monkeypatch.setattr(btut.comparing, "compare_backtests", lambda *args, **kw: cmp)
    assert main(["compare", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "B higher on 1, lower on 1, equal on 0 day(s), undefined on 1 (left out" in out
    assert "seed: 0 -> 1" in out
    assert main(["compare", "1", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["days_undefined"] == 1 and data["per_day"][1]["efficiency_a"] is None


def test_report_of_a_comparison(store: dict, tmp_path: Path, capsys) -> None:
    a, b, url = store["a"].backtest_id, store["b"].backtest_id, store["url"]
    target = tmp_path / "compare.html"
    argv = ["report", "--compare", str(a), str(b), "--db", url, "--out", str(target), "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == {
        "compare": [a, b],
        "days": 2,
        "path": str(target),
        "bytes": target.stat().st_size,
    }
    page = target.read_text()
    assert 'id="plot-compare"' in page and "kappa_eur_per_mwh_per_kwh" in page
    # exactly one subject, and a bad pair writes nothing
    bad = str(tmp_path / "x.html")
    assert main(["report", "--compare", str(a), str(a), "--db", url, "-o", bad]) == 2
    assert main(["report", "--run", "1", "--compare", str(a), str(b), "--db", url, "-o", bad]) == 2
    assert "give exactly one of --run ID, --backtest ID or --compare A B" in capsys.readouterr().err
    assert not Path(bad).exists()


def test_rows_pair_by_day_whatever_order_the_days_come_in(make_backtest) -> None:
    days = ["2017-06-12", "2017-06-13", "2017-06-14"]
    a = make_backtest(1, [0.90, 0.95, 0.97], days)
    b = make_backtest(2, [0.93, 0.96, 0.91], list(reversed(days)))  # B stored 06-14 first
    cmp = BacktestComparison(a, b, tuple(reversed([d.day for d in a.days])), {})
    assert [d.isoformat() for d in cmp.days] == days  # ascending
    frame = cmp.to_frame()
    assert frame["efficiency_b"].tolist() == [0.91, 0.96, 0.93]
    assert frame["run_id_b"].tolist() == [22, 21, 20]
    short = make_backtest(2, [0.9, 0.9], days[:2])
    with pytest.raises(InvalidParameterError, match="backtest 2 has no stored day 2017-06-14"):
        BacktestComparison(a, short, (a.days[2].day,), {})
